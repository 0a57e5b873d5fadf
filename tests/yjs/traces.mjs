// traces.mjs — replays an editing trace (../shared/data/editing-traces, josephg/editing-traces
// format) through yjs as an editor would: one Y.Doc per agent, one update per transaction.
//
//   node traces.mjs <trace.json.gz> <out.bin>    writes the updates for the C side
//
// out.bin = "QYTR" ‖ u32 count ‖ count × (u32 len ‖ update) ‖ u32 len ‖ endContent (UTF-8) ‖
//           u32 len ‖ Y.encodeStateAsUpdate(final doc)        (all integers little-endian)
//
// Trace positions count Unicode code points; Yjs counts UTF-16 units. Only astral characters
// (two UTF-16 units) make the two differ, and they are rare, so a sorted list of their code
// point positions converts each position in O(astral chars).
//
// Concurrent traces (kind "concurrent"): every transaction names its parents (indexes of
// earlier transactions). Each agent keeps its own Y.Doc; before an agent's transaction, the
// updates of every transaction in its parents' causal history that the agent has not seen are
// applied to its doc, so it edits exactly the version the trace says it edited. The updates are
// emitted in transaction order, which is a causal order.

import * as Y from 'yjs'
import fs from 'fs'
import zlib from 'zlib'

class Positions {
  constructor () { this.astral = [] } // code point positions of astral chars, ascending
  utf16 (cp) { // UTF-16 offset of code point offset cp
    let n = 0
    for (const a of this.astral) { if (a < cp) n++; else break }
    return cp + n
  }
  units (cp, len) { // UTF-16 length of code points [cp, cp+len)
    let n = 0
    for (const a of this.astral) { if (a >= cp + len) break; if (a >= cp) n++ }
    return len + n
  }
  splice (cp, del, ins) {
    const insCps = Array.from(ins)
    const out = []
    for (const a of this.astral) {
      if (a < cp) out.push(a)
      else if (a >= cp + del) out.push(a - del + insCps.length)
    }
    insCps.forEach((c, i) => { if (c.codePointAt(0) > 0xffff) out.push(cp + i) })
    out.sort((x, y) => x - y)
    this.astral = out
  }
}

function applyPatches (doc, pos, patches) {
  const text = doc.getText('text')
  doc.transact(() => {
    for (const [p, del, ins] of patches) {
      const u = pos.utf16(p)
      if (del > 0) text.delete(u, pos.units(p, del))
      if (ins.length > 0) text.insert(u, ins)
      pos.splice(p, del, ins)
    }
  })
}

export function loadTrace (file) {
  return JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8'))
}

// Returns { updates: [Uint8Array], endContent, state: Uint8Array, text: final yjs string }.
export function replayTrace (trace) {
  const updates = []
  if (trace.kind !== 'concurrent') {
    const doc = new Y.Doc()
    doc.clientID = 1
    doc.on('update', u => updates.push(u))
    const pos = new Positions()
    if (trace.startContent) applyPatches(doc, pos, [[0, 0, trace.startContent]])
    for (const txn of trace.txns) applyPatches(doc, pos, txn.patches)
    return { updates, endContent: trace.endContent, state: Y.encodeStateAsUpdate(doc), text: doc.getText('text').toString() }
  }
  // concurrent: one doc per agent
  const n = trace.numAgents
  const docs = []
  const seen = [] // per agent: Set of txn indexes applied
  const posOf = []
  for (let a = 0; a < n; a++) {
    const d = new Y.Doc()
    d.clientID = a + 1
    docs.push(d)
    seen.push(new Set())
    posOf.push(null)
  }
  const txUpdate = []
  const ancestors = [] // per txn: its causal history as a Set (including itself), shared when possible
  trace.txns.forEach((txn, i) => {
    const a = txn.agent
    const doc = docs[a]
    // bring the agent's doc to exactly the parents' version
    const need = []
    const stack = [...txn.parents]
    const visit = new Set()
    while (stack.length) {
      const t = stack.pop()
      if (visit.has(t) || seen[a].has(t)) continue
      visit.add(t)
      need.push(t)
      for (const p of trace.txns[t].parents) stack.push(p)
    }
    need.sort((x, y) => x - y)
    for (const t of need) { Y.applyUpdate(doc, txUpdate[t]); seen[a].add(t) }
    // positions: recompute astral list from the doc's current text (rare path: only if needed)
    const s = doc.getText('text').toString()
    const pos = new Positions()
    if (/[\uD800-\uDBFF]/.test(s)) { let cp = 0; for (const c of s) { if (c.codePointAt(0) > 0xffff) pos.astral.push(cp); cp++ } }
    let u = null
    const h = x => { u = x }
    doc.on('update', h)
    applyPatches(doc, pos, txn.patches)
    doc.off('update', h)
    txUpdate.push(u || Y.mergeUpdates([]))
    seen[a].add(i)
    updates.push(txUpdate[i])
    ancestors.push(null)
  })
  // the merged document
  const all = new Y.Doc()
  for (const up of updates) Y.applyUpdate(all, up)
  return { updates, endContent: trace.endContent, state: Y.encodeStateAsUpdate(all), text: all.getText('text').toString() }
}

export function writeBin (file, r) {
  const parts = [Buffer.from('QYTR')]
  const u32 = n => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b }
  parts.push(u32(r.updates.length))
  for (const u of r.updates) { parts.push(u32(u.length)); parts.push(Buffer.from(u)) }
  const ec = Buffer.from(r.endContent, 'utf8')
  parts.push(u32(ec.length)); parts.push(ec)
  parts.push(u32(r.state.length)); parts.push(Buffer.from(r.state))
  fs.writeFileSync(file, Buffer.concat(parts))
}

if (process.argv[1] && process.argv[1].endsWith('traces.mjs') && process.argv.length >= 4) {
  const t0 = Date.now()
  const r = replayTrace(loadTrace(process.argv[2]))
  if (r.text !== r.endContent) { console.error('yjs replay does not give endContent'); process.exit(1) }
  writeBin(process.argv[3], r)
  console.error(`${process.argv[2]}: ${r.updates.length} updates, state ${r.state.length} B, ${Date.now() - t0} ms`)
}
