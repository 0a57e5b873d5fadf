// Security suite (DESIGN §7, docs/auth.md; reliability-security.md §6 scenarios 19, 20, 25–31):
// each attack is tried against a real api, projector and two gateways, and seen refused. Every
// Set-Cookie any answer carried is audited at the end. The WebSocket attacks that need the
// gateway's per-document checks (membership, viewers, client ids at the socket) are in
// auth_gateway.test.mjs.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import * as Y from 'yjs'
import { BIN, env, startApi, token, uniqueId, waitFor, eventsOf, sleep } from './lib/stack.mjs'
import { startProjector, psql } from './lib/readmodel.mjs'
import { startGateway } from './lib/yclient.mjs'
import {
  ORIGIN, EVIL, afetch, auditCookie, seenCookies, cookiesOf, addUser, Session, forge, claims,
  HEADER, KID, KEY, b64u, upgrade, closed
} from './lib/auth.mjs'

let api, projector, gwA, gwB
const PW = 'correct horse battery staple'
const alice = uniqueId('alice').slice(0, 60)
const bob = uniqueId('bob').slice(0, 60)
const carol = uniqueId('carol').slice(0, 60)
const bearer = (t) => ({ Authorization: `Bearer ${t}` })

before(async () => {
  projector = await startProjector('projector-auth')
  api = await startApi('api-auth', ['--allowed-origins', ORIGIN, '--refresh-grace', '3s'])
  gwA = await startGateway('gw-auth-a', ['--allowed-origins', ORIGIN])
  gwB = await startGateway('gw-auth-b', ['--allowed-origins', ORIGIN])
  for (const u of [alice, bob, carol]) addUser(u, PW)
  await controlConsumed()
})

// A gateway starts consuming the control topic from its end a moment after it answers /healthz;
// a revocation published before then is not seen by it (a gap of the gateway's startup, noted in
// docs/auth.md). Wait until a revocation demonstrably reaches both gateways.
async function controlConsumed () {
  await waitFor('both gateways to apply revocations', async () => {
    const s = new Session(api)
    if ((await s.login(carol, PW)).status !== 200) return false
    const doc = uniqueId('probe')
    const socks = []
    for (const gw of [gwA, gwB]) {
      const u = await upgrade(`${gw.url}/ws/${doc}`, { headers: bearer(s.access) })
      if (!u.open) return false
      socks.push(u.ws)
    }
    const closes = socks.map((ws) => closed(ws, 3000))
    await s.req('POST', '/v1/auth/logout')
    const codes = await Promise.all(closes)
    for (const ws of socks) ws.terminate()
    return codes.every((c) => c?.code === 4401)
  }, { timeoutMs: 60000, intervalMs: 100 })
}
after(async () => {
  await gwA?.stop()
  await gwB?.stop()
  await api?.stop()
  await projector?.stop()
})

// Alive and answering: an ASan abort or a crash on a hostile input would show here.
async function alive () {
  for (const [name, url] of [['api', `${api.url}/healthz`], ['gateway a', `${gwA.admin}/healthz`], ['gateway b', `${gwB.admin}/healthz`]]) {
    const r = await fetch(url)
    assert.equal(r.status, 200, `${name} still answers`)
  }
  assert.ok(!api.exited && !gwA.exited && !gwB.exited, 'no role exited')
}

function update (text, clientID = null) {
  const d = new Y.Doc()
  if (clientID !== null) d.clientID = clientID
  d.getText('t').insert(0, text)
  return { bytes: Y.encodeStateAsUpdate(d), clientID: d.clientID }
}

async function postUpdate (doc, tok, bytes, extra = {}) {
  const r = await afetch(`${api.url}/v1/docs/${doc}/updates`, {
    method: 'POST', headers: { ...bearer(tok), 'Content-Type': 'application/octet-stream', ...extra }, body: bytes
  })
  return { status: r.status, json: await r.json().catch(() => null) }
}

async function createDoc (tok, doc = uniqueId('auth-doc')) {
  const r = await afetch(`${api.url}/v1/docs`, {
    method: 'POST', headers: { ...bearer(tok), 'Content-Type': 'application/json' }, body: JSON.stringify({ id: doc })
  })
  assert.equal(r.status, 201, await r.clone().text())
  const j = await r.json()
  assert.equal(j.role, 'owner')
  return doc
}

// The latest messages of the control topic (partition 0, which gateways consume).
function controlMessages () {
  return execFileSync('kcat', ['-b', env.QUIRE_KAFKA_BROKERS, '-C', '-t', `${env.QUIRE_TOPIC_PREFIX || 'quire'}.control`,
    '-p', '0', '-o', '-300', '-e', '-q', '-f', '%s\n']).toString().split('\n')
}

async function share (tok, doc, user, role) {
  const r = await afetch(`${api.url}/v1/docs/${doc}/members/${user}`, {
    method: 'PUT', headers: { ...bearer(tok), 'Content-Type': 'application/json' }, body: JSON.stringify({ role })
  })
  return r.status
}

