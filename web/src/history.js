// History: the document's versions from GET /v1/docs/{id}/history (one per event, grouped into
// editing sessions: consecutive events of one person within two minutes), and a view of the
// document at a chosen version from GET /v1/docs/{id}/state?at=<offset> — the binary Yjs state,
// rendered through the same schema as the editor — with what that version changed compared with
// the one before it, attributed to its author.
import * as Y from 'yjs'
import { yXmlFragmentToProseMirrorRootNode } from 'y-prosemirror'
import { DOMSerializer } from 'prosemirror-model'
import { schema, ROOT } from './schema.js'
import { api } from './session.js'
import { h, clear, colorFor, fmtTime } from './dom.js'

const GROUP_MS = 120000
const MAX_PAGES = 20

export async function loadHistory (docId) {
  const events = []
  let after = null
  for (let i = 0; i < MAX_PAGES; i++) {
    const q = new URLSearchParams({ limit: '1000' })
    if (after !== null) q.set('after', String(after))
    const page = await api('GET', `/v1/docs/${encodeURIComponent(docId)}/history?${q}`)
    events.push(...page.events)
    if (page.next_after === null || page.next_after === undefined || page.events.length === 0) break
    after = page.next_after
  }
  return events
}

// Consecutive events of one actor close in time form one version (its last offset).
export function groupVersions (events) {
  const versions = []
  for (const ev of events) {
    const t = Date.parse(ev.broker_time)
    const last = versions[versions.length - 1]
    if (last && last.actor === ev.actor && ev.kind === 'UPDATE' && last.kind === 'UPDATE' && t - last.lastTime <= GROUP_MS) {
      last.offset = ev.offset
      last.lastTime = t
      last.events++
      last.size += ev.size
    } else {
      versions.push({ offset: ev.offset, firstOffset: ev.offset, actor: ev.actor, kind: ev.kind, firstTime: t, lastTime: t, events: 1, size: ev.size })
    }
  }
  versions.forEach((v, i) => { v.prevOffset = i > 0 ? versions[i - 1].offset : null })
  return versions
}

async function docAt (docId, offset) {
  const ydoc = new Y.Doc()
  if (offset !== null) {
    const buf = await api('GET', `/v1/docs/${encodeURIComponent(docId)}/state?at=${offset}`)
    Y.applyUpdate(ydoc, new Uint8Array(buf))
  }
  const node = yXmlFragmentToProseMirrorRootNode(ydoc.getXmlFragment(ROOT), schema)
  ydoc.destroy()
  return node
}

// Words and spaces of every block, blocks separated by a newline token.
function tokens (pmDoc) {
  const out = []
  pmDoc.descendants((node) => {
    if (node.isTextblock) {
      if (out.length) out.push('\n')
      out.push(...(node.textContent.match(/\s+|[^\s]+/g) || []))
      return false
    }
    return true
  })
  return out
}

// Longest common subsequence diff of two token lists: [{op: '=', '+', '-', text}].
export function diffTokens (a, b) {
  let pre = 0
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++
  let suf = 0
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++
  const A = a.slice(pre, a.length - suf)
  const B = b.slice(pre, b.length - suf)
  const out = []
  if (pre) out.push({ op: '=', text: a.slice(0, pre).join('') })
  if (A.length * B.length > 4e6) {
    if (A.length) out.push({ op: '-', text: A.join('') })
    if (B.length) out.push({ op: '+', text: B.join('') })
  } else {
    const n = A.length
    const m = B.length
    const L = new Uint32Array((n + 1) * (m + 1))
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        L[i * (m + 1) + j] = A[i] === B[j] ? L[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(L[(i + 1) * (m + 1) + j], L[i * (m + 1) + j + 1])
      }
    }
    let i = 0
    let j = 0
    const push = (op, text) => {
      const last = out[out.length - 1]
      if (last && last.op === op) last.text += text
      else out.push({ op, text })
    }
    while (i < n && j < m) {
      if (A[i] === B[j]) { push('=', A[i]); i++; j++ } else if (L[(i + 1) * (m + 1) + j] >= L[i * (m + 1) + j + 1]) { push('-', A[i]); i++ } else { push('+', B[j]); j++ }
    }
    while (i < n) push('-', A[i++])
    while (j < m) push('+', B[j++])
  }
  if (suf) out.push({ op: '=', text: a.slice(a.length - suf).join('') })
  return out
}

