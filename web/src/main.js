// quire's web app: log in, list and create documents, edit one with others, share, history.
// Pages: "/" (login or your documents) and "/d/{docId}" (the editor). Served by `quire api`.
import 'prosemirror-view/style/prosemirror.css'
import './style.css'
import {
  api, ensureSession, login, logout, currentUser, sessionInfo, sessionEvents, refresh, HttpError, OfflineError,
  lastUser, rememberRole, rememberedRole, rememberedDocs, forgetLocal, me
} from './session.js'
import { openEditor } from './editor.js'
import { renderHistory } from './history.js'
import { renderShare } from './share.js'
import { h, clear, colorFor, fmtTime } from './dom.js'

const app = document.getElementById('app')
let current = null // the open editor, if any
let config = { gateways: [] }

const DOC_RE = /^[A-Za-z0-9._~-]{1,128}$/

function navigate (path, replace = false) {
  if (replace) history.replaceState(null, '', path)
  else history.pushState(null, '', path)
  route()
}
addEventListener('popstate', () => route())

function link (path, ...children) {
  return h('a', { href: path, onclick: (e) => { if (e.button === 0 && !e.metaKey && !e.ctrlKey) { e.preventDefault(); navigate(path) } } }, ...children)
}

async function loadConfig () {
  try {
    const r = await fetch('/config.json', { credentials: 'same-origin' })
    if (r.ok) config = await r.json()
  } catch {}
  if (!Array.isArray(config.gateways)) config.gateways = []
}

// The gateway for this page: ?gw=N picks one of the configured gateways, else one at random (any
// gateway serves any document); none configured means this origin (a reverse proxy routes /ws/).
function chooseGateway () {
  const list = config.gateways.length ? config.gateways : [(location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host]
  const want = Number(new URLSearchParams(location.search).get('gw'))
  const i = Number.isInteger(want) && want >= 0 && want < list.length ? want : Math.floor(Math.random() * list.length)
  return { gateway: list[i], gateways: list }
}

function header (...right) {
  const user = currentUser() || lastUser()
  return h('header', { class: 'top' },
    link('/', h('span', { class: 'logo' }, 'quire')),
    h('div', { class: 'spacer' }),
    ...right,
    user ? h('span', { class: 'me', 'data-testid': 'me' }, avatar(user), user) : null,
    currentUser() ? h('button', { type: 'button', class: 'link', 'data-testid': 'logout', onclick: doLogout }, 'Log out') : null)
}

function avatar (name, extra = {}) {
  const el = h('span', { class: 'avatar', title: name, ...extra }, String(name).slice(0, 1).toUpperCase())
  el.style.backgroundColor = colorFor(name)
  return el
}

async function doLogout () {
  closeEditor()
  try { await logout() } catch {}
  // Local copies of documents belong to this person on this browser: drop them on logout.
  const user = lastUser()
  await Promise.all(rememberedDocs().map((doc) => new Promise((resolve) => {
    const r = indexedDB.deleteDatabase(`quire:${user}:${doc}`)
    r.onsuccess = r.onerror = r.onblocked = resolve
  })))
  forgetLocal()
  navigate('/', true)
}

function closeEditor () {
  if (current) { current.destroy(); current = null }
  window.__quire = undefined
}

// ---- login -------------------------------------------------------------------------------

function loginView (message) {
  clear(app)
  const user = h('input', { name: 'user', autocomplete: 'username', required: true, autofocus: true, 'aria-label': 'user' })
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'aria-label': 'password' })
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'login-error' }, message || '')
  const form = h('form', { class: 'card login', 'data-testid': 'login' },
    h('h1', {}, 'Log in to quire'),
    h('label', {}, 'User', user),
    h('label', {}, 'Password', password),
    h('button', { type: 'submit' }, 'Log in'),
    error)
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    error.textContent = ''
    try {
      await login(user.value.trim(), password.value)
      password.value = ''
      route()
    } catch (err) {
      error.textContent = err instanceof HttpError && err.status === 401 ? 'Wrong user or password.' : `Could not log in: ${err.message}`
    }
  })
  app.append(header(), h('main', { class: 'center' }, form))
  user.focus()
}

// ---- documents ---------------------------------------------------------------------------

