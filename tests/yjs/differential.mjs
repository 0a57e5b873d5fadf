// differential.mjs — quire's C Yjs engine against the yjs npm package (pinned in package.json).
//
//   node differential.mjs --batch <path to yjs_batch> [--worlds N] [--seed S] [--long]
//   QUIRE_YJS_DIFF_LONG=1 (or --long) runs 10× the worlds.
//
// For every random world (gen.mjs) it builds cases, computes the yjs answer, lets the C engine
// answer the same requests in one yjs_batch run, and compares:
//   merge  random subsets of the updates in random order, merged whole and in random chunks
//          (the chunk results merged again): byte-identical to Y.mergeUpdates
//   sv     state vectors of updates and merges (strict and skim): byte-identical to
//          Y.encodeStateVectorFromUpdate
//   diff   merged updates against recorded and random state vectors (clocks inside items, so
//          slicing, surrogate pairs included): byte-identical to Y.diffUpdate
//   split  each part ≤ cap and valid; parts applied in order and in reverse give the same
//          document as the update; merged back they give the update's structs and delete set
//          (GC runs compared united — see lib/yjs/README.md)
//   valid  validate's (client, clock range)s against Y.parseUpdateMeta
//   foreign  updates re-encoded the way other writers may (float64 for small ints, JSON with
//          whitespace): C keeps the bytes, Yjs normalises them, so these compare the decoded
//          structs (equal) rather than bytes
// Prints "N passed, M failed" last; exits 1 on any failure. Failing inputs are written to
// tests/artifacts/yjs/ for `quire yjs inspect --structs`.

import * as Y from 'yjs'
import { spawnSync } from 'child_process'
import fs from 'fs'
import os from 'os'
import path from 'path'
import { fileURLToPath } from 'url'
import { makeWorld, rng, docContent } from './gen.mjs'
import { foreignCases } from './foreign.mjs'
import * as encoding from 'lib0/encoding'

const here = path.dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def }
const long = args.includes('--long') || process.env.QUIRE_YJS_DIFF_LONG === '1'
const batch = opt('--batch')
const worlds = Number(opt('--worlds', long ? 4000 : 400))
const seed0 = Number(opt('--seed', process.env.QUIRE_YJS_DIFF_SEED || 1))
if (!batch) { console.error('usage: node differential.mjs --batch <yjs_batch> [--worlds N] [--seed S] [--long]'); process.exit(2) }

const OP = { merge: 1, diff: 2, sv: 3, split: 4, validate: 5, mergeSkim: 6, svSkim: 7 }
const cases = []
const u32 = n => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b }

function addCase (kind, op, inputs, check, info) {
  cases.push({ id: cases.length, kind, op, inputs, check, info })
}

const eqBytes = (a, b) => Buffer.from(a).equals(Buffer.from(b))

// ---- structural comparison (for split and foreign cases) ----------------------------------

// The decoded structs and delete set of an update as a comparable string. GC runs are united.
// With `coalesce`, an item that continues the previous one exactly as a slice would (same client,
// next clock, origin = the previous item's last id, same right origin, same content kind) is
// joined to it: split cuts oversized items that way, and merging never re-joins items.
function structsOf (update, coalesce = false) {
  const { structs, ds } = Y.decodeUpdate(update)
  const id = x => x ? `${x.client}:${x.clock}` : null
  const val = v => JSON.stringify(v, (k, x) => typeof x === 'bigint' ? 'big:' + x : x instanceof Uint8Array ? 'bin:' + Array.from(x) : x === undefined ? '__undef' : x)
  const out = []
  for (const s of structs) {
    if (s.constructor.name === 'Skip') continue
    const last = out[out.length - 1]
    if (s.constructor.name === 'GC') {
      if (last && last.gc && last.client === s.id.client && last.end === s.id.clock) { last.end += s.length; continue }
      out.push({ gc: true, client: s.id.client, clock: s.id.clock, end: s.id.clock + s.length })
      continue
    }
    const c = s.content
    let kind; let value
    switch (c.constructor.name) {
      case 'ContentString': kind = 'str'; value = c.str; break
      case 'ContentAny': kind = 'any'; value = c.arr; break
      case 'ContentJSON': kind = 'json'; value = c.arr; break
      case 'ContentDeleted': kind = 'del'; value = c.len; break
      case 'ContentBinary': kind = 'bin'; value = c.content; break
      case 'ContentEmbed': kind = 'embed'; value = c.embed; break
      case 'ContentFormat': kind = 'fmt'; value = [c.key, c.value]; break
      case 'ContentType': kind = 'type'; value = [c.type.constructor.name, c.type.nodeName || c.type.hookName || '']; break
      case 'ContentDoc': kind = 'doc'; value = [c.doc.guid, c.opts]; break
      default: kind = '?'
    }
    const e = {
      client: s.id.client,
      clock: s.id.clock,
      end: s.id.clock + s.length,
      origin: id(s.origin),
      right: id(s.rightOrigin),
      parent: s.origin || s.rightOrigin ? null : typeof s.parent === 'string' ? s.parent : id(s.parent),
      sub: s.origin || s.rightOrigin ? null : s.parentSub,
      kind,
      value
    }
    if (coalesce && last && !last.gc && last.client === e.client && last.end === e.clock &&
        e.origin === `${e.client}:${e.clock - 1}` && e.right === last.right && e.kind === last.kind &&
        ['str', 'any', 'json', 'del'].includes(e.kind)) {
      last.end = e.end
      last.value = e.kind === 'del' ? last.value + e.value : last.value.concat(e.value)
      continue
    }
    out.push(e)
  }
  const dsl = []
  for (const [client, items] of [...ds.clients.entries()].sort((a, b) => b[0] - a[0])) {
    for (const d of items) dsl.push(`${client}:${d.clock}+${d.len}`)
  }
  return val({ structs: out, ds: dsl })
}

