// Integration: the compactor of issue 8 against the real broker and PostgreSQL. Snapshots follow
// the policy (bytes since the last snapshot vs. the state's size, quiet period), the history
// table and the compacted topic agree (outbox), loads and `?at=` read a snapshot plus a tail the
// policy bounds and equal yjs, several compactors share the partitions without duplicating a
// snapshot, `kill -9` mid-run leaves the previous snapshots intact and the next run catches up
// (`quire verify` passes), and `quire doc get --at` / `quire audit` show history.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startApi, token, uniqueId, sleep, quire } from './lib/stack.mjs'
import { Y, startProjector, verify, waitCaughtUp, psql } from './lib/readmodel.mjs'
import {
  startCompactor, compactUntilIdle, snapshotTopic, snapshotRows, indexedEvents, docGet,
  threshold, TEST_POLICY, waitFor
} from './lib/snapshots.mjs'

const alice = token('alice')
let api, projector

before(async () => {
  projector = await startProjector('projector-compactor')
  api = await startApi('api-compactor')
})
after(async () => {
  await api?.stop()
  await projector?.stop()
})

async function post (doc, update) {
  const r = await fetch(`${api.url}/v1/docs/${doc}/updates`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${alice}`, 'Content-Type': 'application/octet-stream' },
    body: update
  })
  const text = await r.text()
  assert.equal(r.status, 201, text)
  return JSON.parse(text)
}

async function getAt (doc, at) {
  const r = await fetch(`${api.url}/v1/docs/${doc}?at=${at}`, { headers: { Authorization: `Bearer ${alice}` } })
  assert.equal(r.status, 200, await r.clone().text())
  return r.json()
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

// A document typed in `n` updates of about `chunk` characters each, with deletes now and then;
// returns the updates and the text after each of them.
function typing (seed, n, chunk) {
  const r = rng(seed)
  const d = new Y.Doc()
  const t = d.getText('t')
  const updates = []
  const texts = []
  d.on('update', (u) => updates.push(u))
  for (let i = 0; i < n; i++) {
    if (t.length > 20 && r() < 0.3) t.delete(Math.floor(r() * (t.length - 10)), 1 + Math.floor(r() * 8))
    else t.insert(Math.floor(r() * (t.length + 1)), 'x'.repeat(1 + Math.floor(r() * chunk)) + `${i} `)
    texts.push(t.toString())
  }
  return { updates, texts }
}

async function writeDoc (doc, updates) {
  const versions = []
  for (const u of updates) versions.push((await post(doc, u)).version)
  return versions
}

// Checks the policy's bound on every stretch between two consecutive snapshots of a document: no
// more than the threshold plus the event that crossed it; and, when the document was written
// before the compactor ran (`exact`: no quiet period inside the log), at least the threshold for
// all but the last one (a quiet-period snapshot).
function checkPolicy (doc, rows, events, policy, exact = true) {
  let prev = { position: 0, size: 0 }
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k]
    const between = events.filter((e) => e.offset >= prev.position && e.offset < row.position)
    const bytes = between.reduce((s, e) => s + e.size, 0)
    const limit = threshold(prev.size, policy)
    const last = between.length ? between[between.length - 1].size : 0
    assert.ok(bytes < limit + last || bytes === 0,
      `doc=${doc} snapshot ${k} at ${row.position} follows ${bytes} event bytes, more than ${limit} + ${last}`)
    if (exact && k < rows.length - 1) {
      assert.ok(bytes >= limit, `doc=${doc} snapshot ${k} at ${row.position} after only ${bytes} < ${limit} event bytes`)
    }
    prev = row
  }
}

test('snapshots follow the policy; table and topic agree; ?at= and doc get read a bounded tail', async () => {
  const doc = uniqueId('comp-policy')
  const { updates, texts } = typing(1, 240, 400)
  const versions = await writeDoc(doc, updates)
  await waitCaughtUp()
  const group = uniqueId('compactor-policy')
  compactUntilIdle(['--group', group, ...TEST_POLICY])
  const rows = snapshotRows(doc)
  const events = indexedEvents(doc)
  assert.equal(events.length, updates.length)
  assert.ok(rows.length >= 3, `expected several snapshots, got ${rows.length}`)
  assert.ok(rows.every((r) => r.published), 'every snapshot is published')
  checkPolicy(doc, rows, events, { minBytes: 4096 })
  // the last one (quiet period) covers the last event
  const lastRow = rows[rows.length - 1]
  assert.equal(lastRow.version, versions[versions.length - 1])
  assert.equal(lastRow.eventCount, updates.length)
  // the topic holds the same snapshots (the newest at least), byte for byte
  const onTopic = snapshotTopic().filter((m) => m.key === doc && m.value)
  assert.ok(onTopic.length >= 1)
  const newest = onTopic.reduce((a, b) => (b.value.position > a.value.position ? b : a))
  assert.equal(newest.value.position, lastRow.position)
  assert.equal(newest.value.schemaId, 3)
  assert.equal(newest.value.hash.toString('hex'), lastRow.hash)
  assert.ok(newest.value.state.equals(lastRow.state))
  for (const m of onTopic) {
    const row = rows.find((r) => r.position === m.value.position)
    assert.ok(row, `topic snapshot at ${m.value.position} is in the table`)
    assert.equal(m.value.hash.toString('hex'), row.hash)
  }
  // every snapshot is the document at its version
  for (const row of rows) {
    const i = versions.indexOf(row.version)
    const yd = new Y.Doc()
    Y.applyUpdate(yd, row.state)
    assert.equal(yd.getText('t').toString(), texts[i], `snapshot at ${row.position}`)
  }
  // time travel: every 17th version through the api and doc get, with a tail the policy bounds
  for (let i = 0; i < versions.length; i += 17) {
    const want = texts[i]
    const g = docGet(doc, versions[i])
    assert.equal(g.content.t, want, `doc get --at ${versions[i]}`)
    const base = rows.filter((r) => r.version <= versions[i]).pop()
    if (base) {
      assert.equal(g.load.base, 'snapshot')
      assert.equal(g.load.base_position, base.position)
    }
    const lastSize = events.find((e) => e.offset === versions[i]).size
    assert.ok(g.load.tail_bytes < threshold(base ? base.size : 0) + lastSize,
      `?at=${versions[i]} read ${g.load.tail_bytes} tail bytes`)
    assert.equal(g.event_count, i + 1)
    const a = await getAt(doc, versions[i])
    assert.equal(a.content.t, want, `?at=${versions[i]}`)
  }
  // the current-state load (the gateway's join): the row plus the projector's short tail
  const now = docGet(doc)
  assert.equal(now.content.t, texts[texts.length - 1])
  assert.equal(now.version, versions[versions.length - 1])
  // audit lists every event with actor, time and size
  const audit = quire(['audit', doc, '--json', '--log-level', 'warn']).split('\n').filter(Boolean).map((l) => JSON.parse(l))
  assert.equal(audit.length, updates.length)
  assert.equal(audit[0].actor, 'alice')
  assert.equal(audit[5].bytes, events[5].size)
  assert.match(audit[0].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  const some = quire(['audit', doc, '--json', '--from', String(versions[10]), '--to', String(versions[19])])
  assert.equal(some.split('\n').filter(Boolean).length, 10)
  // an idle re-run finds nothing to do
  const before = snapshotRows(doc).length
  compactUntilIdle(['--group', group, ...TEST_POLICY])
  assert.equal(snapshotRows(doc).length, before)
})

test('several compactors share the partitions without duplicating a snapshot', async () => {
  const t0 = psql('SELECT now()')
  const group = uniqueId('compactor-share')
  const a = await startCompactor('compactor-share-a', ['--group', group, ...TEST_POLICY])
  const b = await startCompactor('compactor-share-b', ['--group', group, ...TEST_POLICY])
  try {
    await waitFor('both compactors to hold partitions', async () =>
      (await fetch(`${a.adminUrl}/readyz`)).ok && (await fetch(`${b.adminUrl}/readyz`)).ok, { timeoutMs: 60000 })
    const docs = Array.from({ length: 12 }, (_, i) => uniqueId(`comp-share${i}`))
    const finals = {}
    await Promise.all(docs.map(async (doc, i) => {
      const { updates } = typing(100 + i, 60, 300)
      const v = await writeDoc(doc, updates)
      finals[doc] = v[v.length - 1]
    }))
    await waitFor('every document to have a snapshot of its last version', () =>
      docs.every((doc) => {
        const rows = snapshotRows(doc)
        return rows.length && rows[rows.length - 1].version === finals[doc] && rows.every((r) => r.published)
      }), { timeoutMs: 90000, intervalMs: 500 })
    await sleep(1500)
    const made = (await a.metric('quire_compactor_snapshots_total')) + (await b.metric('quire_compactor_snapshots_total'))
    const rows = Number(psql(`SELECT count(*) FROM doc_snapshots WHERE created_at >= '${t0}'`))
    assert.ok((await a.metric('quire_compactor_snapshots_total')) > 0 && (await b.metric('quire_compactor_snapshots_total')) > 0,
      'both compactors did some of the work')
    assert.equal(made, rows, 'every snapshot attempt made a new row: none was made twice')
    // written live: a pause of a second in the api is a quiet period, so only the upper bound holds
    for (const doc of docs) checkPolicy(doc, snapshotRows(doc), indexedEvents(doc), { minBytes: 4096 }, false)
  } finally {
    await a.stop()
    await b.stop()
  }
})

test('kill -9 of the compactor mid-run: previous snapshots intact, the next run catches up, verify passes', async () => {
  const group = uniqueId('compactor-kill')
  const docs = Array.from({ length: 4 }, (_, i) => uniqueId(`comp-kill${i}`))
  const written = {}
  for (const [i, doc] of docs.entries()) {
    const { updates, texts } = typing(200 + i, 200, 500)
    written[doc] = { versions: await writeDoc(doc, updates), texts }
  }
  await waitCaughtUp()
  const count = () => Number(psql(`SELECT count(*) FROM doc_snapshots WHERE doc_id IN (${docs.map((d) => `'${d}'`).join(',')})`))
  for (let round = 0; round < 3; round++) {
    const had = count()
    const c = await startCompactor(`compactor-kill-${round}`, ['--group', group, ...TEST_POLICY])
    await waitFor('a new snapshot being written', () => count() > had, { timeoutMs: 60000, intervalMs: 10 })
    await c.kill('SIGKILL')
    // whatever is in the table is whole: each snapshot is the document at its version
    for (const doc of docs) {
      for (const row of snapshotRows(doc)) {
        const yd = new Y.Doc()
        Y.applyUpdate(yd, row.state)
        const i = written[doc].versions.indexOf(row.version)
        assert.equal(yd.getText('t').toString(), written[doc].texts[i], `doc=${doc} snapshot at ${row.position}`)
      }
    }
  }
  compactUntilIdle(['--group', group, ...TEST_POLICY])
  for (const doc of docs) {
    const rows = snapshotRows(doc)
    const last = rows[rows.length - 1]
    assert.equal(last.version, written[doc].versions[written[doc].versions.length - 1], `doc=${doc} caught up`)
    assert.ok(rows.every((r) => r.published), `doc=${doc}: the outbox is empty`)
    const onTopic = snapshotTopic().filter((m) => m.key === doc && m.value)
    assert.equal(Math.max(...onTopic.map((m) => m.value.position)), last.position)
  }
  const v = verify()
  assert.equal(v.code, 0, v.out)
})
