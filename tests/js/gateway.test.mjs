// Integration: the gateway with unmodified stock clients (yjs + y-websocket) on two gateways
// and one broker — convergence (I2), offline edits reaching everyone through the other gateway
// without re-producing what the log has (I10), presence across gateways.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { uniqueId, sleep, waitFor, eventsOf, startApi, token, share, shareDoc } from './lib/stack.mjs'
import { startGateway, connect, replay, sameDoc, contains, Y } from './lib/yclient.mjs'
import { startProjector } from './lib/readmodel.mjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

const gwA = await startGateway('gw-a', ['--presence-expire', '3s'])
const gwB = await startGateway('gw-b', ['--presence-expire', '3s'])
const projector = await startProjector('projector-gw')
const api = await startApi('api-gw')
after(async () => { await gwA.stop(); await gwB.stop(); await projector.stop(); await api.stop() })

function randomEdit (ydoc, rnd) {
  const t = ydoc.getText('t')
  const len = t.length
  if (len > 20 && rnd() < 0.3) {
    const pos = Math.floor(rnd() * (len - 5))
    t.delete(pos, 1 + Math.floor(rnd() * 4))
  } else {
    const pos = Math.floor(rnd() * (len + 1))
    t.insert(pos, 'abcdefghij'.slice(0, 1 + Math.floor(rnd() * 9)))
  }
  if (rnd() < 0.1) ydoc.getMap('m').set(`k${Math.floor(rnd() * 5)}`, Math.floor(rnd() * 1000))
}

function rng (seed) {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 4294967296 }
}

test('clients on two gateways edit one document concurrently and converge with the log (I2)', async () => {
  const doc = uniqueId('conv')
  await share(api.url, doc, token('alice'), ['bob', 'carol', 'dave'], { create: true }) /* alice's document */
  const clients = [
    connect({ url: gwA.url, doc, user: 'alice' }), connect({ url: gwA.url, doc, user: 'bob' }),
    connect({ url: gwB.url, doc, user: 'carol' }), connect({ url: gwB.url, doc, user: 'dave' })
  ]
  for (const c of clients) await c.synced()
  const rnds = clients.map((_, i) => rng(1000 + i))
  const until = Date.now() + 4000
  while (Date.now() < until) {
    clients.forEach((c, i) => randomEdit(c.ydoc, rnds[i]))
    await sleep(25)
  }
  for (const c of clients) await c.saved(30000)
  await waitFor('every client to hold the same document', () => clients.every((c) => sameDoc(c.ydoc, clients[0].ydoc)), { timeoutMs: 20000 })
  const fromLog = replay(doc)
  assert.ok(clients[0].text().length > 50, 'edits happened')
  for (const c of clients) {
    assert.equal(c.text(), fromLog.getText('t').toString(), 'client equals a replay of the log')
    assert.ok(sameDoc(c.ydoc, fromLog))
    assert.equal(c.q.backwards, 0, 'no client saw a version go backwards (I5)')
    for (const w of c.writes.filter((x) => x.acked)) assert.ok(contains(fromLog, w.payload), 'acknowledged writes are in the log')
  }
  // the read model, read at (at least) the last version any client saw, holds the same document
  const lastSeen = Math.max(...clients.map((c) => c.q.version))
  assert.ok(lastSeen >= 0)
  const r = await fetch(`${api.url}/v1/docs/${doc}?min_version=${lastSeen}`, { headers: { Authorization: `Bearer ${token('alice')}` } })
  assert.equal(r.status, 200, await r.clone().text())
  const body = await r.json()
  assert.ok(body.version >= lastSeen)
  assert.equal(body.content.t, clients[0].text(), 'the read model equals every client')
  assert.deepEqual(body.content.m, clients[0].ydoc.getMap('m').toJSON())
  for (const c of clients) c.close()
})

test('offline edits reach everyone through the other gateway; nothing already in the log is produced again (I10)', async () => {
  const doc = uniqueId('offline')
  shareDoc(doc, 'alice', ['bob'])
  const x = connect({ url: gwA.url, doc, user: 'alice' })
  const y = connect({ url: gwB.url, doc, user: 'bob' })
  await x.synced(); await y.synced()
  x.ydoc.getText('t').insert(0, 'shared start. ')
  await x.saved()
  await waitFor('y to see x', () => y.text().includes('shared start'))
  const before = eventsOf(doc).length
  x.provider.disconnect()
  await sleep(200)
  x.ydoc.getText('t').insert(x.text().length, 'offline one. ')
  x.ydoc.getText('t').insert(x.text().length, 'offline two. ')
  y.ydoc.getText('t').insert(0, 'meanwhile. ')
  await y.saved()
  // x comes back on the other gateway, same document state (as y-indexeddb would restore it)
  x.close()
  const x2 = connect({ url: gwB.url, doc, user: 'alice', ydoc: x.ydoc })
  await x2.synced()
  await x2.saved()
  await waitFor('y to see the offline edits', () => y.text().includes('offline one. offline two.'))
  await waitFor('x to see y', () => x2.text().includes('meanwhile'))
  assert.equal(x2.text(), y.text())
  const after = eventsOf(doc)
  const fresh = after.slice(before)
  // y's edit, and x's offline edits — once; the content the log already had is not produced
  assert.ok(fresh.length >= 2 && fresh.length <= 3, `new events: ${fresh.length}`)
  const xClient = x.ydoc.clientID
  const oldMax = Math.max(0, ...after.slice(0, before).flatMap((e) => (e.update?.clients || []).filter((r) => r.client === xClient).map((r) => r.end)))
  for (const e of fresh) {
    for (const r of e.update?.clients || []) {
      if (r.client === xClient) assert.ok(r.clock >= oldMax, 'only x\'s offline structs were produced')
    }
  }
  assert.ok(sameDoc(replay(doc), y.ydoc))
  x2.close(); y.close()
})