// ------------------------------------------------------------------------------ tokens (25–27)

test('every forged, malformed or misused access token is refused by the api and the gateways', async () => {
  const s = new Session(api)
  assert.equal((await s.login(alice, PW)).status, 200)
  const now = Math.floor(Date.now() / 1000)
  const good = forge(HEADER, claims(alice))
  const noneHeader = b64u({ alg: 'none', typ: 'JWT', kid: KID })
  const payload = b64u(claims(alice))
  const bad = {
    'alg none, no signature': `${noneHeader}.${payload}.`,
    'alg none with a signature': `${noneHeader}.${payload}.${good.split('.')[2]}`,
    'HS256 signed with an empty key': forge(HEADER, claims(alice), Buffer.alloc(0)),
    'algorithm confusion: RS256 header, HMAC with the key': forge({ ...HEADER, alg: 'RS256' }, claims(alice)),
    'algorithm confusion: ES256 header, HMAC with the key': forge({ ...HEADER, alg: 'ES256' }, claims(alice)),
    'HS512 header': forge({ ...HEADER, alg: 'HS512' }, claims(alice)),
    'duplicate alg in the header': `${b64u(`{"alg":"HS256","alg":"none","typ":"JWT","kid":"${KID}"}`)}.${payload}.x`,
    'a jwk in the header': forge({ ...HEADER, jwk: { kty: 'oct', k: 'AAAA' } }, claims(alice)),
    'an unknown kid': forge({ ...HEADER, kid: 'nope' }, claims(alice)),
    '..': '..',
    '.e30.': '.e30.',
    'e30.e30.': 'e30.e30.',
    'four segments': `${good}.x`,
    'not base64url': good.replace(/^./, '!'),
    'a 1 MB token': `${'A'.repeat(1 << 20)}.${payload}.${'A'.repeat(43)}`,
    'a 5000-byte token': `${b64u(HEADER)}.${'A'.repeat(5000)}.${'A'.repeat(43)}`,
    'expired': forge(HEADER, claims(alice, { exp: now - 120, iat: now - 1000, nbf: now - 1000 })),
    'not yet valid': forge(HEADER, claims(alice, { nbf: now + 300 })),
    'wrong issuer': forge(HEADER, claims(alice, { iss: 'evil' })),
    'wrong audience': forge(HEADER, claims(alice, { aud: 'evil' })),
    'audience as an array': forge(HEADER, claims(alice, { aud: ['quire', 'evil'] })),
    'wrong typ (refresh)': forge(HEADER, claims(alice, { typ: 'refresh' })),
    'no typ': forge(HEADER, claims(alice, { typ: undefined })),
    'no sid': forge(HEADER, claims(alice, { sid: undefined })),
    'invalid subject': forge(HEADER, claims("a' OR '1'='1")),
    'tampered payload': `${good.split('.')[0]}.${b64u(claims(bob))}.${good.split('.')[2]}`,
    'a refresh token used as an access token': s.refreshToken,
    'the CSRF token used as an access token': s.csrf
  }
  // the forging itself is right: the same recipe with valid claims is accepted
  assert.equal((await afetch(`${api.url}/v1/auth/me`, { headers: bearer(good) })).status, 200)
  const doc = await createDoc(token(alice))
  for (const [what, tok] of Object.entries(bad)) {
    const big = tok.length > 60000
    for (const [how, init] of [['bearer', { headers: bearer(tok) }], ['cookie', { headers: { Cookie: `__Host-quire_access=${tok}`, Origin: ORIGIN } }]]) {
      let status = 0
      try { status = (await afetch(`${api.url}/v1/auth/me`, init)).status } catch { status = -1 }
      if (big) assert.ok(status === -1 || (status >= 400 && status < 500), `api refuses ${what} by ${how} (${status})`)
      else assert.equal(status, 401, `api refuses ${what} by ${how}`)
      if (!big) {
        const w = await afetch(`${api.url}/v1/docs/${doc}`, init)
        assert.equal(w.status, 401, `api refuses ${what} by ${how} for a document`)
      }
    }
    for (const gw of [gwA, gwB]) {
      const viaHeader = await upgrade(`${gw.url}/ws/${doc}`, { headers: bearer(tok) })
      assert.equal(viaHeader.open, false, `gateway refuses ${what} (bearer)`)
      if (!big) assert.equal(viaHeader.status, 401, `gateway answers 401 to ${what}`)
      if (!big) {
        const viaQuery = await upgrade(`${gw.url}/ws/${doc}?token=${encodeURIComponent(tok)}`)
        assert.equal(viaQuery.open, false, `gateway refuses ${what} (query)`)
        assert.equal(viaQuery.status, 401)
        const viaCookie = await upgrade(`${gw.url}/ws/${doc}`, { headers: { Origin: ORIGIN, Cookie: `__Host-quire_access=${tok}` } })
        assert.equal(viaCookie.status, 401, `gateway refuses ${what} (cookie)`)
      }
    }
  }
  await alive()
})

