import { test } from 'node:test'
import assert from 'node:assert/strict'
import { emptyState, withState, addFilter } from '../../dashboard/src/state.js'
import { resolveRange, previousRange } from '../../dashboard/src/ranges.js'
import {
  topStatsQuery, topStatsMetrics, realtimeQuery, graphQuery, graphMetric, PANELS, findTab,
  resolveTab, panelQuery, rowsOf, totalsOf, seriesOf, exportParams
} from '../../dashboard/src/queries.js'

const TODAY = '2024-03-15'
const base = withState(emptyState(), { site: 'example.com', period: '7d' })
const range = resolveRange('7d', TODAY)
const DR = ['2024-03-08', '2024-03-14']

// exact JSON, key order included
function same (actual, expected) {
  assert.equal(JSON.stringify(actual), JSON.stringify(expected))
}

test('top stats query', () => {
  same(topStatsQuery(base, range), {
    site_id: 'example.com',
    metrics: ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration'],
    date_range: DR,
    filters: []
  })
  // previous period: same query, earlier dates
  same(topStatsQuery(base, previousRange(range)).date_range, ['2024-03-01', '2024-03-07'])
  // all time
  same(topStatsQuery(base, resolveRange('all', TODAY)).date_range, 'all')
})

test('top stats metrics depend on filters like Plausible', () => {
  same(topStatsMetrics([['is', 'event:goal', ['Signup']]]), ['visitors', 'events', 'conversion_rate'])
  same(topStatsMetrics([['is', 'event:page', ['/']]]), ['visitors', 'visits', 'pageviews', 'bounce_rate', 'visit_duration'])
  const st = addFilter(base, 'event:goal', 'Signup')
  same(topStatsQuery(st, range), {
    site_id: 'example.com',
    metrics: ['visitors', 'events', 'conversion_rate'],
    date_range: DR,
    filters: [['is', 'event:goal', ['Signup']]]
  })
  // a graph metric that is not on show falls back to the first
  assert.equal(graphMetric(withState(st, { metric: 'bounce_rate' })), 'visitors')
  assert.equal(graphMetric(withState(base, { metric: 'bounce_rate' })), 'bounce_rate')
})

test('current visitors query', () => {
  same(realtimeQuery('example.com'), { site_id: 'example.com', metrics: ['visitors'], date_range: 'realtime', filters: [] })
})

test('graph query', () => {
  const st = addFilter(withState(base, { metric: 'pageviews' }), 'visit:source', 'Google')
  same(graphQuery(st, range, 'day'), {
    site_id: 'example.com',
    metrics: ['pageviews'],
    date_range: DR,
    dimensions: ['time:day'],
    filters: [['is', 'visit:source', ['Google']]],
    include: { time_labels: true }
  })
  same(graphQuery(base, resolveRange('day', TODAY), 'hour').dimensions, ['time:hour'])
})

const EXPECTED_PANELS = {
  sources: {
    channels: ['visit:channel', ['visitors', 'percentage']],
    sources: ['visit:source', ['visitors', 'percentage']],
    referrers: ['visit:referrer', ['visitors']],
    utm_medium: ['visit:utm_medium', ['visitors']],
    utm_source: ['visit:utm_source', ['visitors']],
    utm_campaign: ['visit:utm_campaign', ['visitors']],
    utm_content: ['visit:utm_content', ['visitors']],
    utm_term: ['visit:utm_term', ['visitors']]
  },
  pages: {
    pages: ['event:page', ['visitors', 'pageviews']],
    entry: ['visit:entry_page', ['visitors', 'visits']],
    exit: ['visit:exit_page', ['visitors', 'visits']]
  },
  locations: { countries: ['visit:country_name', ['visitors', 'percentage']] },
  devices: {
    browsers: ['visit:browser', ['visitors', 'percentage']],
    os: ['visit:os', ['visitors', 'percentage']],
    devices: ['visit:device', ['visitors', 'percentage']]
  },
  conversions: {
    goals: ['event:goal', ['visitors', 'events', 'conversion_rate']],
    events: ['event:name', ['visitors', 'events']]
  }
}

test('panel queries: exact v2 JSON for every tab', () => {
  let n = 0
  for (const [panel, tabs] of Object.entries(EXPECTED_PANELS)) {
    for (const [tabKey, [dim, metrics]] of Object.entries(tabs)) {
      const tab = findTab(panel, tabKey)
      assert.equal(tab.key, tabKey)
      same(panelQuery(base, range, resolveTab(tab, base)), {
        site_id: 'example.com',
        metrics,
        date_range: DR,
        dimensions: [dim],
        filters: [],
        order_by: [[metrics[0], 'desc']],
        pagination: { limit: 9, offset: 0 }
      })
      n++
    }
  }
  // every tab but "props" (tested below) is in the table
  assert.equal(n, PANELS.reduce((a, p) => a + p.tabs.length, 0) - 1)
})