test('presence set on A shows on B and disappears when the client closes', async () => {
  const doc = uniqueId('presence')
  shareDoc(doc, 'alice', ['bob'])
  const a = connect({ url: gwA.url, doc, user: 'alice', awareness: { user: { name: 'Alice', color: '#f00' } } })
  const b = connect({ url: gwB.url, doc, user: 'bob', awareness: { user: { name: 'Bob', color: '#00f' } } })
  await a.synced(); await b.synced()
  const aId = a.ydoc.clientID
  await waitFor('B to see Alice', () => b.provider.awareness.getStates().get(aId)?.user?.name === 'Alice', { timeoutMs: 10000 })
  await waitFor('A to see Bob', () => a.provider.awareness.getStates().get(b.ydoc.clientID)?.user?.name === 'Bob', { timeoutMs: 10000 })
  a.close()
  await waitFor('B to drop Alice after she closes', () => !b.provider.awareness.getStates().has(aId), { timeoutMs: 10000 })
  b.close()
})

test('presence of a client disappears when its gateway is killed', async () => {
  const gwC = await startGateway('gw-c', ['--presence-expire', '3s'])
  const doc = uniqueId('presence-kill')
  shareDoc(doc, 'alice', ['bob'])
  const a = connect({ url: gwC.url, doc, user: 'alice', awareness: { user: { name: 'Alice' } } })
  const b = connect({ url: gwB.url, doc, user: 'bob', awareness: { user: { name: 'Bob' } } })
  await a.synced(); await b.synced()
  const aId = a.ydoc.clientID
  await waitFor('B to see Alice', () => b.provider.awareness.getStates().get(aId)?.user?.name === 'Alice', { timeoutMs: 10000 })
  a.provider.shouldConnect = false
  await gwC.kill('SIGKILL')
  await waitFor('B to drop Alice after her gateway died', () => !b.provider.awareness.getStates().has(aId), { timeoutMs: 15000 })
  a.close(); b.close()
})

test('presence older than a new gateway\'s read window still shows there: heartbeats carry the live states', async () => {
  const gwC = await startGateway('gw-beat-c', ['--presence-expire', '3s'])
  const doc = uniqueId('presence-late')
  shareDoc(doc, 'alice', ['bob'])
  const a = connect({ url: gwC.url, doc, user: 'alice', awareness: { user: { name: 'Alice' } } })
  await a.synced()
  await sleep(5000) // Alice's own record is now older than the 3 s a joining gateway reads back
  const gwD = await startGateway('gw-beat-d', ['--presence-expire', '3s'])
  try {
    const b = connect({ url: gwD.url, doc, user: 'bob' })
    await b.synced()
    const aId = a.ydoc.clientID
    // y-protocols renews a state only every 15 s: well within that, the heartbeat brings it
    await waitFor('B to see Alice', () => b.provider.awareness.getStates().get(aId)?.user?.name === 'Alice', { timeoutMs: 8000 })
    b.close()
  } finally {
    a.close()
    await gwD.stop(); await gwC.stop()
  }
})

test('regression: writes that build on the client\'s own writes still in flight are accepted', async () => {
  const doc = uniqueId('inflight')
  const c = connect({ url: gwA.url, doc, user: 'alice' })
  await c.synced()
  const t = c.ydoc.getText('t')
  for (let i = 0; i < 50; i++) { // no await: each edit depends on the previous, not yet echoed
    if (t.length) t.delete(0, t.length)
    t.insert(0, `version ${i}`)
  }
  await c.saved()
  assert.equal(c.q.lastClose, null, 'the socket was never closed')
  assert.equal(c.q.nacks.length, 0)
  assert.equal(replay(doc).getText('t').toString(), 'version 49')
  c.close()
})

