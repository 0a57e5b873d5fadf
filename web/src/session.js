// The session, as docs/auth.md defines it: the access and refresh tokens live in HttpOnly
// cookies that JavaScript never sees; the CSRF token (the only secret this page holds) lives in
// this module's memory and nowhere else. A reload gets it back from GET /v1/auth/me.
//
// The session is refreshed a minute before the access token expires, when the page becomes
// visible or comes back online, and when a request answers 401. Refreshes are serialised across
// tabs with a Web Lock, and a tab first asks /me whether another tab already refreshed: two tabs
// presenting the same refresh token would look like token reuse and revoke the whole session.

const state = { user: null, csrf: null, expiresAt: 0 }
export const sessionEvents = new EventTarget()
let timer = null
let refreshing = null

export class HttpError extends Error {
  constructor (status, code, message) {
    super(message || `HTTP ${status}`)
    this.status = status
    this.code = code
  }
}
export class OfflineError extends Error {}

export function currentUser () { return state.user }
export function sessionInfo () { return { user: state.user, expiresAt: state.expiresAt, hasCsrf: !!state.csrf } }

function adopt (body) {
  const before = state.user
  state.user = body.user
  state.csrf = body.csrf_token || state.csrf
  state.expiresAt = Number(body.access_expires_at || 0)
  rememberUser(state.user)
  schedule()
  if (before !== state.user) sessionEvents.dispatchEvent(new Event('change'))
}

function forget (why) {
  const had = state.user
  state.user = null
  state.csrf = null
  state.expiresAt = 0
  clearTimeout(timer)
  if (had) sessionEvents.dispatchEvent(new CustomEvent('ended', { detail: why }))
}

// Refresh a quarter of the remaining lifetime (at most a minute) before the access token expires.
function schedule () {
  clearTimeout(timer)
  if (!state.expiresAt) return
  const left = state.expiresAt * 1000 - Date.now()
  const ms = Math.max(5000, left - Math.min(60000, left / 4))
  timer = setTimeout(() => { refresh().catch(() => {}) }, Math.min(ms, 2 ** 31 - 1))
}

async function raw (method, path, { json, body, headers = {}, csrf = true } = {}) {
  const h = { ...headers }
  if (json !== undefined) {
    h['Content-Type'] = 'application/json'
    body = JSON.stringify(json)
  }
  if (csrf && method !== 'GET' && method !== 'HEAD' && state.csrf) h['X-CSRF-Token'] = state.csrf
  let r
  try {
    r = await fetch(path, { method, headers: h, body, credentials: 'same-origin', cache: 'no-store' })
  } catch (e) {
    throw new OfflineError(e.message)
  }
  return r
}

async function isCsrfError (r) {
  try { return /csrf/i.test((await r.clone().json())?.error?.code || '') } catch { return false }
}

async function errorOf (r) {
  let code = 'http_' + r.status
  let message = `${r.status} ${r.statusText}`
  try {
    const j = await r.json()
    if (j && j.error) { code = j.error.code || code; message = j.error.message || message }
  } catch {}
  return new HttpError(r.status, code, message)
}

// GET /v1/auth/me. With an expired access token but a live refresh cookie it answers 401 with
// the session's CSRF token, so that a reloaded page can refresh: { ok: false, expired: true }.
async function probeMe () {
  const r = await raw('GET', '/v1/auth/me')
  if (r.ok) return { ok: true, body: await r.json() }
  if (r.status === 401) {
    let body = null
    try { body = await r.json() } catch {}
    if (body && typeof body.csrf_token === 'string') { state.csrf = body.csrf_token; return { ok: false, expired: true } }
    return { ok: false, expired: false }
  }
  throw await errorOf(r)
}

export async function me () {
  const p = await probeMe()
  if (p.ok) { adopt(p.body); return state.user }
  if (!p.expired) forget('unauthenticated')
  return null
}

