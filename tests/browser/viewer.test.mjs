// A viewer in a real browser: the editor is read-only, and every write forged from the viewer's
// page — through the page's own provider, a WebSocket of its own carrying the cookie, and the
// REST write path with its CSRF token — is refused and never reaches the log (DESIGN §7, I7).
// alice (owner, on the other gateway) sees nothing of it and the document's version stays put.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from '../js/node_modules/yjs/dist/yjs.mjs'
import {
  launchBrowser, startWebStack, createUser, unique, newPage, loginUI, openDoc, savedState, xml,
  qstate, waitSaved, caretToEnd, pageGet, screenshot
} from './lib/browser.mjs'
import { sleep } from '../js/lib/stack.mjs'

const PASSWORD = 'correct horse battery staple'
const run = unique('')
const alice = `alice${run}`
const vera = `vera${run}`
const doc = `view-${run}`
let stack, browser

before(async () => {
  createUser(alice, PASSWORD)
  createUser(vera, PASSWORD)
  stack = await startWebStack()
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close().catch(() => {})
  await stack?.stop()
})

// A state-changing call from inside a page, with its cookies and its session's CSRF token.
function pageWrite (page, method, url, { json, bytes } = {}) {
  return page.evaluate(async ({ method, url, json, bytes }) => {
    const me = await (await fetch('/v1/auth/me', { credentials: 'same-origin' })).json()
    const headers = { 'X-CSRF-Token': me.csrf_token }
    let body
    if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json) }
    if (bytes !== undefined) { headers['Content-Type'] = 'application/octet-stream'; body = new Uint8Array(bytes) }
    const r = await fetch(url, { method, credentials: 'same-origin', headers, body })
    return { status: r.status, body: await r.text() }
  }, { method, url, json, bytes })
}

test('a viewer cannot type, and a write forged from its page is refused', async () => {
  const { page: a } = await newPage(browser, 'viewer-alice')
  await loginUI(a, stack.origin, alice, PASSWORD)
  assert.equal((await pageWrite(a, 'POST', '/v1/docs', { json: { id: doc } })).status, 201)
  assert.equal((await pageWrite(a, 'PUT', `/v1/docs/${doc}/members/${vera}`, { json: { role: 'viewer' } })).status, 200)
  await openDoc(a, stack.origin, doc, 0)
  await caretToEnd(a)
  await a.keyboard.type('Only alice writes here.')
  await waitSaved(a)

  const { page: v } = await newPage(browser, 'viewer-vera')
  await loginUI(v, stack.origin, vera, PASSWORD)
  await v.waitForSelector(`[data-testid=doclist] li[data-doc="${doc}"]`)
  await openDoc(v, stack.origin, doc, 1)
  await v.waitForFunction(() => window.__quire.xml().includes('Only alice writes here.'))
  assert.equal(await v.textContent('[data-testid=role]'), 'viewer')
  assert.equal(await v.getAttribute('.editor-host .ProseMirror', 'contenteditable'), 'false')
  assert.equal(await savedState(v), 'readonly')
  const before = await xml(v)
  const version = (await qstate(a)).version
  await v.click('.editor-host .ProseMirror')
  await v.keyboard.type('vera was here')
  await sleep(300)
  assert.equal(await xml(v), before, 'typing changes nothing')

  // 1. the page's own provider: an edit forced into its document (as from the devtools console)
  const deniedBefore = (await qstate(v)).denied
  await v.evaluate(() => {
    const view = window.__quire.view
    view.dispatch(view.state.tr.insertText('FORGED-BY-PROVIDER', 1))
  })
  await v.waitForFunction((n) => window.__quire.state().denied > n, deniedBefore, { timeout: 10000 })

  // 2. a WebSocket of its own to the other gateway, with the cookie, sending a Yjs update
  const forged = new Y.Doc()
  const p = new Y.XmlElement('paragraph')
  p.insert(0, [new Y.XmlText('FORGED-BY-SOCKET')])
  forged.getXmlFragment('prosemirror').insert(0, [p])
  const update = Array.from(Y.encodeStateAsUpdate(forged))
  const reply = await v.evaluate(async ({ url, doc, update }) => {
    const ws = new WebSocket(`${url}/ws/${doc}`)
    ws.binaryType = 'arraybuffer'
    const got = []
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('upgrade failed')) })
    ws.onmessage = (e) => got.push(Array.from(new Uint8Array(e.data)))
    const len = []
    let n = update.length
    while (n > 0x7f) { len.push((n & 0x7f) | 0x80); n >>>= 7 }
    len.push(n)
    ws.send(new Uint8Array([0, 2, ...len, ...update]))
    const t0 = Date.now()
    while (Date.now() - t0 < 5000 && !got.some((m) => m[0] === 2)) await new Promise((resolve) => setTimeout(resolve, 50))
    ws.close()
    return got.filter((m) => m[0] === 2)
  }, { url: stack.gateways[0].url, doc, update })
  assert.ok(reply.length >= 1, 'the gateway answered the forged update with permission-denied')
  assert.deepEqual(reply[0].slice(0, 2), [2, 0])

  // 3. the REST write path from the page, with its cookie and CSRF token
  const rest = await pageWrite(v, 'POST', `/v1/docs/${doc}/updates`, { bytes: update })
  assert.equal(rest.status, 403, `REST write by a viewer: ${rest.body}`)
  // ... and sharing, which is the owner's
  assert.equal((await pageWrite(v, 'PUT', `/v1/docs/${doc}/members/${vera}`, { json: { role: 'editor' } })).status, 403)

  // Nothing reached the log: alice (connected to the other gateway) never sees the forged text,
  // the read model's version has not moved, and the history names alice only.
  await sleep(1500)
  assert.ok(!(await xml(a)).includes('FORGED'), 'no forged text reached alice')
  const now = await pageGet(a, `/v1/docs/${doc}?min_version=${version}`)
  assert.equal(now.status, 200)
  assert.equal(now.json.version, version, 'the document version did not move')
  assert.ok(!now.json.content.prosemirror.includes('FORGED'))
  const history = await pageGet(a, `/v1/docs/${doc}/history`)
  assert.deepEqual([...new Set(history.json.events.map((e) => e.actor))], [alice])
  await screenshot(v, 'editor-viewer-vera')
})