function renderDiff (parts, actor) {
  const color = colorFor(actor)
  const box = h('div', { class: 'diff', 'data-testid': 'version-diff' })
  let changed = false
  for (const p of parts) {
    const lines = p.text.split('\n')
    lines.forEach((line, k) => {
      if (k > 0) box.append(h('br'))
      if (!line) return
      if (p.op === '=') box.append(line)
      else {
        changed = true
        const el = h(p.op === '+' ? 'ins' : 'del', { title: `${p.op === '+' ? 'added' : 'removed'} by ${actor}` }, line)
        el.style.textDecorationColor = color
        if (p.op === '+') el.style.backgroundColor = color + '33'
        box.append(el)
      }
    })
  }
  if (!changed) box.append(h('em', {}, 'no text changes (formatting or structure only)'))
  return box
}

// The history panel: a list of versions; choosing one shows it in `viewer`.
export async function renderHistory (panel, viewer, docId) {
  clear(panel)
  panel.append(h('h2', {}, 'History'), h('p', { class: 'muted' }, 'Loading…'))
  let events
  try {
    events = await loadHistory(docId)
  } catch (e) {
    clear(panel)
    panel.append(h('h2', {}, 'History'), h('p', { class: 'error' }, `Could not load the history: ${e.message}`))
    return
  }
  const versions = groupVersions(events).reverse()
  clear(panel)
  panel.append(h('h2', {}, 'History'), h('p', { class: 'muted' }, `${events.length} events, ${versions.length} versions`))
  const list = h('ol', { class: 'versions', 'data-testid': 'versions' })
  for (const v of versions) {
    const item = h('li', {},
      h('button', {
        type: 'button',
        class: 'version',
        'data-offset': v.offset,
        onclick: () => {
          for (const b of list.querySelectorAll('.version')) b.classList.remove('active')
          item.firstChild.classList.add('active')
          showVersion(viewer, docId, v).catch((e) => { clear(viewer); viewer.append(h('p', { class: 'error' }, e.message)) })
        }
      },
      h('span', { class: 'who' }, h('span', { class: 'dot', style: null }), v.actor),
      h('span', { class: 'when' }, fmtTime(new Date(v.lastTime).toISOString())),
      h('span', { class: 'what muted' }, v.kind === 'UPDATE' ? `${v.events} edit${v.events > 1 ? 's' : ''}, ${v.size} B · v${v.offset}` : `${v.kind.toLowerCase()} · v${v.offset}`)
      ))
    item.querySelector('.dot').style.backgroundColor = colorFor(v.actor)
    list.append(item)
  }
  panel.append(list)
}

async function showVersion (viewer, docId, v) {
  clear(viewer)
  viewer.append(h('p', { class: 'muted' }, 'Loading version…'))
  const [now, before] = await Promise.all([docAt(docId, v.offset), docAt(docId, v.prevOffset)])
  clear(viewer)
  const title = h('div', { class: 'version-title' },
    h('strong', {}, `Version ${v.offset}`), ' — ', h('span', { class: 'who' }, v.actor), ' · ', fmtTime(new Date(v.lastTime).toISOString()))
  const body = h('div', { class: 'ProseMirror version-doc', 'data-testid': 'version-doc', 'data-offset': v.offset })
  body.append(DOMSerializer.fromSchema(schema).serializeFragment(now.content))
  viewer.append(title,
    h('h3', {}, `What ${v.actor} changed`), renderDiff(diffTokens(tokens(before), tokens(now)), v.actor),
    h('h3', {}, 'The document at this version'), body)
}
