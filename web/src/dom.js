// Tiny DOM helpers. Text always goes in as text nodes (never innerHTML): document content,
// user names and server messages are untrusted.

export function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (k === 'dataset') Object.assign(el.dataset, v)
    else if (k === 'class') el.className = v
    else if (v === true) el.setAttribute(k, '')
    else el.setAttribute(k, String(v))
  }
  append(el, children)
  return el
}

export function append (el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return el
}

export function clear (el) {
  while (el.firstChild) el.firstChild.remove()
  return el
}

// A stable colour per user name (so a person has the same colour everywhere).
const PALETTE = ['#d1495b', '#00798c', '#edae49', '#66a182', '#8d5a97', '#e07a5f', '#3d5a80', '#2a9d8f', '#b5838d', '#6d597a']
export function colorFor (name) {
  let x = 2166136261
  for (const ch of String(name)) x = Math.imul(x ^ ch.codePointAt(0), 16777619) >>> 0
  return PALETTE[x % PALETTE.length]
}

export function validColor (c) {
  return typeof c === 'string' && /^#[0-9a-fA-F]{6}$/.test(c) ? c : '#888888'
}

export function fmtTime (iso) {
  const d = new Date(iso)
  return isNaN(d) ? String(iso) : d.toLocaleString()
}
