// Helpers for the browser tests: one headless Debian chromium driven by playwright-core, a stack
// of quire roles serving the web app (api + projector + two gateways), users, and page helpers.
// Everything comes from the environment ./ops/test sets (tests/js/lib/stack.mjs); without it the
// tests fail loudly instead of skipping.
import { chromium } from 'playwright-core'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { env, startRole, freePort, waitFor, ARTIFACTS, quire } from '../../js/lib/stack.mjs'
import { startProjector } from '../../js/lib/readmodel.mjs'

export const CHROMIUM = env.QUIRE_CHROMIUM || '/usr/bin/chromium'
export const SHOTS = path.join(ARTIFACTS, 'browser')
fs.mkdirSync(SHOTS, { recursive: true })

export async function launchBrowser () {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: ./ops/setup installs Debian's chromium`)
  // playwright makes a fresh, empty --user-data-dir for every launch (and refuses one in args).
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
}

// Builds the web app into the artifacts directory (never touching web/dist of a running dev stack).
export function buildWeb (name = 'web-dist') {
  const out = path.join(ARTIFACTS, name)
  const web = path.join(env.QUIRE_ROOT, 'web')
  if (!fs.existsSync(path.join(web, 'node_modules', 'esbuild'))) throw new Error('web/node_modules is missing: run ./ops/setup')
  execFileSync(process.execPath, [path.join(web, 'build.mjs'), out], { cwd: web, stdio: ['ignore', 'ignore', 'inherit'] })
  return out
}

// api (serving the app) + projector + two gateways. The page is http://localhost:<api>/ and the
// gateways ws://localhost:<port>: one host name, so the api's cookies reach the gateways.
export async function startWebStack ({ apiArgs = [], gatewayArgs = [] } = {}) {
  const webRoot = buildWeb()
  const apiPort = await freePort()
  const gwPorts = [await freePort(), await freePort()]
  const origin = `http://localhost:${apiPort}`
  const projector = await startProjector('projector-browser')
  const gateways = []
  for (let i = 0; i < 2; i++) {
    const admin = await freePort()
    const gw = await startRole(`gw-browser-${i + 1}`, ['gateway', '--listen', `127.0.0.1:${gwPorts[i]}`,
      '--admin-listen', `127.0.0.1:${admin}`, '--gateway-id', `gw-browser-${i + 1}`,
      '--allowed-origins', origin, ...gatewayArgs], { healthUrl: `http://127.0.0.1:${admin}/healthz` })
    gw.url = `ws://localhost:${gwPorts[i]}`
    gateways.push(gw)
  }
  const api = await startRole('api-browser', ['api', '--listen', `127.0.0.1:${apiPort}`,
    '--web-root', webRoot, '--web-gateways', gateways.map((g) => g.url).join(','),
    '--allowed-origins', origin, ...apiArgs],
  { healthUrl: `http://127.0.0.1:${apiPort}/healthz` })
  return {
    origin,
    api,
    projector,
    gateways,
    webRoot,
    async stop () {
      for (const r of [api, ...gateways, projector]) await r.stop().catch(() => {})
    }
  }
}

// A user who logs in with a password (docs/auth.md), made with the quire CLI.
export function createUser (user, password) {
  quire(['user', 'add', user], { input: password + '\n' })
}

export function unique (prefix) {
  return `${prefix}${process.pid.toString(36)}${Date.now().toString(36)}`
}

// A fresh browser context (its own cookies, storage, IndexedDB, service workers) and page.
export async function newPage (browser, name) {
  const context = await browser.newContext({ viewport: { width: 1180, height: 720 }, deviceScaleFactor: 1 })
  const page = await context.newPage()
  page.setDefaultTimeout(20000)
  const log = fs.createWriteStream(path.join(SHOTS, `${name}.console.log`), { flags: 'a' })
  page.on('console', (m) => log.write(`${new Date().toISOString()} ${m.type()} ${m.text()}\n`))
  page.on('pageerror', (e) => log.write(`${new Date().toISOString()} pageerror ${e.stack || e.message}\n`))
  // WebSocket traffic, abbreviated (first bytes of each frame): enough to see syncs, acks, refusals
  page.on('websocket', (ws) => {
    const t = () => new Date().toISOString()
    const hex = (p) => { const b = Buffer.from(p); return `${b.subarray(0, 12).toString('hex')}${b.length > 12 ? '…' : ''} (${b.length} B)` }
    log.write(`${t()} ws open ${ws.url()}\n`)
    ws.on('framesent', (f) => log.write(`${t()} ws > ${hex(f.payload)}\n`))
    ws.on('framereceived', (f) => log.write(`${t()} ws < ${hex(f.payload)}\n`))
    ws.on('socketerror', (e) => log.write(`${t()} ws error ${e}\n`))
    ws.on('close', () => log.write(`${t()} ws closed ${ws.url()}\n`))
  })
  return { context, page, name }
}

export async function loginUI (page, origin, user, password) {
  await page.goto(`${origin}/`)
  await page.fill('form[data-testid=login] input[name=user]', user)
  await page.fill('form[data-testid=login] input[name=password]', password)
  await page.click('form[data-testid=login] button[type=submit]')
  await page.waitForSelector('[data-testid=doclist]')
}

export async function openDoc (page, origin, doc, gw) {
  await page.goto(`${origin}/d/${doc}?gw=${gw}`)
  await page.waitForSelector('.editor-host .ProseMirror')
  await page.waitForFunction(() => window.__quire && window.__quire.state().connection === 'connected')
}

export const savedState = (page) => page.getAttribute('[data-testid=saved]', 'data-state')
export const xml = (page) => page.evaluate(() => window.__quire.xml())
export const qstate = (page) => page.evaluate(() => window.__quire.state())

export async function waitSaved (page, timeout = 30000) {
  await page.waitForFunction(() => document.querySelector('[data-testid=saved]')?.dataset.state === 'saved', null, { timeout })
}

// Puts the caret at the end of the document's last text block (the paragraph both users type in).
export async function caretToEnd (page) {
  await page.click('.editor-host .ProseMirror')
  await page.keyboard.press('Control+End')
}

// GET from inside the page: same origin, the HttpOnly cookies, no token in JavaScript.
export async function pageGet (page, url) {
  return page.evaluate(async (u) => {
    const r = await fetch(u, { credentials: 'same-origin' })
    const text = await r.text()
    let json = null
    try { json = JSON.parse(text) } catch {}
    return { status: r.status, json, text }
  }, url)
}

export async function screenshot (page, name) {
  const file = path.join(SHOTS, `${name}.png`)
  await page.screenshot({ path: file })
  return file
}

export { waitFor, env, quire }
