// A minimal DOM for node tests: enough for dashboard/src/dom.js and the
// row/chip renderers.  Assigning innerHTML/outerHTML throws, and
// serialize() escapes text the way a browser would, so a test can tell
// markup created by the code from text that merely looks like markup.

class Node {
  constructor () { this.parentNode = null; this.childNodes = [] }
  get firstChild () { return this.childNodes[0] || null }
  appendChild (c) {
    if (c.parentNode) c.parentNode.removeChild(c)
    c.parentNode = this
    this.childNodes.push(c)
    return c
  }
  removeChild (c) {
    const i = this.childNodes.indexOf(c)
    if (i < 0) throw new Error('not a child')
    this.childNodes.splice(i, 1)
    c.parentNode = null
    return c
  }
  get textContent () { return this.childNodes.map((c) => c.textContent).join('') }
  set textContent (s) {
    for (const c of this.childNodes) c.parentNode = null
    this.childNodes = []
    if (s !== '') this.appendChild(new Text(String(s)))
  }
}

export class Text extends Node {
  constructor (data) { super(); this.nodeType = 3; this.data = data }
  get textContent () { return this.data }
  set textContent (s) { this.data = String(s) }
}

export class Element extends Node {
  constructor (tag) {
    super()
    this.nodeType = 1
    this.tagName = tag.toUpperCase()
    this.attributes = new Map()
    this.listeners = {}
    this.style = {}
    const self = this
    this.classList = {
      toggle (c, on) { const s = new Set((self.getAttribute('class') || '').split(' ').filter(Boolean)); (on === undefined ? !s.has(c) : on) ? s.add(c) : s.delete(c); self.setAttribute('class', [...s].join(' ')) },
      add (c) { this.toggle(c, true) },
      remove (c) { this.toggle(c, false) },
      contains (c) { return (self.getAttribute('class') || '').split(' ').includes(c) }
    }
  }
  get children () { return this.childNodes.filter((c) => c.nodeType === 1) }
  setAttribute (k, v) {
    if (/^on/i.test(k)) throw new Error('event handler attribute set: ' + k)
    this.attributes.set(k, String(v))
  }
  getAttribute (k) { return this.attributes.has(k) ? this.attributes.get(k) : null }
  removeAttribute (k) { this.attributes.delete(k) }
  addEventListener (ev, fn) { (this.listeners[ev] ||= []).push(fn) }
  dispatch (ev) { for (const fn of this.listeners[ev] || []) fn({ type: ev, preventDefault () {} }) }
  set innerHTML (s) { throw new Error('innerHTML assigned') }
  set outerHTML (s) { throw new Error('outerHTML assigned') }
  insertAdjacentHTML () { throw new Error('insertAdjacentHTML called') }
  get className () { return this.getAttribute('class') || '' }
  set className (s) { this.setAttribute('class', s) }
  /** all descendant elements, depth first */
  all () {
    const out = []
    const walk = (n) => { for (const c of n.childNodes) if (c.nodeType === 1) { out.push(c); walk(c) } }
    walk(this)
    return out
  }
  byTestId (id) { return this.all().filter((e) => e.getAttribute('data-testid') === id) }
}

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const escAttr = (s) => esc(s).replace(/"/g, '&quot;')

export function serialize (n) {
  if (n.nodeType === 3) return esc(n.data)
  const tag = n.tagName.toLowerCase()
  const attrs = [...n.attributes].map(([k, v]) => ` ${k}="${escAttr(v)}"`).join('')
  return `<${tag}${attrs}>${n.childNodes.map(serialize).join('')}</${tag}>`
}

export function installFakeDocument () {
  const document = {
    createElement: (t) => new Element(t),
    createTextNode: (s) => new Text(String(s)),
    write () { throw new Error('document.write called') }
  }
  globalThis.document = document
  return document
}
