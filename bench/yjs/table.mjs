// table.mjs — the side-by-side Markdown table of bench/yjs/run.sh from the two JSON outputs.
import fs from 'fs'
const [cPath, yPath, name] = process.argv.slice(2)
const c = JSON.parse(fs.readFileSync(cPath))
const y = JSON.parse(fs.readFileSync(yPath))
const mb = c.bytes / 1e6
const rate = ms => `${(mb / (ms / 1e3)).toFixed(0)} MB/s`
const f = (ms, d = 1) => `${ms.toFixed(d)} ms`
const fb = (ms, best, d = 1) => `${ms.toFixed(d)} ms (best ${best.toFixed(d)})`
const x = (a, b) => `${(a / b).toFixed(1)}×`
console.log(`${name}: ${c.updates.toLocaleString('en')} updates, ${(mb).toFixed(2)} MB of v1; medians of ${c.runs} runs (state vectors: ${c.runs * 10}), best run in parentheses\n`)
console.log('| operation | quire (C) | yjs ' + y.yjs + ' (Node ' + y.node + ') | quire faster | target |')
console.log('|---|--:|--:|--:|---|')
console.log(`| merge all updates into one | ${fb(c.merge_ms, c.best.merge_ms)} = **${rate(c.merge_ms)}** (one call, all inputs) | ${fb(y.merge_tree_ms, y.best.merge_tree_ms, 0)} = ${rate(y.merge_tree_ms)} (pairwise tree, its best case) | ${x(y.merge_tree_ms, c.merge_ms)} | ≥ 200 MB/s |`)
console.log(`| … skim mode (inputs validated before) | ${fb(c.merge_skim_ms, c.best.merge_skim_ms)} = ${rate(c.merge_skim_ms)} | | | |`)
console.log(`| yjs mergeUpdates flat, first 10k / 20k updates | | ${f(y.merge_flat_10k_ms, 0)} / ${f(y.merge_flat_20k_ms, 0)} (superlinear) | | |`)
console.log(`| decode + validate every update | ${fb(c.validate_ms, c.best.validate_ms, 2)} = **${rate(c.validate_ms)}** | ${fb(y.decode_ms, y.best.decode_ms)} = ${rate(y.decode_ms)} (Y.decodeUpdate, no validation) | ${x(y.decode_ms, c.validate_ms)} | ≥ 500 MB/s |`)
console.log(`| state vector of the merged update (skim) | **${fb(c.sv_skim_ms, c.best.sv_skim_ms, 3)}** | ${fb(y.sv_ms, y.best.sv_ms, 3)} | ${x(y.sv_ms, c.sv_skim_ms)} | ≤ 1 ms |`)
console.log(`| … strict (UTF-8 and references checked) | ${fb(c.sv_ms, c.best.sv_ms, 3)} | | ${x(y.sv_ms, c.sv_ms)} | |`)
console.log(`| diff merged update vs empty state vector | ${fb(c.diff_ms, c.best.diff_ms, 2)} | ${fb(y.diff_ms, y.best.diff_ms, 2)} | ${x(y.diff_ms, c.diff_ms)} | |`)
console.log(`| split merged update at 1 MiB | ${fb(c.split_ms, c.best.split_ms, 2)} | — | | |`)
console.log(`\nmerged update: quire ${c.merged_bytes} bytes, yjs ${y.merged_bytes} bytes, ${c.same_as_yjs === 1 ? 'byte-identical' : c.same_as_yjs === 0 ? 'DIFFERENT' : 'not compared'}; quire peak RSS ${c.peak_rss_mb} MB`)
