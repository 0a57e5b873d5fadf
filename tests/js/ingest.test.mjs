// Integration: the write path of issue 5 against the real broker. POST /v1/docs/{id}/updates
// answers 201 only after Kafka confirmed; the event at the returned offset decodes to the same
// bytes and metadata; placement follows murmur2 over all partitions; refusals write nothing; a
// stopped broker never yields a false success, and acknowledged writes survive it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { startApi, token, eventsOf, quire, stackCtl, uniqueId, sleep, waitFor, share } from './lib/stack.mjs'

const tok = token('alice')
const bob = token('bob')
const headers = (t = tok, extra = {}) => ({ Authorization: `Bearer ${t}`, 'Content-Type': 'application/octet-stream', ...extra })

function textUpdate (text, clientID) {
  const d = new Y.Doc()
  if (clientID) d.clientID = clientID
  d.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(d)
}

async function post (api, doc, body, t = tok, extra = {}) {
  const r = await fetch(`${api.url}/v1/docs/${doc}/updates`, { method: 'POST', headers: headers(t, extra), body })
  const text = await r.text()
  let json = null
  try { json = JSON.parse(text) } catch {}
  return { status: r.status, json, text, headers: r.headers }
}

test('an accepted update is in Kafka at the returned offset with the same bytes and metadata', async () => {
  const api = await startApi('api-ingest-1')
  try {
    const doc = uniqueId('doc')
    const updates = []
    for (let i = 0; i < 5; i++) updates.push(textUpdate(`edit ${i} `))
    const answers = []
    for (const u of updates) answers.push(await post(api, doc, u))
    for (const a of answers) assert.equal(a.status, 201, a.text)
    const partition = answers[0].json.partition
    const expected = Number(quire(['partition', '--partitions', process.env.QUIRE_PARTITIONS || '12', doc]).split(' ')[1])
    assert.equal(partition, expected, 'the document lives on its murmur2 partition')
    const events = eventsOf(doc)
    assert.equal(events.length, 5)
    for (let i = 0; i < 5; i++) {
      const ev = events[i]
      assert.equal(ev.partition, partition, 'all events of a document in one partition')
      assert.equal(ev.offset, answers[i].json.offset)
      assert.equal(ev.doc, doc)
      assert.equal(ev.actor, 'alice', 'the actor is the authenticated user')
      assert.equal(ev.kind, 'UPDATE')
      assert.equal(ev.origin, 'api')
      assert.deepEqual(Buffer.from(ev.update_base64, 'base64'), Buffer.from(updates[i]))
      if (i) assert.ok(ev.offset > events[i - 1].offset, 'in order')
      // server time is the server's, and the broker's LogAppendTime is not before it by much
      assert.ok(Math.abs(Date.parse(ev.broker_time) - Date.parse(ev.server_time)) < 60000)
    }
    // a token's user is recorded, never a client claim (alice created the document by writing
    // first; bob may write once she shared it)
    await share(api.url, doc, tok, ['bob'])
    const other = await post(api, doc, textUpdate('from bob'), bob)
    assert.equal(other.status, 201)
    assert.equal(eventsOf(doc).pop().actor, 'bob')
  } finally { await api.stop() }
})

test('1,000 documents spread over every partition, each on its murmur2 partition', async () => {
  const api = await startApi('api-ingest-2')
  try {
    const docs = Array.from({ length: 1000 }, (_, i) => `spread-${process.pid}-${i}-${Math.random().toString(36).slice(2, 7)}`)
    const parts = new Map()
    const want = new Map(quire(['partition', '--partitions', process.env.QUIRE_PARTITIONS || '12', ...docs])
      .trim().split('\n').map((l) => l.split(' ')).map(([d, p]) => [d, Number(p)]))
    const u = textUpdate('x')
    for (let i = 0; i < docs.length; i += 50) {
      const batch = docs.slice(i, i + 50)
      const rs = await Promise.all(batch.map((d) => post(api, d, u)))
      rs.forEach((r, j) => {
        assert.equal(r.status, 201, r.text)
        assert.equal(r.json.partition, want.get(batch[j]))
        parts.set(r.json.partition, (parts.get(r.json.partition) || 0) + 1)
      })
    }
    const n = Number(process.env.QUIRE_PARTITIONS || 12)
    assert.equal(parts.size, n, `1,000 documents cover all ${n} partitions`)
    for (const [, count] of parts) assert.ok(count > 1000 / n / 3, 'no partition is starved')
  } finally { await api.stop() }
})

