// Breakdown panels (Sources, Pages, Locations, Devices, Goals): tabs, rows
// with a bar proportional to the top row, "Details" with pagination.
// Clicking a row filters the whole dashboard on that value.

import { h, replace, clear, text } from '../dom.js'
import { resolveTab, panelQuery, rowsOf, PANEL_LIMIT, DETAILS_LIMIT, METRIC_LABELS } from '../queries.js'
import { formatMetric, formatExact } from '../format.js'

const COLUMN_LABELS = {
  visitors: 'Visitors',
  visits: 'Visits',
  pageviews: 'Pageviews',
  events: 'Events',
  conversion_rate: 'CR',
  percentage: '%'
}

export function columnLabel (m) {
  return COLUMN_LABELS[m] || METRIC_LABELS[m] || m
}

/** The header line of a list: dimension name + metric columns. */
export function renderHeader (name, metrics) {
  return h('div', { class: 'row head' },
    h('span', { class: 'label' }, name),
    metrics.map((m) => h('span', { class: 'val val-' + m }, columnLabel(m))))
}

/**
 * Render rows into `list` (appending).  Labels go in as text nodes.
 * opts: {metrics, dim, panel, max, onPick(dim, label)}
 */
export function renderRows (list, rows, opts) {
  const m0 = opts.metrics[0]
  const max = opts.max || Math.max(1, ...rows.map((r) => (typeof r.values[m0] === 'number' ? r.values[m0] : 0)))
  for (const r of rows) {
    const v = typeof r.values[m0] === 'number' ? r.values[m0] : 0
    const bar = h('span', { class: 'rowbar', 'aria-hidden': 'true' })
    bar.style.width = Math.max(0, Math.min(100, (v / max) * 100)).toFixed(1) + '%'
    const label = r.label === '' ? '(none)' : r.label
    list.appendChild(h('li', { class: 'row', 'data-testid': 'panel-row', 'data-panel': opts.panel || '' },
      h('button', {
        type: 'button',
        class: 'pick',
        title: 'Filter on ' + label,
        on: { click: () => opts.onPick(opts.dim, r.label) }
      },
      bar,
      h('span', { class: 'label', 'data-testid': 'panel-row-label' }, label)),
      opts.metrics.map((m) => h('span', {
        class: 'val val-' + m,
        'data-testid': 'panel-row-' + m,
        title: typeof r.values[m] === 'number' ? formatExact(r.values[m]) : ''
      }, formatMetric(m, r.values[m])))))
  }
  return max
}

/**
 * One panel.  ctx: {query(body, signal) -> Promise, onPick(dim, value),
 *                   onProp(key), getTab(panelKey), setTab(panelKey, tabKey),
 *                   onError(err) -> bool (true when handled globally)}
 */
