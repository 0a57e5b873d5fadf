// ydoc_differential.mjs — quire's integrated document (lib/yjs/ydoc.h) against the yjs npm
// package (pinned in package.json).
//
//   node ydoc_differential.mjs --batch <ydoc_batch> [--worlds N] [--seed S] [--long] [--traces]
//   QUIRE_YJS_DIFF_LONG=1 (or --long) runs 10× the worlds. --traces adds every editing trace of
//   ../shared/data/editing-traces (or $QUIRE_TRACES_DIR), replayed through yjs one update per
//   transaction, then through the C engine.
//
// Random worlds come from gen.mjs (2–5 clients: rich text with formatting and embeds,
// y-prosemirror XML, maps and arrays with every `any` kind, nested types, subdocuments, GC on and
// off). Each world's updates are applied to one C document and one reference Y.Doc, in several
// orders: as emitted, shuffled (so structs wait as pending and are retried), merged in random
// chunks, mixed with sync payloads and full states, and with one update left out (so something
// stays pending at the end). Then, per case:
//
//   apply     every update accepted (yjs accepts them all)
//   sv        ydoc_state_vector          byte-identical to Y.encodeStateVector
//   state     ydoc_encode_state          byte-identical to Y.encodeStateAsUpdate (pending included)
//   sync2     ydoc_encode_state(sv)      byte-identical to Y.encodeStateAsUpdate(doc, sv) for
//                                        recorded, random and empty state vectors
//   load      the C state loaded into a fresh Y.Doc equals the reference: content of every root,
//             state vector, delete set
//   content   ydoc_render per root and type: Y.Text toString / toDelta / toJSON, XmlFragment
//             toString / toJSON, Y.Map / Y.Array toJSON — exact strings; ydoc_content_json with
//             inferred root types equals them (an emptied root may infer as nothing: "")
//   pending   ydoc_missing = store.pendingStructs.missing; ydoc_pending_update = the pending
//             structs and deletes Yjs holds (merged)
//   novel     ydoc_novel(doc, u): applying the result to a copy of the reference gives the same
//             document as applying u; no result when u changes nothing; no struct the document
//             already has
//
// The reference Y.Doc runs with Yjs's formatting cleanup disabled: that cleanup is a local edit a
// Yjs doc makes after remote changes (clients broadcast it), and quire keeps the document a pure
// function of the updates (see lib/yjs/ydoc.h). The text is also compared with a normal Y.Doc,
// where the cleanup runs: mostly equal once adjacent ops with equal attributes are joined
// (redundant format items that the cleanup deletes split runs in toDelta); the cases where the
// cleanup changes more (rare: concurrent formatting) are counted, not failed — Yjs clients send
// their cleanup as updates, after which every document agrees.
//
// Prints "N passed, M failed" last; exits 1 on any failure, writing the failing case's inputs to
// tests/artifacts/yjs/.

import * as Y from 'yjs'
import { spawnSync } from 'child_process'
import fs from 'fs'
import os from 'os'
import path from 'path'
import { fileURLToPath } from 'url'
import { makeWorld, rng } from './gen.mjs'
import { loadTrace, replayTrace } from './traces.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def }
const long = args.includes('--long') || process.env.QUIRE_YJS_DIFF_LONG === '1'
const batch = opt('--batch')
const worlds = Number(opt('--worlds', long ? 3000 : 300))
const seed0 = Number(opt('--seed', process.env.QUIRE_YJS_DIFF_SEED || 1))
const withTraces = args.includes('--traces')
if (!batch) { console.error('usage: node ydoc_differential.mjs --batch <ydoc_batch> [--worlds N] [--seed S] [--long] [--traces]'); process.exit(2) }

// ---- a reference Y.Doc without formatting cleanup ------------------------------------------
const HF = Symbol('hasFormatting')
let noCleanup = false
Object.defineProperty(Y.Text.prototype, '_hasFormatting', {
  get () { return noCleanup ? false : !!this[HF] },
  set (v) { this[HF] = v },
  configurable: true
})
function refDoc (gc, updates) {
  const d = new Y.Doc({ gc })
  noCleanup = true
  try { for (const u of updates) Y.applyUpdate(d, u) } finally { noCleanup = false }
  return d
}
function cleanDoc (gc, updates) {
  const d = new Y.Doc({ gc })
  for (const u of updates) Y.applyUpdate(d, u)
  return d
}