test('quire token issue makes bearer tokens for bots with the asked lifetime', async () => {
  const tok = execFileSync(BIN, ['token', 'issue', '--user', 'bot-1', '--ttl', '90s']).toString().trim()
  const p = JSON.parse(Buffer.from(tok.split('.')[1], 'base64url'))
  assert.equal(p.sub, 'bot-1')
  assert.equal(p.exp - p.iat, 90)
  assert.equal(p.typ, 'access')
  const me = await afetch(`${api.url}/v1/auth/me`, { headers: bearer(tok) })
  assert.equal(me.status, 200)
  assert.equal((await me.json()).user, 'bot-1')
  const ws = await upgrade(`${gwA.url}/ws/${uniqueId('bot-doc')}`, { headers: bearer(tok) })
  assert.equal(ws.open, true, 'bots connect with a bearer token, no Origin, no cookie')
  ws.ws.close()
  const bad = spawnSync(BIN, ['token', 'issue', '--user', "x' OR 1=1", '--ttl', '1h'])
  assert.equal(bad.status, 2)
  assert.equal(bad.stdout.length, 0)
})

// ------------------------------------------------------------------------------ logins (31)

test('login: Argon2id users, cookies only, the CSRF token is the only readable secret', async () => {
  const wrong = await new Session(api).login(alice, 'not the password')
  assert.equal(wrong.status, 401)
  assert.equal((await wrong.json()).error.code, 'invalid_credentials')
  const unknown = await new Session(api).login(uniqueId('nobody'), PW)
  assert.equal(unknown.status, 401)
  assert.equal((await unknown.json()).error.code, 'invalid_credentials', 'unknown users look like wrong passwords')
  const hash = psql(`SELECT password_hash FROM users WHERE user_id = '${alice}'`)
  assert.match(hash, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$/, 'Argon2id, and never the password')
  assert.ok(!hash.includes(PW))

  const s = new Session(api)
  const r = await s.login(alice, PW)
  assert.equal(r.status, 200)
  const body = await r.text()
  const j = JSON.parse(body)
  assert.deepEqual(Object.keys(j).sort(), ['access_expires_at', 'csrf_token', 'user'])
  assert.equal(j.user, alice)
  assert.match(j.csrf_token, /^[A-Za-z0-9_-]{43}$/)
  const now = Date.now() / 1000
  assert.ok(j.access_expires_at > now + 800 && j.access_expires_at <= now + 905, '15-minute access tokens')
  assert.ok(s.access && s.refreshToken, 'both cookies set')
  assert.ok(!body.includes(s.access) && !body.includes(s.refreshToken), 'no token in the body')
  assert.match(s.refreshToken, /^[A-Za-z0-9_-]{43}$/, 'the refresh token is 256 random bits')
  assert.equal(s.access.split('.').length, 3)
  const stored = psql(`SELECT encode(token_hash, 'hex') FROM refresh_tokens r JOIN sessions s USING (sid) WHERE s.user_id = '${alice}'`)
  assert.ok(!stored.includes(Buffer.from(s.refreshToken).toString('hex')), 'refresh tokens are stored hashed')

  const me = await s.req('GET', '/v1/auth/me')
  assert.equal(me.status, 200)
  const mj = await me.json()
  assert.equal(mj.user, alice)
  assert.equal(mj.csrf_token, s.csrf, 'a reloaded page gets the same CSRF token')
  // the expired-access answer a reloaded page uses to refresh
  const noAccess = new Session(api)
  noAccess.jar['__Host-quire_refresh'] = s.refreshToken
  const expired = await noAccess.req('GET', '/v1/auth/me')
  assert.equal(expired.status, 401)
  const ej = await expired.json()
  assert.equal(ej.error.code, 'access_expired')
  assert.equal(ej.csrf_token, s.csrf)
  const nothing = await afetch(`${api.url}/v1/auth/me`)
  assert.equal(nothing.status, 401)
  assert.equal((await nothing.json()).csrf_token, undefined)
})

// ------------------------------------------------------------------------------ refresh (28)

