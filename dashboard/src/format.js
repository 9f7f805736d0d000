// Number, duration, percentage and label formatting.  Pure, locale-free
// (the same output in every browser and in node).

import { MONTHS } from './ranges.js'

export const DASH = '—'

function isNum (n) {
  return typeof n === 'number' && Number.isFinite(n)
}

function trim1 (x) {
  // one decimal, truncated toward zero, "12.0" -> "12"
  const t = Math.trunc(x * 10) / 10
  return (Number.isInteger(t) ? String(t) : t.toFixed(1))
}

/** 999 -> "999", 1234 -> "1.2k", 12345 -> "12.3k", 123456 -> "123k", 1.5e6 -> "1.5M". */
export function formatNumber (n) {
  if (!isNum(n)) return DASH
  const sign = n < 0 ? '-' : ''
  const a = Math.abs(n)
  if (a < 1000) return sign + String(Number.isInteger(a) ? a : Math.round(a * 100) / 100)
  const units = [[1e9, 'B'], [1e6, 'M'], [1e3, 'k']]
  for (const [size, suffix] of units) {
    if (a >= size) {
      const x = a / size
      if (x >= 1000 && suffix !== 'B') continue
      return sign + (x < 100 ? trim1(x) : String(Math.trunc(x))) + suffix
    }
  }
  return sign + String(a)
}

/** Full number with thousands separators, for tooltips: 1234567 -> "1,234,567". */
export function formatExact (n) {
  if (!isNum(n)) return DASH
  const [i, f] = String(Math.abs(n)).split('.')
  return (n < 0 ? '-' : '') + i.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (f ? '.' + f.slice(0, 2) : '')
}

/** Seconds -> "45s", "1m 05s", "1h 02m 03s". */
export function formatDuration (sec) {
  if (!isNum(sec)) return DASH
  let s = Math.max(0, Math.round(sec))
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const m = Math.floor(s / 60)
  s -= m * 60
  const p = (x) => String(x).padStart(2, '0')
  if (h > 0) return `${h}h ${p(m)}m ${p(s)}s`
  if (m > 0) return `${m}m ${p(s)}s`
  return `${s}s`
}

/** 45 -> "45%", 12.345 -> "12.3%", 0.04 -> "0%". */
export function formatPercent (p) {
  if (!isNum(p)) return DASH
  const r = Math.round(p * 10) / 10
  return (Number.isInteger(r) ? String(r) : r.toFixed(1)) + '%'
}

export function formatMetric (metric, v) {
  switch (metric) {
    case 'bounce_rate':
    case 'conversion_rate':
    case 'percentage':
      return formatPercent(v)
    case 'visit_duration':
      return formatDuration(v)
    case 'views_per_visit':
      return isNum(v) ? String(Math.round(v * 100) / 100) : DASH
    default:
      return formatNumber(v)
  }
}

// A rising bounce rate is bad news; everything else the dashboard
// compares is good when it rises.
const LOWER_IS_BETTER = new Set(['bounce_rate'])
// Rates are compared in percentage points, not as relative change.
const POINTS = new Set(['bounce_rate', 'conversion_rate'])

/**
 * Change against the previous period, like Plausible's top stats:
 * relative % for counts, percentage points for rates.
 * -> {text, direction: 'up'|'down'|'flat', good: true|false|null} or null.
 */
export function formatChange (metric, cur, prev) {
  if (!isNum(cur) || !isNum(prev)) return null
  let delta
  let unit
  if (POINTS.has(metric)) {
    delta = Math.round((cur - prev) * 10) / 10
    unit = ' pp'
  } else if (prev === 0) {
    delta = cur > 0 ? 100 : 0
    unit = '%'
  } else {
    delta = Math.round(((cur - prev) / prev) * 100)
    unit = '%'
  }
  if (delta === 0 || Object.is(delta, -0)) return { text: '0' + unit, direction: 'flat', good: null }
  const up = delta > 0
  const good = LOWER_IS_BETTER.has(metric) ? !up : up
  return { text: (up ? '↑ ' : '↓ ') + Math.abs(delta) + unit, direction: up ? 'up' : 'down', good }
}

/** Axis/tooltip label of a time bucket ("2024-01-03", "2024-01-03 13:00:00"). */
export function formatTimeLabel (label, interval, long = false) {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}))?/.exec(String(label))
  if (!m) return String(label)
  const day = `${+m[3]} ${MONTHS[+m[2] - 1]}`
  switch (interval) {
    case 'hour': return long ? `${day} ${m[1]}, ${m[4] || '00'}:${m[5] || '00'}` : `${m[4] || '00'}:${m[5] || '00'}`
    case 'month': return `${MONTHS[+m[2] - 1]} ${m[1]}`
    case 'week': return long ? `Week of ${day} ${m[1]}` : day
    default: return long ? `${day} ${m[1]}` : day
  }
}

/** Human name of a filter chip: ["is","visit:source",["Google","Bing"]] -> "Source is Google or Bing". */
const DIM_NAMES = {
  'visit:source': 'Source',
  'visit:referrer': 'Referrer',
  'visit:channel': 'Channel',
  'visit:utm_medium': 'UTM medium',
  'visit:utm_source': 'UTM source',
  'visit:utm_campaign': 'UTM campaign',
  'visit:utm_content': 'UTM content',
  'visit:utm_term': 'UTM term',
  'event:page': 'Page',
  'visit:entry_page': 'Entry page',
  'visit:exit_page': 'Exit page',
  'visit:country': 'Country',
  'visit:country_name': 'Country',
  'visit:region_name': 'Region',
  'visit:city_name': 'City',
  'visit:browser': 'Browser',
  'visit:browser_version': 'Browser version',
  'visit:os': 'OS',
  'visit:os_version': 'OS version',
  'visit:device': 'Device',
  'event:goal': 'Goal',
  'event:name': 'Event',
  'event:hostname': 'Hostname'
}
const OP_NAMES = {
  is: 'is',
  is_not: 'is not',
  contains: 'contains',
  contains_not: 'does not contain',
  matches: 'matches',
  matches_not: 'does not match'
}

export function dimensionName (dim) {
  if (DIM_NAMES[dim]) return DIM_NAMES[dim]
  if (dim.startsWith('event:props:')) return 'Property ' + dim.slice('event:props:'.length)
  return dim
}

export function describeFilter (f) {
  return `${dimensionName(f[1])} ${OP_NAMES[f[0]] || f[0]} ${f[2].join(' or ')}`
}