// Does some (client, clock) start a GC in one input and an Item in another? Yjs's merge comparator
// is inconsistent for such ties (-1 both ways), so its result then depends on the JavaScript
// engine's sort algorithm; quire replays V8's exactly only below 64 inputs (see yjs_update.c).
function mixedTie (inputs) {
  const kinds = new Map()
  for (const u of inputs) {
    for (const s of Y.decodeUpdate(u).structs) {
      const k = `${s.id.client}:${s.id.clock}`
      const t = s.constructor.name
      if (t === 'Skip') continue
      const prev = kinds.get(k)
      if (prev && prev !== t) return true
      kinds.set(k, t)
    }
  }
  return false
}

function structInputs (inputs) {
  return inputs.filter(u => Y.decodeUpdate(u).structs.some(s => s.constructor.name !== 'Skip')).length
}

// The same document, state vector and delete set (for merges where bytes may legitimately differ).
function equivalent (a, b) {
  const da = new Y.Doc(); Y.applyUpdate(da, a)
  const db = new Y.Doc(); Y.applyUpdate(db, b)
  return docContent(da) === docContent(db) &&
    eqBytes(Y.encodeStateVectorFromUpdate(a), Y.encodeStateVectorFromUpdate(b)) &&
    JSON.parse(structsOf(a)).ds.join() === JSON.parse(structsOf(b)).ds.join()
}

// The smallest cap under which split must refuse: the largest piece it cannot make smaller — a
// whole struct whose content cannot be cut (binary, embed, format, type, doc, or length 1), or
// one element / code point of a cuttable one (pieces after the first carry an origin) — in a
// part of its own.
function minPartForUncuttable (update) {
  let max = 0
  const vsize = n => { const e = encoding.createEncoder(); encoding.writeVarUint(e, n); return encoding.length(e) }
  for (const s of Y.decodeUpdate(update).structs) {
    if (s.constructor.name !== 'Item') continue
    const part = size => size + 1 + vsize(1) + vsize(s.id.client) + vsize(s.id.clock + s.length) + 1
    const enc = new Y.UpdateEncoderV1()
    s.write(enc, 0)
    const whole = enc.toUint8Array().length
    const n = s.content.constructor.name
    if (s.length === 1 || !['ContentString', 'ContentAny', 'ContentJSON', 'ContentDeleted'].includes(n)) {
      max = Math.max(max, part(whole))
      continue
    }
    // header of a later piece: info + origin + right origin
    const hdr = 1 + vsize(s.id.client) + vsize(s.id.clock + s.length) +
      (s.rightOrigin ? vsize(s.rightOrigin.client) + vsize(s.rightOrigin.clock) : 0)
    const first = whole - (() => { const e = new Y.UpdateEncoderV1(); s.content.write(e, 0); return e.toUint8Array().length })()
    const pieces = []
    if (n === 'ContentString') for (const ch of s.content.str) pieces.push(1 + vsize(Buffer.byteLength(ch)) + Buffer.byteLength(ch))
    else if (n === 'ContentAny') for (const v of s.content.arr) { const e = encoding.createEncoder(); encoding.writeAny(e, v); pieces.push(1 + encoding.length(e)) }
    else if (n === 'ContentJSON') for (const v of s.content.arr) { const t = v === undefined ? 'undefined' : JSON.stringify(v); pieces.push(1 + vsize(Buffer.byteLength(t)) + Buffer.byteLength(t)) } else pieces.push(2)
    max = Math.max(max, part(first + pieces[0]), ...pieces.map(p => part(hdr + p)))
  }
  return max
}