test('refresh rotates; two tabs at once get the same token; reuse revokes the family and closes its sockets on both gateways', async () => {
  const s = new Session(api)
  assert.equal((await s.login(alice, PW)).status, 200)
  const doc = await createDoc(token(alice))
  const r0 = s.refreshToken
  const sid = JSON.parse(Buffer.from(s.access.split('.')[1], 'base64url')).sid

  // two tabs share the cookie jar and refresh at the same moment
  const tab1 = new Session(api); const tab2 = new Session(api)
  for (const t of [tab1, tab2]) { t.jar = { ...s.jar }; t.csrf = s.csrf }
  const [a, b] = await Promise.all([tab1.refresh(), tab2.refresh()])
  assert.equal(a.status, 200)
  assert.equal(b.status, 200, 'the second tab is not mistaken for a thief')
  assert.notEqual(tab1.refreshToken, r0, 'rotated')
  assert.equal(tab1.refreshToken, tab2.refreshToken, 'both tabs end with the one current refresh token')
  assert.notEqual(tab1.access, tab2.access, 'each gets its own access token')
  const r1 = tab1.refreshToken
  // a retry after a lost answer (r0 again, within the grace, r1 unused) gets r1 again
  const retry = new Session(api); retry.jar = { ...s.jar }; retry.csrf = s.csrf
  assert.equal((await retry.refresh()).status, 200)
  assert.equal(retry.refreshToken, r1)

  // the family's sockets, on both gateways, by cookie and by bearer
  const open = []
  for (const gw of [gwA, gwB]) {
    const byCookie = await upgrade(`${gw.url}/ws/${doc}`, { headers: { Origin: ORIGIN, Cookie: `__Host-quire_access=${tab1.access}` } })
    const byBearer = await upgrade(`${gw.url}/ws/${doc}`, { headers: bearer(tab2.access) })
    assert.ok(byCookie.open && byBearer.open)
    open.push(byCookie.ws, byBearer.ws)
  }
  // an unrelated session of the same user stays up
  const other = new Session(api)
  assert.equal((await other.login(alice, PW)).status, 200)
  const bystander = await upgrade(`${gwA.url}/ws/${doc}`, { headers: bearer(other.access) })
  assert.ok(bystander.open)

  // r1 is used (→ r2); then r0 shows up again: reuse
  assert.equal((await tab1.refresh()).status, 200)
  const r2 = tab1.refreshToken
  const closes = open.map((ws) => closed(ws))
  const thief = new Session(api); thief.jar = { '__Host-quire_refresh': r0 }; thief.csrf = s.csrf
  const t0 = Date.now()
  const reuse = await thief.refresh()
  const t1 = Date.now()
  assert.equal(reuse.status, 401)
  assert.equal((await reuse.json()).error.code, 'refresh_reused')
  assert.deepEqual(cookiesOf(reuse), { '__Host-quire_access': '', '__Host-quire_refresh': '' }, 'cookies cleared')
  const codes = await Promise.all(closes)
  for (const c of codes) {
    assert.ok(c, 'every socket of the family closed')
    assert.equal(c.code, 4401)
  }
  const worst = Math.max(...codes.map((c) => c.at))
  console.log(`# revocation: sockets on 2 gateways closed ${worst - t1} ms after the 401 (${worst - t0} ms after the reuse was sent)`)
  assert.equal(psql(`SELECT revoked_reason FROM sessions WHERE sid = '${sid}'`), 'refresh token reuse')
  // the whole family is dead: the newest refresh token and every access token of it
  const late = new Session(api); late.jar = { '__Host-quire_refresh': r2 }; late.csrf = s.csrf
  assert.equal((await late.refresh()).status, 401)
  for (const t of [tab1, tab2]) {
    assert.equal((await afetch(`${api.url}/v1/auth/me`, { headers: bearer(t.access) })).status, 401)
  }
  assert.equal(bystander.ws.readyState, 1, 'another session of the same user is untouched')
  bystander.ws.close()
  assert.equal((await other.req('GET', '/v1/auth/me')).status, 200)
  await alive()
})

test('logout ends the session: cookies cleared, tokens dead, sockets closed on both gateways', async () => {
  const s = new Session(api)
  assert.equal((await s.login(bob, PW)).status, 200)
  const doc = await createDoc(token(bob))
  const socks = []
  for (const gw of [gwA, gwB]) {
    const u = await upgrade(`${gw.url}/ws/${doc}`, { headers: { Origin: ORIGIN, Cookie: `__Host-quire_access=${s.access}` } })
    assert.ok(u.open)
    socks.push(u.ws)
  }
  const access = s.access; const refresh = s.refreshToken
  // without the CSRF token, nothing happens
  const forged = await s.req('POST', '/v1/auth/logout', { csrf: false })
  assert.equal(forged.status, 403)
  assert.equal((await s.req('GET', '/v1/auth/me')).status, 200)
  const closes = socks.map((ws) => closed(ws))
  const out = await s.req('POST', '/v1/auth/logout')
  const t1 = Date.now()
  assert.equal(out.status, 204)
  assert.deepEqual(cookiesOf(out), { '__Host-quire_access': '', '__Host-quire_refresh': '' })
  const codes = await Promise.all(closes)
  for (const c of codes) assert.equal(c?.code, 4401)
  console.log(`# logout: sockets on 2 gateways closed ${Math.max(...codes.map((c) => c.at)) - t1} ms after the 204`)
  assert.equal((await afetch(`${api.url}/v1/auth/me`, { headers: bearer(access) })).status, 401, 'the access token is dead at once')
  const again = new Session(api); again.jar = { '__Host-quire_refresh': refresh }; again.csrf = s.csrf
  assert.equal((await again.refresh()).status, 401, 'the refresh token is dead')
  // logging out with nothing is harmless
  assert.equal((await new Session(api).req('POST', '/v1/auth/logout')).status, 204)
})

