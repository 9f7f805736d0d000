// Date range presets -> concrete day ranges, the previous period, and the
// graph interval.  Pure: every function takes "today" (YYYY-MM-DD in the
// site's time zone) instead of reading the clock, so tests can pin it.
//
// Semantics follow Plausible's query parser and comparisons module:
//   "Nd" (7d, 28d, 30d, 91d) = the N whole days before today, today excluded;
//   month / 6mo / 12mo / year = from the first day of that period to today;
//   lastmonth = the whole previous calendar month;
//   previous period = the same number of days immediately before the range
//   (Plausible's "previous_period" mode: shift back by the range's length).
// Every range but "all" is sent to the API as ["YYYY-MM-DD", "YYYY-MM-DD"].

const DAY_MS = 86400000

export const PRESETS = [
  { key: 'day', label: 'Today', short: 'D' },
  { key: '7d', label: 'Last 7 days', short: 'W' },
  { key: '28d', label: 'Last 28 days', short: 'F' },
  { key: '30d', label: 'Last 30 days', short: 'T' },
  { key: '91d', label: 'Last 91 days', short: 'N' },
  { key: 'month', label: 'Month to date', short: 'M' },
  { key: 'lastmonth', label: 'Last month', short: 'P' },
  { key: '6mo', label: 'Last 6 months', short: 'S' },
  { key: '12mo', label: 'Last 12 months', short: 'L' },
  { key: 'year', label: 'Year to date', short: 'Y' },
  { key: 'all', label: 'All time', short: 'A' },
  { key: 'custom', label: 'Custom range', short: 'C' }
]
export const PERIOD_KEYS = new Set(PRESETS.map((p) => p.key))
export const DEFAULT_PERIOD = '28d'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

export function daysInMonth (y, m) {
  return new Date(Date.UTC(y, m, 0)).getUTCDate()
}

/** 'YYYY-MM-DD' -> days since 1970-01-01, or null when not a real date. */
export function parseDate (s) {
  if (typeof s !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return null
  const y = +s.slice(0, 4)
  const m = +s.slice(5, 7)
  const d = +s.slice(8, 10)
  if (y < 1000 || m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return null
  return Date.UTC(y, m - 1, d) / DAY_MS
}

export function formatDate (n) {
  return new Date(n * DAY_MS).toISOString().slice(0, 10)
}

function ymd (n) {
  const d = new Date(n * DAY_MS)
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()]
}

function dayOf (y, m, d) {
  // Date.UTC normalises month overflow/underflow (m = 0 -> December before)
  return Date.UTC(y, m - 1, d) / DAY_MS
}

export function addDays (s, n) {
  return formatDate(parseDate(s) + n)
}

/** Today's date in a time zone, as YYYY-MM-DD (falls back to UTC). */
export function todayIn (timeZone, now = new Date()) {
  try {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone: timeZone || 'UTC', year: 'numeric', month: '2-digit', day: '2-digit'
    }).formatToParts(now)
    const get = (t) => parts.find((p) => p.type === t).value
    const s = `${get('year')}-${get('month')}-${get('day')}`
    if (parseDate(s) !== null) return s
  } catch (e) { /* unknown zone: use UTC */ }
  return now.toISOString().slice(0, 10)
}

/**
 * Resolve a period to {period, first, last} (YYYY-MM-DD strings, both
 * included).  "all" gives first = last = null.  A custom range with bad or
 * missing dates gives null (the caller falls back to the default).
 */