// ---- building the cases -------------------------------------------------------------------

// A state vector with random clocks (inside items, past the end, absent) for the world's clients.
function randomSv (r, clients, merged) {
  const m = Y.decodeStateVector(Y.encodeStateVectorFromUpdate(merged))
  const out = new Map()
  for (const c of clients) {
    if (r.chance(0.3)) continue
    const top = m.get(c) || 0
    out.set(c, r.int(top + 3))
  }
  if (r.chance(0.1)) out.set(12345, 7) // a client the update does not know
  return Y.encodeStateVector(out)
}

// Byte-identical, or — only with ≥ 64 struct-carrying inputs and a GC/Item tie, where Yjs's own
// output depends on the JavaScript engine — the same document, state vector and delete set.
let engineDependent = 0
function mergeVerdict (inputs, c, y) {
  if (eqBytes(c, y)) return true
  if (structInputs(inputs) >= 64 && mixedTie(inputs)) {
    if (!equivalent(c, y)) return 'not equivalent (engine-dependent tie case)'
    engineDependent++
    return true
  }
  return false
}

let nworlds = 0
for (let w = 0; w < worlds; w++) {
  const seed = seed0 * 1000003 + w
  const world = makeWorld(seed)
  nworlds++
  const r = rng(seed ^ 0x5bd1e995)
  const pool = world.updates.concat(r.chance(0.5) ? world.extra : world.extra.slice(0, r.int(world.extra.length + 1)))
  if (pool.length === 0) continue
  const info = { seed }

  // whole merge, random order
  const list = r.shuffle(pool).slice(0, 1 + r.int(pool.length))
  const merged = Y.mergeUpdates(list)
  addCase('merge', OP.merge, list, out => mergeVerdict(list, out[0], merged), info)
  if (r.chance(0.1)) addCase('merge-skim', OP.mergeSkim, list, out => eqBytes(out[0], merged), info)

  // chunked: merge random chunks, then merge the chunk results in random order
  const shuffled = r.shuffle(pool)
  const chunks = []
  for (let i = 0; i < shuffled.length;) {
    const k = 1 + r.int(Math.max(1, Math.ceil(shuffled.length / 3)))
    chunks.push(shuffled.slice(i, i + k))
    i += k
  }
  const chunkResults = chunks.map(ch => Y.mergeUpdates(ch))
  chunks.forEach((ch, i) => { if (ch.length > 1) addCase('merge-chunk', OP.merge, ch, out => mergeVerdict(ch, out[0], chunkResults[i]), info) })
  const order = r.shuffle(chunkResults)
  const top = Y.mergeUpdates(order)
  addCase('merge-chunked', OP.merge, order, out => mergeVerdict(order, out[0], top), info)

  // state vectors
  for (const u of [merged, top, r.pick(pool), r.pick(chunkResults)]) {
    const sv = Y.encodeStateVectorFromUpdate(u)
    addCase('sv', OP.sv, [u], out => eqBytes(out[0], sv), info)
    addCase('sv-skim', OP.svSkim, [u], out => eqBytes(out[0], sv), info)
  }

  // diffs against recorded, random and empty state vectors
  const svs = [new Uint8Array([0]), randomSv(r, world.clients, top), randomSv(r, world.clients, top)]
  if (world.svs.length) svs.push(r.pick(world.svs))
  for (const sv of svs) {
    const base = r.chance(0.7) ? top : r.pick(pool)
    const d = Y.diffUpdate(base, sv)
    addCase('diff', OP.diff, [base, sv], out => eqBytes(out[0], d), info)
  }

  // validation ranges against parseUpdateMeta
  {
    const u = r.pick(pool)
    const meta = Y.parseUpdateMeta(u)
    addCase('validate', OP.validate, [u], out => {
      const from = new Map(); const to = new Map()
      for (const line of Buffer.from(out[0]).toString().split('\n').filter(Boolean)) {
        const [c, a, b] = line.split(' ').map(Number)
        if (!from.has(c)) from.set(c, a)
        to.set(c, b)
      }
      if (from.size !== meta.from.size) return false
      for (const [c, a] of meta.from) if (from.get(c) !== a || to.get(c) !== meta.to.get(c)) return false
      return true
    }, info)
  }

  // split
  {
    const u = r.chance(0.5) ? top : merged
    const cap = 64 + r.int(Math.max(1, Math.floor(u.length * 1.2)))
    const wantDoc = new Y.Doc(); Y.applyUpdate(wantDoc, u)
    const want = docContent(wantDoc)
    const wantSv = Buffer.from(Y.encodeStateVector(wantDoc))
    const wantStructs = structsOf(Y.mergeUpdates([u, new Uint8Array([0, 0])]), true)
    addCase('split', OP.split, [u, u32(cap)], (out, status) => {
      if (status === -4) return cap < minPartForUncuttable(u) ? true : 'refused although every uncuttable struct fits'
      const parts = out.slice(0, -1)
      if (parts.length === 0 || parts.some(p => p.length > cap)) return 'part over cap'
      // one transaction per application: Y.Text's formatting cleanup after each remote
      // transaction depends on how updates are batched, not on their content
      for (const order of [parts, parts.slice().reverse()]) {
        const d = new Y.Doc()
        d.transact(() => { for (const p of order) Y.applyUpdate(d, p) })
        if (docContent(d) !== want) return 'content differs'
        if (!Buffer.from(Y.encodeStateVector(d)).equals(wantSv)) return 'state vector differs'
      }
      if (structsOf(Y.mergeUpdates(parts.concat([new Uint8Array([0, 0])])), true) !== wantStructs) return 'merged back differs'
      return true
    }, { ...info, cap })
  }
}