// ---- rendering as Yjs does ----------------------------------------------------------------
// JSON.stringify, except that a BigInt (which makes it throw) is written as its digits, as quire
// documents.
function stringify (v) {
  const marks = []
  const s = JSON.stringify(v, (k, x) => {
    if (typeof x === 'bigint') { marks.push(x.toString()); return `\u0000BIG${marks.length - 1}\u0000` }
    return x
  })
  return s === undefined ? s : s.replace(/"\\u0000BIG(\d+)\\u0000"/g, (_, i) => marks[Number(i)])
}

const ROOTS = [
  { name: 'text', type: 1, get: d => d.getText('text') },
  { name: 'prosemirror', type: 2, get: d => d.getXmlFragment('prosemirror') },
  { name: 'map', type: 3, get: d => d.getMap('map') },
  { name: 'arr', type: 4, get: d => d.getArray('arr') }
]
const TYPE_NAMES = ['auto', 'text', 'xml', 'map', 'array']

function expectRoot (root, doc) {
  const t = root.get(doc)
  if (root.type === 1) return { string: t.toString(), delta: stringify(t.toDelta()), json: stringify(t.toJSON()) }
  if (root.type === 2) return { string: t.toString(), delta: stringify(t.toJSON()), json: stringify(t.toJSON()) }
  const j = stringify(t.toJSON())
  return { string: j, delta: j, json: j }
}

// Y.Map key order follows integration order, which differs between a document built update by
// update and one loaded from a state: summaries compare maps with sorted keys.
const canon = x => x === null || typeof x !== 'object' ? x : Array.isArray(x) ? x.map(canon) : Object.fromEntries(Object.keys(x).sort().map(k => [k, canon(x[k])]))
// A delta with adjacent string ops of equal attributes joined: Yjs's formatting cleanup deletes
// redundant format items, which otherwise split a run into two ops with the same attributes.
function normDelta (json) {
  const out = []
  for (const op of JSON.parse(json)) {
    const last = out[out.length - 1]
    if (last && typeof op.insert === 'string' && typeof last.insert === 'string' && JSON.stringify(canon(op.attributes || {})) === JSON.stringify(canon(last.attributes || {}))) last.insert += op.insert
    else out.push({ ...op })
  }
  return JSON.stringify(out.map(canon))
}
function docSummary (doc) {
  return JSON.stringify({
    roots: ROOTS.map(r => { const e = expectRoot(r, doc); return r.type >= 3 ? JSON.stringify(canon(JSON.parse(e.json))) : e }),
    sv: Array.from(Y.encodeStateVector(doc)),
    ds: dsOf(Y.encodeStateAsUpdate(doc))
  })
}
function dsOf (update) {
  const { ds } = Y.decodeUpdate(update)
  const out = []
  for (const [client, items] of [...ds.clients.entries()].sort((a, b) => a[0] - b[0])) {
    const rs = items.map(d => [d.clock, d.clock + d.len]).sort((a, b) => a[0] - b[0])
    const m = []
    for (const r of rs) { if (m.length && m[m.length - 1][1] >= r[0]) m[m.length - 1][1] = Math.max(m[m.length - 1][1], r[1]); else m.push(r.slice()) }
    out.push([client, m.filter(r => r[1] > r[0])])
  }
  return out
}
function pendingOf (doc) {
  const ps = doc.store.pendingStructs
  const parts = []
  if (ps) parts.push(Y.convertUpdateFormatV2ToV1(ps.update))
  if (doc.store.pendingDs) parts.push(Y.convertUpdateFormatV2ToV1(doc.store.pendingDs))
  return parts.length ? Y.mergeUpdates(parts) : new Uint8Array(0)
}
function missingOf (doc) {
  const ps = doc.store.pendingStructs
  if (!ps) return []
  return [...ps.missing.entries()].sort((a, b) => a[0] - b[0]).map(([c, k]) => `${c}:${k}`)
}

// ---- case construction --------------------------------------------------------------------
const cases = []