export function createPanel (def, ctx) {
  let st = null
  let range = null
  let details = false
  let seq = 0
  let lastKey = null
  let ctrl = null
  let offset = 0
  let max = 0

  const tabsEl = h('div', { class: 'tabs', role: 'tablist' })
  const titleEl = h('h2', { class: 'panel-title' }, def.title)
  const headEl = h('div', { class: 'list-head' })
  const listEl = h('ol', { class: 'rows', 'data-testid': 'panel-rows-' + def.key })
  const statusEl = h('div', { class: 'status', 'data-testid': 'panel-status-' + def.key, 'aria-live': 'polite' })
  const moreEl = h('div', { class: 'more' })
  const detailsBtn = h('button', {
    type: 'button',
    class: 'link',
    'data-testid': 'panel-details-' + def.key,
    on: { click: () => { details = !details; load(true) } }
  }, 'Details')
  const propForm = h('form', { class: 'propform', hidden: true, on: { submit: onPropSubmit } },
    h('label', { for: 'prop-' + def.key }, 'Property'),
    h('input', { id: 'prop-' + def.key, name: 'prop', type: 'text', placeholder: 'e.g. plan', autocomplete: 'off', 'data-testid': 'prop-key-input' }),
    h('button', { type: 'submit', class: 'btn small' }, 'Show'))
  const el = h('section', { class: 'card panel', 'data-testid': 'panel-' + def.key },
    h('div', { class: 'panel-top' }, titleEl, tabsEl),
    propForm, headEl, listEl, statusEl, h('div', { class: 'panel-foot' }, moreEl, detailsBtn))

  function onPropSubmit (ev) {
    ev.preventDefault()
    const v = propForm.elements.prop.value.trim()
    if (v) ctx.onProp(v)
  }

  function currentTab () {
    const key = ctx.getTab(def.key)
    return def.tabs.find((t) => t.key === key) || def.tabs[0]
  }

  function renderTabs () {
    const cur = currentTab()
    replace(tabsEl, def.tabs.length > 1
      ? def.tabs.map((t) => h('button', {
        type: 'button',
        role: 'tab',
        class: 'tab' + (t === cur ? ' active' : ''),
        'aria-selected': t === cur ? 'true' : 'false',
        'data-testid': 'tab-' + def.key + '-' + t.key,
        on: { click: () => { ctx.setTab(def.key, t.key); details = false; load(true) } }
      }, t.label))
      : null)
  }

  function update (newSt, newRange) {
    st = newSt
    range = newRange
    load(false)
  }

  function load (force) {
    renderTabs()
    const tab = currentTab()
    const resolved = resolveTab(tab, st)
    propForm.hidden = !tab.needsProp
    if (tab.needsProp) propForm.elements.prop.value = st.prop || ''
    detailsBtn.textContent = details ? 'Close' : 'Details'
    if (!resolved) {
      lastKey = null
      if (ctrl) ctrl.abort()
      seq++
      clear(headEl); clear(listEl); clear(moreEl)
      statusEl.textContent = 'Enter a custom property key to break down events by it.'
      return
    }
    const q = panelQuery(st, range, resolved, details ? { limit: DETAILS_LIMIT, offset: 0, totalRows: true } : { limit: PANEL_LIMIT })
    const key = JSON.stringify(q)
    if (!force && key === lastKey) return
    lastKey = key
    offset = 0
    max = 0
    replace(headEl, renderHeader(resolved.name, resolved.metrics))
    clear(listEl)
    clear(moreEl)
    el.classList.toggle('expanded', details)
    fetchPage(q, resolved, true)
  }

  function fetchPage (q, resolved, first) {
    if (ctrl) ctrl.abort()
    ctrl = new AbortController()
    const my = ++seq
    statusEl.textContent = 'Loading…'
    statusEl.className = 'status loading'
    ctx.query(q, ctrl.signal).then((resp) => {
      if (my !== seq) return
      const rows = rowsOf(resp, resolved.metrics)
      statusEl.className = 'status'
      statusEl.textContent = first && rows.length === 0 ? 'No data yet' : ''
      max = renderRows(listEl, rows, {
        metrics: resolved.metrics, dim: resolved.dim, panel: def.key, max: first ? 0 : max, onPick: ctx.onPick
      })
      offset = q.pagination.offset + rows.length
      const total = resp && resp.meta && typeof resp.meta.total_rows === 'number' ? resp.meta.total_rows : null
      clear(moreEl)
      if (details) {
        if (total !== null) moreEl.appendChild(text(`${offset} of ${total}`))
        if (rows.length === q.pagination.limit && (total === null || offset < total)) {
          moreEl.appendChild(h('button', {
            type: 'button',
            class: 'link',
            'data-testid': 'panel-more-' + def.key,
            on: { click: () => fetchPage({ ...q, pagination: { limit: q.pagination.limit, offset } }, resolved, false) }
          }, 'Load more'))
        }
      }
    }, (err) => {
      if (my !== seq || (err && err.name === 'AbortError')) return
      lastKey = null
      if (ctx.onError(err)) return
      statusEl.className = 'status error'
      statusEl.textContent = 'Could not load: ' + (err && err.message ? err.message : String(err))
    })
  }

  return { el, update, reload: () => load(true) }
}
