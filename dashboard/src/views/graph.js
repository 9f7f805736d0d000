// Main graph (uPlot): the selected metric per hour/day/week/month, with the
// previous period as a dashed line when comparing.

import uPlot from 'uplot'
import { h, replace, setText } from '../dom.js'
import { formatMetric, formatTimeLabel } from '../format.js'
import { METRIC_LABELS } from '../queries.js'

const HEIGHT = 260
const X_INCRS = [1, 2, 3, 4, 6, 7, 12, 14, 24, 28, 30, 48, 60, 72, 96, 120, 168, 336, 365, 730, 1460]
const COUNT_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500]
for (let k = 1e3; k <= 1e12; k *= 10) COUNT_INCRS.push(k, 2 * k, 2.5 * k, 5 * k)
const COUNTS = new Set(['visitors', 'visits', 'pageviews', 'events'])

/** Pad or cut `vals` to n entries (previous periods can differ by a bucket). */
export function alignTo (vals, n) {
  const out = vals.slice(0, n)
  while (out.length < n) out.push(null)
  return out
}

export function createGraph ({ onInterval }) {
  const chartEl = h('div', { class: 'chart', 'data-testid': 'graph' })
  const intervalSel = h('select', { 'aria-label': 'Interval', 'data-testid': 'interval-select', on: { change: () => onInterval(intervalSel.value) } })
  const statusEl = h('div', { class: 'status', 'data-testid': 'graph-status', 'aria-live': 'polite' })
  const titleEl = h('span', { class: 'graph-title', 'data-testid': 'graph-title' })
  const el = h('div', { class: 'graph' },
    h('div', { class: 'graph-top' }, titleEl, h('span', { class: 'spacer' }), intervalSel),
    chartEl, statusEl)
  let plot = null
  let last = null
  let intervalsKey = ''

  function setIntervals (intervals, current) {
    const key = intervals.join(',')
    if (key !== intervalsKey) {
      intervalsKey = key
      const names = { hour: 'Hours', day: 'Days', week: 'Weeks', month: 'Months' }
      replace(intervalSel, intervals.map((i) => h('option', { value: i }, names[i])))
    }
    intervalSel.value = current
  }

  function color (css, name, fallback) {
    return css.getPropertyValue(name).trim() || fallback
  }

  function draw () {
    if (plot) { plot.destroy(); plot = null }
    if (!last) return
    const { labels, values, prevValues, metric, interval } = last
    const css = getComputedStyle(document.documentElement)
    const accent = color(css, '--accent', '#6366f1')
    const muted = color(css, '--muted', '#888')
    const grid = color(css, '--grid', '#ddd')
    const fmtX = (i, long) => (Number.isInteger(i) && labels[i] !== undefined ? formatTimeLabel(labels[i], interval, long) : '')
    const series = [
      { label: interval === 'hour' ? 'Hour' : interval === 'month' ? 'Month' : interval === 'week' ? 'Week' : 'Day', value: (u, i) => (i === null ? '—' : fmtX(i, true)) },
      {
        label: METRIC_LABELS[metric] || metric,
        stroke: accent,
        width: 2,
        fill: color(css, '--accent-fill', 'rgba(99,102,241,0.15)'),
        points: { show: labels.length <= 62, size: 5 },
        value: (u, v) => formatMetric(metric, v)
      }
    ]
    const data = [labels.map((_, i) => i), values]
    if (prevValues) {
      series.push({ label: 'Previous period', stroke: muted, width: 1.5, dash: [6, 4], points: { show: false }, value: (u, v) => formatMetric(metric, v) })
      data.push(alignTo(prevValues, labels.length))
    }
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } }
    plot = new uPlot({
      width: Math.max(240, chartEl.clientWidth || 600),
      height: HEIGHT,
      scales: {
        x: { time: false, range: (u, min, max) => [0, Math.max(1, labels.length - 1)] },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] }
      },
      axes: [
        { ...axis, incrs: X_INCRS, values: (u, splits) => splits.map((i) => fmtX(i, false)) },
        { ...axis, size: 64, incrs: COUNTS.has(metric) ? COUNT_INCRS : undefined, values: (u, splits) => splits.map((v) => formatMetric(metric, v)) }
      ],
      cursor: { drag: { x: false, y: false } },
      series
    }, data, chartEl)
  }

  function render (d) {
    last = d
    setIntervals(d.intervals, d.interval)
    setText(titleEl, METRIC_LABELS[d.metric] || d.metric)
    statusEl.className = 'status'
    setText(statusEl, '')
    draw()
  }

  function loading (d) {
    setIntervals(d.intervals, d.interval)
    setText(titleEl, METRIC_LABELS[d.metric] || d.metric)
    statusEl.className = 'status loading'
    setText(statusEl, 'Loading…')
  }

  function error (msg) {
    last = null
    if (plot) { plot.destroy(); plot = null }
    statusEl.className = 'status error'
    setText(statusEl, 'Could not load the graph: ' + msg)
  }

  let resizeTimer = null
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer)
    resizeTimer = setTimeout(() => { if (plot) plot.setSize({ width: Math.max(240, chartEl.clientWidth), height: HEIGHT }) }, 100)
  })

  return { el, render, loading, error, redraw: draw }
}
