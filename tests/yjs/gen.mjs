// gen.mjs — seeded random Yjs worlds for the differential tests.
//
// A world is 2–5 Y.Docs (clients) that edit concurrently and sync pairwise at random moments:
// rich text with formatting and embeds, the XML shapes y-prosemirror writes (paragraphs,
// headings, lists, marks as XmlText formatting), maps and arrays with every `any` value kind,
// nested types, subdocuments, deletes, with and without garbage collection. It records every
// update a client emits for its own edits, every sync payload (diffs that carry GC structs and
// merged items), full states, and state vectors seen along the way. Everything derives from the
// seed, so a failure is replayed with `--seed`.

import * as Y from 'yjs'

export function rng (seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const r = {
    next,
    int: n => Math.floor(next() * n),
    chance: p => next() < p,
    pick: arr => arr[Math.floor(next() * arr.length)],
    shuffle: arr => {
      const a2 = arr.slice()
      for (let i = a2.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1))
        ;[a2[i], a2[j]] = [a2[j], a2[i]]
      }
      return a2
    }
  }
  return r
}

// characters: ASCII, 2- and 3-byte UTF-8, and surrogate pairs (so slicing can cut a pair)
const CHARS = ['a', 'b', 'c', 'd', 'e', ' ', ' ', '\n', 'é', 'ß', 'ж', '中', '文', '😀', '👍', '🎉', '𝄞']

export function randomString (r, max = 8) {
  const n = 1 + r.int(max)
  let s = ''
  for (let i = 0; i < n; i++) s += r.pick(CHARS)
  return s
}

// forArray: Y.Array.insert refuses top-level bigint and undefined (Y.Map.set takes them)
export function randomValue (r, depth = 0, forArray = false) {
  let k = r.int(depth > 2 ? 11 : 14)
  if (forArray && depth === 0 && (k === 8 || k === 10)) k = 0
  switch (k) {
    case 0: return r.int(100)
    case 1: return -r.int(1 << 30)
    case 2: return r.pick([0.5, 0.25, -1.5, 3.14159, 1e-7, 2 ** 40, -(2 ** 31), 2 ** 31, 1e300])
    case 3: return randomString(r, 12)
    case 4: return r.chance(0.5)
    case 5: return null
    case 6: return new Uint8Array(Array.from({ length: r.int(6) }, () => r.int(256)))
    case 7: return r.pick(['', 'key', '0', '{"json":1}'])
    case 8: return BigInt(r.int(1000)) * 123456789012n
    case 9: return r.int(2) === 0 ? -0 : 7
    case 10: return undefined
    case 11: case 12: {
      const o = {}
      const n = r.int(4)
      for (let i = 0; i < n; i++) o[r.pick(['a', 'b', '1', '10', '2', 'z', 'ü'])] = randomValue(r, depth + 1)
      return o
    }
    default: return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1))
  }
}

const MARKS = [
  () => ({ bold: true }), () => ({ italic: true }), () => ({ bold: null }),
  () => ({ color: '#f00' }), () => ({ link: { href: 'https://x.test/' + Math.random().toString(36).slice(2, 5) } })
]
const PM_MARKS = [() => ({ strong: {} }), () => ({ em: {} }), () => ({ link: { href: 'h' } }), () => ({ strong: null })]

function allTypes (doc) {
  // every shared type reachable from the roots (for nested edits)
  const out = []
  const walk = t => {
    out.push(t)
    if (t instanceof Y.Map) t.forEach(v => { if (v instanceof Y.AbstractType) walk(v) })
    else if (t instanceof Y.Array) t.forEach(v => { if (v instanceof Y.AbstractType) walk(v) })
    else if (t instanceof Y.XmlFragment || t instanceof Y.XmlElement) t.toArray().forEach(walk)
  }
  walk(doc.getText('text')); walk(doc.getXmlFragment('prosemirror')); walk(doc.getMap('map')); walk(doc.getArray('arr'))
  return out
}

function editText (r, t, pm) {
  const len = t.length
  const c = r.int(10)
  if (c < 5 || len === 0) {
    t.insert(r.int(len + 1), randomString(r), r.chance(0.3) ? (pm ? r.pick(PM_MARKS)() : r.pick(MARKS)()) : undefined)
  } else if (c < 7) {
    const p = r.int(len)
    t.delete(p, 1 + r.int(Math.min(6, len - p)))
  } else if (c < 9) {
    const p = r.int(len)
    t.format(p, 1 + r.int(len - p), pm ? r.pick(PM_MARKS)() : r.pick(MARKS)())
  } else if (!pm) {
    t.insertEmbed(r.int(len + 1), { image: 'img' + r.int(9) + '.png' })
  }
}

function newPmNode (r) {
  const kind = r.int(4)
  if (kind === 0) {
    const h = new Y.XmlElement('heading')
    h.setAttribute('level', String(1 + r.int(3)))
    const t = new Y.XmlText()
    h.insert(0, [t])
    t.insert(0, randomString(r))
    return h
  }
  if (kind === 1) {
    const list = new Y.XmlElement('bullet_list')
    const item = new Y.XmlElement('list_item')
    const p = new Y.XmlElement('paragraph')
    const t = new Y.XmlText()
    p.insert(0, [t]); item.insert(0, [p]); list.insert(0, [item])
    t.insert(0, randomString(r))
    return list
  }
  const p = new Y.XmlElement('paragraph')
  const t = new Y.XmlText()
  p.insert(0, [t])
  if (r.chance(0.8)) t.insert(0, randomString(r), r.chance(0.3) ? r.pick(PM_MARKS)() : undefined)
  return p
}

