// Plausible Stats API v2 query bodies for every part of the dashboard.
// Pure: (state, resolved range) -> JSON body for POST api/v2/query.

import { dateRangeParam } from './ranges.js'
import { filterFor } from './state.js'

export const TOP_METRICS = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration']
export const GOAL_METRICS = ['visitors', 'events', 'conversion_rate']

export const METRIC_LABELS = {
  visitors: 'Unique visitors',
  visits: 'Total visits',
  pageviews: 'Total pageviews',
  views_per_visit: 'Views per visit',
  bounce_rate: 'Bounce rate',
  visit_duration: 'Visit duration',
  events: 'Total events',
  conversion_rate: 'Conversion rate',
  percentage: '%'
}
export const GOAL_LABELS = {
  visitors: 'Unique conversions',
  events: 'Total conversions',
  conversion_rate: 'Conversion rate'
}

function hasFilterOn (filters, dim) {
  return filters.some((f) => f[1] === dim)
}

/**
 * Top-stat metrics for a set of filters, as Plausible's dashboard shows
 * them: with a goal filter, conversions; with a page filter, everything
 * but views per visit (Plausible refuses that combination).
 */
export function topStatsMetrics (filters) {
  if (hasFilterOn(filters, 'event:goal')) return GOAL_METRICS.slice()
  if (hasFilterOn(filters, 'event:page')) return TOP_METRICS.filter((m) => m !== 'views_per_visit')
  return TOP_METRICS.slice()
}

export function graphMetric (st) {
  const allowed = topStatsMetrics(st.filters)
  return allowed.includes(st.metric) ? st.metric : allowed[0]
}

function cloneFilters (filters) {
  return filters.map((f) => [f[0], f[1], f[2].slice()])
}

function query (st, range, metrics, extra = {}) {
  const q = { site_id: st.site, metrics, date_range: dateRangeParam(range) }
  if (extra.dimensions) q.dimensions = extra.dimensions
  q.filters = cloneFilters(st.filters)
  if (extra.order_by) q.order_by = extra.order_by
  if (extra.include) q.include = extra.include
  if (extra.pagination) q.pagination = extra.pagination
  return q
}

export function topStatsQuery (st, range) {
  return query(st, range, topStatsMetrics(st.filters))
}

/** Current visitors: Plausible counts the last 5 minutes, unfiltered. */
export function realtimeQuery (site) {
  return { site_id: site, metrics: ['visitors'], date_range: 'realtime', filters: [] }
}

export function graphQuery (st, range, interval) {
  return query(st, range, [graphMetric(st)], {
    dimensions: ['time:' + interval],
    include: { time_labels: true }
  })
}

// Panels and their tabs.  `drill` swaps the dimension once the dashboard is
// filtered on the parent (Browsers -> versions of the filtered browser).
const PCT = ['visitors', 'percentage']
export const PANELS = [
  {
    key: 'sources',
    title: 'Top Sources',
    tabs: [
      { key: 'channels', label: 'Channels', dim: 'visit:channel', metrics: PCT, name: 'Channel' },
      { key: 'sources', label: 'Sources', dim: 'visit:source', metrics: PCT, name: 'Source', drill: { on: 'visit:source', dim: 'visit:referrer', name: 'Referrer' } },
      { key: 'referrers', label: 'Referrers', dim: 'visit:referrer', metrics: ['visitors'], name: 'Referrer' },
      { key: 'utm_medium', label: 'UTM Medium', dim: 'visit:utm_medium', metrics: ['visitors'], name: 'UTM Medium' },
      { key: 'utm_source', label: 'UTM Source', dim: 'visit:utm_source', metrics: ['visitors'], name: 'UTM Source' },
      { key: 'utm_campaign', label: 'UTM Campaign', dim: 'visit:utm_campaign', metrics: ['visitors'], name: 'UTM Campaign' },
      { key: 'utm_content', label: 'UTM Content', dim: 'visit:utm_content', metrics: ['visitors'], name: 'UTM Content' },
      { key: 'utm_term', label: 'UTM Term', dim: 'visit:utm_term', metrics: ['visitors'], name: 'UTM Term' }
    ]
  },
  {
    key: 'pages',
    title: 'Top Pages',
    tabs: [
      { key: 'pages', label: 'Top Pages', dim: 'event:page', metrics: ['visitors', 'pageviews'], name: 'Page' },
      { key: 'entry', label: 'Entry Pages', dim: 'visit:entry_page', metrics: ['visitors', 'visits'], name: 'Entry page' },
      { key: 'exit', label: 'Exit Pages', dim: 'visit:exit_page', metrics: ['visitors', 'visits'], name: 'Exit page' }
    ]
  },
  {
    key: 'locations',
    title: 'Locations',
    tabs: [
      { key: 'countries', label: 'Countries', dim: 'visit:country_name', metrics: PCT, name: 'Country' }
    ]
  },
  {
    key: 'devices',
    title: 'Devices',
    tabs: [
      { key: 'browsers', label: 'Browsers', dim: 'visit:browser', metrics: PCT, name: 'Browser', drill: { on: 'visit:browser', dim: 'visit:browser_version', name: 'Browser version' } },
      { key: 'os', label: 'OS', dim: 'visit:os', metrics: PCT, name: 'Operating system', drill: { on: 'visit:os', dim: 'visit:os_version', name: 'OS version' } },
      { key: 'devices', label: 'Devices', dim: 'visit:device', metrics: PCT, name: 'Device' }
    ]
  },
  {
    key: 'conversions',
    title: 'Goal Conversions',
    tabs: [
      { key: 'goals', label: 'Goals', dim: 'event:goal', metrics: ['visitors', 'events', 'conversion_rate'], name: 'Goal' },
      { key: 'events', label: 'Events', dim: 'event:name', metrics: ['visitors', 'events'], name: 'Event' },
      { key: 'props', label: 'Properties', dim: 'event:props:', metrics: ['visitors', 'events'], name: 'Property', needsProp: true }
    ]
  }
]

