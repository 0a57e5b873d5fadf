// Integration (SERIAL: it empties the shared read model): dropping the read model and
// bootstrapping it from the snapshot topic plus the log's tails gives the read model a full
// replay gives — `quire verify` passes, every document reads the same (content, version,
// counts, owner, lifecycle) — and the projector carries on from it. Time travel works from the
// snapshots on and refuses, rather than invents, points the bootstrapped index cannot rebuild.
// At the end a full replay restores the whole event index for the tests that follow.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { env, startApi, token, uniqueId, quire } from './lib/stack.mjs'
import { Y, startProjector, verify, waitCaughtUp, psql, partitionOf } from './lib/readmodel.mjs'
import { compactUntilIdle, docGet, snapshotRows, TEST_POLICY } from './lib/snapshots.mjs'

const alice = token('alice')
const bob = token('bob')
let api, projector

before(async () => {
  projector = await startProjector('projector-bootstrap')
  api = await startApi('api-bootstrap')
})
after(async () => {
  await api?.stop()
  await projector?.stop()
})

async function post (doc, update, t = alice) {
  const r = await fetch(`${api.url}/v1/docs/${doc}/updates`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/octet-stream' },
    body: update
  })
  assert.equal(r.status, 201, await r.clone().text())
  return (await r.json()).version
}

// A Yjs writer whose every change is posted as one update.
function writer (doc, t = alice) {
  const d = new Y.Doc()
  const pending = []
  d.on('update', (u) => pending.push(u))
  return {
    d,
    async flush () { while (pending.length) await post(doc, pending.shift(), t) }
  }
}

function bootstrap (args) {
  const r = spawnSync(env.QUIRE_BIN, ['bootstrap', '--yes', ...args], { encoding: 'utf8', timeout: 300000 })
  return { code: r.status, out: `${r.stdout}${r.stderr}` }
}

test('bootstrap from snapshots plus tails gives the read model a replay gives', async () => {
  const group = uniqueId('compactor-bootstrap')
  const docs = Array.from({ length: 6 }, (_, i) => uniqueId(`comp-boot${i}`))
  const writers = docs.map((doc, i) => writer(doc, i % 2 ? bob : alice))
  // history before the snapshots
  for (let round = 0; round < 40; round++) {
    for (const [i, w] of writers.entries()) {
      const t = w.d.getText('t')
      t.insert(Math.floor(t.length / 2), `r${round}d${i} `.repeat(20))
      if (round % 7 === 3) t.delete(0, 15)
      w.d.getMap('m').set(`k${round % 5}`, round)
    }
    await Promise.all(writers.map((w) => w.flush()))
  }
  // one document deleted before the snapshots
  const gone = docs[5]
  const del = await fetch(`${api.url}/v1/docs/${gone}`, { method: 'DELETE', headers: { Authorization: `Bearer ${bob}` } })
  assert.ok(del.status === 204 || del.status === 200 || del.status === 202, `delete answered ${del.status}`)
  await waitCaughtUp()
  compactUntilIdle(['--group', group, ...TEST_POLICY])
  for (const doc of docs) assert.ok(snapshotRows(doc).length > 0, `doc=${doc} has snapshots`)
  // tails: events after the snapshots, and a document with no snapshot at all
  const fresh = uniqueId('comp-boot-fresh')
  writers.push(writer(fresh))
  for (let round = 0; round < 5; round++) {
    for (const w of [writers[0], writers[2], writers[6]]) w.d.getText('t').insert(0, `tail${round} `)
    await Promise.all([writers[0], writers[2], writers[6]].map((w) => w.flush()))
  }
  // two documents of one partition: B pending (holds the coverage back), A snapshotted past it —
  // the bootstrap must index A's events between the coverage and A's snapshot itself
  const docA = uniqueId('comp-boot-a')
  let docB = uniqueId('comp-boot-b')
  while (partitionOf(docB) !== partitionOf(docA)) docB = uniqueId('comp-boot-b')
  const wa = writer(docA)
  const wb = writer(docB)
  wb.d.getText('t').insert(0, 'small')
  await wb.flush()
  for (let i = 0; i < 30; i++) {
    wa.d.getText('t').insert(0, `a${i} `.repeat(40))
    await wa.flush()
  }
  await waitCaughtUp()
  compactUntilIdle(['--group', group, '--min-snapshot-bytes', '1KiB', '--quiet-period', '1h',
    '--max-pending-age', '0', '--retry', '50ms'])
  assert.ok(snapshotRows(docA).length > 0, 'A has a BYTES snapshot')
  assert.equal(snapshotRows(docB).length, 0, 'B is pending')
  const all = [...docs, fresh, docA, docB]
  const want = Object.fromEntries(all.map((doc) => [doc, doc === gone ? null : docGet(doc)]))
  const before = verify()
  assert.equal(before.code, 0, before.out)

  // drop the read model and bootstrap it
  await projector.stop()
  const b = bootstrap(['--group', group])
  assert.equal(b.code, 0, b.out)
  assert.match(b.out, /bootstrap done/)
  assert.doesNotMatch(b.out, / 0 covered events indexed/)
  console.log(b.out.trim())
  const v = verify()
  assert.equal(v.code, 0, v.out)
  for (const doc of all) {
    if (doc === gone) {
      assert.equal(psql(`SELECT lifecycle FROM documents WHERE doc_id = '${gone}'`), 'deleted')
      continue
    }
    const got = docGet(doc)
    for (const k of ['version', 'event_count', 'event_bytes', 'owner', 'lifecycle', 'partition']) {
      assert.deepEqual(got[k], want[doc][k], `doc=${doc} ${k}`)
    }
    assert.deepEqual(got.content, want[doc].content, `doc=${doc} content`)
  }
  // time travel from the restored snapshot on works; below the index floor without a snapshot
  // it is refused, not invented
  const rows = snapshotRows(docs[0])
  assert.equal(rows.length, 1, 'the newest snapshot of each document is restored')
  const later = docGet(docs[0], want[docs[0]].version)
  assert.deepEqual(later.content, want[docs[0]].content)
  const floor = Number(psql(`SELECT floor FROM index_floors WHERE partition = ${want[docs[0]].partition}`) || 0)
  if (floor > 0 && rows[0].version > 0) {
    let refused = false
    try { quire(['doc', 'get', docs[0], '--at', '0'], { stdio: ['ignore', 'pipe', 'pipe'] }) } catch (e) { refused = e.status === 1 }
    assert.ok(refused, 'a point below the floor and every snapshot is refused')
  }
  // the projector carries on from the bootstrapped read model
  projector = await startProjector('projector-bootstrap-2')
  writers[0].d.getText('t').insert(0, 'after ')
  writers[6].d.getText('t').insert(0, 'after ')
  await writers[0].flush()
  await writers[6].flush()
  await waitCaughtUp()
  assert.equal(docGet(docs[0]).content.t, writers[0].d.getText('t').toString())
  assert.equal(docGet(fresh).content.t, writers[6].d.getText('t').toString())
  const v2 = verify()
  assert.equal(v2.code, 0, v2.out)

  // restore the whole event index (a full replay) for the tests that follow
  await projector.stop()
  quire(['replay', '--yes', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] })
  assert.equal(psql('SELECT count(*) FROM index_floors'), '0')
  projector = await startProjector('projector-bootstrap-3')
})
