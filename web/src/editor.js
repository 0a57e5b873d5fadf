// The collaborative editor: ProseMirror bound to a Yjs XmlFragment (y-prosemirror), synced by a
// stock y-websocket WebsocketProvider with quire's extension (quire-ext.js: acks, versions,
// resume), persisted offline in IndexedDB (y-indexeddb), with cursors from awareness.
//
// "Saved" means: every local edit was acknowledged durable by a gateway on the current
// connection (the ack is sent only once the event came back through Kafka in order). Edits made
// while disconnected — and whatever IndexedDB held at load — count as unsaved until a connection
// has sent its sync (the client's SyncStep2, a write) and had every write acknowledged.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { IndexeddbPersistence } from 'y-indexeddb'
import { ySyncPlugin, yCursorPlugin, yUndoPlugin, undo, redo } from 'y-prosemirror'
import { EditorState } from 'prosemirror-state'
import { EditorView } from 'prosemirror-view'
import { keymap } from 'prosemirror-keymap'
import { baseKeymap, toggleMark, setBlockType, wrapIn, chainCommands, exitCode } from 'prosemirror-commands'
import { wrapInList, splitListItem, liftListItem, sinkListItem } from 'prosemirror-schema-list'
import { inputRules, wrappingInputRule, textblockTypeInputRule } from 'prosemirror-inputrules'
import { dropCursor } from 'prosemirror-dropcursor'
import { gapCursor } from 'prosemirror-gapcursor'
import { attachQuire } from './quire-ext.js'
import { schema, ROOT } from './schema.js'
import { colorFor, validColor, h } from './dom.js'

const CLOSE_MESSAGES = {
  4400: 'the server refused a malformed message',
  4403: 'your access to this document was removed',
  4404: 'this document was deleted',
  4409: 'an edit carried another user\'s client id',
  4413: 'the document or an edit is too large'
}

function cursorBuilder (user) {
  const color = validColor(user.color)
  const cursor = document.createElement('span')
  cursor.className = 'remote-cursor'
  cursor.style.borderColor = color // CSSOM, allowed by the CSP (no inline style attributes)
  const label = document.createElement('span')
  label.className = 'remote-cursor-label'
  label.style.backgroundColor = color
  label.textContent = String(user.name || 'someone').slice(0, 64)
  cursor.append('\u2060', label, '\u2060')
  return cursor
}

function selectionBuilder (user) {
  return { style: `background-color: ${validColor(user.color)}33`, class: 'remote-selection' }
}

function buildKeymap () {
  const s = schema
  const keys = {
    'Mod-z': undo,
    'Mod-y': redo,
    'Shift-Mod-z': redo,
    'Mod-b': toggleMark(s.marks.strong),
    'Mod-i': toggleMark(s.marks.em),
    'Mod-`': toggleMark(s.marks.code),
    'Shift-Ctrl-0': setBlockType(s.nodes.paragraph),
    'Shift-Ctrl-1': setBlockType(s.nodes.heading, { level: 1 }),
    'Shift-Ctrl-2': setBlockType(s.nodes.heading, { level: 2 }),
    'Shift-Ctrl-8': wrapInList(s.nodes.bullet_list),
    'Shift-Ctrl-9': wrapInList(s.nodes.ordered_list),
    'Ctrl->': wrapIn(s.nodes.blockquote),
    'Shift-Enter': chainCommands(exitCode, (state, dispatch) => {
      if (dispatch) dispatch(state.tr.replaceSelectionWith(s.nodes.hard_break.create()).scrollIntoView())
      return true
    }),
    Enter: splitListItem(s.nodes.list_item),
    'Mod-[': liftListItem(s.nodes.list_item),
    'Mod-]': sinkListItem(s.nodes.list_item)
  }
  return keymap(keys)
}