function chunked (r, ups) {
  const out = []
  for (let i = 0; i < ups.length;) {
    const k = 1 + r.int(4)
    const part = ups.slice(i, i + k)
    out.push(part.length === 1 ? part[0] : Y.mergeUpdates(part))
    i += k
  }
  return out
}

function addWorldCases (seed) {
  const w = makeWorld(seed)
  const r = rng(seed ^ 0x5bd1e995)
  const gc = r.chance(0.7)
  const base = w.updates
  const orders = [
    ['inorder', base],
    ['shuffled', r.shuffle(base)],
    ['chunked', chunked(r, r.shuffle(base))],
    ['mixed', r.shuffle(base.concat(w.extra.filter(() => r.chance(0.3))))]
  ]
  if (base.length > 2) {
    const drop = r.int(base.length)
    orders.push(['dropped', r.shuffle(base.filter((_, i) => i !== drop))])
  }
  for (const [kind, ups] of orders) {
    const ref = refDoc(gc, ups)
    const sv = Y.encodeStateVector(ref)
    const svs = [new Uint8Array([0])].concat(w.svs.slice(0, 3))
    // a random state vector with clocks inside items
    const dec = Y.decodeStateVector(sv)
    const rsv = new Map()
    for (const [c, k] of dec) if (r.chance(0.7)) rsv.set(c, r.int(k + 1))
    const enc = new Uint8Array(16 + 20 * rsv.size)
    let n = 0
    const putv = v => { while (v >= 0x80) { enc[n++] = (v % 0x80) | 0x80; v = Math.floor(v / 0x80) } enc[n++] = v }
    putv(rsv.size)
    for (const [c, k] of rsv) { putv(c); putv(k) }
    svs.push(enc.slice(0, n))
    const novel = [r.pick(base), w.extra[w.extra.length - 1], Y.mergeUpdates(r.shuffle(base).slice(0, 1 + r.int(base.length)))]
    if (kind === 'dropped') novel.push(...base.slice(0, 3))
    cases.push({ name: `seed ${seed} ${kind} gc=${gc}`, seed, kind, gc, skim: r.chance(0.2), updates: ups, svs, novel, ref })
  }
}

function addTraceCases () {
  const dir = process.env.QUIRE_TRACES_DIR || path.join(here, '../../../shared/data/editing-traces')
  if (!fs.existsSync(dir)) { console.error(`traces: ${dir} not found, skipped`); return }
  for (const f of fs.readdirSync(dir).filter(f => f.endsWith('.json.gz')).sort()) {
    const t0 = Date.now()
    const tr = replayTrace(loadTrace(path.join(dir, f)))
    cases.push({ name: `trace ${f}`, trace: tr, gc: true, skim: false, updates: tr.updates, svs: [new Uint8Array([0])], novel: [], ref: null })
    console.error(`trace ${f}: ${tr.updates.length} updates replayed through yjs in ${Date.now() - t0} ms`)
  }
}

for (let i = 0; i < worlds; i++) addWorldCases(seed0 + i)
if (withTraces) addTraceCases()