async function homeView () {
  clear(app)
  const list = h('ul', { class: 'doclist', 'data-testid': 'doclist' }, h('li', { class: 'muted' }, 'Loading…'))
  const idInput = h('input', { name: 'id', placeholder: 'document id (optional)', pattern: '[A-Za-z0-9._~\\-]{1,128}', 'aria-label': 'new document id' })
  const error = h('p', { class: 'error', role: 'alert' })
  const form = h('form', { class: 'new-doc', 'data-testid': 'new-doc' }, idInput, h('button', { type: 'submit' }, 'New document'), error)
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    error.textContent = ''
    const id = idInput.value.trim()
    if (id && !DOC_RE.test(id)) { error.textContent = 'An id is 1–128 of letters, digits and . _ ~ -'; return }
    try {
      const doc = await api('POST', '/v1/docs', { json: id ? { id } : {} })
      rememberRole(doc.id, doc.role || 'owner')
      navigate(`/d/${doc.id}`)
    } catch (err) {
      error.textContent = err.status === 409 ? 'That id is taken.' : `Could not create: ${err.message}`
    }
  })
  app.append(header(), h('main', { class: 'page' }, h('h1', {}, 'Your documents'), form, list))
  try {
    const { documents } = await api('GET', '/v1/docs')
    clear(list)
    if (!documents.length) list.append(h('li', { class: 'muted' }, 'No documents yet.'))
    documents.sort((a, b) => String(b.updated_at).localeCompare(String(a.updated_at)))
    for (const d of documents) {
      rememberRole(d.id, d.role)
      list.append(h('li', { 'data-doc': d.id },
        link(`/d/${d.id}`, d.id), h('span', { class: 'role' }, d.role),
        h('span', { class: 'muted' }, d.updated_at ? fmtTime(d.updated_at) : '')))
    }
  } catch (err) {
    clear(list)
    if (err instanceof OfflineError) {
      list.append(h('li', { class: 'muted' }, 'Offline — documents on this device:'))
      for (const id of rememberedDocs()) list.append(h('li', { 'data-doc': id }, link(`/d/${id}`, id), h('span', { class: 'role' }, rememberedRole(id))))
    } else {
      list.append(h('li', { class: 'error' }, `Could not list documents: ${err.message}`))
    }
  }
}

// The caller's role on a document: from the document list (docs/auth.md); offline, the role
// remembered on this device. null when the document is not readable.
async function roleOf (docId) {
  try {
    const { documents } = await api('GET', '/v1/docs')
    const d = documents.find((x) => x.id === docId)
    if (d) { rememberRole(docId, d.role); return d.role }
    return null
  } catch (err) {
    if (err instanceof OfflineError) return rememberedRole(docId) || 'editor'
    throw err
  }
}

const CONN_TEXT = { connected: 'Connected', syncing: 'Syncing…', connecting: 'Connecting…', offline: 'Offline', disconnected: 'Reconnecting…', closed: 'Closed' }
const SAVED_TEXT = { saved: 'All changes saved', saving: 'Saving…', unsaved: 'Not saved yet', readonly: 'Read-only' }

