import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  formatNumber, formatExact, formatDuration, formatPercent, formatMetric, formatChange,
  formatTimeLabel, describeFilter, dimensionName
} from '../../dashboard/src/format.js'

test('large numbers', () => {
  const cases = [
    [0, '0'], [7, '7'], [999, '999'], [1000, '1k'], [1234, '1.2k'], [1999, '1.9k'], [9999, '9.9k'],
    [12345, '12.3k'], [99999, '99.9k'], [100000, '100k'], [123456, '123k'], [999999, '999k'],
    [1000000, '1M'], [1500000, '1.5M'], [12345678, '12.3M'], [999999999, '999M'], [2e9, '2B'],
    [-12345, '-12.3k'], [2.345, '2.35']
  ]
  for (const [n, s] of cases) assert.equal(formatNumber(n), s, String(n))
  assert.equal(formatNumber(null), '—')
  assert.equal(formatNumber(NaN), '—')
  assert.equal(formatNumber('12'), '—')
  assert.equal(formatExact(1234567), '1,234,567')
  assert.equal(formatExact(999), '999')
})

test('durations', () => {
  const cases = [[0, '0s'], [45, '45s'], [59.6, '1m 00s'], [65, '1m 05s'], [600, '10m 00s'], [3599, '59m 59s'],
    [3600, '1h 00m 00s'], [3723, '1h 02m 03s'], [90061, '25h 01m 01s'], [-5, '0s']]
  for (const [s, out] of cases) assert.equal(formatDuration(s), out, String(s))
  assert.equal(formatDuration(undefined), '—')
})

test('percentages and bounce rate', () => {
  assert.equal(formatPercent(45), '45%')
  assert.equal(formatPercent(12.345), '12.3%')
  assert.equal(formatPercent(0.04), '0%')
  assert.equal(formatPercent(100), '100%')
  assert.equal(formatMetric('bounce_rate', 62), '62%')
  assert.equal(formatMetric('conversion_rate', 3.14159), '3.1%')
  assert.equal(formatMetric('percentage', 37.5), '37.5%')
  assert.equal(formatMetric('visit_duration', 125), '2m 05s')
  assert.equal(formatMetric('views_per_visit', 2.3456), '2.35')
  assert.equal(formatMetric('views_per_visit', 2), '2')
  assert.equal(formatMetric('visitors', 12345), '12.3k')
  assert.equal(formatMetric('bounce_rate', null), '—')
})

test('change against the previous period', () => {
  assert.deepEqual(formatChange('visitors', 150, 100), { text: '↑ 50%', direction: 'up', good: true })
  assert.deepEqual(formatChange('visitors', 50, 100), { text: '↓ 50%', direction: 'down', good: false })
  assert.deepEqual(formatChange('visitors', 100, 100), { text: '0%', direction: 'flat', good: null })
  assert.deepEqual(formatChange('visitors', 5, 0), { text: '↑ 100%', direction: 'up', good: true })
  assert.deepEqual(formatChange('visitors', 0, 0), { text: '0%', direction: 'flat', good: null })
  // bounce rate: percentage points, and up is bad
  assert.deepEqual(formatChange('bounce_rate', 45, 40), { text: '↑ 5 pp', direction: 'up', good: false })
  assert.deepEqual(formatChange('bounce_rate', 38.5, 40), { text: '↓ 1.5 pp', direction: 'down', good: true })
  assert.deepEqual(formatChange('visit_duration', 90, 60), { text: '↑ 50%', direction: 'up', good: true })
  assert.equal(formatChange('visitors', null, 3), null)
  assert.equal(formatChange('visitors', 3, undefined), null)
})

test('time labels', () => {
  assert.equal(formatTimeLabel('2024-03-05', 'day'), '5 Mar')
  assert.equal(formatTimeLabel('2024-03-05', 'day', true), '5 Mar 2024')
  assert.equal(formatTimeLabel('2024-03-05 13:00:00', 'hour'), '13:00')
  assert.equal(formatTimeLabel('2024-03-05 13:00:00', 'hour', true), '5 Mar 2024, 13:00')
  assert.equal(formatTimeLabel('2024-03-04', 'week', true), 'Week of 4 Mar 2024')
  assert.equal(formatTimeLabel('2024-03-01', 'month'), 'Mar 2024')
  assert.equal(formatTimeLabel('garbage', 'day'), 'garbage')
})

test('filter descriptions', () => {
  assert.equal(describeFilter(['is', 'visit:source', ['Google', 'Bing']]), 'Source is Google or Bing')
  assert.equal(describeFilter(['is_not', 'event:page', ['/']]), 'Page is not /')
  assert.equal(describeFilter(['is', 'event:props:plan', ['pro']]), 'Property plan is pro')
  assert.equal(dimensionName('visit:something_new'), 'visit:something_new')
})