test('details: 100 rows per page, offset, total_rows', () => {
  const tab = findTab('pages', 'pages')
  same(panelQuery(base, range, resolveTab(tab, base), { limit: 100, offset: 200, totalRows: true }), {
    site_id: 'example.com',
    metrics: ['visitors', 'pageviews'],
    date_range: DR,
    dimensions: ['event:page'],
    filters: [],
    order_by: [['visitors', 'desc']],
    include: { total_rows: true },
    pagination: { limit: 100, offset: 200 }
  })
})

test('drill-down: browsers -> versions, OS -> versions, sources -> referrers', () => {
  const chrome = addFilter(base, 'visit:browser', 'Chrome')
  const q = panelQuery(chrome, range, resolveTab(findTab('devices', 'browsers'), chrome))
  same(q.dimensions, ['visit:browser_version'])
  same(q.filters, [['is', 'visit:browser', ['Chrome']]])
  const mac = addFilter(base, 'visit:os', 'Mac')
  same(panelQuery(mac, range, resolveTab(findTab('devices', 'os'), mac)).dimensions, ['visit:os_version'])
  const g = addFilter(base, 'visit:source', 'Google')
  same(panelQuery(g, range, resolveTab(findTab('sources', 'sources'), g)).dimensions, ['visit:referrer'])
  // no drill for a negated filter
  const notChrome = withState(base, { filters: [['is_not', 'visit:browser', ['Chrome']]] })
  same(resolveTab(findTab('devices', 'browsers'), notChrome).dim, 'visit:browser')
})

test('custom property breakdown needs a key', () => {
  const tab = findTab('conversions', 'props')
  assert.equal(resolveTab(tab, base), null)
  const st = withState(base, { prop: 'plan' })
  same(panelQuery(st, range, resolveTab(tab, st)), {
    site_id: 'example.com',
    metrics: ['visitors', 'events'],
    date_range: DR,
    dimensions: ['event:props:plan'],
    filters: [],
    order_by: [['visitors', 'desc']],
    pagination: { limit: 9, offset: 0 }
  })
})

test('queries do not share filter arrays with the state', () => {
  const st = addFilter(base, 'visit:source', 'Google')
  const q = topStatsQuery(st, range)
  q.filters[0][2].push('Bing')
  same(st.filters, [['is', 'visit:source', ['Google']]])
})

test('unknown panel/tab lookups', () => {
  assert.equal(findTab('nope', 'x'), null)
  assert.equal(findTab('pages', 'nope').key, 'pages')
})

test('responses -> rows, totals, series', () => {
  const resp = { results: [{ dimensions: ['/a'], metrics: [10, 12] }, { dimensions: [null], metrics: [1, 1] }], meta: {}, query: {} }
  same(rowsOf(resp, ['visitors', 'pageviews']), [
    { label: '/a', values: { visitors: 10, pageviews: 12 } },
    { label: '', values: { visitors: 1, pageviews: 1 } }
  ])
  same(rowsOf({}, ['visitors']), [])
  same(totalsOf({ results: [{ dimensions: [], metrics: [5, 7, 9, 1.5, 40, 65] }] }, ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration']),
    { visitors: 5, visits: 7, pageviews: 9, views_per_visit: 1.5, bounce_rate: 40, visit_duration: 65 })
  same(totalsOf({ results: [] }, ['visitors']), { visitors: null })
  // time labels fill empty buckets with 0
  const g = { results: [{ dimensions: ['2024-03-09'], metrics: [4] }], meta: { time_labels: ['2024-03-08', '2024-03-09', '2024-03-10'] } }
  same(seriesOf(g, null), { labels: ['2024-03-08', '2024-03-09', '2024-03-10'], values: [0, 4, 0] })
  // no meta.time_labels: the client-side labels are used
  same(seriesOf({ results: g.results }, ['2024-03-09', '2024-03-10']), { labels: ['2024-03-09', '2024-03-10'], values: [4, 0] })
  same(seriesOf({ results: [{ dimensions: ['b'], metrics: [2] }, { dimensions: ['a'], metrics: [1] }] }, null), { labels: ['a', 'b'], values: [1, 2] })
})

test('export parameters', () => {
  assert.equal(exportParams(base, range), 'site_id=example.com&date_range=2024-03-08%2C2024-03-14')
  assert.equal(exportParams(base, resolveRange('all', TODAY)), 'site_id=example.com&date_range=all')
  const st = addFilter(base, 'event:page', '/a&b')
  const p = new URLSearchParams(exportParams(st, range))
  same(JSON.parse(p.get('filters')), [['is', 'event:page', ['/a&b']]])
})
