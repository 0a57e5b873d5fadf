// ydoc_table.mjs — the side-by-side Markdown table of bench/yjs/run_ydoc.sh from the JSON outputs
// of bench_ydoc (C) and bench_ydoc.mjs (yjs).
import fs from 'fs'
const [cPath, yPath, name] = process.argv.slice(2)
const c = JSON.parse(fs.readFileSync(cPath))
const y = JSON.parse(fs.readFileSync(yPath))
const ms = (v, b, d = 1) => `${v.toFixed(d)} ms (best ${b.toFixed(d)})`
const x = (a, b) => `${(a / b).toFixed(1)}×`
const kb = v => `${(v / 1024).toFixed(0)} KiB`
const r = (v, s) => `${(v / s).toFixed(2)}×`
console.log(`${name}: ${c.updates.toLocaleString('en')} updates (one per edit), final state ${c.state_bytes.toLocaleString('en')} bytes of v1 (quire and yjs ${c.same_state === 1 ? 'byte-identical' : c.same_state === 0 ? 'DIFFERENT' : 'not compared'}); medians of ${c.runs} runs (loads: ${c.load_runs}), best run in parentheses\n`)
console.log(`| figure | quire ydoc (C) | yjs ${y.yjs} (Node ${y.node}) | ratio | target |`)
console.log('|---|--:|--:|--:|---|')
console.log(`| integrate every update, then the text | **${ms(c.integrate_ms, c.integrate_best_ms)}** = ${(c.integrate_ms * 1e6 / c.updates).toFixed(0)} ns/update | ${ms(y.integrate_ms, y.integrate_best_ms, 0)} | **${x(y.integrate_ms, c.integrate_ms)}** faster | ≥ 10× |`)
console.log(`| decode + materialise the final state | **${ms(c.load_ms, c.load_best_ms, 2)}** | ${ms(y.load_ms, y.load_best_ms, 2)} | ${x(y.load_ms, c.load_ms)} faster | ≤ 2 ms |`)
console.log(`| peak memory of the document while integrating | **${kb(c.peak_bytes)} = ${r(c.peak_bytes, c.state_bytes)}** state | ${kb(y.peak_bytes)} = ${r(y.peak_bytes, y.state_bytes)} (sampled) | | ≤ 4× |`)
console.log(`| memory of the final document (trimmed) | ${kb(c.final_bytes)} = ${r(c.final_bytes, c.state_bytes)} (${kb(c.trimmed_bytes)} = ${r(c.trimmed_bytes, c.state_bytes)}) | ${kb(y.final_bytes)} = ${r(y.final_bytes, y.state_bytes)} | | |`)
console.log(`| memory of the document loaded from the state | ${kb(c.loaded_bytes)} = ${r(c.loaded_bytes, c.state_bytes)} | ${kb(y.loaded_bytes)} = ${r(y.loaded_bytes, y.state_bytes)} | | |`)
console.log(`\nquire: ${c.structs} structs after merging; process peak RSS ${c.rss_mb} MB (input and timing runs included); text ${c.same_text === 1 ? 'equal to yjs' : c.same_text === 0 ? 'DIFFERENT from yjs' : 'not compared'}. quire memory is ydoc_memory() (every allocation the document holds, slack included); yjs memory is V8 heapUsed after gc().`)
