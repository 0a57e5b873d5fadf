// Integration: the read model of issue 6 against the real broker and PostgreSQL. The projector
// folds the log into PostgreSQL; the api serves it: content equal to yjs's for the same updates,
// time travel equal to yjs at that point, read-your-writes with ?min_version=, cache headers
// and 304 (I8), history with actors and broker times (I6), lifecycle (create, delete → 404),
// duplicates ignored, poison quarantined without stalling its partition (I7), identities
// required, and `quire verify` agreeing.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startApi, token, uniqueId, share } from './lib/stack.mjs'
import {
  Y, startProjector, psql, verify, partitionOf, produceRaw, rawRecord, expectedContent,
  waitCaughtUp, TOPIC
} from './lib/readmodel.mjs'

const alice = token('alice')
const bob = token('bob')
let api, projector

before(async () => {
  projector = await startProjector('projector-it')
  api = await startApi('api-readmodel')
})
after(async () => {
  await api?.stop()
  await projector?.stop()
})

const auth = (t = alice, extra = {}) => ({ Authorization: `Bearer ${t}`, ...extra })

async function post (doc, update, t = alice, extra = {}) {
  const r = await fetch(`${api.url}/v1/docs/${doc}/updates`, {
    method: 'POST', headers: auth(t, { 'Content-Type': 'application/octet-stream', ...extra }), body: update
  })
  const text = await r.text()
  assert.equal(r.status, 201, text)
  return JSON.parse(text)
}

async function get (doc, query = '', t = alice, extra = {}) {
  const r = await fetch(`${api.url}/v1/docs/${doc}${query}`, { headers: auth(t, extra) })
  const text = await r.text()
  let json = null
  try { json = JSON.parse(text) } catch {}
  return { status: r.status, json, text, headers: r.headers }
}

function rng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ROOTS = { t: 'text', m: 'map', a: 'array', x: 'xml' }

// Two clients editing every kind of root concurrently, syncing now and then. Returns the
// updates in the order they are posted.
function editingSession (seed, steps) {
  const r = rng(seed)
  const int = (n) => Math.floor(r() * n)
  const clients = [new Y.Doc(), new Y.Doc()]
  const updates = []
  clients.forEach((d, i) => d.on('update', (u, origin) => { if (origin !== 'sync') updates.push(u) }))
  const words = ['lorem ', 'ipsum ', 'dolor ', 'é ', '中文 ', '😀 ', 'sit\n']
  for (let s = 0; s < steps; s++) {
    const d = clients[int(2)]
    const k = int(10)
    const t = d.getText('t')
    if (k < 4) {
      t.insert(int(t.length + 1), words[int(words.length)], r() < 0.2 ? { bold: true } : undefined)
    } else if (k === 4 && t.length > 2) {
      const at = int(t.length - 1)
      t.delete(at, 1 + int(Math.min(5, t.length - at - 1)))
    } else if (k === 5) {
      d.getMap('m').set(`k${int(6)}`, r() < 0.5 ? int(1000) : { nested: [1, 'two', r() < 0.5] })
    } else if (k === 6) {
      const a = d.getArray('a')
      if (a.length > 3 && r() < 0.3) a.delete(int(a.length), 1)
      else a.insert(int(a.length + 1), [int(100), `s${int(9)}`])
    } else if (k === 7) {
      const x = d.getXmlFragment('x')
      const p = new Y.XmlElement(r() < 0.7 ? 'paragraph' : 'heading')
      if (r() < 0.5) p.setAttribute('level', String(1 + int(3)))
      p.insert(0, [new Y.XmlText(words[int(words.length)])])
      x.insert(int(x.length + 1), [p])
    } else if (k === 8 && d.getMap('m').size > 0) {
      d.getMap('m').delete([...d.getMap('m').keys()][0])
    } else {
      // sync the two clients both ways
      const [a, b] = clients
      Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)), 'sync')
      Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)), 'sync')
    }
  }
  return updates
}