test('revocation reaches every gateway: time from the logout answer to the last socket closed (measured)', async () => {
  const doc = await createDoc(token(carol))
  const keep = await upgrade(`${gwA.url}/ws/${doc}`, { headers: bearer(token(carol)) }) // the partitions stay fetched
  const keepB = await upgrade(`${gwB.url}/ws/${doc}`, { headers: bearer(token(carol)) })
  const lat = []
  for (let i = 0; i < 10; i++) {
    const s = new Session(api)
    assert.equal((await s.login(carol, PW)).status, 200)
    const socks = []
    for (const gw of [gwA, gwB]) socks.push((await upgrade(`${gw.url}/ws/${doc}`, { headers: bearer(s.access) })).ws)
    const closes = socks.map((ws) => closed(ws))
    assert.equal((await s.req('POST', '/v1/auth/logout')).status, 204)
    const t1 = Date.now()
    const codes = await Promise.all(closes)
    for (const c of codes) assert.equal(c?.code, 4401)
    lat.push(Math.max(...codes.map((c) => c.at)) - t1)
  }
  lat.sort((a, b) => a - b)
  console.log(`# revocation over 10 logouts, 2 gateways: p50 ${lat[5]} ms, max ${lat[9]} ms after the 204`)
  assert.equal(keep.ws.readyState, 1, 'other sessions stay')
  keep.ws.close()
  keepB.ws.close()
})

// ------------------------------------------------------------------------------ CSRF (30)

test('CSRF: cookie requests that change things need the token and an allowed origin; bearer needs neither; GET changes nothing', async () => {
  const s = new Session(api)
  assert.equal((await s.login(carol, PW)).status, 200)
  const other = new Session(api)
  assert.equal((await other.login(bob, PW)).status, 200)
  const mk = () => ({ json: { id: uniqueId('csrf') } })
  const refused = [
    ['no token', { csrf: false }],
    ['another session\'s token', { headers: { 'X-CSRF-Token': other.csrf }, csrf: false }],
    ['a made-up token', { headers: { 'X-CSRF-Token': 'A'.repeat(43) }, csrf: false }],
    ['a foreign Origin', { origin: EVIL }],
    ['Origin null', { origin: 'null' }],
    ['no Origin, cross-site fetch', { origin: null, headers: { 'Sec-Fetch-Site': 'cross-site' } }],
    ['no Origin, no fetch metadata', { origin: null }]
  ]
  for (const [what, opts] of refused) {
    const body = mk()
    const r = await s.req('POST', '/v1/docs', { ...body, ...opts, headers: { ...(opts.headers || {}) } })
    assert.equal(r.status, 403, `a cross-site POST with ${what} is refused`)
    assert.match((await r.json()).error.code, /^(csrf_failed|origin_not_allowed)$/)
    assert.equal((await afetch(`${api.url}/v1/docs/${body.json.id}`, { headers: bearer(token(carol)) })).status, 404, 'and created nothing')
  }
  assert.equal((await s.req('POST', '/v1/docs', mk())).status, 201, 'the page itself may')
  assert.equal((await s.req('POST', '/v1/docs', { ...mk(), origin: null, headers: { 'Sec-Fetch-Site': 'same-origin' } })).status, 201)
  const viaBearer = await afetch(`${api.url}/v1/docs`, { method: 'POST', headers: { ...bearer(s.access), 'Content-Type': 'application/json' }, body: JSON.stringify(mk().json) })
  assert.equal(viaBearer.status, 201, 'bearer requests need no CSRF token')
  // deleting and sharing are state changes too
  const doc = await createDoc(token(carol))
  assert.equal((await s.req('DELETE', `/v1/docs/${doc}`, { csrf: false })).status, 403)
  assert.equal((await s.req('PUT', `/v1/docs/${doc}/members/${bob}`, { json: { role: 'editor' }, origin: EVIL })).status, 403)
  assert.equal((await afetch(`${api.url}/v1/docs/${doc}`, { headers: bearer(token(carol)) })).status, 200, 'still there')
  assert.equal((await afetch(`${api.url}/v1/docs/${doc}`, { headers: bearer(token(bob)) })).status, 404, 'not shared')
  // refresh and logout from another site
  const r0 = s.refreshToken
  assert.equal((await s.req('POST', '/v1/auth/refresh', { origin: EVIL })).status, 403)
  assert.equal((await s.req('POST', '/v1/auth/refresh', { csrf: false })).status, 403)
  assert.equal(s.refreshToken, r0, 'nothing rotated')
  assert.equal((await s.req('POST', '/v1/auth/logout', { origin: EVIL })).status, 403)
  assert.equal((await s.req('GET', '/v1/auth/me')).status, 200, 'still logged in')
  assert.equal((await s.refresh()).status, 200, 'and the refresh token still works')
  // a login form posted from another site (login CSRF)
  assert.equal((await new Session(api, EVIL).login(carol, PW)).status, 403)
  // GET never changes anything: the state-changing routes refuse it
  for (const p of ['/v1/auth/login', '/v1/auth/refresh', '/v1/auth/logout', `/v1/docs/${doc}/members/${bob}`, `/v1/docs/${doc}/updates`]) {
    const g = await s.req('GET', p)
    assert.ok([404, 405].includes(g.status), `GET ${p}: ${g.status}`)
  }
  assert.equal((await s.req('GET', '/v1/auth/me')).status, 200)
})

