import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  resolveRange, previousRange, dateRangeParam, parseDate, formatDate, todayIn, rangeDays,
  defaultInterval, validIntervals, chooseInterval, timeLabels, describeRange, PRESETS
} from '../../dashboard/src/ranges.js'

// [today, preset, first, last, prevFirst, prevLast]; expected values were
// computed independently with Python's datetime (same definitions).
const TABLE = {
  '2024-03-15': [
    ['day', '2024-03-15', '2024-03-15', '2024-03-14', '2024-03-14'],
    ['7d', '2024-03-08', '2024-03-14', '2024-03-01', '2024-03-07'],
    ['28d', '2024-02-16', '2024-03-14', '2024-01-19', '2024-02-15'],
    ['30d', '2024-02-14', '2024-03-14', '2024-01-15', '2024-02-13'],
    ['91d', '2023-12-15', '2024-03-14', '2023-09-15', '2023-12-14'],
    ['month', '2024-03-01', '2024-03-15', '2024-02-15', '2024-02-29'],
    ['lastmonth', '2024-02-01', '2024-02-29', '2024-01-03', '2024-01-31'],
    ['6mo', '2023-10-01', '2024-03-15', '2023-04-17', '2023-09-30'],
    ['12mo', '2023-04-01', '2024-03-15', '2022-04-16', '2023-03-31'],
    ['year', '2024-01-01', '2024-03-15', '2023-10-18', '2023-12-31']
  ],
  '2024-03-01': [ // first of a month after a leap February
    ['day', '2024-03-01', '2024-03-01', '2024-02-29', '2024-02-29'],
    ['7d', '2024-02-23', '2024-02-29', '2024-02-16', '2024-02-22'],
    ['28d', '2024-02-02', '2024-02-29', '2024-01-05', '2024-02-01'],
    ['30d', '2024-01-31', '2024-02-29', '2024-01-01', '2024-01-30'],
    ['91d', '2023-12-01', '2024-02-29', '2023-09-01', '2023-11-30'],
    ['month', '2024-03-01', '2024-03-01', '2024-02-29', '2024-02-29'],
    ['lastmonth', '2024-02-01', '2024-02-29', '2024-01-03', '2024-01-31'],
    ['6mo', '2023-10-01', '2024-03-01', '2023-05-01', '2023-09-30'],
    ['12mo', '2023-04-01', '2024-03-01', '2022-04-30', '2023-03-31'],
    ['year', '2024-01-01', '2024-03-01', '2023-11-01', '2023-12-31']
  ],
  '2023-03-01': [ // ... and after a common-year February
    ['day', '2023-03-01', '2023-03-01', '2023-02-28', '2023-02-28'],
    ['7d', '2023-02-22', '2023-02-28', '2023-02-15', '2023-02-21'],
    ['28d', '2023-02-01', '2023-02-28', '2023-01-04', '2023-01-31'],
    ['30d', '2023-01-30', '2023-02-28', '2022-12-31', '2023-01-29'],
    ['91d', '2022-11-30', '2023-02-28', '2022-08-31', '2022-11-29'],
    ['month', '2023-03-01', '2023-03-01', '2023-02-28', '2023-02-28'],
    ['lastmonth', '2023-02-01', '2023-02-28', '2023-01-04', '2023-01-31'],
    ['6mo', '2022-10-01', '2023-03-01', '2022-05-02', '2022-09-30'],
    ['12mo', '2022-04-01', '2023-03-01', '2021-05-01', '2022-03-31'],
    ['year', '2023-01-01', '2023-03-01', '2022-11-02', '2022-12-31']
  ],
  '2024-02-29': [ // leap day itself
    ['day', '2024-02-29', '2024-02-29', '2024-02-28', '2024-02-28'],
    ['7d', '2024-02-22', '2024-02-28', '2024-02-15', '2024-02-21'],
    ['28d', '2024-02-01', '2024-02-28', '2024-01-04', '2024-01-31'],
    ['30d', '2024-01-30', '2024-02-28', '2023-12-31', '2024-01-29'],
    ['91d', '2023-11-30', '2024-02-28', '2023-08-31', '2023-11-29'],
    ['month', '2024-02-01', '2024-02-29', '2024-01-03', '2024-01-31'],
    ['lastmonth', '2024-01-01', '2024-01-31', '2023-12-01', '2023-12-31'],
    ['6mo', '2023-09-01', '2024-02-29', '2023-03-03', '2023-08-31'],
    ['12mo', '2023-03-01', '2024-02-29', '2022-02-28', '2023-02-28'],
    ['year', '2024-01-01', '2024-02-29', '2023-11-02', '2023-12-31']
  ],
  '2024-01-10': [ // year boundary
    ['day', '2024-01-10', '2024-01-10', '2024-01-09', '2024-01-09'],
    ['7d', '2024-01-03', '2024-01-09', '2023-12-27', '2024-01-02'],
    ['28d', '2023-12-13', '2024-01-09', '2023-11-15', '2023-12-12'],
    ['30d', '2023-12-11', '2024-01-09', '2023-11-11', '2023-12-10'],
    ['91d', '2023-10-11', '2024-01-09', '2023-07-12', '2023-10-10'],
    ['month', '2024-01-01', '2024-01-10', '2023-12-22', '2023-12-31'],
    ['lastmonth', '2023-12-01', '2023-12-31', '2023-10-31', '2023-11-30'],
    ['6mo', '2023-08-01', '2024-01-10', '2023-02-19', '2023-07-31'],
    ['12mo', '2023-02-01', '2024-01-10', '2022-02-22', '2023-01-31'],
    ['year', '2024-01-01', '2024-01-10', '2023-12-22', '2023-12-31']
  ]
}

