// The web editor in a real browser (Debian's chromium, headless, driven by playwright-core)
// against real quire roles: api serving the app, projector, two gateways, the test stack's Kafka
// and PostgreSQL. alice (owner) and bob (editor) log in through the page; vera is made a viewer
// through the share panel (what a viewer can do is viewer.test.mjs). Screenshots go to
// $QUIRE_ARTIFACTS/browser/.
//
// What each test proves is in its name. The tests share the browser and the pages, in order.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  launchBrowser, startWebStack, createUser, unique, newPage, loginUI, openDoc, savedState, xml,
  qstate, waitSaved, caretToEnd, pageGet, screenshot, waitFor
} from './lib/browser.mjs'
import { stackCtl, sleep } from '../js/lib/stack.mjs'

const PASSWORD = 'correct horse battery staple'
const run = unique('')
const users = { alice: `alice${run}`, bob: `bob${run}`, vera: `vera${run}` }
const doc = `web-${run}`
let stack, browser
const pages = {}

before(async () => {
  for (const u of Object.values(users)) createUser(u, PASSWORD)
  // Access tokens live one minute here (the shortest allowed), so the page must refresh its
  // session while the tests run; the last test checks that it did and still connects.
  stack = await startWebStack({ apiArgs: ['--access-ttl', '1m'] })
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close().catch(() => {})
  await stack?.stop()
})

// The document's content as the read model has it once it reached `version`. A 503
// (version_not_reached: the api waited its bound) is retried as its Retry-After says — after a
// Kafka restart the projector takes a while to rejoin its group.
async function restContent (page, version) {
  let r
  const until = Date.now() + 90000
  do {
    r = await pageGet(page, `/v1/docs/${doc}?min_version=${version}`)
    if (r.status !== 503) break
    await sleep(1000)
  } while (Date.now() < until)
  assert.equal(r.status, 200, `GET /v1/docs/${doc}?min_version=${version}: ${r.text}`)
  assert.ok(r.json.version >= version)
  return r.json
}

const refreshes = [] // alice's POST /v1/auth/refresh answers
let loggedInAt = 0
let firstAccess = null // alice's access cookie right after login

test('the app is served by quire api: login page, strict CSP, cookies are HttpOnly Secure SameSite=Strict __Host- on http://localhost', async () => {
  pages.alice = await newPage(browser, 'alice')
  const { page, context } = pages.alice
  const res = await page.goto(`${stack.origin}/`)
  assert.equal(res.status(), 200)
  const csp = res.headers()['content-security-policy']
  assert.match(csp, /script-src 'self';/)
  assert.match(csp, /frame-ancestors 'none'/)
  assert.ok(stack.gateways.every((g) => csp.includes(g.url)), 'connect-src names the gateways')
  await page.waitForSelector('form[data-testid=login]')
  // the CSP is enforced: an injected inline script does not run
  const ran = await page.evaluate(() => {
    const s = document.createElement('script')
    s.textContent = 'window.__injected = 1'
    document.head.append(s)
    return window.__injected === 1
  })
  assert.equal(ran, false, 'inline scripts are blocked by the CSP')
  // a wrong password is refused on the page
  await page.fill('input[name=user]', users.alice)
  await page.fill('input[name=password]', 'wrong password')
  await page.click('form[data-testid=login] button[type=submit]')
  await page.waitForFunction(() => document.querySelector('[data-testid=login-error]')?.textContent.length > 0)
  assert.equal((await context.cookies()).filter((c) => c.name.startsWith('__Host-quire')).length, 0)
  await page.fill('input[name=password]', PASSWORD)
  const [login] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/auth/login')),
    page.click('form[data-testid=login] button[type=submit]')
  ])
  assert.equal(login.status(), 200)
  loggedInAt = Date.now()
  page.on('response', (r) => { if (r.url().endsWith('/v1/auth/refresh')) refreshes.push({ status: r.status(), at: Date.now() }) })
  const body = await login.text()
  assert.deepEqual(Object.keys(JSON.parse(body)).sort(), ['access_expires_at', 'csrf_token', 'user'])
  await page.waitForSelector('[data-testid=doclist]')
  const cookies = await context.cookies()
  firstAccess = cookies.find((x) => x.name === '__Host-quire_access')?.value
  for (const name of ['__Host-quire_access', '__Host-quire_refresh']) {
    const c = cookies.find((x) => x.name === name)
    assert.ok(c, `${name} was set (chromium accepts Secure __Host- cookies on http://localhost)`)
    assert.equal(c.httpOnly, true, `${name} is HttpOnly`)
    assert.equal(c.secure, true, `${name} is Secure`)
    assert.equal(c.sameSite, 'Strict', `${name} is SameSite=Strict`)
    assert.equal(c.path, '/', `${name} has Path=/`)
    assert.equal(c.domain, 'localhost', `${name} is host-only`)
    assert.ok(!body.includes(c.value), 'no token in the login response body')
  }
  assert.ok(await page.evaluate(() => window.isSecureContext))
})

