// Tiny element helpers.  Data only ever reaches the page as text nodes or
// attribute values set through setAttribute; nothing here parses markup.
// (tests/dashboard/escaping.test.js also checks that no dashboard source
// uses any of the DOM's HTML-parsing sinks.)

const PROPS = new Set(['value', 'checked', 'disabled', 'selected'])

function doc () {
  return globalThis.document
}

/** Only relative URLs and http(s) survive; anything else becomes "#". */
export function safeHref (url) {
  const s = String(url).trim()
  if (/^[a-z][a-z0-9+.-]*:/i.test(s)) return /^https?:/i.test(s) ? s : '#'
  if (s.startsWith('//')) return '#'
  return s
}

export function text (s) {
  return doc().createTextNode(s === null || s === undefined ? '' : String(s))
}

export function append (el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else if (typeof c === 'object') el.appendChild(c)
    else el.appendChild(text(c))
  }
  return el
}

/**
 * h('div', {class: 'x', 'data-testid': 'y', on: {click: fn}}, 'text', child)
 * Strings and numbers become text nodes.  Event handler attributes,
 * innerHTML-like keys and inline styles are refused.
 */
export function h (tag, attrs, ...children) {
  const el = doc().createElement(tag)
  if (attrs) {
    for (const k of Object.keys(attrs)) {
      const v = attrs[k]
      if (v === null || v === undefined || v === false) continue
      if (k === 'on') {
        for (const ev of Object.keys(v)) el.addEventListener(ev, v[ev])
      } else if (PROPS.has(k)) {
        el[k] = v
      } else if (/^on/i.test(k) || /html/i.test(k) || k === 'style' || k === 'srcdoc') {
        throw new Error('dom.h: refused attribute ' + k)
      } else if (k === 'href' || k === 'src' || k === 'action') {
        el.setAttribute(k, safeHref(v))
      } else {
        el.setAttribute(k === 'className' ? 'class' : k, v === true ? '' : String(v))
      }
    }
  }
  return append(el, children)
}

export function clear (el) {
  while (el.firstChild) el.removeChild(el.firstChild)
  return el
}

/** Replace the children of `el`. */
export function replace (el, ...children) {
  return append(clear(el), children)
}

export function setText (el, s) {
  el.textContent = s === null || s === undefined ? '' : String(s)
  return el
}