export async function login (user, password) {
  const r = await raw('POST', '/v1/auth/login', { json: { user, password }, csrf: false })
  if (!r.ok) throw await errorOf(r)
  adopt(await r.json())
  return state.user
}

export async function logout () {
  try {
    const r = await raw('POST', '/v1/auth/logout')
    if (!r.ok && r.status !== 401) throw await errorOf(r)
  } finally {
    forget('logout')
  }
}

async function refreshNow () {
  const r = await raw('POST', '/v1/auth/refresh')
  if (r.ok) { adopt(await r.json()); return true }
  if (r.status === 401 || r.status === 403) { forget('refresh refused'); return false }
  throw await errorOf(r)
}

// Refreshes the session (once at a time, across tabs). True when a valid session exists after.
export function refresh () {
  if (refreshing) return refreshing
  const run = async () => {
    // Another tab may have refreshed already: the cookies are shared, only our memory is stale.
    try {
      const known = state.expiresAt
      const p = await probeMe()
      if (p.ok) {
        adopt(p.body)
        if (known && Number(p.body.access_expires_at) > known + 5) return true // another tab did it
      } else if (!p.expired) {
        forget('unauthenticated') // no refresh cookie either: log in
        return false
      }
    } catch (e) { if (e instanceof OfflineError) throw e }
    return refreshNow()
  }
  const locked = navigator.locks ? navigator.locks.request('quire-session-refresh', run) : run()
  refreshing = locked.finally(() => { refreshing = null })
  return refreshing
}

// A session if there is one: /me, else a refresh (the refresh cookie may outlive the access one).
export async function ensureSession () {
  const p = await probeMe()
  if (p.ok) { adopt(p.body); return state.user }
  if (!p.expired) return null
  if (await refresh().catch((e) => { if (e instanceof OfflineError) throw e; return false })) return state.user
  return null
}

// A JSON (or raw) API call with the session: CSRF header on writes, one refresh-and-retry on 401,
// one /me-and-retry when the CSRF token went stale (another tab refreshed).
export async function api (method, path, opts = {}) {
  let r = await raw(method, path, opts)
  if (r.status === 401 && state.user !== null) {
    if (await refresh()) r = await raw(method, path, opts)
  } else if (r.status === 403 && await isCsrfError(r) && await me()) {
    r = await raw(method, path, opts)
  }
  if (r.status === 401) forget('unauthenticated')
  if (!r.ok && r.status !== 304) throw await errorOf(r)
  if (opts.response) return r
  const type = r.headers.get('Content-Type') || ''
  if (r.status === 204) return null
  return type.includes('json') ? r.json() : r.arrayBuffer()
}

// What an offline reload needs to open documents it has in IndexedDB: who was logged in here and
// each document's role. Names and roles only — never a token.
const META = 'quire.offline-meta'
function readMeta () {
  try { return JSON.parse(localStorage.getItem(META)) || {} } catch { return {} }
}
function rememberUser (user) {
  const m = readMeta()
  if (m.user !== user) { m.user = user; m.roles = {} }
  localStorage.setItem(META, JSON.stringify(m))
}
export function lastUser () { return readMeta().user || null }
export function rememberRole (doc, role) {
  const m = readMeta()
  if (!m.user) return
  m.roles = m.roles || {}
  m.roles[doc] = role
  localStorage.setItem(META, JSON.stringify(m))
}
export function rememberedRole (doc) { return (readMeta().roles || {})[doc] || null }
export function rememberedDocs () { return Object.keys(readMeta().roles || {}) }
export function forgetLocal () { localStorage.removeItem(META) }

// Timers do not run while a laptop sleeps or a tab is frozen: catch up when back.
const due = () => state.user && state.expiresAt * 1000 - Date.now() < 30000
addEventListener('online', () => { if (due()) refresh().catch(() => {}) })
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible' && due()) refresh().catch(() => {}) })
