// Top stats row: value, change against the previous period, click to graph.

import { h, replace, setText } from '../dom.js'
import { METRIC_LABELS, GOAL_LABELS } from '../queries.js'
import { formatMetric, formatChange, formatExact, DASH } from '../format.js'

export function createTopStats ({ onSelect }) {
  const el = h('div', { class: 'topstats', 'data-testid': 'topstats' })
  const errEl = h('div', { class: 'status error', 'data-testid': 'topstats-error', hidden: true })
  const wrap = h('div', {}, el, errEl)
  let cells = {}
  let shape = ''

  function build (metrics, goal) {
    const key = metrics.join(',') + '|' + goal
    if (key === shape) return
    shape = key
    cells = {}
    replace(el, metrics.map((m) => {
      const value = h('span', { class: 'stat-value', 'data-testid': 'stat-value-' + m }, DASH)
      const change = h('span', { class: 'stat-change', 'data-testid': 'stat-change-' + m })
      const prev = h('span', { class: 'stat-prev', 'data-testid': 'stat-prev-' + m })
      cells[m] = { value, change, prev }
      return h('button', {
        type: 'button',
        class: 'stat',
        'aria-pressed': 'false',
        'data-testid': 'stat-' + m,
        on: { click: () => onSelect(m) }
      },
      h('span', { class: 'stat-label' }, (goal && GOAL_LABELS[m]) || METRIC_LABELS[m] || m),
      h('span', { class: 'stat-line' }, value, change),
      prev)
    }))
  }

  /** Build the cells for this metric set (keeping values) and mark the graphed one. */
  let sel = ''
  function select (metrics, selected, goal) {
    sel = selected
    build(metrics, goal)
    mark()
  }

  function mark () {
    for (const b of el.children) {
      const on = b.getAttribute('data-testid') === 'stat-' + sel
      b.classList.toggle('selected', on)
      b.setAttribute('aria-pressed', on ? 'true' : 'false')
    }
  }

  /** totals/prevTotals: {metric: value} or null (null = failed -> "—"). */
  function render ({ metrics, goal, totals, prevTotals, comparing, error }) {
    build(metrics, goal)
    mark()
    el.classList.remove('loading')
    errEl.hidden = !error
    setText(errEl, error ? 'Could not load top stats: ' + error : '')
    for (const m of metrics) {
      const c = cells[m]
      const v = totals ? totals[m] : null
      setText(c.value, formatMetric(m, v))
      c.value.setAttribute('title', typeof v === 'number' ? formatExact(v) : '')
      const ch = comparing && totals && prevTotals ? formatChange(m, v, prevTotals[m]) : null
      setText(c.change, ch ? ch.text : '')
      c.change.className = 'stat-change' + (ch ? (ch.good === null ? ' flat' : ch.good ? ' good' : ' bad') : '')
      setText(c.prev, comparing && prevTotals ? 'vs ' + formatMetric(m, prevTotals[m]) : '')
    }
  }

  function loading () {
    el.classList.add('loading')
  }

  return { el: wrap, render, loading, select }
}
