import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  parseState, stateToSearch, emptyState, withState, addFilter, removeFilter,
  encodeFilter, decodeFilter, filterFor
} from '../../dashboard/src/state.js'

function roundTrip (st) {
  const s = stateToSearch(st)
  const back = parseState(s)
  assert.deepEqual(back, st, s)
  // canonical: a second round gives the same string
  assert.equal(stateToSearch(back), s)
  return s
}

test('default state is an empty query string', () => {
  assert.equal(stateToSearch(emptyState()), '')
  assert.deepEqual(parseState(''), emptyState())
  assert.deepEqual(parseState('?'), emptyState())
})

test('readable URL for the common case', () => {
  const st = withState(emptyState(), { site: 'example.com', period: '7d', compare: true })
  const s = roundTrip(addFilter(st, 'visit:source', 'Google'))
  assert.equal(s, '?site=example.com&period=7d&compare=1&f=is,visit:source,Google')
})

test('filters with special characters survive the round trip', () => {
  const nasty = [
    '/a,b', 'back\\slash', 'trailing\\', ',', '\\,', 'a&b=c', '100% sure', 'plus+sign', 'hash#frag',
    'question?mark', 'space here', 'ünïcødé 日本語 🎉', '<img src=x onerror=alert(1)>', "quote'\"", '',
    'semi;colon', 'new\nline', '%2C', '?f=is,visit:source,Evil'
  ]
  for (const v of nasty) {
    const st = addFilter(withState(emptyState(), { site: 'ex.com' }), 'event:page', v)
    roundTrip(st)
    assert.deepEqual(parseState(stateToSearch(st)).filters, [['is', 'event:page', [v]]], JSON.stringify(v))
  }
})

test('several filters, several values, props dimension with odd key', () => {
  const st = withState(emptyState(), {
    site: 'a.example',
    filters: [
      ['is', 'visit:country_name', ['Germany', 'France, Republic of']],
      ['is_not', 'event:props:plan,tier', ['pro']],
      ['contains', 'event:page', ['/blog/']]
    ]
  })
  roundTrip(st)
})

test('custom ranges round-trip; reversed dates are swapped; bad dates fall back', () => {
  const st = withState(emptyState(), { site: 'x.org', period: 'custom', from: '2024-02-01', to: '2024-02-29' })
  assert.equal(roundTrip(st), '?site=x.org&period=custom&from=2024-02-01&to=2024-02-29')
  const rev = parseState('?period=custom&from=2024-03-01&to=2024-02-01')
  assert.equal(rev.from, '2024-02-01')
  assert.equal(rev.to, '2024-03-01')
  assert.equal(parseState('?period=custom&from=2024-02-30&to=2024-03-01').period, '28d')
  assert.equal(parseState('?period=custom&from=2024-02-01').period, '28d')
  // from/to are ignored for presets
  const p = parseState('?period=7d&from=2024-02-01&to=2024-02-02')
  assert.equal(p.from, '')
  assert.equal(stateToSearch(p), '?period=7d')
})

test('unknown or malformed values are dropped, not trusted', () => {
  const st = parseState('?period=forever&metric=rm%20-rf&interval=minute&compare=yes' +
    '&f=eval,visit:source,x&f=is,visit:Source,x&f=is,nodim&f=is,bogus:thing,x&f=is,visit:source,ok&f=is,visit:source,dupe')
  assert.equal(st.period, '28d')
  assert.equal(st.metric, 'visitors')
  assert.equal(st.interval, '')
  assert.equal(st.compare, false)
  assert.deepEqual(st.filters, [['is', 'visit:source', ['ok']]])
})

test('comparison is off for all time', () => {
  assert.equal(parseState('?period=all&compare=1').compare, false)
  assert.equal(stateToSearch(withState(emptyState(), { period: 'all', compare: true })), '?period=all')
})

test('share token, metric, interval and prop are kept', () => {
  const st = withState(emptyState(), { site: 'x.org', metric: 'bounce_rate', interval: 'week', prop: 'plan type', share: 'tok_EN-123' })
  assert.equal(roundTrip(st), '?site=x.org&metric=bounce_rate&interval=week&prop=plan%20type&share=tok_EN-123')
})

test('percent-encoded input from other tools parses', () => {
  const st = parseState('?site=example.com&f=is%2Cvisit%3Asource%2CDuck%20Duck%20Go&f=is,event:page,%2Fa%5C%2Cb')
  assert.deepEqual(st.filters, [['is', 'visit:source', ['Duck Duck Go']], ['is', 'event:page', ['/a,b']]])
  // "+" in a query string is a space (application/x-www-form-urlencoded)
  assert.deepEqual(parseState('?f=is,visit:source,Duck+Duck').filters, [['is', 'visit:source', ['Duck Duck']]])
})

test('encodeFilter/decodeFilter', () => {
  assert.equal(encodeFilter(['is', 'event:page', ['/a,b\\c']]), 'is,event:page,/a\\,b\\\\c')
  assert.deepEqual(decodeFilter('is,event:page,/a\\,b\\\\c'), ['is', 'event:page', ['/a,b\\c']])
  assert.equal(decodeFilter('is,event:page'), null)
})

test('addFilter replaces a filter on the same dimension; removeFilter drops refinements', () => {
  let st = withState(emptyState(), { site: 's' })
  st = addFilter(st, 'visit:browser', 'Firefox')
  st = addFilter(st, 'visit:browser', 'Chrome')
  st = addFilter(st, 'visit:browser_version', '120.0')
  st = addFilter(st, 'event:page', '/')
  assert.deepEqual(st.filters, [['is', 'visit:browser', ['Chrome']], ['is', 'visit:browser_version', ['120.0']], ['is', 'event:page', ['/']]])
  assert.deepEqual(filterFor(st, 'event:page'), ['is', 'event:page', ['/']])
  const without = removeFilter(st, 'visit:browser')
  assert.deepEqual(without.filters, [['is', 'event:page', ['/']]])
  // pure: the original is untouched
  assert.equal(st.filters.length, 3)
  assert.throws(() => addFilter(st, 'nope', 'x'))
})