function editXml (r, frag) {
  const nodes = []
  const walk = n => { nodes.push(n); if (!(n instanceof Y.XmlText)) n.toArray().forEach(walk) }
  walk(frag)
  const n = r.pick(nodes)
  if (n instanceof Y.XmlText) return editText(r, n, true)
  const c = r.int(6)
  if (c < 3 || n.length === 0) n.insert(r.int(n.length + 1), [newPmNode(r)])
  else if (c < 4) n.delete(r.int(n.length), 1)
  else if (n instanceof Y.XmlElement) n.setAttribute(r.pick(['level', 'class', 'data-x']), String(r.int(5)))
  else n.insert(n.length, [newPmNode(r)])
}

function editMap (r, m, doc) {
  const key = r.pick(['a', 'b', 'c', 'title', 'x', '0', '1'])
  const c = r.int(12)
  if (c < 6) m.set(key, randomValue(r))
  else if (c < 8) m.delete(key)
  else if (c < 9) m.set(key, new Y.Map())
  else if (c < 10) m.set(key, new Y.Array())
  else if (c < 11) { const t = new Y.Text(); m.set(key, t); t.insert(0, randomString(r)) } else if (r.chance(0.3)) {
    m.set('sub' + r.int(3), new Y.Doc({ autoLoad: r.chance(0.5), meta: r.chance(0.3) ? { k: 1 } : undefined }))
  } else m.set(key, randomValue(r))
}

function editArray (r, a) {
  const len = a.length
  const c = r.int(10)
  if (c < 5 || len === 0) a.insert(r.int(len + 1), Array.from({ length: 1 + r.int(3) }, () => randomValue(r, 0, true)))
  else if (c < 7) { const p = r.int(len); a.delete(p, 1 + r.int(Math.min(3, len - p))) } else if (c < 8) a.insert(r.int(len + 1), [new Y.Map()])
  else if (c < 9) a.insert(r.int(len + 1), [new Y.Text(randomString(r))])
  else a.insert(r.int(len + 1), [new Y.Array()])
}

function edit (r, doc) {
  const types = allTypes(doc)
  const t = r.chance(0.5) ? r.pick(types.slice(0, 4)) : r.pick(types)
  if (t instanceof Y.XmlText) editText(r, t, true)
  else if (t instanceof Y.Text) editText(r, t, false)
  else if (t instanceof Y.XmlFragment || t instanceof Y.XmlElement) editXml(r, t)
  else if (t instanceof Y.Map) editMap(r, t, doc)
  else if (t instanceof Y.Array) editArray(r, t)
}

// Returns { updates: [Uint8Array] (clients' own edits), extra: [Uint8Array] (sync payloads and
// full states), svs: [Uint8Array], clients: [number], docs }.
export function makeWorld (seed, opts = {}) {
  const r = rng(seed)
  const n = 2 + r.int(4)
  const docs = []
  const updates = []
  const extra = []
  const svs = []
  for (let i = 0; i < n; i++) {
    const doc = new Y.Doc({ gc: r.chance(0.7) })
    // deterministic client ids; sometimes large (up to 2^53 - 1, as yrs ≥ 0.26 uses)
    doc.clientID = r.chance(0.15) ? Math.floor(r.next() * (2 ** 53 - 1)) : (r.next() * 2 ** 32) >>> 0
    doc.on('update', (u, origin) => { if (origin !== 'sync') updates.push(u) })
    docs.push(doc)
  }
  const steps = opts.steps || (4 + r.int(opts.maxSteps || 40))
  for (let s = 0; s < steps; s++) {
    const doc = r.pick(docs)
    const k = 1 + r.int(3)
    if (r.chance(0.4)) doc.transact(() => { for (let i = 0; i < k; i++) edit(r, doc) })
    else for (let i = 0; i < k; i++) edit(r, doc)
    if (r.chance(0.25)) {
      const a = r.pick(docs); const b = r.pick(docs)
      if (a !== b) {
        const ua = Y.encodeStateAsUpdate(a, Y.encodeStateVector(b))
        const ub = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a))
        Y.applyUpdate(b, ua, 'sync'); Y.applyUpdate(a, ub, 'sync')
        extra.push(ua, ub)
      }
    }
    if (r.chance(0.2)) svs.push(Y.encodeStateVector(r.pick(docs)))
    if (r.chance(0.05)) extra.push(Y.encodeStateAsUpdate(r.pick(docs)))
  }
  for (const d of docs) extra.push(Y.encodeStateAsUpdate(d))
  return { updates, extra, svs, clients: docs.map(d => d.clientID), docs, r }
}

// The document content a test can compare: every root rendered the way Yjs renders it. Map
// keys are sorted: Y.Map.toJSON lists keys in the order they were integrated, which differs
// between replicas that received the same updates in different orders.
export function docContent (doc) {
  const canon = x => {
    if (typeof x === 'bigint') return 'big:' + x
    if (x instanceof Uint8Array) return 'bin:' + Array.from(x)
    if (x === undefined) return '__undef'
    if (x instanceof Y.Doc) return 'doc:' + x.guid
    if (Array.isArray(x)) return x.map(canon)
    if (x !== null && typeof x === 'object' && x.constructor === Object) {
      const o = {}
      for (const k of Object.keys(x).sort()) o[k] = canon(x[k])
      return o
    }
    return x
  }
  const norm = v => JSON.stringify(canon(v))
  return JSON.stringify({
    text: doc.getText('text').toDelta().map(op => norm(op)),
    xml: doc.getXmlFragment('prosemirror').toString(),
    map: norm(doc.getMap('map').toJSON()),
    arr: norm(doc.getArray('arr').toJSON())
  })
}