test('WebSocket upgrades: cookies only from allowlisted origins, foreign origins refused', async () => {
  const s = new Session(api)
  assert.equal((await s.login(carol, PW)).status, 200)
  const doc = await createDoc(token(carol))
  const cookie = `__Host-quire_access=${s.access}`
  for (const gw of [gwA, gwB]) {
    const evil = await upgrade(`${gw.url}/ws/${doc}`, { headers: { Origin: EVIL, Cookie: cookie } })
    assert.deepEqual([evil.open, evil.status], [false, 403], 'a foreign Origin is refused before any WebSocket exists')
    const nul = await upgrade(`${gw.url}/ws/${doc}`, { headers: { Origin: 'null', Cookie: cookie } })
    assert.deepEqual([nul.open, nul.status], [false, 403])
    const evilBearer = await upgrade(`${gw.url}/ws/${doc}`, { headers: { Origin: EVIL, ...bearer(s.access) } })
    assert.deepEqual([evilBearer.open, evilBearer.status], [false, 403], 'whatever the credentials')
    const noOrigin = await upgrade(`${gw.url}/ws/${doc}`, { headers: { Cookie: cookie } })
    assert.deepEqual([noOrigin.open, noOrigin.status], [false, 401], 'cookies count only with an allowed Origin')
    const ok = await upgrade(`${gw.url}/ws/${doc}`, { headers: { Origin: ORIGIN, Cookie: cookie } })
    assert.equal(ok.open, true)
    ok.ws.close()
  }
})

// ------------------------------------------------------------------------------ documents (34, 20)

test('documents: owner, editor, viewer; a document one may not read is 404 exactly like a missing one', async () => {
  const A = token(alice); const B = token(bob)
  const doc = await createDoc(A)
  const list = await (await afetch(`${api.url}/v1/docs`, { headers: bearer(A) })).json()
  const mine = list.documents.find((d) => d.id === doc)
  assert.equal(mine.role, 'owner')
  assert.ok('version' in mine && 'updated_at' in mine)
  assert.ok(!(await (await afetch(`${api.url}/v1/docs`, { headers: bearer(B) })).json()).documents.some((d) => d.id === doc))

  // bob is no member: everything is 404, with the body of a missing document
  const missing = uniqueId('missing')
  const probe = async (id, method, path, body) => {
    const r = await afetch(`${api.url}/v1/docs/${id}${path}`, {
      method, headers: { ...bearer(B), ...(body ? { 'Content-Type': body.type } : {}) }, body: body?.data
    })
    return { status: r.status, body: await r.text() }
  }
  const u = update('from bob')
  for (const [method, path, body] of [['GET', ''], ['GET', '/state'], ['GET', '/history'], ['GET', '/members'],
    ['DELETE', ''], ['PUT', `/members/${bob}`, { type: 'application/json', data: '{"role":"editor"}' }],
    ['DELETE', `/members/${alice}`]]) {
    const theirs = await probe(doc, method, path, body)
    const none = await probe(missing, method, path, body)
    assert.equal(theirs.status, 404, `${method} ${path} of another's document`)
    assert.equal(theirs.body, none.body, `${method} ${path}: no existence oracle`)
  }
  // a write to it is 404 too (to a free id, create-on-write would create a document of bob's own)
  assert.equal((await probe(doc, 'POST', '/updates', { type: 'application/octet-stream', data: u.bytes })).status, 404)
  // create-on-write cannot take over an existing document either (the probe above did not)
  assert.equal(psql(`SELECT count(*) FROM doc_members WHERE doc_id = '${doc}'`), '1')

  // viewer: reads, sees members, cannot write, share or delete
  assert.equal(await share(A, doc, bob, 'viewer'), 200)
  assert.equal((await afetch(`${api.url}/v1/docs/${doc}`, { headers: bearer(B) })).status, 200)
  const members = await (await afetch(`${api.url}/v1/docs/${doc}/members`, { headers: bearer(B) })).json()
  assert.deepEqual(members.members, [{ user: alice, role: 'owner' }, { user: bob, role: 'viewer' }])
  const before = eventsOf(doc).length
  const w = await postUpdate(doc, B, u.bytes)
  assert.equal(w.status, 403, 'a viewer\'s write is refused')
  assert.match(w.json.error.message, /viewer/i, 'with a clear read-only message')
  assert.equal(eventsOf(doc).length, before, 'and never reaches Kafka')
  assert.equal(await share(B, doc, carol, 'viewer'), 403, 'viewers do not share')
  assert.equal((await afetch(`${api.url}/v1/docs/${doc}`, { method: 'DELETE', headers: bearer(B) })).status, 403)

  // editor: writes, still cannot share or delete
  assert.equal(await share(A, doc, bob, 'editor'), 200)
  assert.equal((await postUpdate(doc, B, u.bytes)).status, 201)
  assert.equal(eventsOf(doc).pop().actor, bob)
  assert.equal(await share(B, doc, carol, 'editor'), 403)
  const bl = await (await afetch(`${api.url}/v1/docs`, { headers: bearer(B) })).json()
  assert.equal(bl.documents.find((d) => d.id === doc)?.role, 'editor')

  // the owner stays owner
  assert.equal(await share(A, doc, alice, 'viewer'), 409)
  assert.equal((await afetch(`${api.url}/v1/docs/${doc}/members/${alice}`, { method: 'DELETE', headers: bearer(A) })).status, 409)
  assert.equal(await share(A, doc, bob, 'owner'), 400)
  // unsharing takes effect at once
  assert.equal((await afetch(`${api.url}/v1/docs/${doc}/members/${bob}`, { method: 'DELETE', headers: bearer(A) })).status, 204)
  assert.equal((await afetch(`${api.url}/v1/docs/${doc}`, { headers: bearer(B) })).status, 404)
  assert.equal((await afetch(`${api.url}/v1/docs/${doc}/members/${bob}`, { method: 'DELETE', headers: bearer(A) })).status, 404)
  // every change was published for the gateways
  await waitFor('member changes on the control topic', () => controlMessages().filter((m) => m === `member:${doc}:${bob}`).length >= 3)
  // deletion: 404 afterwards, and published
  assert.equal((await afetch(`${api.url}/v1/docs/${doc}`, { method: 'DELETE', headers: bearer(A) })).status, 200)
  assert.equal((await afetch(`${api.url}/v1/docs/${doc}`, { headers: bearer(A) })).status, 404)
  await waitFor('doc:<id> on the control topic', () => controlMessages().includes(`doc:${doc}`))
  assert.ok(!(await (await afetch(`${api.url}/v1/docs`, { headers: bearer(A) })).json()).documents.some((d) => d.id === doc))
})

