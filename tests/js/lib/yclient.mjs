// Stock Yjs clients (yjs + y-websocket's WebsocketProvider, unmodified) against quire gateways,
// plus the helpers gateway tests share: starting gateways, a TCP proxy standing in for a load
// balancer, replaying a document from the log, reading metrics.
import net from 'node:net'
import { after } from 'node:test'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import { attachQuire } from '../../../web/src/quire-ext.js'
import { startRole, freePort, token, eventsOf, waitFor } from './stack.mjs'

export async function startGateway (name, args = []) {
  const port = await freePort()
  const admin = await freePort()
  const role = await startRole(name, ['gateway', '--listen', `127.0.0.1:${port}`,
    '--admin-listen', `127.0.0.1:${admin}`, '--gateway-id', name, ...args], {
    healthUrl: `http://127.0.0.1:${admin}/healthz`
  })
  role.port = port
  role.url = `ws://127.0.0.1:${port}`
  role.admin = `http://127.0.0.1:${admin}`
  role.metrics = () => metrics(role.admin)
  return role
}

export async function metrics (adminUrl) {
  const text = await (await fetch(`${adminUrl}/metrics`)).text()
  const out = new Map()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return out
}

const tokens = new Map()
export function tokenFor (user) {
  if (!tokens.has(user)) tokens.set(user, token(user, '2h'))
  return tokens.get(user)
}

// A stock client. `url` is ws://host:port of a gateway (or proxy); the provider appends /ws/doc.
// Clients and proxies a failed test left open are closed after the file's last test (their
// sockets and awareness timers would keep the process alive).
const live = new Set()
after(() => { for (const x of [...live]) x.close() })

export function connect ({ url, doc, user = 'alice', ext = true, ydoc = new Y.Doc(), awareness = null, connectNow = true }) {
  const params = { token: tokenFor(user) }
  if (ext) params.quire = '1'
  const provider = new WebsocketProvider(`${url}/ws`, doc, ydoc, {
    WebSocketPolyfill: WebSocket, params, connect: false, disableBc: true
  })
  const q = ext ? attachQuire(provider) : null
  if (awareness) provider.awareness.setLocalState(awareness)
  // record every write sent and what the server acknowledged, per connection
  const writes = []
  if (ext) {
    provider.on('status', ({ status }) => {
      if (status !== 'connected') return
      const ws = provider.ws
      const send = ws.send
      const conn = { seqBase: writes.length, n: 0 }
      ws.send = (data) => {
        const b = new Uint8Array(data)
        if (b[0] === 0 && (b[1] === 1 || b[1] === 2)) {
          conn.n++
          writes.push({ conn, seq: conn.n, payload: readPayload(b), acked: false })
        }
        send.call(ws, data)
      }
    })
    const orig = provider.messageHandlers[100]
    provider.messageHandlers[100] = (encoder, decoder, p, emitSynced, type) => {
      const pos = decoder.pos
      orig(encoder, decoder, p, emitSynced, type)
      const d2 = { arr: decoder.arr, pos }
      const seq = readVarUint(d2)
      const cur = writes.length ? writes[writes.length - 1].conn : null
      for (const w of writes) if (w.conn === cur && w.seq <= seq) w.acked = true
    }
  }
  if (connectNow) provider.connect()
  const client = {
    ydoc, provider, q, writes,
    text: (name = 't') => ydoc.getText(name).toString(),
    async synced (timeoutMs = 20000) {
      await waitFor(`client of ${doc} to sync`, () => provider.synced, { timeoutMs })
    },
    async saved (timeoutMs = 20000) {
      await waitFor(`client of ${doc} to have every write acknowledged`, () => q.saved && q.connected, { timeoutMs })
    },
    // the awareness keeps a timer until destroyed (y-protocols): without this the test process
    // never exits; the Y.Doc stays usable for assertions after close
    close () { live.delete(client); provider.destroy(); provider.awareness.destroy() }
  }
  live.add(client)
  return client
}

function readVarUint (d) {
  let num = 0
  let mult = 1
  for (;;) {
    const b = d.arr[d.pos++]
    num += (b & 0x7f) * mult
    mult *= 128
    if (b < 0x80) return num
  }
}

function readPayload (b) {
  const d = { arr: b, pos: 2 }
  const len = readVarUint(d)
  return b.slice(d.pos, d.pos + len)
}

// The document as a replay of its events in the log.
export function replay (doc) {
  const y = new Y.Doc()
  for (const ev of eventsOf(doc)) {
    if (ev.update_base64) Y.applyUpdate(y, Buffer.from(ev.update_base64, 'base64'))
  }
  return y
}

// True when applying `update` to a copy of `ydoc` changes nothing: the log holds it.
export function contains (ydoc, update) {
  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(ydoc))
  const before = Buffer.from(Y.encodeStateAsUpdate(copy))
  Y.applyUpdate(copy, update)
  return Buffer.compare(before, Buffer.from(Y.encodeStateAsUpdate(copy))) === 0
}

// Same state vector, same text root 't' and map root 'm' (the roots these tests edit).
export function sameDoc (a, b) {
  const sv = (d) => Buffer.from(Y.encodeStateVector(d))
  return Buffer.compare(sv(a), sv(b)) === 0 &&
    a.getText('t').toString() === b.getText('t').toString() &&
    canonical(a.getMap('m').toJSON()) === canonical(b.getMap('m').toJSON())
}
// JSON with sorted keys: a Y.Map's key order is the order its entries arrived, which differs
// between replicas that converged
function canonical (v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`
  return JSON.stringify(v)
}

// A TCP proxy standing in for a load balancer: clients keep one URL; the proxy forwards to
// whichever gateway it currently points at.
export async function startProxy (targetPort) {
  const port = await freePort()
  const socks = new Set()
  const proxy = {
    port,
    url: `ws://127.0.0.1:${port}`,
    target: targetPort,
    setTarget (p) { proxy.target = p },
    dropAll () { for (const s of socks) s.destroy() },
    close () { live.delete(proxy); proxy.dropAll(); server.close() }
  }
  const server = net.createServer((client) => {
    const upstream = net.connect(proxy.target, '127.0.0.1')
    socks.add(client)
    socks.add(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    const end = () => { client.destroy(); upstream.destroy(); socks.delete(client); socks.delete(upstream) }
    client.on('error', end)
    upstream.on('error', end)
    client.on('close', end)
    upstream.on('close', end)
  })
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve))
  live.add(proxy)
  return proxy
}

export { Y }
