// `quire api --web-root` serves the built web app strictly (projector/api_static.h): only known
// paths and file types, no traversal however encoded, hashed assets cached forever, the page
// revalidated, a CSP on everything, /config.json from --web-gateways, API routes unaffected.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { buildWeb } from './lib/browser.mjs'
import { startRole, freePort } from '../js/lib/stack.mjs'

let api, root, base
before(async () => {
  root = buildWeb('web-dist-static')
  fs.writeFileSync(path.join(root, '.secret.json'), '{"hidden":true}')
  fs.writeFileSync(path.join(root, 'notes.exe'), 'MZ')
  fs.symlinkSync('/etc/hostname', path.join(root, 'link.txt'))
  const port = await freePort()
  api = await startRole('api-static', ['api', '--listen', `127.0.0.1:${port}`, '--web-root', root,
    '--web-gateways', 'ws://localhost:1,wss://gw.example:443'], { healthUrl: `http://127.0.0.1:${port}/healthz` })
  base = `http://127.0.0.1:${port}`
})
after(async () => { await api?.stop() })

// Raw request: fetch would normalise "..", "%2e" and friends before sending them.
function rawGet (p, headers = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(base)
    const sock = net.connect(Number(u.port), u.hostname, () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
      sock.write(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}\r\n`)
    })
    let data = Buffer.alloc(0)
    sock.on('data', (c) => { data = Buffer.concat([data, c]) })
    sock.on('end', () => {
      const text = data.toString('latin1')
      const [head, ...rest] = text.split('\r\n\r\n')
      const lines = head.split('\r\n')
      const hdrs = {}
      for (const l of lines.slice(1)) { const i = l.indexOf(':'); hdrs[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim() }
      resolve({ status: Number(lines[0].split(' ')[1]), headers: hdrs, body: rest.join('\r\n\r\n') })
    })
    sock.on('error', reject)
  })
}

test('the page, the editor route and the assets are served with the right types, caching and CSP', async () => {
  const index = await rawGet('/')
  assert.equal(index.status, 200)
  assert.equal(index.headers['content-type'], 'text/html; charset=utf-8')
  assert.equal(index.headers['cache-control'], 'no-cache')
  assert.match(index.headers['content-security-policy'], /^default-src 'none'; script-src 'self'; style-src 'self';/)
  assert.match(index.headers['content-security-policy'], /connect-src 'self' ws:\/\/localhost:1 wss:\/\/gw\.example:443;/)
  assert.equal(index.headers['x-frame-options'], 'DENY')
  assert.equal(index.headers['x-content-type-options'], 'nosniff')
  assert.ok(index.headers.etag)
  assert.equal((await rawGet('/', { 'If-None-Match': index.headers.etag })).status, 304)
  const page = await rawGet('/d/some-doc.1~x')
  assert.equal(page.status, 200)
  assert.equal(page.body, index.body, '/d/{id} is the same page')
  const js = index.body.match(/src="(\/assets\/main-[A-Z0-9]+\.js)"/)[1]
  const css = index.body.match(/href="(\/assets\/main-[A-Z0-9]+\.css)"/)[1]
  const a = await rawGet(js)
  assert.equal(a.status, 200)
  assert.equal(a.headers['content-type'], 'text/javascript; charset=utf-8')
  assert.equal(a.headers['cache-control'], 'public, max-age=31536000, immutable')
  assert.equal((await rawGet(css)).headers['content-type'], 'text/css; charset=utf-8')
  const sw = await rawGet('/sw.js')
  assert.equal(sw.status, 200)
  assert.equal(sw.headers['cache-control'], 'no-cache')
  assert.equal((await rawGet('/favicon.svg')).headers['content-type'], 'image/svg+xml')
  const cfg = await rawGet('/config.json')
  assert.equal(cfg.status, 200)
  assert.deepEqual(JSON.parse(cfg.body), { gateways: ['ws://localhost:1', 'wss://gw.example:443'] })
})

test('no traversal, hidden file, symlink, unknown type or bad document id is served', async () => {
  for (const p of ['/../etc/passwd', '/assets/../index.html', '/assets/..%2findex.html', '/%2e%2e/etc/passwd',
    '/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/.secret.json', '/assets/.secret.json', '/notes.exe', '/link.txt',
    '/assets/', '/assets/a/b.js', '/d/', '/d/bad%2fid', '/d/a/b', '/index.html%00.js', '/sw.js/', '//etc/passwd',
    '/assets/main.js', '/x'.padEnd(200, 'x') + '.js']) {
    const r = await rawGet(p)
    assert.ok(r.status === 404 || r.status === 400, `${p}: ${r.status}`)
    assert.ok(!r.body.includes('hidden') && !r.body.includes('root:'), `${p} leaked nothing`)
  }
  // API routes still win, and still need an identity
  assert.equal((await rawGet('/v1/docs/x')).status, 401)
})

test('the api refuses to start with a malformed --web-gateways', async () => {
  const port = await freePort()
  const bad = await startRole('api-static-bad', ['api', '--listen', `127.0.0.1:${port}`, '--web-root', root,
    '--web-gateways', "ws://x'; script-src *"])
  const code = bad.proc.exitCode ?? await new Promise((resolve) => bad.proc.once('exit', resolve))
  assert.notEqual(code, 0)
})