test('alice creates a document and shares it with bob (editor) and vera (viewer) through the page', async () => {
  const { page } = pages.alice
  await page.fill('[data-testid=new-doc] input[name=id]', doc)
  await page.click('[data-testid=new-doc] button[type=submit]')
  await page.waitForURL(`**/d/${doc}`)
  await page.waitForFunction(() => window.__quire?.state().connection === 'connected')
  assert.equal(await page.textContent('[data-testid=role]'), 'owner')
  await page.click('[data-testid=share-button]')
  for (const [u, role] of [[users.bob, 'editor'], [users.vera, 'viewer']]) {
    await page.fill('[data-testid=share-form] input[name=user]', u)
    await page.selectOption('[data-testid=share-form] select[name=role]', role)
    await page.click('[data-testid=share-form] button[type=submit]')
    await page.waitForSelector(`[data-testid=members] li[data-user="${u}"]`)
  }
  await screenshot(page, 'share-alice')
  const members = await pageGet(page, `/v1/docs/${doc}/members`)
  assert.equal(members.status, 200)
  const roles = Object.fromEntries(members.json.members.map((m) => [m.user, m.role]))
  assert.deepEqual(roles, { [users.alice]: 'owner', [users.bob]: 'editor', [users.vera]: 'viewer' })
  await page.click('[data-testid=share-button]') // close the panel
  // bob sees it in his list, as editor
  pages.bob = await newPage(browser, 'bob')
  await loginUI(pages.bob.page, stack.origin, users.bob, PASSWORD)
  await pages.bob.page.waitForSelector(`[data-testid=doclist] li[data-doc="${doc}"]`)
  assert.match(await pages.bob.page.textContent(`[data-testid=doclist] li[data-doc="${doc}"] .role`), /editor/)
  await screenshot(pages.bob.page, 'documents-bob')
})

test('two users on two gateways type concurrently into the same paragraph: both converge and equal GET ?min_version= of the last version either saw', async () => {
  const a = pages.alice.page
  const b = pages.bob.page
  await openDoc(a, stack.origin, doc, 0)
  await openDoc(b, stack.origin, doc, 1)
  assert.notEqual((await qstate(a)).gateway, (await qstate(b)).gateway, 'the two pages use different gateways')
  await caretToEnd(a)
  await a.keyboard.type('Shared paragraph: ')
  await b.waitForFunction(() => window.__quire.xml().includes('Shared paragraph: '))
  await caretToEnd(b)
  const typedA = 'alice-types-here-0123456789 '
  const typedB = 'BOB-TYPES-THERE-9876543210 '
  await Promise.all([a.keyboard.type(typedA, { delay: 25 }), b.keyboard.type(typedB, { delay: 25 })])
  await Promise.all([waitSaved(a), waitSaved(b)])
  await waitFor('both pages to hold the same document', async () => (await xml(a)) === (await xml(b)), { timeoutMs: 20000 })
  const final = await xml(a)
  assert.equal((final.match(/<paragraph>/g) || []).length, 1, `one paragraph: ${final}`)
  const text = final.replace(/<[^>]+>/g, '')
  assert.equal(text.length, 'Shared paragraph: '.length + typedA.length + typedB.length, `every keystroke is there: ${text}`)
  const subseq = (s, t) => { let i = 0; for (const ch of t) if (ch === s[i]) i++; return i === s.length }
  assert.ok(subseq(typedA, text) && subseq(typedB, text), `both typings are in the paragraph in order: ${text}`)
  const version = Math.max((await qstate(a)).version, (await qstate(b)).version)
  assert.ok(version >= 0)
  const rest = await restContent(a, version)
  // The comparison is the XML string Yjs renders for the XmlFragment root (DESIGN §5).
  assert.equal(rest.content.prosemirror, final, 'the read model at that version equals the editors')
  assert.equal(await b.evaluate(() => window.__quire.view.state.doc.textContent), text, 'the editor shows that text')
  // cursors and presence: each page shows the other's caret with their name
  await caretToEnd(a)
  await a.keyboard.press('Home')
  await waitFor('a remote cursor on each page', async () =>
    (await a.$$eval('.remote-cursor-label', (els) => els.map((e) => e.textContent))).includes(users.bob) &&
    (await b.$$eval('.remote-cursor-label', (els) => els.map((e) => e.textContent))).includes(users.alice), { timeoutMs: 10000 })
  assert.equal(await a.$$eval('[data-testid=presence] .avatar', (els) => els.length), 2)
  await screenshot(a, 'editor-two-cursors-alice')
  await screenshot(b, 'editor-two-cursors-bob')
})