// foreign encodings: structural equality only
for (const fc of foreignCases()) {
  const yjsOut = Y.mergeUpdates(fc.inputs)
  addCase('foreign', OP.merge, fc.inputs, out => eqBytes(out[0], yjsOut) ? 'unexpectedly byte-identical' : structsOf(out[0]) === structsOf(yjsOut) ? true : 'structs differ', { name: fc.name })
}

// ---- run the C engine ---------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quire-yjs-diff-'))
const reqPath = path.join(tmp, 'requests.bin')
const resPath = path.join(tmp, 'results.bin')
{
  const fd = fs.openSync(reqPath, 'w')
  for (const c of cases) {
    const parts = [u32(c.op), u32(c.id), u32(c.inputs.length)]
    for (const x of c.inputs) parts.push(u32(x.length), Buffer.from(x))
    fs.writeSync(fd, Buffer.concat(parts))
  }
  fs.closeSync(fd)
}
const t0 = Date.now()
const run = spawnSync(batch, [reqPath, resPath], { stdio: ['ignore', 'inherit', 'inherit'] })
if (run.status !== 0) { console.error(`yjs_batch failed (status ${run.status}, signal ${run.signal})`); console.log(`0 passed, ${cases.length} failed`); process.exit(1) }
const cms = Date.now() - t0

const res = fs.readFileSync(resPath)
let pos = 0
const rd = () => { const v = res.readUInt32LE(pos); pos += 4; return v }
const stats = {}
const failures = []
const artDir = path.join(here, '..', 'artifacts', 'yjs')
for (const c of cases) {
  const id = rd(); const status = rd() | 0; const nouts = rd()
  const outs = []
  for (let i = 0; i < nouts; i++) { const n = rd(); outs.push(new Uint8Array(res.subarray(pos, pos + n))); pos += n }
  if (id !== c.id) { console.error('result stream out of order'); process.exit(1) }
  let verdict
  if (status !== 0 && !(c.kind === 'split' && status === -4)) verdict = `C refused: ${Buffer.from(outs[0] || []).toString()} (${status})`
  else {
    try { verdict = c.check(outs, status) } catch (e) { verdict = 'check threw: ' + e.message }
  }
  stats[c.kind] = stats[c.kind] || { passed: 0, failed: 0 }
  if (verdict === true) stats[c.kind].passed++
  else {
    stats[c.kind].failed++
    failures.push({ c, verdict: verdict === false ? 'output differs' : verdict })
  }
}
fs.rmSync(tmp, { recursive: true, force: true })

if (failures.length) {
  fs.mkdirSync(artDir, { recursive: true })
  for (const { c, verdict } of failures.slice(0, 20)) {
    console.log(`FAIL ${c.kind} case ${c.id} ${JSON.stringify(c.info)}: ${verdict}`)
    c.inputs.forEach((x, i) => fs.writeFileSync(path.join(artDir, `case${c.id}-${c.kind}-in${i}.bin`), x))
  }
  console.log(`inputs of the first failures written to ${artDir}`)
}
console.log(`worlds: ${nworlds}, cases: ${cases.length}, C engine time: ${cms} ms`)
console.log(`merges equivalent but not byte-identical (≥ 64 inputs with a GC/Item tie, engine-dependent in Yjs): ${engineDependent}`)
for (const [k, v] of Object.entries(stats)) console.log(`  ${k.padEnd(14)} ${v.passed} passed, ${v.failed} failed`)
const passed = Object.values(stats).reduce((a, v) => a + v.passed, 0)
console.log(`${passed} passed, ${failures.length} failed`)
process.exit(failures.length ? 1 : 0)
