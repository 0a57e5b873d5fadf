// Sharing: the document's members (GET /v1/docs/{id}/members); owners add people as editor or
// viewer (PUT /v1/docs/{id}/members/{user}), change their role or remove them (DELETE).
import { api } from './session.js'
import { h, clear, colorFor } from './dom.js'

const USER_RE = /^[A-Za-z0-9._@+-]{1,64}$/

export async function renderShare (panel, docId, { role, me }) {
  clear(panel)
  panel.append(h('h2', {}, 'Sharing'))
  const status = h('p', { class: 'muted', 'data-testid': 'share-status' })
  const list = h('ul', { class: 'members', 'data-testid': 'members' })
  panel.append(list, status)
  const base = `/v1/docs/${encodeURIComponent(docId)}/members`
  const reload = async () => {
    let members
    try {
      members = (await api('GET', base)).members
    } catch (e) {
      status.textContent = `Could not load the members: ${e.message}`
      return
    }
    clear(list)
    for (const m of members) {
      const dot = h('span', { class: 'dot' })
      dot.style.backgroundColor = colorFor(m.user)
      const row = h('li', { 'data-user': m.user }, dot, h('span', { class: 'member-name' }, m.user, m.user === me ? ' (you)' : ''))
      if (role === 'owner' && m.role !== 'owner') {
        const sel = h('select', { 'aria-label': `role of ${m.user}` },
          h('option', { value: 'editor', selected: m.role === 'editor' }, 'editor'),
          h('option', { value: 'viewer', selected: m.role === 'viewer' }, 'viewer'))
        sel.addEventListener('change', () => setRole(m.user, sel.value))
        row.append(sel, h('button', { type: 'button', class: 'link', onclick: () => remove(m.user) }, 'remove'))
      } else {
        row.append(h('span', { class: 'role' }, m.role))
      }
      list.append(row)
    }
  }
  const setRole = async (user, r) => {
    status.textContent = 'Saving…'
    try {
      await api('PUT', `${base}/${encodeURIComponent(user)}`, { json: { role: r } })
      status.textContent = `${user} is now ${r === 'editor' ? 'an editor' : 'a viewer'}.`
    } catch (e) {
      status.textContent = `Could not share: ${e.message}`
    }
    await reload()
  }
  const remove = async (user) => {
    status.textContent = 'Removing…'
    try {
      await api('DELETE', `${base}/${encodeURIComponent(user)}`)
      status.textContent = `${user} no longer has access.`
    } catch (e) {
      status.textContent = `Could not remove: ${e.message}`
    }
    await reload()
  }
  if (role === 'owner') {
    const user = h('input', { name: 'user', placeholder: 'user name', required: true, autocomplete: 'off', 'aria-label': 'user to share with' })
    const sel = h('select', { name: 'role', 'aria-label': 'role' }, h('option', { value: 'editor' }, 'editor'), h('option', { value: 'viewer' }, 'viewer'))
    const form = h('form', { class: 'share-form', 'data-testid': 'share-form' }, user, sel, h('button', { type: 'submit' }, 'Share'))
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const u = user.value.trim()
      if (!USER_RE.test(u)) { status.textContent = 'A user name is 1–64 of letters, digits and . _ @ + -'; return }
      user.value = ''
      setRole(u, sel.value)
    })
    panel.insertBefore(form, list)
  } else {
    panel.insertBefore(h('p', { class: 'muted' }, 'Only the owner can share this document.'), list)
  }
  await reload()
}