test('a context goes offline, types, reloads while offline, comes back online: everything converges (I10)', async (t) => {
  const a = pages.alice.page
  const { page: b, context: bctx } = pages.bob
  await bctx.setOffline(true)
  t.after(() => bctx.setOffline(false)) // whatever happens below, the next tests get a network
  await b.waitForFunction(() => window.__quire.state().connection === 'offline')
  await caretToEnd(b)
  await b.keyboard.type(' offline-one')
  assert.notEqual(await savedState(b), 'saved', 'edits made offline are not saved')
  await caretToEnd(a)
  await a.keyboard.type(' meanwhile-alice')
  await waitSaved(a)
  await b.reload() // offline: the service worker serves the app, IndexedDB the document
  await b.waitForSelector('.editor-host .ProseMirror')
  await b.waitForFunction(() => window.__quire?.xml().includes('offline-one'))
  assert.equal((await qstate(b)).connection, 'offline')
  assert.notEqual(await savedState(b), 'saved', 'still not saved after the reload')
  await caretToEnd(b)
  await b.keyboard.type(' offline-two')
  await screenshot(b, 'editor-offline-bob')
  await bctx.setOffline(false)
  await waitSaved(b)
  await waitFor('both pages to converge', async () => (await xml(a)) === (await xml(b)), { timeoutMs: 20000 })
  const final = await xml(a)
  for (const s of ['offline-one', 'offline-two', 'meanwhile-alice']) assert.ok(final.includes(s), `${s} in ${final}`)
  const version = Math.max((await qstate(a)).version, (await qstate(b)).version)
  assert.equal((await restContent(a, version)).content.prosemirror, final)
})

test('the saved indicator shows not-saved while Kafka is stopped and saved after it returns', async () => {
  const a = pages.alice.page
  await waitSaved(a)
  let restarted = false
  stackCtl('kafka-stop')
  try {
    await caretToEnd(a)
    await a.keyboard.type(' during-the-outage')
    const seen = new Set()
    const until = Date.now() + 8000
    while (Date.now() < until) {
      seen.add(await savedState(a))
      await sleep(200)
    }
    assert.ok(!seen.has('saved'), `never "saved" while Kafka is down (saw ${[...seen]})`)
    await screenshot(a, 'editor-kafka-down-alice')
    stackCtl('kafka-start')
    restarted = true
    await waitSaved(a, 120000)
  } finally {
    if (!restarted) stackCtl('kafka-start')
  }
  const s = await qstate(a)
  assert.equal(s.acked, s.sent)
  const rest = await restContent(a, s.version)
  assert.ok(rest.content.prosemirror.includes('during-the-outage'), 'the edit made during the outage is in the read model')
  await screenshot(a, 'editor-saved-again-alice')
})

test('localStorage, sessionStorage, document.cookie, IndexedDB and Cache Storage hold no access or refresh token', async () => {
  for (const who of ['alice', 'bob']) {
    const { page, context } = pages[who]
    const cookies = (await context.cookies()).filter((c) => c.name.startsWith('__Host-quire'))
    assert.equal(cookies.length, 2, `${who} has both session cookies`)
    const seen = await page.evaluate(async () => {
      const out = { cookie: document.cookie, local: {}, session: {}, idb: [], caches: [] }
      for (let i = 0; i < localStorage.length; i++) out.local[localStorage.key(i)] = localStorage.getItem(localStorage.key(i))
      for (let i = 0; i < sessionStorage.length; i++) out.session[sessionStorage.key(i)] = sessionStorage.getItem(sessionStorage.key(i))
      for (const { name } of await indexedDB.databases()) {
        const db = await new Promise((resolve, reject) => { const r = indexedDB.open(name); r.onsuccess = () => resolve(r.result); r.onerror = reject })
        for (const store of db.objectStoreNames) {
          const all = await new Promise((resolve) => { const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => resolve(r.result) })
          for (const v of all) out.idb.push(v instanceof Uint8Array ? new TextDecoder().decode(v) : JSON.stringify(v))
        }
        db.close()
      }
      for (const key of await caches.keys()) {
        const c = await caches.open(key)
        for (const req of await c.keys()) out.caches.push(req.url + ' ' + await (await c.match(req)).text())
      }
      return out
    })
    assert.ok(!/quire_access|quire_refresh/.test(seen.cookie), `${who}: document.cookie shows no session cookie (${seen.cookie})`)
    assert.ok(seen.idb.length > 0, `${who}: IndexedDB holds the document`)
    const everything = JSON.stringify(seen)
    for (const c of cookies) assert.ok(!everything.includes(c.value), `${who}: ${c.name} appears nowhere script-readable`)
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\./.test(everything), `${who}: nothing JWT-shaped is stored`)
    assert.ok(!seen.caches.some((e) => new URL(e.split(' ')[0]).pathname.startsWith('/v1/')), `${who}: no API answer is cached`)
  }
})