test('creating: the first writer of a new id owns it; two creators of one id, exactly one wins', async () => {
  const doc = uniqueId('race')
  const rs = await Promise.all([alice, bob, carol].map((u) => afetch(`${api.url}/v1/docs`, {
    method: 'POST', headers: { ...bearer(token(u)), 'Content-Type': 'application/json' }, body: JSON.stringify({ id: doc })
  })))
  const statuses = rs.map((r) => r.status).sort()
  assert.deepEqual(statuses, [201, 409, 409])
  const d2 = uniqueId('race-write')
  const ws = await Promise.all([alice, bob].map((u) => postUpdate(d2, token(u), update(`by ${u}`).bytes)))
  assert.deepEqual(ws.map((w) => w.status).sort(), [201, 404], 'create-on-write: one writer creates it, the other finds nothing')
  assert.equal(psql(`SELECT count(*) FROM doc_members WHERE doc_id = '${d2}' AND role = 'owner'`), '1')
})

// ------------------------------------------------------------------------------ client ids (19)

test('client ids are bound to users: a write with another user\'s client id is refused and never reaches Kafka', async () => {
  const A = token(alice); const B = token(bob)
  const doc = await createDoc(A)
  assert.equal(await share(A, doc, bob, 'editor'), 200)
  const mine = update('alice writes')
  assert.equal((await postUpdate(doc, A, mine.bytes)).status, 201)
  const n = eventsOf(doc).length
  const forged = update('bob pretends to be alice', mine.clientID)
  const w = await postUpdate(doc, B, forged.bytes)
  assert.equal(w.status, 403)
  assert.equal(w.json.error.code, 'client_id_spoofed')
  assert.equal(eventsOf(doc).length, n, 'nothing reached Kafka')
  // a merged update that carries one foreign client among its own is refused whole
  const own = update('bob, honestly')
  const merged = Y.mergeUpdates([own.bytes, forged.bytes])
  assert.equal((await postUpdate(doc, B, merged)).status, 403)
  assert.equal(eventsOf(doc).length, n)
  assert.equal(psql(`SELECT count(*) FROM doc_clients WHERE doc_id = '${doc}' AND client_id = ${own.clientID}`), '0', 'a refused write binds nothing')
  assert.equal((await postUpdate(doc, B, own.bytes)).status, 201, 'his own client id is his')
  assert.equal((await postUpdate(doc, A, update('alice as bob', own.clientID).bytes)).status, 403, 'and nobody else\'s')
  // the binding is per document: the same client id is free in another document
  const other = await createDoc(B)
  assert.equal((await postUpdate(other, B, update('elsewhere', mine.clientID).bytes)).status, 201)
  // deletions of another client's content are fine (they carry no structs of it)
  const y = new Y.Doc()
  Y.applyUpdate(y, mine.bytes)
  Y.applyUpdate(y, own.bytes)
  const sv = Y.encodeStateVector(y)
  y.clientID = own.clientID
  y.getText('t').delete(0, 3)
  assert.equal((await postUpdate(doc, B, Y.encodeStateAsUpdate(y, sv))).status, 201)
  // attribution: who wrote with which client id
  assert.equal(psql(`SELECT user_id FROM doc_clients WHERE doc_id = '${doc}' AND client_id = ${mine.clientID}`), alice)
})