test('refusals: malformed, empty, oversized, bad ids, anonymous — clear errors, nothing written', async () => {
  const api = await startApi('api-ingest-3', ['--max-doc-bytes', '64KiB', '--max-event-bytes', '4KiB'])
  try {
    const doc = uniqueId('refuse')
    const cases = [
      ['garbage', Buffer.from('not a yjs update at all'), 400, /invalid Yjs update/],
      ['truncated', Buffer.from(textUpdate('hello')).subarray(0, 7), 400, /invalid Yjs update/],
      ['huge declared length', Buffer.from([1, 1, 5, 0, 4, 1, 1, 0x74, 0xff, 0xff, 0xff, 0x7f]), 400, /invalid Yjs update/],
      ['zero bytes', Buffer.alloc(0), 400, /empty/],
      ['empty update 00 00', Buffer.from([0, 0]), 400, /changes nothing/],
      ['over the document limit', textUpdate('x'.repeat(70000)), 413, /exceeds 65536 bytes/]
    ]
    for (const [what, body, status, re] of cases) {
      const r = await post(api, doc, body)
      assert.equal(r.status, status, `${what}: ${r.text}`)
      assert.match(r.json.error.message, re, what)
    }
    const bad = await post(api, 'bad%2fid', textUpdate('x'))
    assert.equal(bad.status, 404)
    const long = await post(api, 'x'.repeat(129), textUpdate('x'))
    assert.equal(long.status, 404)
    const anon = await fetch(`${api.url}/v1/docs/${doc}/updates`, { method: 'POST', body: textUpdate('x'), headers: { 'Content-Type': 'application/octet-stream' } })
    assert.equal(anon.status, 401)
    const forged = await post(api, doc, textUpdate('x'), tok.slice(0, -2) + 'xx')
    assert.equal(forged.status, 401)
    // the document's own events, not partition offsets: other suites write concurrently
    assert.deepEqual(eventsOf(doc), [], 'no refused write reached Kafka')
  } finally { await api.stop() }
})

test('a large update is split into several events that merge back to it', async () => {
  const api = await startApi('api-ingest-4', ['--max-event-bytes', '4KiB'])
  try {
    const doc = uniqueId('split')
    const d = new Y.Doc()
    for (let i = 0; i < 200; i++) d.getText('t').insert(0, `line ${i} ${'z'.repeat(100)}\n`)
    const big = Y.encodeStateAsUpdate(d)
    assert.ok(big.length > 16384)
    const r = await post(api, doc, big)
    assert.equal(r.status, 201, r.text)
    assert.ok(r.json.events > 3, 'split into several events')
    const events = eventsOf(doc)
    assert.equal(events.length, r.json.events)
    for (const ev of events) assert.ok(Buffer.from(ev.update_base64, 'base64').length <= 4096)
    const back = new Y.Doc()
    for (const ev of events) Y.applyUpdate(back, Buffer.from(ev.update_base64, 'base64'))
    assert.equal(back.getText('t').toString(), d.getText('t').toString())
  } finally { await api.stop() }
})

test('Idempotency-Key: a retried POST returns the first answer and writes no second event', async () => {
  const api = await startApi('api-ingest-5')
  try {
    const doc = uniqueId('idem')
    const u = textUpdate('once')
    const key = uniqueId('key')
    const a = await post(api, doc, u, tok, { 'Idempotency-Key': key })
    const b = await post(api, doc, u, tok, { 'Idempotency-Key': key })
    assert.equal(a.status, 201)
    assert.equal(b.status, 201)
    assert.deepEqual(b.json, a.json)
    assert.equal(b.headers.get('idempotent-replayed'), 'true')
    assert.equal(eventsOf(doc).length, 1)
    const c = await post(api, doc, textUpdate('other'), tok, { 'Idempotency-Key': key })
    assert.equal(c.status, 422)
    // another user's identical key is theirs, not a replay (with his own update: alice's Yjs
    // client id is bound to her)
    await share(api.url, doc, tok, ['bob'])
    const d = await post(api, doc, textUpdate('once'), bob, { 'Idempotency-Key': key })
    assert.equal(d.status, 201)
    assert.equal(eventsOf(doc).length, 2)
  } finally { await api.stop() }
})
