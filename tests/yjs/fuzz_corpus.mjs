// fuzz_corpus.mjs — writes the seed corpora of fuzz/yjs (committed; rerun after changing it):
//
//   node tests/yjs/fuzz_corpus.mjs [fuzz/yjs/corpus]
//
// Valid seeds come from gen.mjs worlds (every content type, GC, Skips from merges); hostile
// seeds are the input shapes known to hang or crash yjs and yrs: zero length, truncated and
// endless varints (yjs#479, #498), huge declared lengths and counts (y-crdt#415), self-referencing
// origins, deep nesting, invalid UTF-8, v2-encoded bytes fed to v1 (yjs#687 is about v2).
// Input layouts per harness are described at the top of fuzz/yjs/fuzz_yjs_*.c.

import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import fs from 'fs'
import path from 'path'
import { fileURLToPath } from 'url'
import { makeWorld, rng } from './gen.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = process.argv[2] || path.join(here, '..', '..', 'fuzz', 'yjs', 'corpus')
const dirs = ['decode', 'merge', 'diff', 'split']
// regenerate our seeds; keep the inputs fuzzing found (found-<sha1>, added after libFuzzer -merge=1)
for (const d of dirs) {
  fs.mkdirSync(path.join(root, d), { recursive: true })
  for (const f of fs.readdirSync(path.join(root, d))) if (!f.startsWith('found-')) fs.rmSync(path.join(root, d, f))
}
const write = (dir, name, bytes) => fs.writeFileSync(path.join(root, dir, name), Buffer.from(bytes))
const u16 = n => [n & 255, (n >> 8) & 255]
const records = list => Buffer.concat(list.map(u => Buffer.concat([Buffer.from(u16(u.length)), Buffer.from(u)])))

// ---- valid seeds --------------------------------------------------------------------------
const valid = []
for (let w = 0; w < 12; w++) {
  const world = makeWorld(900 + w, { maxSteps: 12 })
  const r = rng(w)
  const pool = world.updates.concat(world.extra)
  const small = pool.filter(u => u.length < 600)
  const pick = r.shuffle(small).slice(0, 6)
  const merged = Y.mergeUpdates(r.shuffle(pool).slice(0, 1 + r.int(pool.length)))
  valid.push(...pick.slice(0, 2), merged)
  write('merge', `valid-world${w}`, records(pick))
  const sv = world.svs.length ? world.svs[0] : Y.encodeStateVector(world.docs[0])
  write('diff', `valid-world${w}`, Buffer.concat([Buffer.from(u16(merged.length)), Buffer.from(merged), Buffer.from(sv)]))
  write('split', `valid-world${w}`, Buffer.concat([Buffer.from(u16(r.int(400))), Buffer.from(merged)]))
}
valid.push(new Uint8Array([0, 0]))
valid.forEach((u, i) => write('decode', `valid-${i}`, u))

