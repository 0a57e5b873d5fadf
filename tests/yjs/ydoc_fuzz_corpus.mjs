// ydoc_fuzz_corpus.mjs — writes the seed corpora of the ydoc harnesses in fuzz/yjs
// (fuzz_ydoc_integrate, fuzz_ydoc_render; committed — rerun after changing it):
//
//   node tests/yjs/ydoc_fuzz_corpus.mjs [fuzz/yjs/corpus]
//
// Seeds are gen.mjs worlds (every content type, formatting, y-prosemirror XML, nested types,
// subdocuments, GC on and off) cut into updates in the orders the differential tests use — as
// emitted, shuffled so structs wait as pending, merged chunks with Skips, sync payloads with GC
// structs — plus a few hostile shapes (an update whose dependencies never arrive, deletes of
// content never sent, a root name and map key with every kind of character, deep nesting).
// Files named found-* (inputs fuzzing found, added after libFuzzer -merge=1) are kept.

import * as Y from 'yjs'
import fs from 'fs'
import path from 'path'
import { fileURLToPath } from 'url'
import { makeWorld, rng } from './gen.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = process.argv[2] || path.join(here, '..', '..', 'fuzz', 'yjs', 'corpus')
const dirs = ['ydoc_integrate', 'ydoc_render']
for (const d of dirs) {
  fs.mkdirSync(path.join(root, d), { recursive: true })
  for (const f of fs.readdirSync(path.join(root, d))) if (!f.startsWith('found-')) fs.rmSync(path.join(root, d, f))
}
const u16 = n => Buffer.from([n & 255, (n >> 8) & 255])
const records = list => Buffer.concat(list.filter(u => u.length < 65536).slice(0, 16).map(u => Buffer.concat([u16(u.length), Buffer.from(u)])))
const write = (dir, name, bytes) => fs.writeFileSync(path.join(root, dir, name), bytes)

let n = 0
for (let seed = 1; seed <= 24; seed++) {
  const w = makeWorld(seed, { maxSteps: 16 })
  const r = rng(seed * 7919)
  const orders = [w.updates, r.shuffle(w.updates), [Y.mergeUpdates(r.shuffle(w.updates).slice(0, 3)), ...w.updates.slice(3)], w.extra.slice(-3)]
  orders.forEach((ups, k) => {
    const flags = r.int(16)
    write('ydoc_integrate', `valid-${String(n).padStart(3, '0')}`, Buffer.concat([Buffer.from([flags]), records(ups)]))
    if (k !== 1) write('ydoc_render', `valid-${String(n).padStart(3, '0')}`, records(ups))
    n++
  })
}

// hostile
const doc = new Y.Doc(); doc.clientID = 7
const ups = []
doc.on('update', u => ups.push(u))
doc.getText('t').insert(0, 'abc😀')
doc.getText('t').format(1, 2, { bold: true })
doc.getMap('k "\\\n\u0000é😀').set('0', [1, { '1': 2, a: null, 10: undefined }])
let deep = new Y.Array(); doc.getArray('deep').insert(0, [deep])
for (let i = 0; i < 40; i++) { const a = new Y.Array(); deep.insert(0, [a]); deep = a }
doc.getText('t').delete(1, 2)
const other = new Y.Doc(); other.clientID = 9
Y.applyUpdate(other, Y.encodeStateAsUpdate(doc))
const later = []
other.on('update', u => later.push(u))
other.getText('t').insert(1, 'xyz')
other.getMap('k "\\\n\u0000é😀').set('b', new Uint8Array([1, 2, 3]))
const hostile = {
  'hostile-never-integrates': [later[0]], // depends on client 7, never sent
  'hostile-deletes-unknown': [Y.encodeStateAsUpdate(other).slice(-8)],
  'hostile-all': [...ups, ...later],
  'hostile-reversed': [...ups, ...later].reverse()
}
for (const [name, list] of Object.entries(hostile)) {
  write('ydoc_integrate', name, Buffer.concat([Buffer.from([name.length & 15]), records(list)]))
  write('ydoc_render', name, records(list))
}
console.log(`wrote ${fs.readdirSync(path.join(root, dirs[0])).length} + ${fs.readdirSync(path.join(root, dirs[1])).length} seeds to ${root}`)