test('history: the versions panel lists who changed the document, and a chosen version shows the document at ?at= with what changed', async () => {
  const a = pages.alice.page
  await a.click('[data-testid=history-button]')
  await a.waitForSelector('[data-testid=versions] .version')
  const versions = await a.$$eval('[data-testid=versions] .version', (els) => els.map((e) => ({ offset: Number(e.dataset.offset), who: e.querySelector('.who').textContent })))
  const people = new Set(versions.map((v) => v.who))
  for (const u of [users.alice, users.bob]) assert.ok(people.has(u), `${u} appears in the history`)
  const bobs = versions.find((v) => v.who === users.bob)
  await a.click(`[data-testid=versions] .version[data-offset="${bobs.offset}"]`)
  await a.waitForSelector(`[data-testid=version-doc][data-offset="${bobs.offset}"]`)
  const shown = (await a.textContent('[data-testid=version-doc]')).trim()
  const at = await pageGet(a, `/v1/docs/${doc}?at=${bobs.offset}`)
  assert.equal(at.status, 200)
  assert.equal(shown, at.json.content.prosemirror.replace(/<[^>]+>/g, '').trim(), 'the version shown is the document at ?at=')
  const added = await a.$$eval('[data-testid=version-diff] ins', (els) => els.map((e) => ({ text: e.textContent, title: e.title })))
  assert.ok(added.length > 0 && added.every((x) => x.title.includes(users.bob)), `what bob added is marked as his: ${JSON.stringify(added)}`)
  await screenshot(a, 'history-alice')
})

test('the page refreshes its session before the access token expires and reconnects with the new cookie', async () => {
  const { page: a, context } = pages.alice
  // the first access token (1 minute, plus the verifier's 30 s leeway) must be dead before the
  // reconnect below, so only a refreshed cookie can open the socket
  await waitFor('a refresh and the first access token to expire', () =>
    refreshes.some((r) => r.status === 200) && Date.now() > loggedInAt + 95000, { timeoutMs: 150000, intervalMs: 500 })
  assert.ok(refreshes.every((r) => r.status === 200), `every refresh succeeded: ${JSON.stringify(refreshes)}`)
  assert.ok(refreshes[0].at < loggedInAt + 60000, 'the first refresh came before the token expired')
  const now = (await context.cookies()).find((c) => c.name === '__Host-quire_access')
  assert.ok(now && firstAccess && now.value !== firstAccess, 'the access cookie was replaced')
  // drop the connection and come back: the gateway must accept the refreshed cookie
  await context.setOffline(true)
  try {
    await a.waitForFunction(() => window.__quire.state().connection === 'offline')
  } finally {
    await context.setOffline(false)
  }
  await a.waitForFunction(() => window.__quire.state().connection === 'connected', null, { timeout: 20000 })
  await caretToEnd(a)
  await a.keyboard.type(' after-refresh')
  await waitSaved(a)
  const s = await qstate(a)
  assert.ok((await restContent(a, s.version)).content.prosemirror.includes('after-refresh'))
  // the REST side works with the refreshed session too
  assert.equal((await pageGet(a, '/v1/auth/me')).status, 200)
})

test('logging out clears the session cookies and the copies kept on this device', async () => {
  const { page: a, context } = pages.alice
  await a.click('[data-testid=logout]')
  await a.waitForSelector('form[data-testid=login]')
  assert.equal((await context.cookies()).filter((c) => c.name.startsWith('__Host-quire')).length, 0)
  const left = await a.evaluate(async () => ({
    local: localStorage.length,
    dbs: (await indexedDB.databases()).map((d) => d.name).filter((n) => n.startsWith('quire:'))
  }))
  assert.deepEqual(left, { local: 0, dbs: [] })
  assert.equal((await pageGet(a, '/v1/docs')).status, 401)
})