test('content after a stream of edits equals yjs, and ?at= equals yjs at random past points', async () => {
  const doc = uniqueId('rm-content')
  const updates = editingSession(42, 400)
  const answers = []
  for (const u of updates) answers.push(await post(doc, u))
  // yjs, applying the same updates in log order, at every step
  const replica = new Y.Doc()
  const expectedAt = []
  for (const u of updates) {
    Y.applyUpdate(replica, u)
    expectedAt.push(expectedContent(replica, ROOTS))
  }
  const last = answers[answers.length - 1].version
  const r = await get(doc, `?min_version=${last}`)
  assert.equal(r.status, 200, r.text)
  assert.equal(r.json.version, last, 'min_version returns the version just written')
  assert.deepEqual(r.json.content, expectedAt[expectedAt.length - 1], 'content equals yjs toString()/toJSON()')
  assert.equal(r.json.counts.events, updates.length)
  assert.equal(r.json.owner, 'alice')
  // the binary state is a Yjs update that yields the same document
  const st = await fetch(`${api.url}/v1/docs/${doc}/state`, { headers: auth() })
  assert.equal(st.status, 200)
  const loaded = new Y.Doc()
  Y.applyUpdate(loaded, new Uint8Array(await st.arrayBuffer()))
  assert.deepEqual(expectedContent(loaded, ROOTS), expectedAt[expectedAt.length - 1])
  // ?sv= gives exactly what a client at an earlier state lacks
  const early = new Y.Doc()
  for (const u of updates.slice(0, 100)) Y.applyUpdate(early, u)
  const sv = Buffer.from(Y.encodeStateVector(early)).toString('base64')
  const diff = await fetch(`${api.url}/v1/docs/${doc}/state?sv=${encodeURIComponent(sv)}`, { headers: auth() })
  assert.equal(diff.status, 200)
  Y.applyUpdate(early, new Uint8Array(await diff.arrayBuffer()))
  assert.deepEqual(expectedContent(early, ROOTS), expectedAt[expectedAt.length - 1])
  // time travel by offset, at random points
  const pick = rng(7)
  for (let i = 0; i < 25; i++) {
    const k = Math.floor(pick() * updates.length)
    const at = await get(doc, `?at=${answers[k].version}`)
    assert.equal(at.status, 200, at.text)
    assert.equal(at.json.version, answers[k].version)
    assert.deepEqual(at.json.content, expectedAt[k], `content at offset ${answers[k].version}`)
  }
  // time travel by broker time: the latest event at or before that time
  for (let i = 0; i < 10; i++) {
    const k = Math.floor(pick() * updates.length)
    const t = answers[k].broker_time_ms
    let j = k
    while (j + 1 < answers.length && answers[j + 1].broker_time_ms <= t) j++
    const at = await get(doc, `?at=${new Date(t).toISOString()}`)
    assert.equal(at.status, 200, at.text)
    assert.equal(at.json.version, answers[j].version)
    assert.deepEqual(at.json.content, expectedAt[j])
  }
  const before = await get(doc, `?at=${new Date(answers[0].broker_time_ms - 60000).toISOString()}`)
  assert.equal(before.status, 404, 'before its first event the document did not exist')
})

test('ETag is the version, Cache-Control private no-cache, If-None-Match gives 304 (I8)', async () => {
  const doc = uniqueId('rm-etag')
  const a = await post(doc, Y.encodeStateAsUpdate((() => { const d = new Y.Doc(); d.getText('t').insert(0, 'one'); return d })()))
  const r = await get(doc, `?min_version=${a.version}`)
  assert.equal(r.status, 200)
  assert.equal(r.headers.get('etag'), `"${a.version}"`)
  assert.equal(r.headers.get('cache-control'), 'private, no-cache')
  const nm = await get(doc, '', alice, { 'If-None-Match': `"${a.version}"` })
  assert.equal(nm.status, 304)
  assert.equal(nm.text, '')
  // a new version invalidates it at once
  const d2 = new Y.Doc()
  d2.getText('t').insert(0, 'two')
  const b = await post(doc, Y.encodeStateAsUpdate(d2))
  const after2 = await get(doc, `?min_version=${b.version}`, alice, { 'If-None-Match': `"${a.version}"` })
  assert.equal(after2.status, 200)
  assert.equal(after2.headers.get('etag'), `"${b.version}"`)
  const st = await fetch(`${api.url}/v1/docs/${doc}/state`, { headers: auth() })
  assert.equal(st.headers.get('cache-control'), 'private, no-cache')
  assert.equal(st.headers.get('etag'), `"${b.version}"`)
})

