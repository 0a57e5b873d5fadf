// bench_ydoc.mjs — the yjs side of bench/yjs/run_ydoc.sh: the integrated-document figures of
// bench_ydoc.c measured on the yjs npm package, in the same run, on the same updates.
//
//   node --expose-gc bench/yjs/bench_ydoc.mjs <updates> [runs=7] [--json out.json]
//        [--state out.bin] [--text out.txt]
//
//   integrate  new Y.Doc, Y.applyUpdate of every update, then getText('text').toString()
//   load       Y.applyUpdate of the final state (Y.encodeStateAsUpdate) into a new Y.Doc, then
//              toString() (medians of 20 × runs)
//   memory     V8 heap growth (heapUsed after full synchronous collections) while the document
//              is built — final, and the largest value sampled every 5,000 updates; and for a
//              document loaded from the final state. An incrementally built Y.Doc holds its text
//              as V8 cons-strings (one per merged keystroke), hence much more than a loaded one.
// --state / --text write yjs's final state and text so bench_ydoc can compare its own.

import * as Y from 'yjs'
import fs from 'fs'

const args = process.argv.slice(2)
const opt = name => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : null }
const jsonOut = opt('--json'); const stateOut = opt('--state'); const textOut = opt('--text')
const [file, runsArg] = args
const runs = Number(runsArg || 7)
if (!global.gc) { console.error('run with node --expose-gc'); process.exit(2) }
const buf = fs.readFileSync(file)
const ups = []
let total = 0
for (let off = 0; off + 4 <= buf.length;) {
  const len = buf.readUInt32LE(off); off += 4
  ups.push(new Uint8Array(buf.buffer, buf.byteOffset + off, len)); off += len; total += len
}
const median = a => { const s = a.slice().sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 }
const time = (n, f) => { const t = []; let r; for (let i = 0; i < n; i++) { const t0 = performance.now(); r = f(); t.push(performance.now() - t0) } return { ms: median(t), best: Math.min(...t), r } }

console.log(`input: ${ups.length} updates, ${total} bytes of Yjs v1`)
const replay = () => { const d = new Y.Doc(); for (const u of ups) Y.applyUpdate(d, u); const s = d.getText('text').toString(); return { d, s } }
const integ = time(runs, replay)
const { d, s: text } = integ.r
const state = Y.encodeStateAsUpdate(d)
const load = time(runs * 20, () => { const l = new Y.Doc(); Y.applyUpdate(l, state); return l.getText('text').toString() })
if (load.r !== text) { console.error('loaded state renders differently'); process.exit(1) }

// memory: V8 heap growth while the document is built, with full synchronous collections
// (run with --single-threaded-gc so no sweeping is left pending); documents are kept alive, as
// dropping one does not reliably return its heap in time to be measured
integ.r = null
const heap = () => { for (let i = 0; i < 3; i++) global.gc({ type: 'major', execution: 'sync' }); return process.memoryUsage().heapUsed }
const base0 = heap()
let peak = 0
const m = new Y.Doc()
for (let i = 0; i < ups.length; i++) {
  Y.applyUpdate(m, ups[i])
  if (i % 5000 === 4999) peak = Math.max(peak, heap() - base0)
}
m.getText('text').toString()
const final = heap() - base0
peak = Math.max(peak, final)
const base1 = heap()
const l = new Y.Doc()
Y.applyUpdate(l, state)
l.getText('text').toString()
const loaded = heap() - base1

console.log(`medians (best) of ${runs} runs; load: of ${runs * 20} runs`)
console.log(`integrate every update + text:  ${integ.ms.toFixed(1).padStart(8)} ms (${integ.best.toFixed(1)})  = ${(integ.ms * 1e6 / ups.length).toFixed(0)} ns/update`)
console.log(`load final state + text:        ${load.ms.toFixed(3).padStart(8)} ms (${load.best.toFixed(3)})  state ${state.length} bytes`)
console.log(`memory (V8 heap): peak sampled ${peak} B (${(peak / state.length).toFixed(2)} x state), final ${final} B (${(final / state.length).toFixed(2)} x), loaded ${loaded} B (${(loaded / state.length).toFixed(2)} x)`)
if (stateOut) fs.writeFileSync(stateOut, state)
if (textOut) fs.writeFileSync(textOut, text)
if (jsonOut) {
  fs.writeFileSync(jsonOut, JSON.stringify({
    updates: ups.length, bytes: total, runs, integrate_ms: integ.ms, integrate_best_ms: integ.best,
    load_ms: load.ms, load_best_ms: load.best, state_bytes: state.length, peak_bytes: peak,
    final_bytes: final, loaded_bytes: loaded, node: process.version,
    yjs: JSON.parse(fs.readFileSync(new URL('./node_modules/yjs/package.json', import.meta.url))).version
  }) + '\n')
}
