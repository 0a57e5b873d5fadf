// trace_updates.mjs — replays an editing trace (shared/data/editing-traces, gzipped JSON) into a
// Y.Doc, one transaction per trace transaction, and writes every update it emits as
// (u32 little-endian length, update v1) records. Checks that the text ends as endContent.
//
//   node bench/yjs/trace_updates.mjs <trace.json.gz> <out.updates>
//
// Trace positions count Unicode code points; Y.Text counts UTF-16 units, so they are converted.

import * as Y from 'yjs'
import fs from 'fs'
import zlib from 'zlib'

const [input, output] = process.argv.slice(2)
if (!input || !output) { console.error('usage: trace_updates.mjs <trace.json.gz> <out.updates>'); process.exit(2) }
const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(input)).toString())
const doc = new Y.Doc()
doc.clientID = 3953806337 // fixed (deterministic output), 32-bit like the ids Yjs generates
const text = doc.getText('text')
const chunks = []
let bytes = 0
doc.on('update', u => {
  const h = Buffer.alloc(4)
  h.writeUInt32LE(u.length)
  chunks.push(h, Buffer.from(u))
  bytes += u.length
})
const astral = /[\uD800-\uDFFF]/.test(JSON.stringify(trace.txns)) || /[\uD800-\uDFFF]/.test(trace.startContent || '')
if (trace.startContent) text.insert(0, trace.startContent)
const cpToUtf16 = pos => {
  if (!astral) return pos
  const s = text.toString()
  let u = 0
  for (let cp = 0; cp < pos; cp++) u += s.codePointAt(u) > 0xffff ? 2 : 1
  return u
}
for (const txn of trace.txns) {
  doc.transact(() => {
    for (const [pos, del, ins] of txn.patches) {
      const at = cpToUtf16(pos)
      if (del > 0) text.delete(at, cpToUtf16(pos + del) - at)
      if (ins) text.insert(at, ins)
    }
  })
}
if (text.toString() !== trace.endContent) { console.error('replay does not reach endContent'); process.exit(1) }
fs.writeFileSync(output, Buffer.concat(chunks))
console.log(`${trace.txns.length} transactions → ${chunks.length / 2} updates, ${bytes} bytes (v1)`)
