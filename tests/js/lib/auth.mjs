// Helpers for the security suite (docs/auth.md): users, logins with a manual cookie jar (Node's
// fetch keeps no cookies and ignores their attributes, so the suite reads every Set-Cookie
// itself — and audits it), JWTs forged with the stack's own key, raw WebSocket upgrades.
import crypto from 'node:crypto'
import { execFileSync } from 'node:child_process'
import WebSocket from 'ws'
import { BIN, env } from './stack.mjs'

export const ORIGIN = 'http://app.test'
export const EVIL = 'https://evil.example'

// Every Set-Cookie any response of the suite carried, with the request that got it.
export const seenCookies = []

// fetch that records Set-Cookie headers.
export async function afetch (url, init = {}) {
  const r = await fetch(url, init)
  for (const c of r.headers.getSetCookie()) seenCookies.push({ url, status: r.status, cookie: c })
  return r
}

// The flags docs/auth.md requires of every cookie quire sets. Returns a list of problems.
export function auditCookie (setCookie) {
  const problems = []
  const [pair, ...attrs] = setCookie.split(';').map((s) => s.trim())
  const name = pair.slice(0, pair.indexOf('='))
  const has = (a) => attrs.some((x) => x.toLowerCase() === a.toLowerCase())
  const val = (a) => attrs.find((x) => x.toLowerCase().startsWith(a.toLowerCase() + '='))
  if (!name.startsWith('__Host-')) problems.push(`${name}: no __Host- prefix`)
  if (!has('Secure')) problems.push(`${name}: not Secure`)
  if (!has('HttpOnly')) problems.push(`${name}: not HttpOnly`)
  if (val('SameSite') !== 'SameSite=Strict') problems.push(`${name}: SameSite is not Strict`)
  if (val('Path') !== 'Path=/') problems.push(`${name}: Path is not /`)
  if (val('Domain')) problems.push(`${name}: has a Domain`)
  if (!['__Host-quire_access', '__Host-quire_refresh'].includes(name)) problems.push(`unexpected cookie ${name}`)
  return problems
}

// Cookies of one response: name → value ('' when cleared).
export function cookiesOf (r) {
  const out = {}
  for (const c of r.headers.getSetCookie()) {
    const pair = c.split(';')[0]
    out[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1)
  }
  return out
}

export function addUser (user, password) {
  execFileSync(BIN, ['user', 'add', user, '--pwhash-ops', '1', '--pwhash-mem', '8KiB', '--log-level', 'warn'],
    { input: password + '\n' })
}

// A browser-like session: a cookie jar, the CSRF token, the Origin it sends.
export class Session {
  constructor (api, origin = ORIGIN) {
    this.api = api
    this.origin = origin
    this.jar = {}
    this.csrf = null
    this.user = null
  }

  cookieHeader () {
    return Object.entries(this.jar).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join('; ')
  }

  absorb (r) {
    for (const [k, v] of Object.entries(cookiesOf(r))) this.jar[k] = v
  }

  // A request as the page would send it: cookies, Origin, and the CSRF token on writes.
  async req (method, path, { json, body, headers = {}, csrf = true, origin = this.origin } = {}) {
    const h = { ...headers }
    if (origin) h.Origin = origin
    const ck = this.cookieHeader()
    if (ck) h.Cookie = ck
    if (json !== undefined) { h['Content-Type'] = 'application/json'; body = JSON.stringify(json) }
    if (csrf && this.csrf && method !== 'GET') h['X-CSRF-Token'] = this.csrf
    const r = await afetch(`${this.api.url}${path}`, { method, headers: h, body })
    this.absorb(r)
    return r
  }

  async login (user, password) {
    const r = await this.req('POST', '/v1/auth/login', { json: { user, password }, csrf: false })
    if (r.status === 200) {
      const j = await r.clone().json()
      this.csrf = j.csrf_token
      this.user = j.user
    }
    return r
  }

  async refresh () {
    const r = await this.req('POST', '/v1/auth/refresh')
    if (r.status === 200) this.csrf = (await r.clone().json()).csrf_token
    return r
  }

  get access () { return this.jar['__Host-quire_access'] }
  get refreshToken () { return this.jar['__Host-quire_refresh'] }
}

// ---- JWTs forged with the stack's key (to show that quire, not the signature, refuses them)

const [KID, SECRET_B64] = env.QUIRE_JWT_KEYS.split(',')[0].split('=')
export const KEY = Buffer.from(SECRET_B64, 'base64url')
export { KID }

export const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url')

export function forge (header, payload, key = KEY) {
  const input = `${b64u(header)}.${b64u(payload)}`
  const sig = crypto.createHmac('sha256', key).update(input).digest('base64url')
  return `${input}.${sig}`
}

export function claims (user, over = {}) {
  const now = Math.floor(Date.now() / 1000)
  return { iss: 'quire', aud: 'quire', typ: 'access', sub: user, sid: 'forged-session', jti: crypto.randomUUID(), iat: now, nbf: now, exp: now + 600, ...over }
}

export const HEADER = { alg: 'HS256', typ: 'JWT', kid: KID }

// ---- WebSocket upgrades with full control of the headers

// Resolves { open: true, ws } or { open: false, status } for a refused upgrade.
export function upgrade (url, { headers = {} } = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers })
    ws.binaryType = 'arraybuffer'
    const got = { messages: [] }
    ws.on('message', (d) => got.messages.push(new Uint8Array(d)))
    ws.once('open', () => resolve({ open: true, ws, got }))
    ws.once('unexpected-response', (req, res) => { resolve({ open: false, status: res.statusCode }); res.resume(); ws.terminate() })
    ws.once('error', (e) => resolve({ open: false, status: 0, error: e.message }))
  })
}

// Resolves with the close code of an open socket (or after timeoutMs with null).
export function closed (ws, timeoutMs = 30000) {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), timeoutMs)
    ws.once('close', (code, reason) => { clearTimeout(t); resolve({ code, reason: reason.toString(), at: Date.now() }) })
  })
}