test('regression: on reconnect, updates sent before the client\'s SyncStep2 that build on content the gateway lacks wait for it and are acknowledged', async () => {
  // A client that typed offline (or whose last writes died with its gateway) reconnects and
  // keeps typing: its Update reaches the gateway before the SyncStep2 that carries the content
  // it builds on. Stock providers do exactly this; it must not be refused as "missing".
  const doc = uniqueId('early')
  const ydoc = new Y.Doc()
  ydoc.getText('t').insert(0, 'hello ') // never sent: the gateway lacks it
  let early = null
  ydoc.once('update', (u) => { early = u })
  ydoc.getText('t').insert(6, 'world')
  const WebSocket = (await import('ws')).default
  const ws = new WebSocket(`${gwA.url}/ws/${doc}?token=${token('alice', '1h')}&quire=1`)
  const got = { closed: null, acked: 0, step1: null }
  ws.on('close', (code) => { got.closed = code })
  ws.on('message', (data) => {
    const d = decoding.createDecoder(new Uint8Array(data))
    const type = decoding.readVarUint(d)
    if (type === 0 && decoding.readVarUint(d) === 0) got.step1 = decoding.readVarUint8Array(d)
    if (type === 100) got.acked = decoding.readVarUint(d)
  })
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject) })
  const msg = (sub, payload) => {
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 0); encoding.writeVarUint(e, sub); encoding.writeVarUint8Array(e, payload)
    return encoding.toUint8Array(e)
  }
  ws.send(msg(0, Y.encodeStateVector(ydoc))) // SyncStep1
  ws.send(msg(2, early)) // write 1: depends on 'hello ', which the gateway has not seen
  await waitFor('the gateway\'s SyncStep1', () => got.step1 !== null)
  await sleep(300)
  assert.equal(got.acked, 0, 'the held write is not acknowledged before what it builds on is written')
  assert.equal(got.closed, null)
  ws.send(msg(1, Y.encodeStateAsUpdate(ydoc, got.step1))) // write 2: SyncStep2, carries it all
  await waitFor('both writes to be acknowledged', () => got.acked >= 2 || got.closed !== null)
  assert.equal(got.closed, null, 'the socket was not closed')
  assert.equal(got.acked, 2)
  assert.equal(replay(doc).getText('t').toString(), 'hello world')
  ws.close()
})

test('a large initial state arrives in frames of at most --sync-frame-bytes, and stock clients (empty or partial state) assemble it', async () => {
  const gwS = await startGateway('gw-split', ['--sync-frame-bytes', '4KiB'])
  try {
    const doc = uniqueId('split')
    const w = connect({ url: gwA.url, doc, user: 'alice' })
    await w.synced()
    const t = w.ydoc.getText('t')
    let half = null
    for (let i = 0; i < 40; i++) {
      t.insert(t.length, `paragraph ${i} ${'x'.repeat(1000)}\n`)
      if (i === 19) half = Y.encodeStateAsUpdate(w.ydoc)
    }
    w.ydoc.getMap('m').set('k', 'v')
    await w.saved()
    const log = replay(doc)
    // on the wire: Updates of at most 4 KiB, then the SyncStep2
    const WebSocket = (await import('ws')).default
    const ws = new WebSocket(`${gwS.url}/ws/${doc}?token=${token('alice', '1h')}`)
    const frames = []
    let done = false
    ws.on('message', (data) => {
      const d = decoding.createDecoder(new Uint8Array(data))
      if (decoding.readVarUint(d) !== 0) return
      const sub = decoding.readVarUint(d)
      if (sub === 0) return // the gateway's SyncStep1
      frames.push({ sub, size: data.length, update: decoding.readVarUint8Array(d) })
      if (sub === 1) done = true
    })
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject) })
    ws.send(new Uint8Array([0, 0, 1, 0])) // SyncStep1 with an empty state vector
    await waitFor('the SyncStep2', () => done)
    ws.close()
    assert.ok(frames.length >= 10, `the state came in ${frames.length} frames`)
    assert.ok(frames.slice(0, -1).every((f) => f.sub === 2), 'Updates first, the SyncStep2 last')
    assert.ok(frames.every((f) => f.update.length <= 4096), 'no frame over the cap')
    const assembled = new Y.Doc()
    for (const f of frames) Y.applyUpdate(assembled, f.update)
    assert.ok(sameDoc(assembled, log))
    // stock clients: two empty joiners (the shared frames) and one that already holds half
    const partial = new Y.Doc()
    Y.applyUpdate(partial, half)
    const cs = [connect({ url: gwS.url, doc, user: 'alice' }), connect({ url: gwS.url, doc, user: 'alice' }),
      connect({ url: gwS.url, doc, user: 'alice', ydoc: partial })]
    for (const c of cs) await c.synced()
    for (const c of cs) assert.ok(sameDoc(c.ydoc, log), 'a joiner holds the whole document')
    for (const c of [w, ...cs]) c.close()
  } finally {
    await gwS.stop()
  }
})

test('a socket whose access token expires is closed with 4401', async () => {
  const doc = uniqueId('expiry')
  const short = token('shortlived', '2s')
  const WebSocket = (await import('ws')).default
  const ws = new WebSocket(`${gwA.url}/ws/${doc}?token=${short}`)
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject) })
  const closed = await Promise.race([
    new Promise((resolve) => ws.on('close', (code) => resolve(code))),
    sleep(90000).then(() => 'still open after 90 s')
  ])
  ws.terminate()
  assert.equal(closed, 4401)
})
