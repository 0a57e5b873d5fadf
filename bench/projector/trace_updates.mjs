// trace_updates.mjs — one Yjs update per transaction of an editing trace, as the projector
// benchmark feeds them to Kafka: records of (u32 little-endian length, update v1). Checks the
// replayed text against the trace's endContent.
//
//   node bench/projector/trace_updates.mjs <trace.json.gz> <out.updates>
import fs from 'node:fs'
import zlib from 'node:zlib'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

// yjs comes from the integration tests' pinned install (tests/js/node_modules).
const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(path.join(here, '..', '..', 'tests', 'js', 'package.json'))
const Y = await import(require.resolve('yjs'))

const [input, output] = process.argv.slice(2)
if (!input || !output) {
  console.error('usage: trace_updates.mjs <trace.json.gz> <out.updates>')
  process.exit(2)
}
const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(input)).toString())
const doc = new Y.Doc()
doc.clientID = 1234567
const text = doc.getText('text')
const out = []
doc.on('update', (u) => {
  const h = Buffer.alloc(4)
  h.writeUInt32LE(u.length)
  out.push(h, Buffer.from(u))
})
// positions count code points; Y.Text counts UTF-16 units
const units = (s, cp) => { let u = 0; for (let i = 0; i < cp; i++) u += s.codePointAt(u) > 0xffff ? 2 : 1; return u }
const astral = /[\uD800-\uDFFF]/.test(JSON.stringify(trace.txns))
if (trace.startContent) text.insert(0, trace.startContent)
for (const txn of trace.txns) {
  doc.transact(() => {
    for (const [pos, del, ins] of txn.patches) {
      const s = astral ? text.toString() : null
      const at = astral ? units(s, pos) : pos
      if (del > 0) text.delete(at, (astral ? units(s, pos + del) : pos + del) - at)
      if (ins) text.insert(at, ins)
    }
  })
}
if (text.toString() !== trace.endContent) {
  console.error('the replay does not reach endContent')
  process.exit(1)
}
fs.writeFileSync(output, Buffer.concat(out))
console.log(`${trace.txns.length} transactions → ${out.length / 2} updates`)