async function docView (docId) {
  clear(app)
  const offline = !navigator.onLine
  let role
  try {
    role = await roleOf(docId)
  } catch (err) {
    app.append(header(), h('main', { class: 'page' }, h('p', { class: 'error' }, `Could not open ${docId}: ${err.message}`)))
    return
  }
  if (!role) {
    app.append(header(), h('main', { class: 'page' }, h('h1', {}, 'Not found'),
      h('p', { 'data-testid': 'not-found' }, `There is no document "${docId}", or it has not been shared with you.`), link('/', 'Your documents')))
    return
  }
  const conn = h('span', { class: 'pill', id: 'conn', 'data-testid': 'connection', 'data-state': 'connecting' }, 'Connecting…')
  const saved = h('span', { class: 'pill', id: 'saved', 'data-testid': 'saved', 'data-state': 'unsaved' }, '…')
  const people = h('span', { class: 'people', 'data-testid': 'presence' })
  const side = h('aside', { class: 'side', hidden: true })
  const versionView = h('section', { class: 'version-view', hidden: true, 'data-testid': 'version-view' })
  const editorBox = h('section', { class: 'editor', 'data-testid': 'editor-box' })
  const notice = h('p', { class: 'notice', hidden: true, 'data-testid': 'notice' })
  const toggle = (what) => async () => {
    if (!side.hidden && side.dataset.panel === what) {
      side.hidden = true
      versionView.hidden = true
      editorBox.hidden = false
      return
    }
    side.hidden = false
    side.dataset.panel = what
    versionView.hidden = what !== 'history'
    clear(versionView)
    if (what === 'history') {
      versionView.append(h('p', { class: 'muted' }, 'Choose a version to see the document as it was.'))
      await renderHistory(side, versionView, docId)
    } else {
      await renderShare(side, docId, { role, me: currentUser() })
    }
  }
  app.append(
    header(conn, saved, people),
    h('div', { class: 'docbar' },
      link('/', '← Documents'), h('h1', { class: 'docid' }, docId),
      h('span', { class: 'role', 'data-testid': 'role' }, role),
      h('div', { class: 'spacer' }),
      h('button', { type: 'button', 'data-testid': 'share-button', onclick: toggle('share'), disabled: offline }, 'Share'),
      h('button', { type: 'button', 'data-testid': 'history-button', onclick: toggle('history'), disabled: offline }, 'History')),
    notice,
    h('main', { class: 'docmain' }, editorBox, versionView, side))

  const { gateway, gateways } = chooseGateway()
  const user = currentUser() || lastUser()
  const ed = await openEditor({
    mount: editorBox,
    docId,
    user,
    role,
    gateway,
    gateways,
    onState: (s) => {
      conn.dataset.state = s.connection
      conn.textContent = s.connection === 'closed' ? `Closed: ${s.closed.message}` : CONN_TEXT[s.connection]
      conn.title = `gateway ${s.gateway} · version ${s.version}`
      saved.dataset.state = s.saved
      saved.textContent = s.saved !== 'unsaved' ? SAVED_TEXT[s.saved]
        : s.connection === 'closed' ? 'Not saved'
          : s.connection === 'offline' ? 'Not saved — offline'
          : s.nack ? 'Not saved — retrying' : SAVED_TEXT.unsaved
      saved.title = s.nack ? `last refusal: ${s.nack.reason} (${s.nack.code})` : ''
      saved.dataset.version = s.version
      if (s.closed) { notice.hidden = false; notice.textContent = `This document is closed: ${s.closed.message}.` }
    },
    onPresence: (list) => {
      clear(people)
      for (const p of list) {
        const a = avatar(p.name, { 'data-client': p.clientId, 'data-name': p.name })
        a.style.backgroundColor = p.color
        if (p.self) a.classList.add('self')
        people.append(a)
      }
    },
    onAuthLost: async (why) => {
      // A socket outlives the access token it opened with: the gateway closes it with 4401 when
      // that token expires. If the session was refreshed since, just reconnect with the new cookie.
      if (why === 'expired' && sessionInfo().expiresAt * 1000 - Date.now() > 15000) return true
      // The session may have expired (refresh it) or access may be gone (ask the document list).
      let user = null
      try { user = await refresh() ? currentUser() : null } catch (e) { if (e instanceof OfflineError) return true }
      if (!user) { setTimeout(() => loginView('Your session ended; log in again.'), 0); return { message: 'your session ended' } }
      try {
        const r = await roleOf(docId)
        if (!r) return { message: 'you no longer have access to this document' }
        if (r !== role) { role = r; ed.setRole(r) }
      } catch {}
      return true
    }
  })
  current = ed
  // For tests and debugging: the document and its state (no secrets: tokens are never in JS).
  window.__quire = { docId, role: () => role, xml: ed.xml, state: ed.state, ydoc: ed.ydoc, provider: ed.provider, q: ed.q, view: ed.view }
  if (role !== 'viewer') ed.view.focus()
}

// ---- routing -----------------------------------------------------------------------------

let routing = 0
async function route () {
  const my = ++routing
  closeEditor()
  const path = location.pathname
  let user = currentUser()
  if (!user) {
    try {
      user = await ensureSession()
    } catch (e) {
      if (!(e instanceof OfflineError)) throw e
      user = lastUser() // offline: open what this device has for the last user
    }
  }
  if (my !== routing) return
  if (!user) return loginView()
  const m = /^\/d\/([A-Za-z0-9._~-]{1,128})$/.exec(path)
  if (m) return docView(m[1])
  if (path !== '/') return navigate('/', true)
  return homeView()
}

sessionEvents.addEventListener('ended', (e) => {
  if (e.detail !== 'logout') { closeEditor(); loginView('Your session ended; log in again.') }
})

async function start () {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e) => console.warn('no offline support:', e.message))
  }
  await loadConfig()
  await route()
}
addEventListener('online', () => { if (!currentUser()) me().catch(() => {}) })
start().catch((e) => {
  clear(app)
  app.append(h('p', { class: 'error' }, `quire could not start: ${e.message}`))
})
