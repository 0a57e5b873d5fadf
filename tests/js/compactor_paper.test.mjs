// Integration (acceptance of issue 8): a document with automerge-paper's 259,778 events, produced
// straight to Kafka with the real event encoding (bench_compactor produce; no HTTP), indexed by
// the projector and compacted at the default policy. Loading it — the join's current-state load
// and `?at=` / `quire doc get --at` at 20 random points — reads a tail no longer than the policy
// allows (events and bytes counted) and equals what the trace and a full replay give; write
// amplification stays ≤ 1.5.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { env, startApi, token, uniqueId } from './lib/stack.mjs'
import { Y, startProjector, waitCaughtUp, psql } from './lib/readmodel.mjs'
import { compactUntilIdle, snapshotRows, indexedEvents, docGet, threshold } from './lib/snapshots.mjs'

const TRACE = path.join(env.QUIRE_ROOT, '..', 'shared', 'data', 'editing-traces', 'automerge-paper.json.gz')
const BENCH = path.resolve(path.dirname(env.QUIRE_BIN), '..', 'bench', 'compactor', 'bench_compactor')
const DEFAULT = { fraction: 1.0, minBytes: 64 * 1024 }
let api, projector, updatesFile

before(async () => {
  projector = await startProjector('projector-paper')
  api = await startApi('api-paper')
  updatesFile = path.join(os.tmpdir(), `quire-paper-${process.pid}.updates`)
  execFileSync('node', [path.join(env.QUIRE_ROOT, 'bench', 'projector', 'trace_updates.mjs'), TRACE, updatesFile])
})
after(async () => {
  await api?.stop()
  await projector?.stop()
  if (updatesFile) fs.rmSync(updatesFile, { force: true })
})

function readUpdates (file) {
  const data = fs.readFileSync(file)
  const out = []
  for (let off = 0; off + 4 <= data.length;) {
    const len = data.readUInt32LE(off)
    out.push(data.subarray(off + 4, off + 4 + len))
    off += 4 + len
  }
  return out
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

test('automerge-paper: loads read a bounded tail and equal the trace at 20 random points', async () => {
  const doc = uniqueId('automerge-paper')
  const produced = execFileSync(BENCH, ['produce', env.QUIRE_TOPIC_PREFIX || 'quire', doc, updatesFile]).toString()
  assert.match(produced, /produced 259778 events/)
  await waitCaughtUp(300000)
  const group = uniqueId('compactor-paper')
  compactUntilIdle(['--group', group, '--quiet-period', '1s'])

  const updates = readUpdates(updatesFile)
  assert.equal(updates.length, 259778)
  const events = indexedEvents(doc)
  assert.equal(events.length, 259778, 'every event indexed')
  const eventBytes = events.reduce((s, e) => s + e.size, 0)
  const rows = snapshotRows(doc)
  assert.ok(rows.length > 5, `several snapshots (${rows.length})`)
  assert.ok(rows.every((r) => r.published))
  // the policy between consecutive snapshots, and write amplification at the defaults
  let prev = { position: 0, size: 0 }
  let i = 0
  for (const [k, row] of rows.entries()) {
    let bytes = 0; let last = 0
    while (i < events.length && events[i].offset < row.position) { bytes += events[i].size; last = events[i].size; i++ }
    const limit = threshold(prev.size, DEFAULT)
    assert.ok(bytes < limit + last, `snapshot ${k} follows ${bytes} bytes > ${limit} + ${last}`)
    if (k < rows.length - 1) assert.ok(bytes >= limit, `snapshot ${k} after only ${bytes} < ${limit}`)
    prev = row
  }
  const snapBytes = rows.reduce((s, r) => s + r.size, 0)
  const amplification = snapBytes / eventBytes
  console.log(`automerge-paper: ${events.length} events, ${eventBytes} bytes; ${rows.length} snapshots, ` +
    `${snapBytes} bytes; write amplification ${amplification.toFixed(3)}`)
  assert.ok(amplification <= 1.5, `write amplification ${amplification}`)

  // the current state (the gateway's join): equals the trace's end (a full replay's fold)
  const endText = JSON.parse(execFileSync('node', ['-e', `
    const zlib = require('zlib'); const fs = require('fs')
    process.stdout.write(JSON.stringify(JSON.parse(zlib.gunzipSync(fs.readFileSync(${JSON.stringify(TRACE)}))).endContent))`]).toString())
  const now = docGet(doc)
  assert.equal(now.content.text, endText)
  assert.equal(now.event_count, 259778)
  console.log(`current-state load: base=${now.load.base} tail=${now.load.tail_events} events / ${now.load.tail_bytes} bytes`)
  // the latest version through a snapshot (what a join reads while the row lags, and ?at=)
  const latest = docGet(doc, events[events.length - 1].offset)
  assert.equal(latest.content.text, endText)
  assert.equal(latest.load.base, 'snapshot')
  assert.equal(latest.load.tail_events, 0)

  // 20 random points: the trace's text there, one Y.Doc fed in order
  const r = rng(8)
  const points = Array.from({ length: 20 }, () => Math.floor(r() * updates.length)).sort((a, b) => a - b)
  const yd = new Y.Doc()
  let applied = 0
  const owner = token('bench') // bench_compactor's events are by "bench": it owns the document
  for (const [n, k] of points.entries()) {
    while (applied <= k) Y.applyUpdate(yd, updates[applied++])
    const want = yd.getText('text').toString()
    const at = events[k].offset
    const got = docGet(doc, at)
    assert.equal(got.content.text, want, `doc get --at ${at} (event ${k})`)
    assert.equal(got.event_count, k + 1)
    const base = rows.filter((row) => row.version <= at).pop()
    const limit = threshold(base ? base.size : 0, DEFAULT) + events[k].size
    assert.ok(got.load.tail_bytes < limit, `event ${k}: tail ${got.load.tail_bytes} bytes ≥ ${limit}`)
    assert.ok(got.load.tail_events <= got.load.tail_bytes, 'every event is at least one byte')
    if (n % 5 === 0) {
      const res = await fetch(`${api.url}/v1/docs/${doc}?at=${at}`, { headers: { Authorization: `Bearer ${owner}` } })
      assert.equal(res.status, 200)
      assert.equal((await res.json()).content.text, want, `?at=${at}`)
    }
    console.log(`event ${k} (offset ${at}): base=${got.load.base}@${got.load.base_position} tail=${got.load.tail_events} events / ${got.load.tail_bytes} bytes (bound ${limit})`)
  }
  const nrows = Number(psql(`SELECT count(*) FROM doc_snapshots WHERE doc_id = '${doc}'`))
  assert.equal(nrows, rows.length)
})