export function findTab (panelKey, tabKey) {
  const panel = PANELS.find((p) => p.key === panelKey)
  if (!panel) return null
  return panel.tabs.find((t) => t.key === tabKey) || panel.tabs[0]
}

/**
 * The dimension, metrics and column name a tab queries under the current
 * filters, or null when it cannot query yet (properties without a key).
 */
export function resolveTab (tab, st) {
  if (tab.needsProp) {
    if (!st.prop) return null
    return { dim: 'event:props:' + st.prop, metrics: tab.metrics, name: st.prop }
  }
  if (tab.drill && filterFor(st, tab.drill.on)) {
    const f = filterFor(st, tab.drill.on)
    if (f[0] === 'is') return { dim: tab.drill.dim, metrics: tab.metrics, name: tab.drill.name }
  }
  return { dim: tab.dim, metrics: tab.metrics, name: tab.name }
}

export const PANEL_LIMIT = 9
export const DETAILS_LIMIT = 100

export function panelQuery (st, range, resolved, { limit = PANEL_LIMIT, offset = 0, totalRows = false } = {}) {
  const extra = {
    dimensions: [resolved.dim],
    order_by: [[resolved.metrics[0], 'desc']],
    pagination: { limit, offset }
  }
  if (totalRows) extra.include = { total_rows: true }
  return query(st, range, resolved.metrics.slice(), extra)
}

/** Turn a v2 response into [{label, values: {metric: value}}]. */
export function rowsOf (resp, metrics) {
  const out = []
  for (const r of (resp && Array.isArray(resp.results) ? resp.results : [])) {
    const values = {}
    metrics.forEach((m, i) => { values[m] = Array.isArray(r.metrics) ? r.metrics[i] : null })
    const d = Array.isArray(r.dimensions) ? r.dimensions[0] : null
    out.push({ label: d === null || d === undefined ? '' : String(d), values })
  }
  return out
}

/** Top stats response -> {metric: value}. */
export function totalsOf (resp, metrics) {
  const r = resp && Array.isArray(resp.results) && resp.results[0]
  const out = {}
  metrics.forEach((m, i) => { out[m] = r && Array.isArray(r.metrics) ? r.metrics[i] : null })
  return out
}

/**
 * Graph response -> {labels, values}: one value per time label (0 for
 * buckets with no row).  Labels come from meta.time_labels, else from
 * `fallbackLabels`, else from the rows themselves.
 */
export function seriesOf (resp, fallbackLabels) {
  const byLabel = new Map()
  for (const r of (resp && Array.isArray(resp.results) ? resp.results : [])) {
    if (Array.isArray(r.dimensions) && Array.isArray(r.metrics)) byLabel.set(String(r.dimensions[0]), r.metrics[0])
  }
  let labels = resp && resp.meta && Array.isArray(resp.meta.time_labels) ? resp.meta.time_labels.map(String) : null
  if (!labels) labels = fallbackLabels || [...byLabel.keys()].sort()
  return { labels, values: labels.map((l) => (byLabel.has(l) && typeof byLabel.get(l) === 'number' ? byLabel.get(l) : 0)) }
}

/** Query string for GET api/v1/export. */
export function exportParams (st, range) {
  const p = new URLSearchParams()
  p.set('site_id', st.site)
  const dr = dateRangeParam(range)
  p.set('date_range', Array.isArray(dr) ? dr.join(',') : dr)
  if (st.filters.length) p.set('filters', JSON.stringify(st.filters))
  return p.toString()
}
