// bench_yjs.mjs — the yjs side of bench/yjs: the same figures measured on the yjs npm package,
// in the same run, on the same updates.
//
//   node bench/yjs/bench_yjs.mjs <updates> [runs=5] [--json out.json] [--merged out.bin]
//
//   decode      Y.decodeUpdate on every update (yjs has no validator; this is its full decode)
//   merge tree  Y.mergeUpdates pairwise in a balanced tree — yjs's best case, since mergeUpdates
//               re-sorts all its inputs at every step (superlinear); also flat on the first
//               10,000 and 20,000 updates to show that
//   sv          Y.encodeStateVectorFromUpdate of the merged update
// Medians of `runs` runs (state vector: of 10 × runs). --merged writes yjs's merged update, so
// bench_yjs.c can compare its own byte for byte.

import * as Y from 'yjs'
import fs from 'fs'

const args = process.argv.slice(2)
const opt = name => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : null }
const jsonOut = opt('--json')
const mergedOut = opt('--merged')
const [file, runsArg] = args
const runs = Number(runsArg || 5)
const buf = fs.readFileSync(file)
const ups = []
let total = 0
for (let off = 0; off + 4 <= buf.length;) {
  const len = buf.readUInt32LE(off); off += 4
  ups.push(new Uint8Array(buf.buffer, buf.byteOffset + off, len)); off += len; total += len
}
const median = a => { const s = a.slice().sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 }
const time = (n, f) => { const t = []; let r; for (let i = 0; i < n; i++) { const t0 = performance.now(); r = f(); t.push(performance.now() - t0) } return { ms: median(t), best: Math.min(...t), r } }

const mergeTree = list => {
  let level = list
  while (level.length > 1) {
    const next = []
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? Y.mergeUpdates([level[i], level[i + 1]]) : level[i])
    level = next
  }
  return level[0]
}

console.log(`input: ${ups.length} updates, ${total} bytes (${(total / 1e6).toFixed(2)} MB) of Yjs v1`)
const decode = time(runs, () => { let n = 0; for (const u of ups) n += Y.decodeUpdate(u).structs.length; return n })
const tree = time(runs, () => mergeTree(ups))
const merged = tree.r
const flat10k = time(1, () => Y.mergeUpdates(ups.slice(0, 10000)))
const flat20k = time(1, () => Y.mergeUpdates(ups.slice(0, 20000)))
const sv = time(runs * 10, () => Y.encodeStateVectorFromUpdate(merged))
const diff = time(runs, () => Y.diffUpdate(merged, new Uint8Array([0])))
const mb = total / 1e6
console.log(`medians (best) of ${runs} runs`)
console.log(`decode all updates:          ${decode.ms.toFixed(2).padStart(8)} ms (${decode.best.toFixed(2)})  ${(mb / (decode.ms / 1e3)).toFixed(1).padStart(8)} MB/s`)
console.log(`merge all, pairwise tree:    ${tree.ms.toFixed(2).padStart(8)} ms (${tree.best.toFixed(2)})  ${(mb / (tree.ms / 1e3)).toFixed(1).padStart(8)} MB/s   (→ ${merged.length} bytes)`)
console.log(`merge first 10,000 flat:     ${flat10k.ms.toFixed(2).padStart(8)} ms;  first 20,000 flat: ${flat20k.ms.toFixed(2)} ms`)
console.log(`state vector of the merge:   ${sv.ms.toFixed(3).padStart(8)} ms (${sv.best.toFixed(3)})`)
console.log(`diff merge vs empty sv:      ${diff.ms.toFixed(2).padStart(8)} ms (${diff.best.toFixed(2)})`)
if (mergedOut) fs.writeFileSync(mergedOut, merged)
if (jsonOut) {
  fs.writeFileSync(jsonOut, JSON.stringify({
    updates: ups.length, bytes: total, decode_ms: decode.ms, merge_tree_ms: tree.ms, merged_bytes: merged.length,
    merge_flat_10k_ms: flat10k.ms, merge_flat_20k_ms: flat20k.ms, sv_ms: sv.ms, diff_ms: diff.ms, runs,
    best: { decode_ms: decode.best, merge_tree_ms: tree.best, sv_ms: sv.best, diff_ms: diff.best },
    node: process.version, yjs: JSON.parse(fs.readFileSync(new URL('./node_modules/yjs/package.json', import.meta.url))).version
  }) + '\n')
}