for (const [today, rows] of Object.entries(TABLE)) {
  test(`every preset and its previous period, today = ${today}`, () => {
    const covered = new Set()
    for (const [period, first, last, pFirst, pLast] of rows) {
      const r = resolveRange(period, today)
      assert.deepEqual(r, { period, first, last }, period)
      assert.deepEqual(dateRangeParam(r), [first, last])
      const p = previousRange(r)
      assert.deepEqual([p.first, p.last], [pFirst, pLast], period + ' previous')
      assert.equal(rangeDays(p), rangeDays(r))
      covered.add(period)
    }
    // all presets but "all" and "custom" are in the table
    for (const p of PRESETS) if (p.key !== 'all' && p.key !== 'custom') assert.ok(covered.has(p.key), p.key)
  })
}

test('all time: "all", no previous period', () => {
  const r = resolveRange('all', '2024-03-15')
  assert.equal(dateRangeParam(r), 'all')
  assert.equal(previousRange(r), null)
  assert.equal(defaultInterval(r), 'month')
  assert.deepEqual(validIntervals(r), ['week', 'month'])
})

test('custom ranges and their previous period', () => {
  const r = resolveRange('custom', '2024-03-15', '2024-02-01', '2024-02-29')
  assert.deepEqual(dateRangeParam(r), ['2024-02-01', '2024-02-29'])
  assert.deepEqual(previousRange(r), { period: 'previous', first: '2024-01-03', last: '2024-01-31' })
  const y = resolveRange('custom', '2024-03-15', '2023-12-25', '2024-01-05')
  assert.deepEqual(previousRange(y), { period: 'previous', first: '2023-12-13', last: '2023-12-24' })
  const one = resolveRange('custom', '2024-03-15', '2024-03-01', '2024-03-01')
  assert.deepEqual(previousRange(one), { period: 'previous', first: '2024-02-29', last: '2024-02-29' })
  assert.equal(resolveRange('custom', '2024-03-15', '2024-02-30', '2024-03-01'), null)
  assert.equal(resolveRange('custom', '2024-03-15', '2024-03-02', '2024-03-01'), null)
  assert.equal(resolveRange('custom', '2024-03-15', '', ''), null)
  assert.equal(resolveRange('bogus', '2024-03-15'), null)
})