// ---- run the C side -----------------------------------------------------------------------
const u32 = n => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b }
const blob = b => Buffer.concat([u32(b.length), Buffer.from(b)])
const parts = [Buffer.from('QYDB'), u32(cases.length)]
for (const c of cases) {
  parts.push(u32((c.gc ? 0 : 1) | (c.skim ? 2 : 0)), u32(c.updates.length))
  for (const u of c.updates) parts.push(blob(u))
  parts.push(u32(c.svs.length))
  for (const s of c.svs) parts.push(blob(s))
  parts.push(u32(c.novel.length))
  for (const u of c.novel) parts.push(blob(u))
  const roots = c.trace ? [ROOTS[0]] : ROOTS
  parts.push(u32(roots.length))
  for (const rt of roots) parts.push(blob(Buffer.from(rt.name)), Buffer.from([rt.type]))
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ydoc-diff-'))
const inFile = path.join(tmp, 'cases'); const outFile = path.join(tmp, 'results')
fs.writeFileSync(inFile, Buffer.concat(parts))
const t0 = Date.now()
const run = spawnSync(batch, [inFile, outFile], { stdio: ['ignore', 'inherit', 'inherit'] })
const cMs = Date.now() - t0
if (run.status !== 0) { console.error(`ydoc_batch exited with ${run.status} ${run.signal || ''}`); process.exit(1) }
const res = fs.readFileSync(outFile)
fs.rmSync(tmp, { recursive: true, force: true })

// ---- compare ------------------------------------------------------------------------------
let off = 0
const rU32 = () => { const v = res.readUInt32LE(off); off += 4; return v }
const rI32 = () => { const v = res.readInt32LE(off); off += 4; return v }
const rBlob = () => { const n = rU32(); const b = res.subarray(off, off + n); off += n; return b }
const rU8 = () => res[off++]
const eq = (a, b) => Buffer.from(a).equals(Buffer.from(b))

let passed = 0; let failed = 0
let cleanupDiffers = 0 // cases where Yjs's own formatting cleanup changes the text (informational)
const failures = []
const memory = []
for (const c of cases) {
  const errs = []
  const fail = (what, detail) => errs.push(detail === undefined ? what : `${what}: ${detail}`)
  const applied = c.updates.map(() => ({ err: rI32(), status: rU32() }))
  const finalErr = rI32()
  const sv = rBlob(); const state = rBlob()
  const sync2 = c.svs.map(() => rBlob())
  const content = rBlob().toString('utf8'); const contentSorted = rBlob().toString('utf8')
  const roots = c.trace ? [ROOTS[0]] : ROOTS
  const rendered = roots.map(() => ({ inferred: rU8(), string: rBlob().toString('utf8'), delta: rBlob().toString('utf8'), json: rBlob().toString('utf8') }))
  const pending = rBlob()
  const nm = rU32()
  const missing = []
  for (let i = 0; i < nm; i++) missing.push(`${rBlob().toString()}:${rBlob().toString()}`)
  const novel = c.novel.map(() => ({ err: rI32(), has: rU8(), update: rBlob() }))
  const mem = rU32() + rU32() * 2 ** 32
  if (finalErr !== 0 || applied.some(a => a.err !== 0)) fail('apply', applied.map(a => a.err).join(','))

  if (c.trace) {
    const text = rendered[0].string
    if (text !== c.trace.endContent) fail('trace content', `${text.length} chars vs endContent ${c.trace.endContent.length}`)
    if (!eq(state, c.trace.state)) fail('trace state', `${state.length} B vs yjs ${c.trace.state.length} B`)
    memory.push([c.name, mem, c.trace.state.length])
  } else {
    const ref = c.ref
    if (!eq(sv, Y.encodeStateVector(ref))) fail('sv')
    const refState = Y.encodeStateAsUpdate(ref)
    if (!eq(state, refState)) fail('state', `${state.length} B vs yjs ${refState.length} B`)
    c.svs.forEach((s, i) => { if (!eq(sync2[i], Y.encodeStateAsUpdate(ref, s))) fail('sync2', `sv #${i}`) })
    // the state loads in yjs to an equal document
    // (compared with yjs loading its own state: a Y.Doc can hold pending structs that its retry
    // rule never reconsiders, which a fresh load integrates)
    const loaded = refDoc(c.gc, [state])
    const want = docSummary(refDoc(c.gc, [refState]))
    const got = docSummary(loaded)
    if (got !== want) {
      const a = JSON.parse(got); const b = JSON.parse(want)
      fail('load', ['roots', 'sv', 'ds'].filter(k => JSON.stringify(a[k]) !== JSON.stringify(b[k])).join('+'))
    }
    // content
    const clean = cleanDoc(c.gc, c.updates)
    const autoWant = {}
    roots.forEach((rt, i) => {
      const e = expectRoot(rt, ref)
      const got = rendered[i]
      if (!got.string && !got.json && (e.json === '""' || e.json === '[]' || e.json === '{}')) { got.string = e.string; got.delta = e.delta; got.json = e.json } // root never written: NOT_FOUND
      if (got.string !== e.string) fail(`content ${rt.name} string`, `${JSON.stringify(got.string).slice(0, 200)} vs ${JSON.stringify(e.string).slice(0, 200)}`)
      if (got.delta !== e.delta) fail(`content ${rt.name} delta`, `${got.delta.slice(0, 200)} vs ${e.delta.slice(0, 200)}`)
      if (got.json !== e.json) fail(`content ${rt.name} json`, `${got.json.slice(0, 200)} vs ${e.json.slice(0, 200)}`)
      const ec = expectRoot(rt, clean)
      if (rt.type === 1 && normDelta(ec.delta) !== normDelta(e.delta)) cleanupDiffers++
      const empty = e.json === '""' || e.json === '[]' || e.json === '{}'
      if (got.inferred !== rt.type && !(got.inferred === 0 && empty)) fail(`infer ${rt.name}`, `${TYPE_NAMES[got.inferred]} vs ${TYPE_NAMES[rt.type]}`)
      autoWant[rt.name] = got.inferred === 0 ? '""' : e.json
    })
    let parsed
    try { parsed = JSON.parse(content) } catch (e) { fail('content json', e.message) }
    if (parsed) {
      for (const rt of roots) {
        if (!(rt.name in parsed)) continue // a root never written to
        if (stringify(parsed[rt.name]) !== autoWant[rt.name] && JSON.stringify(parsed[rt.name]) !== JSON.stringify(JSON.parse(autoWant[rt.name]))) fail(`content json ${rt.name}`)
      }
      let ps
      try { ps = JSON.parse(contentSorted) } catch (e) { fail('content json sorted', e.message) }
      if (ps && JSON.stringify(canon(ps)) !== JSON.stringify(canon(parsed))) fail('content json sorted differs')
    }
    // pending
    if (missing.join(',') !== missingOf(ref).join(',')) fail('missing', `${missing} vs ${missingOf(ref)}`)
    const wantPending = pendingOf(ref)
    if (!eq(pending, wantPending)) fail('pending', `${pending.length} B vs yjs ${wantPending.length} B`)
    // novel
    c.novel.forEach((u, i) => {
      const n = novel[i]
      if (n.err !== 0) { fail(`novel #${i}`, `err ${n.err}`); return }
      const a = refDoc(c.gc, [refState, u])
      const before = docSummary(refDoc(c.gc, [refState]))
      const sa = docSummary(a)
      if (!n.has) {
        if (sa !== before) fail(`novel #${i}`, 'reported nothing new but the update changes the document')
        return
      }
      const b = refDoc(c.gc, [refState, n.update])
      if (docSummary(b) !== sa) fail(`novel #${i}`, 'the novel part does not have the effect of the update')
      // minimal: no struct (part) the document already has
      const have = Y.decodeStateVector(Y.encodeStateVector(ref))
      for (const st of Y.decodeUpdate(n.update).structs) {
        if (st.constructor.name !== 'Skip' && st.id.clock < (have.get(st.id.client) || 0)) { fail(`novel #${i}`, `returns ${st.id.client}:${st.id.clock}, which the document has`); break }
      }
    })
    memory.push([c.name, mem, refState.length])
  }
  if (errs.length) {
    failed++
    failures.push(`${c.name}: ${errs.join('; ')}`)
    const dir = path.join(here, '../artifacts/yjs', `ydoc-${c.name.replace(/[^A-Za-z0-9=.-]+/g, '_')}`)
    fs.mkdirSync(dir, { recursive: true })
    c.updates.forEach((u, i) => fs.writeFileSync(path.join(dir, `update-${String(i).padStart(3, '0')}.bin`), u))
    fs.writeFileSync(path.join(dir, 'c-state.bin'), state)
    c.novel.forEach((u, i) => fs.writeFileSync(path.join(dir, `novel-${i}.bin`), u))
    novel.forEach((n, i) => { if (n.has) fs.writeFileSync(path.join(dir, `novel-${i}-result.bin`), n.update) })
  } else passed++
}
if (off !== res.length) { console.error(`result file: ${res.length - off} bytes left over`); process.exit(1) }
for (const f of failures.slice(0, 25)) console.log('FAIL', f)
if (failures.length > 25) console.log(`... ${failures.length - 25} more`)
const ratios = memory.filter(m => m[2] > 0).map(m => m[1] / m[2]).sort((a, b) => a - b)
console.log(`C side ${cMs} ms for ${cases.length} cases; memory/state-size median ${ratios.length ? ratios[ratios.length >> 1].toFixed(1) : '-'}`)
console.log(`yjs's formatting cleanup changed the text beyond joining runs in ${cleanupDiffers} case(s) (informational: a Y.Doc's local edit, not a function of the updates)`)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