function buildInputRules () {
  const s = schema
  return inputRules({
    rules: [
      wrappingInputRule(/^\s*>\s$/, s.nodes.blockquote),
      wrappingInputRule(/^(\d+)\.\s$/, s.nodes.ordered_list, (m) => ({ order: +m[1] }),
        (m, node) => node.childCount + node.attrs.order === +m[1]),
      wrappingInputRule(/^\s*([-+*])\s$/, s.nodes.bullet_list),
      textblockTypeInputRule(/^```$/, s.nodes.code_block),
      textblockTypeInputRule(/^(#{1,3})\s$/, s.nodes.heading, (m) => ({ level: m[1].length }))
    ]
  })
}

// The toolbar: each button runs a ProseMirror command; all disabled for viewers.
function buildToolbar (getView) {
  const s = schema
  const items = [
    ['B', 'Bold (Ctrl-B)', toggleMark(s.marks.strong), 'strong'],
    ['I', 'Italic (Ctrl-I)', toggleMark(s.marks.em), 'em'],
    ['</>', 'Code', toggleMark(s.marks.code), 'code'],
    ['¶', 'Paragraph', setBlockType(s.nodes.paragraph)],
    ['H1', 'Heading 1', setBlockType(s.nodes.heading, { level: 1 })],
    ['H2', 'Heading 2', setBlockType(s.nodes.heading, { level: 2 })],
    ['•', 'Bullet list', wrapInList(s.nodes.bullet_list)],
    ['1.', 'Numbered list', wrapInList(s.nodes.ordered_list)],
    ['❝', 'Quote', wrapIn(s.nodes.blockquote)],
    ['↶', 'Undo (Ctrl-Z)', undo],
    ['↷', 'Redo (Ctrl-Y)', redo]
  ]
  const bar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Formatting' })
  for (const [label, title, cmd, cls] of items) {
    bar.append(h('button', {
      type: 'button',
      title,
      class: cls ? 'tb ' + cls : 'tb',
      onmousedown: (e) => {
        e.preventDefault()
        const view = getView()
        if (view && view.editable) { cmd(view.state, view.dispatch, view); view.focus() }
      }
    }, label))
  }
  return bar
}

/**
 * Opens a document in `mount`.
 * @param {object} o
 * @param {HTMLElement} o.mount
 * @param {string} o.docId
 * @param {string} o.user         the logged-in user (IndexedDB is per user and document)
 * @param {string} o.role         owner | editor | viewer
 * @param {string} o.gateway      ws(s)://host:port of the gateway (the provider appends /ws/{doc})
 * @param {string[]} o.gateways   all gateways: after repeated failures the next one is tried
 * @param {(s: object) => void} o.onState    connection + saved state
 * @param {(users: object[]) => void} o.onPresence
 * @param {(why: string) => Promise<true|{message: string}>} o.onAuthLost  check/refresh the session
 *        and access; true to go on connecting, or why not
 */
export async function openEditor ({ mount, docId, user, role, gateway, gateways = [], onState, onPresence, onAuthLost }) {
  const ydoc = new Y.Doc()
  const fragment = ydoc.getXmlFragment(ROOT)
  const idb = new IndexeddbPersistence(`quire:${user}:${docId}`, ydoc)
  const provider = new WebsocketProvider(gateway.replace(/\/+$/, '') + '/ws', docId, ydoc, {
    params: { quire: '1' },
    connect: false,
    disableBc: true,
    maxBackoffTime: 2500
  })
  let canEdit = role !== 'viewer'
  let closedForGood = null // a permanent close: { code, message }
  let unconfirmed = true
  let lastNack = null
  let nackedSinceSaved = false // a write was refused (Kafka did not confirm): say "not saved"
  let denied = 0 // permission-denied answers (a viewer's writes, its sync included)
  let gwIndex = Math.max(0, gateways.indexOf(gateway))

  const state = () => {
    const qs = q
    const confirmed = qs.connected && qs.sent > 0 && qs.acked === qs.sent
    if (confirmed) { unconfirmed = false; nackedSinceSaved = false }
    let connection
    if (closedForGood) connection = 'closed'
    else if (!navigator.onLine) connection = 'offline'
    else if (provider.wsconnected) connection = provider.synced ? 'connected' : 'syncing'
    else if (provider.wsconnecting) connection = 'connecting'
    else connection = 'disconnected'
    let saved
    if (!canEdit) saved = 'readonly'
    else if (!unconfirmed) saved = 'saved'
    else if (qs.connected && !nackedSinceSaved) saved = 'saving'
    else saved = 'unsaved'
    return {
      connection,
      saved,
      version: qs.version,
      sent: qs.sent,
      acked: qs.acked,
      closed: closedForGood,
      nack: lastNack,
      denied,
      gateway: provider.serverUrl
    }
  }
  const emit = () => onState && onState(state())

  const q = attachQuire(provider, {
    onChange: emit,
    onNack: (n) => { lastNack = n; nackedSinceSaved = true; emit() }
  })

  ydoc.on('update', (update, origin) => {
    if (origin !== provider && origin !== idb) { unconfirmed = true; emit() }
  })
  provider.on('status', emit)
  provider.on('sync', emit)
  // A viewer's write is answered with the protocol's permission-denied message.
  const stockAuth = provider.messageHandlers[2]
  provider.messageHandlers[2] = (encoder, decoder, p, emitSynced, type) => {
    denied++
    emit()
    if (stockAuth) stockAuth(encoder, decoder, p, emitSynced, type)
  }

  let lastCheck = 0
  provider.on('connection-close', async (event) => {
    const code = event ? event.code : 0
    if (code >= 4400 && code < 4500 && CLOSE_MESSAGES[code]) {
      closedForGood = { code, message: CLOSE_MESSAGES[code] }
      emit()
      return
    }
    if (code === 4401) {
      // authentication expired or revoked: refresh first, then reconnect
      provider.disconnect()
      const again = onAuthLost ? await onAuthLost('expired').catch(() => false) : false
      if (again === true && !closedForGood) provider.connect()
      else { closedForGood = { code, message: (again && again.message) || 'your session ended' }; emit() }
      return
    }
    // The upgrade itself failing (401/404 answers, a gateway down) looks like 1006 before open.
    if (!provider.wsconnected && provider.wsUnsuccessfulReconnects >= 1 && navigator.onLine) {
      if (gateways.length > 1) {
        gwIndex = (gwIndex + 1) % gateways.length
        provider.serverUrl = gateways[gwIndex].replace(/\/+$/, '') + '/ws'
      }
      if (Date.now() - lastCheck > 10000 && onAuthLost) {
        lastCheck = Date.now()
        const ok = await onAuthLost('upgrade failed').catch(() => true)
        if (ok !== true) {
          provider.disconnect()
          closedForGood = { code: 0, message: (ok && ok.message) || 'your session ended' }
          emit()
        }
      }
    }
    emit()
  })

  const awareness = provider.awareness
  awareness.setLocalStateField('user', { name: user, color: colorFor(user) })
  const presence = () => {
    const list = []
    awareness.getStates().forEach((st, clientId) => {
      if (st && st.user) list.push({ clientId, name: String(st.user.name || '?').slice(0, 64), color: validColor(st.user.color), self: clientId === ydoc.clientID })
    })
    onPresence && onPresence(list)
  }
  awareness.on('change', presence)

  let view = null
  const toolbar = buildToolbar(() => view)
  const host = h('div', { class: 'editor-host' })
  mount.append(toolbar, host)
  view = new EditorView(host, {
    state: EditorState.create({
      schema,
      plugins: [
        ySyncPlugin(fragment),
        yCursorPlugin(awareness, { cursorBuilder, selectionBuilder }),
        yUndoPlugin(),
        buildInputRules(),
        buildKeymap(),
        keymap(baseKeymap),
        dropCursor(),
        gapCursor()
      ]
    }),
    editable: () => canEdit && !closedForGood
  })
  view.dom.setAttribute('aria-label', 'Document')
  view.dom.dataset.testid = 'editor'
  toolbar.classList.toggle('disabled', !canEdit)

  const onOffline = () => { provider.disconnect(); emit() }
  const onOnline = () => { if (!closedForGood) provider.connect(); emit() }
  addEventListener('offline', onOffline)
  addEventListener('online', onOnline)

  // Local state first (offline edits, fast load), then the network.
  await Promise.race([idb.whenSynced, new Promise((resolve) => setTimeout(resolve, 3000))])
  if (navigator.onLine) provider.connect()
  emit()
  presence()

  const editor = {
    ydoc,
    provider,
    q,
    view,
    fragment,
    idb,
    state,
    xml: () => fragment.toString(),
    setRole (r) {
      canEdit = r !== 'viewer'
      toolbar.classList.toggle('disabled', !canEdit)
      view.setProps({ editable: () => canEdit && !closedForGood })
      emit()
    },
    reconnect () { if (!closedForGood) { provider.disconnect(); provider.connect() } },
    destroy () {
      removeEventListener('offline', onOffline)
      removeEventListener('online', onOnline)
      awareness.off('change', presence)
      view.destroy()
      provider.destroy()
      idb.destroy()
      ydoc.destroy()
    }
  }
  return editor
}
