// foreign.mjs — updates encoded the way a writer other than Yjs may encode them: valid, but not
// in the form Yjs would re-encode unchanged (see lib/yjs/README.md "Byte identity with Yjs").
// Yjs normalises these when it merges; quire keeps the bytes, so the differential test compares
// their decoded structs instead of bytes.

import * as encoding from 'lib0/encoding'

const CLIENT = 4242

// one client group with one root-parented item; `content` writes the content bytes
function update (info, root, parentSub, content) {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1) // groups
  encoding.writeVarUint(e, 1) // structs
  encoding.writeVarUint(e, CLIENT)
  encoding.writeVarUint(e, 0) // clock
  encoding.writeUint8(e, info | (parentSub ? 0x20 : 0))
  encoding.writeVarUint(e, 1) // parent is a root name
  encoding.writeVarString(e, root)
  if (parentSub) encoding.writeVarString(e, parentSub)
  content(e)
  encoding.writeVarUint(e, 0) // empty delete set
  return encoding.toUint8Array(e)
}

export function foreignCases () {
  const empty = new Uint8Array([0, 0])
  const cases = [
    // any 1 as float64: Yjs re-encodes as varInt
    ['any-float64-int', update(8, 'map', 'k', e => { encoding.writeVarUint(e, 1); encoding.writeUint8(e, 123); encoding.writeFloat64(e, 1) })],
    // any 0.5 as float64: Yjs re-encodes as float32
    ['any-float64-f32', update(8, 'map', 'k', e => { encoding.writeVarUint(e, 1); encoding.writeUint8(e, 123); encoding.writeFloat64(e, 0.5) })],
    // object with keys in non-JavaScript order and a duplicate key
    ['any-object-order', update(8, 'map', 'o', e => {
      encoding.writeVarUint(e, 1); encoding.writeUint8(e, 118); encoding.writeVarUint(e, 3)
      encoding.writeVarString(e, 'b'); encoding.writeUint8(e, 120)
      encoding.writeVarString(e, '1'); encoding.writeUint8(e, 126)
      encoding.writeVarString(e, 'b'); encoding.writeUint8(e, 121)
    })],
    // JSON content with whitespace, and the literal `undefined`
    ['json-whitespace', update(2, 'arr', null, e => { encoding.writeVarUint(e, 2); encoding.writeVarString(e, '[ 1, {"a" : 2.50} ]'); encoding.writeVarString(e, 'undefined') })],
    // embed and format values with whitespace
    ['embed-whitespace', update(5, 'text', null, e => encoding.writeVarString(e, ' { "image" : "x.png" } '))],
    ['format-whitespace', update(6, 'text', null, e => { encoding.writeVarString(e, 'bold'); encoding.writeVarString(e, ' true') })],
    // subdocument options Yjs does not keep
    ['doc-opts', update(9, 'map', 'sub', e => {
      encoding.writeVarString(e, 'guid-1'); encoding.writeUint8(e, 118); encoding.writeVarUint(e, 1)
      encoding.writeVarString(e, 'foo'); encoding.writeUint8(e, 125); encoding.writeVarInt(e, 1)
    })]
  ]
  return cases.map(([name, u]) => ({ name, inputs: [u, empty] }))
}
