// Dashboard state <-> URL query string.  Pure.
//
//   ?site=example.com&period=custom&from=2024-01-01&to=2024-01-31&compare=1
//    &f=is,visit:source,Google&f=is,event:page,/a\,b&metric=pageviews
//    &interval=week&prop=plan&share=TOKEN
//
// A filter is "op,dimension,value[,value...]"; a backslash escapes a comma
// or a backslash inside a part.  The string is then percent-encoded like
// any query value, except that ":", "," and "/" stay readable.

import { PERIOD_KEYS, DEFAULT_PERIOD, parseDate, INTERVALS } from './ranges.js'

export const FILTER_OPS = ['is', 'is_not', 'contains', 'contains_not', 'matches', 'matches_not']
export const GRAPH_METRICS = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate',
  'visit_duration', 'events', 'conversion_rate']
export const DEFAULT_METRIC = 'visitors'

const DIM_RE = /^(?:(?:visit|event):[a-z_]+|event:props:.+)$/

export function validDimension (d) {
  return typeof d === 'string' && DIM_RE.test(d)
}

export function emptyState () {
  return {
    site: '',
    period: DEFAULT_PERIOD,
    from: '',
    to: '',
    compare: false,
    filters: [],
    metric: DEFAULT_METRIC,
    interval: '',
    prop: '',
    share: ''
  }
}

function escPart (s) {
  return String(s).replace(/[\\,]/g, (c) => '\\' + c)
}

export function encodeFilter (f) {
  return [f[0], f[1], ...f[2]].map(escPart).join(',')
}

/** "is,visit:source,Google" -> ["is","visit:source",["Google"]] or null. */
export function decodeFilter (s) {
  const parts = []
  let cur = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c === '\\' && i + 1 < s.length) { cur += s[++i]; continue }
    if (c === ',') { parts.push(cur); cur = ''; continue }
    cur += c
  }
  parts.push(cur)
  if (parts.length < 3) return null
  const [op, dim, ...values] = parts
  if (!FILTER_OPS.includes(op) || !validDimension(dim)) return null
  return [op, dim, values]
}

export function parseState (search) {
  const p = new URLSearchParams(search)
  const st = emptyState()
  st.site = p.get('site') || ''
  st.share = p.get('share') || ''
  const period = p.get('period')
  if (period && PERIOD_KEYS.has(period)) st.period = period
  if (st.period === 'custom') {
    const from = p.get('from') || ''
    const to = p.get('to') || ''
    const a = parseDate(from)
    const b = parseDate(to)
    if (a === null || b === null) {
      st.period = DEFAULT_PERIOD
    } else if (a > b) {
      st.from = to; st.to = from
    } else {
      st.from = from; st.to = to
    }
  }
  st.compare = p.get('compare') === '1' && st.period !== 'all'
  const seen = new Set()
  for (const raw of p.getAll('f')) {
    const f = decodeFilter(raw)
    if (!f || seen.has(f[1])) continue // one filter per dimension
    seen.add(f[1])
    st.filters.push(f)
  }
  const metric = p.get('metric')
  if (metric && GRAPH_METRICS.includes(metric)) st.metric = metric
  const interval = p.get('interval')
  if (interval && INTERVALS.includes(interval)) st.interval = interval
  st.prop = (p.get('prop') || '').slice(0, 300)
  return st
}

function enc (s) {
  return encodeURIComponent(s).replace(/%3A/gi, ':').replace(/%2C/gi, ',').replace(/%2F/gi, '/')
}

export function stateToSearch (st) {
  const out = []
  const add = (k, v) => out.push(k + '=' + enc(v))
  if (st.site) add('site', st.site)
  if (st.period && st.period !== DEFAULT_PERIOD) add('period', st.period)
  if (st.period === 'custom') { add('from', st.from); add('to', st.to) }
  if (st.compare && st.period !== 'all') add('compare', '1')
  for (const f of st.filters) add('f', encodeFilter(f))
  if (st.metric && st.metric !== DEFAULT_METRIC) add('metric', st.metric)
  if (st.interval) add('interval', st.interval)
  if (st.prop) add('prop', st.prop)
  if (st.share) add('share', st.share)
  return out.length ? '?' + out.join('&') : ''
}

export function withState (st, changes) {
  return { ...st, filters: st.filters.map((f) => [f[0], f[1], [...f[2]]]), ...changes }
}

// Dimensions that refine another one: removing the parent filter removes them.
const CHILD_DIMS = {
  'visit:browser': ['visit:browser_version'],
  'visit:os': ['visit:os_version'],
  'visit:source': ['visit:referrer']
}

/** Add ["is", dim, [value]], replacing any filter on the same dimension. */
export function addFilter (st, dim, value) {
  if (!validDimension(dim)) throw new Error('bad dimension ' + dim)
  const filters = st.filters.filter((f) => f[1] !== dim)
  filters.push(['is', dim, [String(value)]])
  return withState(st, { filters })
}

export function removeFilter (st, dim) {
  const drop = new Set([dim, ...(CHILD_DIMS[dim] || [])])
  return withState(st, { filters: st.filters.filter((f) => !drop.has(f[1])) })
}

export function filterFor (st, dim) {
  return st.filters.find((f) => f[1] === dim) || null
}
