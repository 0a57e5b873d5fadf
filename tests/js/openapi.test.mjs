// Integration: docs/openapi.yaml describes the running server. The spec's operations and the
// route table of projector/api_main.c are the same set; every operation, exercised against a
// real api + projector, answers only documented statuses with documented content types, and
// every JSON body validates against the documented schema.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { env, startApi, token, uniqueId, BIN } from './lib/stack.mjs'
import { Y, startProjector } from './lib/readmodel.mjs'

const root = env.QUIRE_ROOT
const spec = JSON.parse(execFileSync('python3', ['-c',
  'import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))',
  path.join(root, 'docs', 'openapi.yaml')]).toString())
const tok = token('spec-user')
let api, projector

before(async () => {
  projector = await startProjector('projector-openapi')
  api = await startApi('api-openapi')
})
after(async () => {
  await api?.stop()
  await projector?.stop()
})

function resolve (node) {
  while (node && node.$ref) {
    node = node.$ref.replace(/^#\//, '').split('/').reduce((o, k) => o[k], spec)
  }
  return node
}

// A small JSON Schema (OpenAPI 3.0 subset) validator: returns a list of problems.
function validate (schema, value, where = '$') {
  schema = resolve(schema)
  if (!schema) return []
  if (value === null) return schema.nullable ? [] : [`${where}: null not allowed`]
  const errs = []
  switch (schema.type) {
    case 'integer': if (!Number.isInteger(value)) errs.push(`${where}: not an integer`); break
    case 'number': if (typeof value !== 'number') errs.push(`${where}: not a number`); break
    case 'boolean': if (typeof value !== 'boolean') errs.push(`${where}: not a boolean`); break
    case 'string':
      if (typeof value !== 'string') errs.push(`${where}: not a string`)
      else if (schema.pattern && !new RegExp(schema.pattern).test(value)) errs.push(`${where}: ${value} !~ ${schema.pattern}`)
      break
    case 'array':
      if (!Array.isArray(value)) errs.push(`${where}: not an array`)
      else value.forEach((v, i) => errs.push(...validate(schema.items, v, `${where}[${i}]`)))
      break
    case 'object':
      if (typeof value !== 'object' || Array.isArray(value)) { errs.push(`${where}: not an object`); break }
      for (const k of schema.required || []) if (!(k in value)) errs.push(`${where}: missing ${k}`)
      for (const [k, v] of Object.entries(value)) {
        if (schema.properties?.[k]) errs.push(...validate(schema.properties[k], v, `${where}.${k}`))
        else if (schema.additionalProperties === false) errs.push(`${where}: unexpected ${k}`)
      }
      break
  }
  if (schema.enum && !schema.enum.includes(value)) errs.push(`${where}: ${value} not in ${schema.enum}`)
  return errs
}

const seen = new Set()

// Sends a request and checks the answer against the operation's documented responses.
async function call (method, specPath, url, init = {}) {
  const op = spec.paths[specPath]?.[method.toLowerCase()]
  assert.ok(op, `${method} ${specPath} is documented`)
  seen.add(`${method} ${specPath}`)
  const r = await fetch(`${api.url}${url}`, { method, ...init })
  const body = Buffer.from(await r.arrayBuffer())
  const doc = resolve(op.responses[String(r.status)])
  assert.ok(doc, `${method} ${url}: status ${r.status} is documented (${body.toString().slice(0, 200)})`)
  if (doc.content) {
    const types = Object.keys(doc.content)
    const ctype = (r.headers.get('content-type') || '').split(';')[0]
    assert.ok(types.includes(ctype), `${method} ${url} ${r.status}: content type ${ctype} in ${types}`)
    const schema = doc.content[ctype].schema
    if (ctype === 'application/json') {
      const errs = validate(schema, JSON.parse(body.toString()))
      assert.deepEqual(errs, [], `${method} ${url} ${r.status} body matches the schema`)
    }
  }
  for (const [name, h] of Object.entries(doc.headers || {})) {
    const hv = r.headers.get(name)
    if (hv !== null) assert.deepEqual(validate(resolve(h).schema, hv), [], `${method} ${url}: header ${name}`)
  }
  if (spec.paths[specPath]?.get === op || method === 'GET') {
    if (specPath.startsWith('/v1/docs/') && !specPath.includes('/members') && r.status === 200) {
      assert.equal(r.headers.get('cache-control'), 'private, no-cache', `${method} ${url}: document responses are private, no-cache`)
    }
  }
  return { status: r.status, body, headers: r.headers }
}

// Logins, sessions and sharing (docs/auth.md), every documented status that can be provoked.
async function authOperations (auth) {
  const user = uniqueId('spec-login').slice(0, 60)
  const password = 'spec password 1'
  execFileSync(BIN, ['user', 'add', user, '--pwhash-ops', '1', '--pwhash-mem', '8KiB'], { input: password + '\n' })
  const json = { 'Content-Type': 'application/json' }
  const sameOrigin = { 'Sec-Fetch-Site': 'same-origin' }
  await call('POST', '/v1/auth/login', '/v1/auth/login', { headers: json, body: JSON.stringify({ user, password: 'wrong password' }) })
  await call('POST', '/v1/auth/login', '/v1/auth/login', { headers: json, body: '{"user":"x"}' })
  await call('POST', '/v1/auth/login', '/v1/auth/login', { headers: { 'Content-Type': 'text/plain' }, body: 'x' })
  await call('POST', '/v1/auth/login', '/v1/auth/login', { headers: { ...json, Origin: 'https://evil.example' }, body: JSON.stringify({ user, password }) })
  const login = await call('POST', '/v1/auth/login', '/v1/auth/login', { headers: json, body: JSON.stringify({ user, password }) })
  assert.equal(login.status, 200)
  const cookies = (h) => Object.fromEntries(h.getSetCookie().map((c) => c.split(';')[0]).map((c) => [c.slice(0, c.indexOf('=')), c.slice(c.indexOf('=') + 1)]))
  let jar = cookies(login.headers)
  const cookie = () => Object.entries(jar).map(([k, v]) => `${k}=${v}`).join('; ')
  const csrf = JSON.parse(login.body.toString()).csrf_token
  assert.equal((await call('GET', '/v1/auth/me', '/v1/auth/me', { headers: { Cookie: cookie() } })).status, 200)
  await call('GET', '/v1/auth/me', '/v1/auth/me', { headers: { Cookie: `__Host-quire_refresh=${jar['__Host-quire_refresh']}` } })
  await call('GET', '/v1/auth/me', '/v1/auth/me', {})
  await call('POST', '/v1/auth/refresh', '/v1/auth/refresh', { headers: { ...sameOrigin, Cookie: cookie() } })
  await call('POST', '/v1/auth/refresh', '/v1/auth/refresh', { headers: sameOrigin })
  await call('POST', '/v1/auth/refresh', '/v1/auth/refresh', { headers: { ...sameOrigin, Cookie: cookie() }, body: 'x' })
  const refreshed = await call('POST', '/v1/auth/refresh', '/v1/auth/refresh', { headers: { ...sameOrigin, Cookie: cookie(), 'X-CSRF-Token': csrf } })
  assert.equal(refreshed.status, 200)
  jar = cookies(refreshed.headers)
  // sharing
  const doc = uniqueId('spec-share')
  assert.equal((await call('POST', '/v1/docs', '/v1/docs', { headers: { ...auth, ...json }, body: JSON.stringify({ id: doc }) })).status, 201)
  assert.equal((await call('GET', '/v1/docs', '/v1/docs', { headers: auth })).status, 200)
  await call('GET', '/v1/docs', '/v1/docs', {})
  const m = `/v1/docs/${doc}/members`
  await call('PUT', '/v1/docs/{id}/members/{user}', `${m}/${user}`, { headers: { ...auth, ...json }, body: '{"role":"owner"}' })
  await call('PUT', '/v1/docs/{id}/members/{user}', `${m}/${user}`, { headers: { ...auth, 'Content-Type': 'text/plain' }, body: 'x' })
  await call('PUT', '/v1/docs/{id}/members/{user}', `${m}/spec-user`, { headers: { ...auth, ...json }, body: '{"role":"viewer"}' })
  await call('PUT', '/v1/docs/{id}/members/{user}', `/v1/docs/${uniqueId('none')}/members/${user}`, { headers: { ...auth, ...json }, body: '{"role":"viewer"}' })
  await call('PUT', '/v1/docs/{id}/members/{user}', `${m}/${user}`, { headers: { Cookie: cookie(), ...json }, body: '{"role":"viewer"}' })
  assert.equal((await call('PUT', '/v1/docs/{id}/members/{user}', `${m}/${user}`, { headers: { ...auth, ...json }, body: '{"role":"viewer"}' })).status, 200)
  await call('PUT', '/v1/docs/{id}/members/{user}', `${m}/${user}`, { headers: { Cookie: cookie(), ...json, ...sameOrigin, 'X-CSRF-Token': csrf }, body: '{"role":"editor"}' })
  assert.equal((await call('GET', '/v1/docs/{id}/members', m, { headers: auth })).status, 200)
  await call('GET', '/v1/docs/{id}/members', `/v1/docs/${uniqueId('none')}/members`, { headers: auth })
  await call('DELETE', '/v1/docs/{id}/members/{user}', `${m}/spec-user`, { headers: auth })
  await call('DELETE', '/v1/docs/{id}/members/{user}', `${m}/bad%20user`, { headers: auth })
  assert.equal((await call('DELETE', '/v1/docs/{id}/members/{user}', `${m}/${user}`, { headers: auth })).status, 204)
  await call('DELETE', '/v1/docs/{id}/members/{user}', `${m}/${user}`, { headers: auth })
  // logout: refused without the CSRF token, then done
  await call('POST', '/v1/auth/logout', '/v1/auth/logout', { headers: { ...sameOrigin, Cookie: cookie() } })
  assert.equal((await call('POST', '/v1/auth/logout', '/v1/auth/logout', { headers: { ...sameOrigin, Cookie: cookie(), 'X-CSRF-Token': csrf } })).status, 204)
  await call('POST', '/v1/auth/logout', '/v1/auth/logout', { headers: { Authorization: 'Bearer nope' } })
}

test('the route table and the spec list the same operations', () => {
  const src = fs.readFileSync(path.join(root, 'projector', 'api_main.c'), 'utf8')
  const table = src.slice(src.indexOf('static const api_route_t routes[]'))
  const routes = [...table.matchAll(/\{"(GET|POST|PUT|PATCH|DELETE)", "([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`)
  assert.ok(routes.length >= 6, routes.join(', '))
  const documented = []
  for (const [p, ops] of Object.entries(spec.paths)) {
    for (const m of Object.keys(ops)) if (['get', 'post', 'put', 'patch', 'delete'].includes(m)) documented.push(`${m.toUpperCase()} ${p}`)
  }
  const admin = ['GET /healthz', 'GET /readyz', 'GET /metrics']
  assert.deepEqual([...routes, ...admin].sort(), documented.sort())
})

test('every operation answers as documented', async () => {
  const auth = { Authorization: `Bearer ${tok}` }
  const doc = uniqueId('spec')
  const created = await call('POST', '/v1/docs', '/v1/docs', {
    headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ id: doc })
  })
  assert.equal(created.status, 201)
  await call('POST', '/v1/docs', '/v1/docs', { headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ id: doc }) })
  await call('POST', '/v1/docs', '/v1/docs', { headers: { ...auth, 'Content-Type': 'application/json' }, body: '[1]' })
  await call('POST', '/v1/docs', '/v1/docs', { headers: { ...auth, 'Content-Type': 'text/plain' }, body: 'x' })
  await call('POST', '/v1/docs', '/v1/docs', {})
  const d = new Y.Doc()
  d.getText('t').insert(0, 'spec')
  const w = await call('POST', '/v1/docs/{id}/updates', `/v1/docs/${doc}/updates`, {
    headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body: Y.encodeStateAsUpdate(d)
  })
  assert.equal(w.status, 201)
  const version = JSON.parse(w.body.toString()).version
  await call('POST', '/v1/docs/{id}/updates', `/v1/docs/${doc}/updates`, {
    headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body: Buffer.from([1, 2, 3])
  })
  await call('POST', '/v1/docs/{id}/updates', `/v1/docs/${doc}/updates`, {
    headers: { ...auth, 'Content-Type': 'text/plain' }, body: 'x'
  })
  const g = await call('GET', '/v1/docs/{id}', `/v1/docs/${doc}?min_version=${version}`, { headers: auth })
  assert.equal(g.status, 200)
  assert.equal((await call('GET', '/v1/docs/{id}', `/v1/docs/${doc}`, { headers: { ...auth, 'If-None-Match': `"${version}"` } })).status, 304)
  await call('GET', '/v1/docs/{id}', `/v1/docs/${doc}?at=0`, { headers: auth })
  await call('GET', '/v1/docs/{id}', `/v1/docs/${doc}?at=${version}`, { headers: auth })
  await call('GET', '/v1/docs/{id}', `/v1/docs/${doc}?at=2020-01-01T00:00:00Z`, { headers: auth })
  await call('GET', '/v1/docs/{id}', `/v1/docs/${doc}?at=nope`, { headers: auth })
  await call('GET', '/v1/docs/{id}', `/v1/docs/${doc}`, {})
  await call('GET', '/v1/docs/{id}', `/v1/docs/${uniqueId('nothing')}`, { headers: auth })
  assert.equal((await call('GET', '/v1/docs/{id}/state', `/v1/docs/${doc}/state`, { headers: auth })).status, 200)
  const sv = Buffer.from(Y.encodeStateVector(new Y.Doc())).toString('base64')
  await call('GET', '/v1/docs/{id}/state', `/v1/docs/${doc}/state?sv=${encodeURIComponent(sv)}`, { headers: auth })
  await call('GET', '/v1/docs/{id}/state', `/v1/docs/${doc}/state?sv=***`, { headers: auth })
  await call('GET', '/v1/docs/{id}/state', `/v1/docs/${doc}/state`, { headers: { ...auth, 'If-None-Match': `"${version}"` } })
  assert.equal((await call('GET', '/v1/docs/{id}/history', `/v1/docs/${doc}/history?limit=1`, { headers: auth })).status, 200)
  await call('GET', '/v1/docs/{id}/history', `/v1/docs/${doc}/history?limit=5000`, { headers: auth })
  assert.equal((await call('DELETE', '/v1/docs/{id}', `/v1/docs/${doc}`, { headers: auth })).status, 200)
  await call('DELETE', '/v1/docs/{id}', `/v1/docs/${doc}`, { headers: auth })
  await call('GET', '/v1/docs/{id}/history', `/v1/docs/${doc}/history`, { headers: auth })
  await authOperations(auth)
  for (const p of ['/healthz', '/readyz', '/metrics']) await call('GET', p, p, {})
  // the web app's paths (this api runs without --web-root: 404; tests/browser serves the app)
  for (const [p, url] of [['/', '/'], ['/d/{id}', `/d/${doc}`], ['/assets/{file}', '/assets/main.js'], ['/{file}', '/sw.js']]) {
    assert.equal((await call('GET', p, url, {})).status, 404)
  }
  // an undocumented method on a documented path is refused
  const put = await fetch(`${api.url}/v1/docs/${doc}`, { method: 'PUT', headers: auth })
  assert.equal(put.status, 405)
  // both framings at once are refused (raw socket: fetch would not send them)
  const raw = await new Promise((resolve, reject) => {
    const u = new URL(api.url)
    const sock = net.connect(Number(u.port), u.hostname, () => {
      sock.write(`POST /v1/docs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n`)
    })
    let data = ''
    sock.on('data', (c) => { data += c; if (data.includes('\r\n')) { sock.destroy(); resolve(data) } })
    sock.on('error', reject)
  })
  assert.match(raw, /^HTTP\/1\.1 400 /)
  // every documented operation was exercised
  const all = []
  for (const [p, ops] of Object.entries(spec.paths)) {
    for (const m of Object.keys(ops)) if (['get', 'post', 'put', 'patch', 'delete'].includes(m)) all.push(`${m.toUpperCase()} ${p}`)
  }
  assert.deepEqual(all.filter((o) => !seen.has(o)), [])
})