test('history lists actors and broker times, paged (I6)', async () => {
  const doc = uniqueId('rm-history')
  const versions = []
  for (let i = 0; i < 7; i++) {
    const d = new Y.Doc()
    d.getText('t').insert(0, `edit ${i}`)
    versions.push((await post(doc, Y.encodeStateAsUpdate(d), i % 2 ? bob : alice)).version)
    if (i === 0) await share(api.url, doc, alice, ['bob']) /* alice's first write made it hers */
  }
  await get(doc, `?min_version=${versions[6]}`)
  const page1 = await fetch(`${api.url}/v1/docs/${doc}/history?limit=4`, { headers: auth() }).then((r) => r.json())
  assert.equal(page1.events.length, 4)
  assert.equal(page1.next_after, versions[3])
  const page2 = await fetch(`${api.url}/v1/docs/${doc}/history?limit=4&after=${page1.next_after}`, { headers: auth() }).then((r) => r.json())
  assert.equal(page2.events.length, 3)
  assert.equal(page2.next_after, null)
  const all = [...page1.events, ...page2.events]
  assert.deepEqual(all.map((e) => e.offset), versions)
  assert.deepEqual(all.map((e) => e.actor), versions.map((_, i) => (i % 2 ? 'bob' : 'alice')))
  const tail = await fetch(`${api.url}/v1/docs/${doc}/history`, { headers: auth() }).then((r) => r.json())
  for (const e of all) {
    assert.match(e.broker_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.ok(Math.abs(Date.parse(e.broker_time) - Date.now()) < 120000, 'broker time is server time')
    assert.equal(e.kind, 'UPDATE')
    assert.match(e.event_id, /^[0-9a-f-]{36}$/)
  }
  assert.equal(tail.events.length, 7)
  const bad = await fetch(`${api.url}/v1/docs/${doc}/history?limit=0`, { headers: auth() })
  assert.equal(bad.status, 400)
})

test('reads and lifecycle need an identity; unknown documents are 404; strict validation', async () => {
  const doc = uniqueId('rm-auth')
  const d = new Y.Doc()
  d.getText('t').insert(0, 'x')
  const a = await post(doc, Y.encodeStateAsUpdate(d))
  await get(doc, `?min_version=${a.version}`)
  for (const p of ['', '/state', '/history']) {
    const r = await fetch(`${api.url}/v1/docs/${doc}${p}`)
    assert.equal(r.status, 401, `GET ${p} without identity`)
    const r2 = await fetch(`${api.url}/v1/docs/${doc}${p}`, { headers: { Authorization: 'Bearer nope' } })
    assert.equal(r2.status, 401)
  }
  assert.equal((await fetch(`${api.url}/v1/docs`, { method: 'POST' })).status, 401)
  assert.equal((await fetch(`${api.url}/v1/docs/${doc}`, { method: 'DELETE' })).status, 401)
  assert.equal((await get(uniqueId('rm-none'))).status, 404)
  assert.equal((await get('bad%2Fid')).status, 404)
  assert.equal((await get(doc, '?min_version=-1')).status, 400)
  assert.equal((await get(doc, '?min_version=abc')).status, 400)
  assert.equal((await get(doc, '?at=yesterday')).status, 400)
  assert.equal((await get(doc, '?at=1&min_version=1')).status, 400)
  const sv = await fetch(`${api.url}/v1/docs/${doc}/state?sv=%%%`, { headers: auth() })
  assert.equal(sv.status, 400)
  // a version the read model never reaches: a bounded wait, then a clear retriable answer
  const far = await get(doc, `?min_version=${2 ** 50}`)
  assert.equal(far.status, 503)
  assert.equal(far.json.error.code, 'version_not_reached')
})

test('create, then delete: the document answers 404 afterwards; ids are not reused', async () => {
  const doc = uniqueId('rm-life')
  const c = await fetch(`${api.url}/v1/docs`, {
    method: 'POST', headers: auth(bob, { 'Content-Type': 'application/json' }), body: JSON.stringify({ id: doc })
  })
  assert.equal(c.status, 201, await c.clone().text())
  const cj = await c.json()
  assert.equal(cj.id, doc)
  assert.equal(cj.projected, true)
  assert.equal(cj.role, 'owner')
  await share(api.url, doc, bob, ['alice']) /* alice reads and edits bob's document */
  const g = await get(doc)
  assert.equal(g.status, 200, 'readable at once after the create answered')
  assert.equal(g.json.owner, 'bob', 'the creator is owner')
  assert.deepEqual(g.json.content, {})
  const again = await fetch(`${api.url}/v1/docs`, {
    method: 'POST', headers: auth(alice, { 'Content-Type': 'application/json' }), body: JSON.stringify({ id: doc })
  })
  assert.equal(again.status, 409)
  const gen = await fetch(`${api.url}/v1/docs`, { method: 'POST', headers: auth() })
  assert.equal(gen.status, 201)
  assert.match((await gen.json()).id, /^[A-Za-z0-9_-]{22}$/)
  const bad = await fetch(`${api.url}/v1/docs`, {
    method: 'POST', headers: auth(alice, { 'Content-Type': 'application/json' }), body: '{"id":"a/b"}'
  })
  assert.equal(bad.status, 400)
  const upd = new Y.Doc()
  upd.getText('t').insert(0, 'before delete')
  await post(doc, Y.encodeStateAsUpdate(upd))
  assert.equal((await fetch(`${api.url}/v1/docs/${doc}`, { method: 'DELETE', headers: auth() })).status, 403, 'only the owner deletes')
  const del = await fetch(`${api.url}/v1/docs/${doc}`, { method: 'DELETE', headers: auth(bob) })
  assert.equal(del.status, 200)
  assert.equal((await del.json()).deleted, true)
  assert.equal((await get(doc)).status, 404)
  assert.equal((await fetch(`${api.url}/v1/docs/${doc}/state`, { headers: auth() })).status, 404)
  assert.equal((await fetch(`${api.url}/v1/docs/${doc}/history`, { headers: auth() })).status, 404)
  assert.equal((await get(doc, '?at=0')).status, 404)
  assert.equal((await fetch(`${api.url}/v1/docs/${doc}`, { method: 'DELETE', headers: auth() })).status, 404)
  const w = await fetch(`${api.url}/v1/docs/${doc}/updates`, {
    method: 'POST', headers: auth(alice, { 'Content-Type': 'application/octet-stream' }), body: Y.encodeStateAsUpdate(upd)
  })
  assert.equal(w.status, 404, 'no writes to a deleted document')
  const ev = psql(`SELECT kind, actor FROM doc_events WHERE doc_id = '${doc}' ORDER BY "offset"`)
  assert.deepEqual(ev.split('\n'), ['1|bob', '0|alice', '2|bob'], 'lifecycle events are in the log and the index')
})

test('with --no-create-on-write, only created documents take writes', async () => {
  const strict = await startApi('api-strict', ['--no-create-on-write'])
  try {
    const doc = uniqueId('rm-strict')
    const u = Y.encodeStateAsUpdate((() => { const d = new Y.Doc(); d.getText('t').insert(0, 'hi'); return d })())
    const opts = { method: 'POST', headers: auth(alice, { 'Content-Type': 'application/octet-stream' }), body: u }
    assert.equal((await fetch(`${strict.url}/v1/docs/${doc}/updates`, opts)).status, 404)
    const c = await fetch(`${strict.url}/v1/docs`, {
      method: 'POST', headers: auth(alice, { 'Content-Type': 'application/json' }), body: JSON.stringify({ id: doc })
    })
    assert.equal(c.status, 201)
    assert.equal((await fetch(`${strict.url}/v1/docs/${doc}/updates`, opts)).status, 201)
  } finally { await strict.stop() }
})

test('a resent event changes nothing; a poison event is quarantined and its partition moves on (I7)', async () => {
  const doc = uniqueId('rm-poison')
  const part = partitionOf(doc)
  const d = new Y.Doc()
  d.getText('t').insert(0, 'first ')
  const a = await post(doc, Y.encodeStateAsUpdate(d))
  const g1 = await get(doc, `?min_version=${a.version}`)
  // the same record again, straight to the topic (a resend after a producer rebuild)
  produceRaw(doc, rawRecord(part, a.version))
  // poison: not Avro at all, and a well-framed event whose Yjs update is garbage
  produceRaw(doc, Buffer.from('definitely not a DocEvent'))
  const good = rawRecord(part, a.version)
  const bad = Buffer.from(good)
  bad[bad.length - 3] ^= 0xff
  produceRaw(doc, bad)
  // and a valid edit after them
  const d2 = new Y.Doc()
  d2.getText('t').insert(0, 'second')
  const b = await post(doc, Y.encodeStateAsUpdate(d2))
  const g2 = await get(doc, `?min_version=${b.version}`)
  assert.equal(g2.status, 200, g2.text)
  assert.equal(g2.json.version, b.version, 'later events of the partition are projected')
  assert.equal(g2.json.counts.events, g1.json.counts.events + 1, 'the resend was not counted')
  const q = psql(`SELECT "offset", engine, reason FROM quarantine WHERE topic = '${TOPIC}' AND partition = ${part} AND "offset" > ${a.version} AND "offset" < ${b.version} ORDER BY "offset"`)
  const rows = q.split('\n').filter(Boolean)
  assert.ok(rows.length >= 1, `poison quarantined: ${q}`)
  for (const row of rows) assert.match(row.split('|')[1], /^quire-yjs\//, 'the engine version is recorded')
  assert.ok(rows.some((r) => /undecodable/.test(r)), q)
  const idx = psql(`SELECT count(*) FROM doc_events WHERE doc_id = '${doc}'`)
  assert.equal(idx, '2', 'index: the original and the later edit, once each')
  await waitCaughtUp()
  const v = verify()
  assert.equal(v.code, 0, v.out)
})
