// make_doc.mjs — writes a document of about <kb> KB of text through POST /v1/docs/{id}/updates
// (1 KB per update) and prints the last version. Used by bench_get.sh.
//   node make_doc.mjs <api-url> <token> <doc-id> <kb>
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(path.join(here, '..', '..', 'tests', 'js', 'package.json'))
const Y = await import(require.resolve('yjs'))

const [api, tok, doc, kb] = process.argv.slice(2)
const d = new Y.Doc()
const t = d.getText('text')
let version = -1
const line = 'The quick brown fox jumps over the lazy dog, again and again and again. '
for (let i = 0; i < Number(kb); i++) {
  const sv = Y.encodeStateVector(d)
  t.insert(t.length, line.repeat(Math.ceil(1024 / line.length)).slice(0, 1024))
  const r = await fetch(`${api}/v1/docs/${doc}/updates`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/octet-stream' },
    body: Y.encodeStateAsUpdate(d, sv)
  })
  if (r.status !== 201) throw new Error(`write failed: ${r.status} ${await r.text()}`)
  version = (await r.json()).version
}
console.log(version)