// ------------------------------------------------------------------------------ SQL metacharacters

test('SQL metacharacters in every parameter are data, never SQL', async () => {
  const nasty = ["'", "''", "';--", "' OR '1'='1", '"; DROP TABLE users; --', '\\', '%', "'_%'", '$1', "1); DELETE FROM doc_members; --"]
  const usersBefore = psql('SELECT count(*) FROM users')
  const membersBefore = psql('SELECT count(*) FROM doc_members')
  const docsBefore = psql('SELECT count(*) FROM documents')
  // a password full of them round-trips exactly
  const u = uniqueId('sqlpw').slice(0, 60)
  const pw = `p'w"d\\;--${nasty.join('')}`
  addUser(u, pw)
  assert.equal((await new Session(api).login(u, pw)).status, 200)
  assert.equal((await new Session(api).login(u, pw + "'")).status, 401)
  const A = token(alice)
  const doc = await createDoc(A)
  for (const x of nasty) {
    const e = encodeURIComponent(x)
    assert.equal((await new Session(api).login(x, pw)).status, 401, `login user ${x}`)
    assert.equal((await new Session(api).login(`${alice}${x}`, PW)).status, 401)
    assert.equal(spawnSync(BIN, ['user', 'add', x], { input: 'password123\n' }).status, 2, `quire user add ${x}`)
    assert.equal((await afetch(`${api.url}/v1/docs/${e}`, { headers: bearer(A) })).status, 404, `doc id ${x}`)
    assert.equal((await afetch(`${api.url}/v1/docs/${doc}${e}`, { headers: bearer(A) })).status, 404)
    const created = await afetch(`${api.url}/v1/docs`, { method: 'POST', headers: { ...bearer(A), 'Content-Type': 'application/json' }, body: JSON.stringify({ id: x }) })
    assert.equal(created.status, 400, `POST /v1/docs id ${x}`)
    assert.equal(await share(A, doc, e, 'viewer'), 400, `member ${x}`)
    const role = await afetch(`${api.url}/v1/docs/${doc}/members/${bob}`, { method: 'PUT', headers: { ...bearer(A), 'Content-Type': 'application/json' }, body: JSON.stringify({ role: `viewer${x}` }) })
    assert.equal(role.status, 400, `role ${x}`)
    assert.equal((await afetch(`${api.url}/v1/docs/${doc}?at=${e}`, { headers: bearer(A) })).status, 400, `at ${x}`)
    assert.equal((await afetch(`${api.url}/v1/docs/${doc}?min_version=${e}`, { headers: bearer(A) })).status, 400)
    assert.equal((await afetch(`${api.url}/v1/docs/${doc}/history?after=${e}`, { headers: bearer(A) })).status, 400)
    const key = `k${x}${uniqueId('')}`
    assert.equal((await postUpdate(doc, A, update(`idem ${x}`).bytes, { 'Idempotency-Key': key })).status, 201, `Idempotency-Key ${x}`)
    const thief = new Session(api); thief.jar = { '__Host-quire_refresh': `${x}${'A'.repeat(40)}` }; thief.csrf = x
    assert.ok([401, 403].includes((await thief.refresh()).status), `refresh cookie ${x}`)
    assert.equal((await afetch(`${api.url}/v1/auth/me`, { headers: { Cookie: `__Host-quire_access=${e}` } })).status, 401)
  }
  // other suites add users and members concurrently: nothing was dropped or deleted, the one
  // user this test added exists, and the document kept exactly its owner (every share refused)
  assert.ok(Number(psql('SELECT count(*) FROM users')) >= Number(usersBefore) + 1)
  assert.equal(psql(`SELECT count(*) FROM users WHERE user_id = '${u}'`), '1')
  assert.ok(Number(psql('SELECT count(*) FROM doc_members')) >= Number(membersBefore) + 1)
  assert.equal(psql(`SELECT user_id || ':' || role FROM doc_members WHERE doc_id = '${doc}'`), `${alice}:owner`)
  assert.ok(Number(psql('SELECT count(*) FROM documents')) >= Number(docsBefore))
  await alive()
})

// ------------------------------------------------------------------------------ cookie audit (31)

test('every Set-Cookie the suite saw is __Host-, Secure, HttpOnly, SameSite=Strict, Path=/, no Domain', async () => {
  await sleep(10)
  assert.ok(seenCookies.length >= 20, `cookies seen: ${seenCookies.length}`)
  const problems = seenCookies.flatMap(({ url, status, cookie }) => auditCookie(cookie).map((p) => `${url} ${status}: ${p}`))
  assert.deepEqual(problems, [])
  for (const { cookie } of seenCookies) {
    const v = cookie.split(';')[0].split('=').slice(1).join('=')
    if (v && cookie.startsWith('__Host-quire_refresh')) assert.match(v, /^[A-Za-z0-9_-]{43}$/)
  }
  assert.ok(!KEY.equals(Buffer.alloc(KEY.length)), 'the stack has a real key')
})
