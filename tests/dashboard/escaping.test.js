import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { installFakeDocument, serialize, Element } from './fakedom.js'

installFakeDocument()
const { h, text, replace, safeHref, setText } = await import('../../dashboard/src/dom.js')
const { renderRows, renderHeader } = await import('../../dashboard/src/views/panels.js')
const { renderChips } = await import('../../dashboard/src/views/filters.js')

const EVIL = '<img src=x onerror=alert(1)>'
const EVIL2 = '"><script>alert(1)</script>&amp;'

function tags (el) {
  return el.all().map((e) => e.tagName)
}

test('h() turns strings into text nodes, never markup', () => {
  const el = h('div', { title: EVIL2, 'data-x': EVIL }, EVIL, 42, null, [EVIL2])
  assert.deepEqual(tags(el), [])
  assert.equal(el.childNodes.length, 3)
  assert.ok(el.childNodes.every((c) => c.nodeType === 3))
  assert.equal(el.textContent, EVIL + '42' + EVIL2)
  const html = serialize(el)
  assert.ok(!html.includes('<img'), html)
  assert.ok(!html.includes('<script'), html)
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'))
})

test('h() refuses event-handler attributes, inline style and html properties', () => {
  assert.throws(() => h('div', { onclick: 'alert(1)' }), /refused/)
  assert.throws(() => h('div', { ONERROR: 'x' }), /refused/)
  assert.throws(() => h('div', { innerHTML: EVIL }), /refused/)
  assert.throws(() => h('div', { style: 'color:red' }), /refused/)
  assert.throws(() => h('iframe', { srcdoc: EVIL }), /refused/)
})

test('safeHref keeps relative and http(s) links only', () => {
  assert.equal(safeHref('javascript:alert(1)'), '#')
  assert.equal(safeHref(' JaVaScRiPt:alert(1)'), '#')
  assert.equal(safeHref('data:text/html,<b>'), '#')
  assert.equal(safeHref('//evil.example/'), '#')
  assert.equal(safeHref('https://example.com/a?b'), 'https://example.com/a?b')
  assert.equal(safeHref('api/v1/export?x=1'), 'api/v1/export?x=1')
  assert.equal(h('a', { href: 'javascript:alert(1)' }).getAttribute('href'), '#')
})

test('a panel row with a malicious page path renders it as text', () => {
  const list = new Element('ol')
  const picked = []
  renderRows(list, [
    { label: EVIL, values: { visitors: 10, pageviews: 12 } },
    { label: EVIL2, values: { visitors: 5, pageviews: 5 } }
  ], { metrics: ['visitors', 'pageviews'], dim: 'event:page', panel: 'pages', onPick: (d, v) => picked.push([d, v]) })
  assert.equal(list.children.length, 2)
  // only the elements the renderer itself creates
  assert.deepEqual([...new Set(tags(list))].sort(), ['BUTTON', 'LI', 'SPAN'])
  const labels = list.byTestId('panel-row-label')
  assert.equal(labels[0].textContent, EVIL)
  assert.equal(labels[1].textContent, EVIL2)
  assert.equal(labels[0].childNodes[0].nodeType, 3)
  const html = serialize(list)
  assert.ok(!/<img|<script/i.test(html), html)
  // values and bars
  assert.equal(list.byTestId('panel-row-visitors')[0].textContent, '10')
  assert.equal(list.byTestId('panel-row-pageviews')[1].textContent, '5')
  const bars = list.all().filter((e) => e.getAttribute('class') === 'rowbar')
  assert.deepEqual(bars.map((b) => b.style.width), ['100.0%', '50.0%'])
  // clicking filters on the raw value
  list.all().filter((e) => e.tagName === 'BUTTON')[0].dispatch('click')
  assert.deepEqual(picked, [['event:page', EVIL]])
})

test('rows: empty label shows "(none)" but filters on the empty string; percentage column', () => {
  const list = new Element('ol')
  const picked = []
  renderRows(list, [{ label: '', values: { visitors: 3, percentage: 37.5 } }],
    { metrics: ['visitors', 'percentage'], dim: 'visit:source', onPick: (d, v) => picked.push(v) })
  assert.equal(list.byTestId('panel-row-label')[0].textContent, '(none)')
  assert.equal(list.byTestId('panel-row-percentage')[0].textContent, '37.5%')
  list.all().find((e) => e.tagName === 'BUTTON').dispatch('click')
  assert.deepEqual(picked, [''])
})

test('panel header and filter chips escape data', () => {
  const head = renderHeader(EVIL, ['visitors'])
  assert.ok(!serialize(head).includes('<img'))
  const box = new Element('div')
  const removed = []
  renderChips(box, [['is', 'event:page', [EVIL]], ['is', 'event:props:' + EVIL2, ['x']]], { onRemove: (d) => removed.push(d), onClear () {} })
  const chips = box.byTestId('filter-chip')
  assert.equal(chips.length, 2)
  assert.equal(chips[0].textContent.startsWith('Page is ' + EVIL), true)
  assert.equal(chips[1].getAttribute('data-dimension'), 'event:props:' + EVIL2)
  assert.ok(!/<img|<script/i.test(serialize(box)))
  box.byTestId('filter-chip-remove')[0].dispatch('click')
  assert.deepEqual(removed, ['event:page'])
  assert.equal(box.byTestId('filter-clear').length, 1)
  renderChips(box, [], { onRemove () {}, onClear () {} })
  assert.equal(box.children.length, 0)
  assert.equal(box.hidden, true)
})

test('replace/setText never parse markup', () => {
  const el = new Element('div')
  replace(el, EVIL, text(EVIL2))
  assert.equal(el.childNodes.length, 2)
  setText(el, EVIL)
  assert.equal(el.childNodes.length, 1)
  assert.equal(el.childNodes[0].nodeType, 3)
})

test('no dashboard source uses an HTML-parsing sink', () => {
  const dir = fileURLToPath(new URL('../../dashboard/src', import.meta.url))
  const files = []
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f)
      if (statSync(p).isDirectory()) walk(p)
      else if (p.endsWith('.js')) files.push(p)
    }
  }
  walk(dir)
  assert.ok(files.length >= 10, 'found the sources')
  const sinks = /\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser|\beval\s*\(|new Function\s*\(|setAttribute\(\s*['"]on/
  for (const f of files) {
    const src = readFileSync(f, 'utf8')
    assert.ok(!sinks.test(src), `${f} uses ${src.match(sinks)}`)
  }
})