// ---- hostile seeds ------------------------------------------------------------------------
const enc = f => { const e = encoding.createEncoder(); f(e); return encoding.toUint8Array(e) }
const V = encoding.writeVarUint
const S = encoding.writeVarString
const group = (e, n, client, clock) => { V(e, 1); V(e, n); V(e, client); V(e, clock) }
const hostile = {
  'zero-length': new Uint8Array(0),
  'one-zero': new Uint8Array([0]),
  'truncated-varint': new Uint8Array([0x80]),
  'endless-varint': new Uint8Array(64).fill(0x80), // yjs#479: readVarUint loops
  'non-minimal-varint': new Uint8Array([0x80, 0x00, 0x00]),
  'varint-over-2^53': new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0]),
  'huge-group-count': enc(e => { V(e, 2 ** 40); V(e, 0) }),
  'huge-struct-count': enc(e => { group(e, 2 ** 40, 1, 0); V(e, 0) }),
  'huge-string-length': enc(e => { group(e, 1, 1, 0); encoding.writeUint8(e, 4); V(e, 1); S(e, 't'); V(e, 2 ** 50); encoding.writeUint8(e, 97) }),
  'huge-any-count': enc(e => { group(e, 1, 1, 0); encoding.writeUint8(e, 8); V(e, 1); S(e, 'a'); V(e, 2 ** 40); encoding.writeUint8(e, 117); V(e, 2 ** 40) }), // y-crdt#415
  'huge-binary-length': enc(e => { group(e, 1, 1, 0); encoding.writeUint8(e, 3); V(e, 1); S(e, 'a'); V(e, 2 ** 45) }),
  'self-origin': enc(e => { group(e, 1, 5, 3); encoding.writeUint8(e, 0x84); V(e, 5); V(e, 3); S(e, 'x'); V(e, 0) }),
  'self-right-origin': enc(e => { group(e, 1, 5, 3); encoding.writeUint8(e, 0x44); V(e, 5); V(e, 9); S(e, 'x'); V(e, 0) }),
  'self-parent': enc(e => { group(e, 1, 5, 3); encoding.writeUint8(e, 0x07); V(e, 0); V(e, 5); V(e, 3); encoding.writeUint8(e, 1); V(e, 0) }),
  'deep-any': enc(e => { group(e, 1, 1, 0); encoding.writeUint8(e, 8); V(e, 1); S(e, 'a'); V(e, 1); for (let i = 0; i < 2000; i++) { encoding.writeUint8(e, 117); V(e, 1) } encoding.writeUint8(e, 126); V(e, 0) }),
  'deep-json-embed': enc(e => { group(e, 1, 1, 0); encoding.writeUint8(e, 5); V(e, 1); S(e, 't'); S(e, '['.repeat(3000) + ']'.repeat(3000)); V(e, 0) }),
  'invalid-utf8': enc(e => { group(e, 1, 1, 0); encoding.writeUint8(e, 4); V(e, 1); S(e, 't'); V(e, 3); encoding.writeUint8Array(e, new Uint8Array([0xed, 0xa0, 0x80])); V(e, 0) }),
  'zero-length-string': enc(e => { group(e, 1, 1, 0); encoding.writeUint8(e, 4); V(e, 1); S(e, 't'); V(e, 0); V(e, 0) }),
  'clock-overflow': enc(e => { group(e, 2, 1, 2 ** 53 - 2); encoding.writeUint8(e, 0); V(e, 1); encoding.writeUint8(e, 0); V(e, 1); V(e, 0) }),
  'skip-with-flags': enc(e => { group(e, 1, 1, 0); encoding.writeUint8(e, 0x8a); V(e, 1); V(e, 1); V(e, 0); V(e, 0) }),
  'unknown-content-ref': enc(e => { group(e, 1, 1, 0); encoding.writeUint8(e, 0x1b); V(e, 1); S(e, 't'); V(e, 0) }),
  'trailing-bytes': new Uint8Array([0, 0, 0]),
  'ds-huge-count': enc(e => { V(e, 0); V(e, 1); V(e, 1); V(e, 2 ** 40); V(e, 0); V(e, 1) }),
  'ds-overflow': enc(e => { V(e, 0); V(e, 1); V(e, 1); V(e, 1); V(e, 2 ** 53 - 1); V(e, 5) }),
  'v2-encoded': (() => { const d = new Y.Doc(); d.getText('t').insert(0, 'hello'); d.getMap('m').set('k', [1, 2]); return Y.encodeStateAsUpdateV2(d) })()
}
for (const [name, u] of Object.entries(hostile)) {
  write('decode', `hostile-${name}`, u)
  write('merge', `hostile-${name}`, records([valid[0], u]))
  write('diff', `hostile-${name}`, Buffer.concat([Buffer.from(u16(u.length)), Buffer.from(u), Buffer.from([0])]))
  write('split', `hostile-${name}`, Buffer.concat([Buffer.from(u16(0)), Buffer.from(u)]))
}
// hostile state vectors
const base = valid[valid.length - 2]
for (const [name, sv] of Object.entries({ 'sv-empty': [], 'sv-truncated': [2, 1], 'sv-huge-count': [0xff, 0xff, 0xff, 0x0f, 1, 1], 'sv-trailing': [0, 9] })) {
  write('diff', `hostile-${name}`, Buffer.concat([Buffer.from(u16(base.length)), Buffer.from(base), Buffer.from(sv)]))
}
// a string that must be cut, with surrogate pairs
{
  const d = new Y.Doc()
  d.getText('t').insert(0, 'ab😀'.repeat(400))
  const u = Y.encodeStateAsUpdate(d)
  write('split', 'valid-long-string', Buffer.concat([Buffer.from(u16(100)), Buffer.from(u)]))
  write('decode', 'valid-long-string', u)
}
console.log(`corpora written to ${root}`)
