// The editor's document schema: ProseMirror's basic schema with lists, without images (a
// collaborator could point them anywhere) and with links limited to http(s) and mailto.
import { Schema } from 'prosemirror-model'
import { schema as basic } from 'prosemirror-schema-basic'
import { addListNodes } from 'prosemirror-schema-list'

const safeHref = (href) => (typeof href === 'string' && /^(https?:|mailto:)/i.test(href) ? href : null)

const marks = basic.spec.marks.update('link', {
  attrs: { href: { default: '' }, title: { default: null } },
  inclusive: false,
  parseDOM: [{ tag: 'a[href]', getAttrs: (dom) => ({ href: dom.getAttribute('href'), title: dom.getAttribute('title') }) }],
  toDOM: (node) => {
    const href = safeHref(node.attrs.href)
    return ['a', href ? { href, title: node.attrs.title, rel: 'noopener noreferrer nofollow', target: '_blank' } : {}, 0]
  }
})

export const schema = new Schema({
  nodes: addListNodes(basic.spec.nodes.remove('image'), 'paragraph block*', 'block'),
  marks
})

// The Yjs root the editor binds (y-prosemirror's default name). The read model renders it as the
// XML string Yjs's XmlFragment.toString() gives; tests compare exactly that string.
export const ROOT = 'prosemirror'
