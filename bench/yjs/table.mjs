// table.mjs — the side-by-side Markdown table of bench/yjs/run.sh from the two JSON outputs.
import fs from 'fs'
const [cPath, yPath, name] = process.argv.slice(2)
const c = JSON.parse(fs.readFileSync(cPath))
const y = JSON.parse(fs.readFileSync(yPath))
const mb = c.bytes / 1e6
const rate = ms => `${(mb / (ms / 1e3)).toFixed(0)} MB/s`
const f = (ms, d = 1) => `${ms.toFixed(d)} ms`
const x = (a, b) => `${(a / b).toFixed(1)}×`
console.log(`${name}: ${c.updates.toLocaleString('en')} updates, ${(mb).toFixed(2)} MB of v1; medians of ${c.runs} runs (state vectors: ${c.runs * 10})\n`)
console.log('| operation | quire (C) | yjs ' + y.yjs + ' (Node ' + y.node + ') | quire faster | target |')
console.log('|---|--:|--:|--:|---|')
console.log(`| merge all updates into one | ${f(c.merge_ms)} = **${rate(c.merge_ms)}** (one call, all inputs) | ${f(y.merge_tree_ms)} = ${rate(y.merge_tree_ms)} (pairwise tree, its best case) | ${x(y.merge_tree_ms, c.merge_ms)} | ≥ 200 MB/s |`)
console.log(`| … skim mode (inputs validated before) | ${f(c.merge_skim_ms)} = ${rate(c.merge_skim_ms)} | | | |`)
console.log(`| yjs mergeUpdates flat, first 10k / 20k updates | | ${f(y.merge_flat_10k_ms, 0)} / ${f(y.merge_flat_20k_ms, 0)} (superlinear) | | |`)
console.log(`| decode + validate every update | ${f(c.validate_ms, 2)} = **${rate(c.validate_ms)}** | ${f(y.decode_ms)} = ${rate(y.decode_ms)} (Y.decodeUpdate, no validation) | ${x(y.decode_ms, c.validate_ms)} | ≥ 500 MB/s |`)
console.log(`| state vector of the merged update (skim) | **${f(c.sv_skim_ms, 3)}** | ${f(y.sv_ms, 3)} | ${x(y.sv_ms, c.sv_skim_ms)} | ≤ 1 ms |`)
console.log(`| … strict (UTF-8 and references checked) | ${f(c.sv_ms, 3)} | | ${x(y.sv_ms, c.sv_ms)} | |`)
console.log(`| diff merged update vs empty state vector | ${f(c.diff_ms, 2)} | ${f(y.diff_ms, 2)} | ${x(y.diff_ms, c.diff_ms)} | |`)
console.log(`| split merged update at 1 MiB | ${f(c.split_ms, 2)} | — | | |`)
console.log(`\nmerged update: quire ${c.merged_bytes} bytes, yjs ${y.merged_bytes} bytes, ${c.same_as_yjs === 1 ? 'byte-identical' : c.same_as_yjs === 0 ? 'DIFFERENT' : 'not compared'}; quire peak RSS ${c.peak_rss_mb} MB`)