test('previous period is adjacent and equally long for many random ranges', () => {
  let seed = 42
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
  for (let i = 0; i < 500; i++) {
    const a = parseDate('2019-01-01') + rnd(2500)
    const b = a + rnd(400)
    const r = resolveRange('custom', '2030-01-01', formatDate(a), formatDate(b))
    const p = previousRange(r)
    assert.equal(parseDate(p.last), a - 1)
    assert.equal(rangeDays(p), b - a + 1)
  }
})

test('parseDate/formatDate: strict, leap years', () => {
  assert.equal(parseDate('2024-02-29') !== null, true)
  assert.equal(parseDate('2023-02-29'), null)
  assert.equal(parseDate('1900-02-29'), null)
  assert.equal(parseDate('2000-02-29') !== null, true)
  assert.equal(parseDate('2024-13-01'), null)
  assert.equal(parseDate('2024-1-01'), null)
  assert.equal(parseDate('2024-01-01T00:00'), null)
  assert.equal(parseDate(null), null)
  assert.equal(formatDate(parseDate('1999-12-31') + 1), '2000-01-01')
})

test('todayIn follows the site time zone', () => {
  const now = new Date('2024-03-15T23:30:00Z')
  assert.equal(todayIn('UTC', now), '2024-03-15')
  assert.equal(todayIn('Europe/Berlin', now), '2024-03-16')
  assert.equal(todayIn('America/New_York', now), '2024-03-15')
  assert.equal(todayIn('Pacific/Kiritimati', new Date('2024-12-31T10:30:00Z')), '2025-01-01')
  assert.equal(todayIn('Not/AZone', now), '2024-03-15')
  assert.equal(todayIn('', now), '2024-03-15')
})

test('graph interval chosen by range length; invalid wishes fall back', () => {
  const today = '2024-03-15'
  assert.equal(defaultInterval(resolveRange('day', today)), 'hour')
  assert.equal(defaultInterval(resolveRange('7d', today)), 'day')
  assert.equal(defaultInterval(resolveRange('30d', today)), 'day')
  assert.equal(defaultInterval(resolveRange('91d', today)), 'week')
  assert.equal(defaultInterval(resolveRange('12mo', today)), 'month')
  assert.deepEqual(validIntervals(resolveRange('day', today)), ['hour', 'day'])
  assert.deepEqual(validIntervals(resolveRange('91d', today)), ['day', 'week', 'month'])
  assert.equal(chooseInterval(resolveRange('12mo', today), 'hour'), 'month')
  assert.equal(chooseInterval(resolveRange('12mo', today), 'week'), 'week')
})

test('fallback time labels in Plausible formats', () => {
  const d = timeLabels({ first: '2024-02-27', last: '2024-03-02' }, 'day')
  assert.deepEqual(d, ['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01', '2024-03-02'])
  const hr = timeLabels({ first: '2024-03-15', last: '2024-03-15' }, 'hour')
  assert.equal(hr.length, 24)
  assert.equal(hr[0], '2024-03-15 00:00:00')
  assert.equal(hr[23], '2024-03-15 23:00:00')
  // 2024-03-06 is a Wednesday; Mondays are 11th and 18th
  assert.deepEqual(timeLabels({ first: '2024-03-06', last: '2024-03-20' }, 'week'), ['2024-03-06', '2024-03-11', '2024-03-18'])
  assert.deepEqual(timeLabels({ first: '2023-11-15', last: '2024-02-01' }, 'month'), ['2023-11-01', '2023-12-01', '2024-01-01', '2024-02-01'])
  assert.equal(timeLabels({ first: null, last: null }, 'month'), null)
})

test('describeRange', () => {
  assert.equal(describeRange({ first: '2024-03-01', last: '2024-03-15' }), '1 Mar – 15 Mar 2024')
  assert.equal(describeRange({ first: '2023-12-25', last: '2024-01-05' }), '25 Dec 2023 – 5 Jan 2024')
  assert.equal(describeRange({ first: '2024-03-15', last: '2024-03-15' }), '15 Mar 2024')
  assert.equal(describeRange({ first: null, last: null }), 'All time')
})