export function resolveRange (period, today, from, to) {
  const t = parseDate(today)
  if (t === null) throw new Error('resolveRange: bad today ' + today)
  const [y, m] = ymd(t)
  const r = (a, b) => ({ period, first: formatDate(a), last: formatDate(b) })
  switch (period) {
    case 'day': return r(t, t)
    case '7d': return r(t - 7, t - 1)
    case '28d': return r(t - 28, t - 1)
    case '30d': return r(t - 30, t - 1)
    case '91d': return r(t - 91, t - 1)
    case 'month': return r(dayOf(y, m, 1), t)
    case 'lastmonth': return r(dayOf(y, m - 1, 1), dayOf(y, m, 1) - 1)
    case '6mo': return r(dayOf(y, m - 5, 1), t)
    case '12mo': return r(dayOf(y, m - 11, 1), t)
    case 'year': return r(dayOf(y, 1, 1), t)
    case 'all': return { period, first: null, last: null }
    case 'custom': {
      const a = parseDate(from)
      const b = parseDate(to)
      if (a === null || b === null || a > b) return null
      return r(a, b)
    }
    default: return null
  }
}

export function rangeDays (range) {
  if (!range || range.first === null) return null
  return parseDate(range.last) - parseDate(range.first) + 1
}

/** The same number of days immediately before the range; null for "all". */
export function previousRange (range) {
  const n = rangeDays(range)
  if (n === null) return null
  const a = parseDate(range.first)
  return { period: 'previous', first: formatDate(a - n), last: formatDate(a - 1) }
}

/** The v2 "date_range" value for a resolved range. */
export function dateRangeParam (range) {
  return range.first === null ? 'all' : [range.first, range.last]
}

export const INTERVALS = ['hour', 'day', 'week', 'month']

export function validIntervals (range) {
  const n = rangeDays(range)
  if (n === null) return ['week', 'month']
  const out = []
  if (n <= 7) out.push('hour')
  if (n <= 731) out.push('day')
  if (n >= 14) out.push('week')
  if (n >= 32) out.push('month')
  return out
}

export function defaultInterval (range) {
  const n = rangeDays(range)
  if (n === null) return 'month'
  if (n <= 1) return 'hour'
  if (n <= 40) return 'day'
  if (n <= 100) return 'week'
  return 'month'
}

export function chooseInterval (range, wanted) {
  return validIntervals(range).includes(wanted) ? wanted : defaultInterval(range)
}

/**
 * Client-side bucket labels in Plausible's format, used only when the
 * server does not send meta.time_labels: "YYYY-MM-DD HH:00:00" for hours,
 * "YYYY-MM-DD" for days, the first day of each week (Monday; the range's
 * first day for a partial first week) and of each month.
 */
export function timeLabels (range, interval) {
  if (!range || range.first === null) return null
  const a = parseDate(range.first)
  const b = parseDate(range.last)
  const out = []
  if (interval === 'hour') {
    for (let d = a; d <= b; d++) {
      for (let hr = 0; hr < 24; hr++) out.push(`${formatDate(d)} ${String(hr).padStart(2, '0')}:00:00`)
    }
  } else if (interval === 'day') {
    for (let d = a; d <= b; d++) out.push(formatDate(d))
  } else if (interval === 'week') {
    out.push(formatDate(a))
    // 1970-01-01 was a Thursday: Monday <=> (d + 3) % 7 === 0
    for (let d = a + 1; d <= b; d++) if ((d + 3) % 7 === 0) out.push(formatDate(d))
  } else if (interval === 'month') {
    const [y0, m0] = ymd(a)
    for (let k = 0; ; k++) {
      const d = dayOf(y0, m0 + k, 1)
      if (d > b) break
      out.push(formatDate(d))
    }
  }
  return out
}

/** "1 Jan 2024", "1 Jan – 28 Jan 2024", "All time". */
export function describeRange (range) {
  if (!range) return ''
  if (range.first === null) return 'All time'
  const f = (s, withYear) => {
    const [y, m, d] = ymd(parseDate(s))
    return `${d} ${MONTHS[m - 1]}${withYear ? ' ' + y : ''}`
  }
  if (range.first === range.last) return f(range.first, true)
  const sameYear = range.first.slice(0, 4) === range.last.slice(0, 4)
  return `${f(range.first, !sameYear)} – ${f(range.last, true)}`
}

export { MONTHS }
