// The tracker against a fake window (tracker/src/tracker.js, glob.js)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { browser, fakeStorage, settle } from './fake.js'
import { init } from '../../tracker/src/tracker.js'
import { glob } from '../../tracker/src/glob.js'

// run the tracker, let the first batch go out, return what was sent
const start = async (t, opts) => {
  const b = browser(t, opts)
  init(b.script)
  await b.advance(200)
  return b
}
const DOMAIN = { 'data-domain': 'example.com' }

test('pageview on load: short keys, no #fragment, referrer, nothing empty', async t => {
  const b = await start(t, { url: 'https://example.com/docs/a?x=1#part', referrer: 'https://search.example/?q=tally' })
  assert.deepEqual(b.events(), [{
    n: 'pageview', u: 'https://example.com/docs/a?x=1', d: 'example.com', r: 'https://search.example/?q=tally'
  }])
  assert.equal(b.posts[0].url, 'https://example.com/api/event')
})

test('referrer is null when empty; domain defaults to the hostname', async t => {
  const b = await start(t, { attrs: {}, url: 'https://shop.example.org/' })
  assert.deepEqual(b.events(), [{ n: 'pageview', u: 'https://shop.example.org/', d: 'shop.example.org', r: null }])
})

test('data-api: default /api/event on the script\'s origin, or as given', async t => {
  const b = await start(t, { src: 'https://cdn.example.net/js/tally.js?v=2' })
  assert.equal(b.posts[0].url, 'https://cdn.example.net/api/event')
  const b2 = browser(t, { attrs: { ...DOMAIN, 'data-api': '/stats/ingest' } })
  init(b2.script)
  await b2.advance(200)
  assert.equal(b2.posts.at(-1).url, '/stats/ingest')
})

test('data-hash: the #fragment is part of url and path; hashchange is a pageview', async t => {
  const b = await start(t, { url: 'https://example.com/app#/home', attrs: { ...DOMAIN, 'data-hash': '' } })
  b.go('#/settings')
  b.fire(b.window, 'hashchange')
  b.go('#/settings')
  b.fire(b.window, 'hashchange')
  await b.advance(200)
  assert.deepEqual(b.events().map(e => [e.n, e.u]), [
    ['pageview', 'https://example.com/app#/home'],
    ['engagement', 'https://example.com/app#/home'],
    ['pageview', 'https://example.com/app#/settings']
  ])
})

test('without data-hash a hash change is not a pageview', async t => {
  const b = await start(t, { url: 'https://example.com/app#a' })
  b.go('#b')
  b.fire(b.window, 'hashchange')
  await b.advance(200)
  assert.deepEqual(b.names(), ['pageview'])
})

test('glob: * within a segment, ** across, optional trailing slash, literal dots', () => {
  const r = glob('/blog/*, /admin/**,/file.html  /exact')
  const yes = ['/blog/a', '/blog/a/', '/blog/', '/admin/x', '/admin/x/y/z', '/file.html', '/exact', '/exact/']
  const no = ['/blog/a/b', '/blog', '/admins', '/fileXhtml', '/exact/more', '/', '/other/blog/a']
  for (const p of yes) assert.ok(r.test(p), p)
  for (const p of no) assert.ok(!r.test(p), p)
  assert.equal(glob(''), null)
  assert.equal(glob(undefined), null)
  assert.equal(glob(' , ,'), null, 'empty entries do not exclude /')
  assert.ok(!glob('/a,,/b').test('/'))
  assert.ok(glob('/*').test('/x') && !glob('/*').test('/x/y'))
})

test('data-exclude: no pageview on matching paths, custom events still go', async t => {
  const b = await start(t, { url: 'https://example.com/admin/users', attrs: { ...DOMAIN, 'data-exclude': '/admin/**, /private/*' } })
  assert.deepEqual(b.events(), [])
  tally('Click')
  history.pushState({}, '', '/private/x')
  history.pushState({}, '', '/public')
  history.pushState({}, '', '/private/x/y')
  await b.advance(200)
  assert.deepEqual(b.events().map(e => [e.n, e.u]), [
    ['Click', 'https://example.com/admin/users'],
    ['pageview', 'https://example.com/public'],
    ['pageview', 'https://example.com/private/x/y']
  ])
})

test('custom events: props, revenue, callback; empty props omitted', async t => {
  const b = await start(t)
  let called = 0
  tally('Signup', { props: { plan: 'pro' }, revenue: { currency: 'EUR', amount: 9.5 }, callback: () => called++ })
  tally('Empty', { props: {} })
  tally('Plain')
  assert.equal(called, 1)
  await b.advance(200)
  assert.deepEqual(b.events().slice(1), [
    { n: 'Signup', u: 'https://example.com/', d: 'example.com', r: null, p: { plan: 'pro' }, $: { currency: 'EUR', amount: 9.5 } },
    { n: 'Empty', u: 'https://example.com/', d: 'example.com', r: null },
    { n: 'Plain', u: 'https://example.com/', d: 'example.com', r: null }
  ])
})

test('calls queued by the snippet before load are replayed in order, after the pageview', async t => {
  // the snippet from the README
  const w = {}
  w.tally = w.tally || function () { (w.tally.q = w.tally.q || []).push(arguments) }
  let cb = 0
  w.tally('First', { props: { a: 1 } })
  w.tally('Second')
  w.tally('Third', { callback: () => cb++ })
  const b = await start(t, { tally: w.tally })
  assert.deepEqual(b.names(), ['pageview', 'First', 'Second', 'Third'])
  assert.deepEqual(b.events()[1].p, { a: 1 })
  assert.equal(cb, 1)
  assert.notEqual(globalThis.tally, w.tally, 'window.tally is the real function now')
})

test('opt-out: localStorage tally_ignore = "true" sends nothing', async t => {
  const storage = fakeStorage({ tally_ignore: 'true' })
  const b = await start(t, { storage })
  let cb = 0
  tally('Signup', { callback: () => cb++ })
  b.hide()
  await b.advance(1000)
  assert.deepEqual(b.events(), [])
  assert.equal(cb, 1, 'the callback still runs')
  assert.equal(b.stored().length, 0)
  // takes effect at once
  const b2 = await start(t)
  localStorage.tally_ignore = 'true'
  tally('After')
  await b2.advance(200)
  assert.deepEqual(b2.names(), ['pageview'])
})

test('data-respect-dnt: nothing with DNT "1" or GPC; DNT ignored without the attribute', async t => {
  const respect = { ...DOMAIN, 'data-respect-dnt': '' }
  assert.deepEqual((await start(t, { attrs: respect, dnt: '1' })).events(), [])
  assert.deepEqual((await start(t, { attrs: respect, gpc: true })).events(), [])
  assert.deepEqual((await start(t, { attrs: respect, dnt: '0', gpc: false })).names(), ['pageview'])
  assert.deepEqual((await start(t, { dnt: '1', gpc: true })).names(), ['pageview'])
})

test('localhost, 127.*, [::1] and file: are ignored with a warning unless data-allow-localhost', async t => {
  for (const url of ['http://localhost:3000/', 'http://127.0.0.1/', 'http://[::1]:8080/', 'file:///home/me/index.html']) {
    const b = await start(t, { url })
    assert.deepEqual(b.events(), [], url)
    assert.match(b.warnings.join(), /localhost/, url)
    const b2 = await start(t, { url, attrs: { ...DOMAIN, 'data-allow-localhost': '' } })
    assert.deepEqual(b2.names(), ['pageview'], url)
  }
  const b = await start(t, { url: 'http://localhost.example.com/' })
  assert.deepEqual(b.names(), ['pageview'], 'only the real localhost')
})

test('SPA: pushState/replaceState/popstate send a pageview when the path changes', async t => {
  const b = await start(t, { url: 'https://example.com/a' })
  history.pushState({}, '', '/b')
  history.pushState({}, '', '/b?tab=2') // same path
  history.replaceState({}, '', '/c')
  history.replaceState({}, '', '/c#x') // same path
  b.go('/a')
  b.fire(b.window, 'popstate')
  await b.advance(200)
  const pageviews = () => b.events().filter(e => e.n === 'pageview').map(e => e.u)
  assert.deepEqual(pageviews(), [
    'https://example.com/a', 'https://example.com/b', 'https://example.com/c', 'https://example.com/a'
  ])
  history.pushState({}, '') // no url: same path
  await b.advance(200)
  assert.equal(pageviews().length, 4)
  assert.equal(location.href, 'https://example.com/a', 'the original pushState still ran')
})

test('engagement: visible ms and max scroll %, once per pageview, non-interactive', async t => {
  const b = await start(t, { url: 'https://example.com/post' })
  await b.advance(4800) // visible 5 s in total
  b.scroll(2000) // (2000 + 1000) / 4000 = 75 %
  b.scroll(500)
  b.hide()
  assert.deepEqual(b.beacons.flatMap(c => c.events), [{
    n: 'engagement', u: 'https://example.com/post', d: 'example.com', r: null, p: { e: 5000, sd: 75 }, i: false
  }], 'sent on hidden, by sendBeacon')
  b.show()
  await b.advance(3000)
  b.hide()
  b.fire(b.window, 'pagehide')
  await b.advance(1000)
  assert.equal(b.names().filter(n => n === 'engagement').length, 1, 'once per pageview')
})

test('engagement: the previous pageview\'s, before the next SPA pageview; none for 0 ms', async t => {
  const b = await start(t, { url: 'https://example.com/one' })
  await b.advance(1000)
  history.pushState({}, '', '/two')
  history.pushState({}, '', '/three') // 0 ms on /two
  await b.advance(200)
  assert.deepEqual(b.events().map(e => [e.n, e.u, e.p && e.p.e]), [
    ['pageview', 'https://example.com/one', undefined],
    ['engagement', 'https://example.com/one', 1200],
    ['pageview', 'https://example.com/two', undefined],
    ['pageview', 'https://example.com/three', undefined]
  ])
})

test('engagement: a page loaded hidden counts only its visible time', async t => {
  const b = await start(t, { hidden: true })
  await b.advance(5000)
  b.hide()
  assert.deepEqual(b.names(), ['pageview'], 'never visible: nothing')
  b.show()
  await b.advance(2000)
  b.fire(b.window, 'pagehide')
  const e = b.events().find(x => x.n === 'engagement')
  assert.equal(e.p.e, 2000)
  assert.equal(e.p.sd, 25)
})

test('engagement follows the opt-out and the exclusions', async t => {
  const b = await start(t, { url: 'https://example.com/admin', attrs: { ...DOMAIN, 'data-exclude': '/admin' } })
  await b.advance(3000)
  b.hide()
  assert.deepEqual(b.events(), [])
})

test('pagehide sends what is queued by sendBeacon', async t => {
  const b = browser(t)
  init(b.script)
  tally('A')
  b.fire(b.window, 'pagehide')
  assert.deepEqual(b.posts, [])
  // no engagement: 0 ms visible
  assert.deepEqual(b.beacons.flatMap(c => c.events).map(e => e.n), ['pageview', 'A'])
  assert.deepEqual(b.stored(), [])
  await b.advance(1000)
  assert.deepEqual(b.posts, [], 'nothing is sent twice')
})

test('data-track-outbound and data-track-files', async t => {
  const b = await start(t, { attrs: { ...DOMAIN, 'data-track-outbound': '', 'data-track-files': '' } })
  b.click(b.link('https://other.example/page?x=1').child)
  b.click(b.link('/local').a)
  b.click(b.link('mailto:me@example.com').a)
  b.click(b.link('/files/report.PDF?dl=1').a)
  b.click(b.link('https://cdn.other.example/app.zip').a)
  b.click({ closest: () => null })
  await b.advance(200)
  assert.deepEqual(b.events().slice(1).map(e => [e.n, e.p]), [
    ['Outbound Link: Click', { url: 'https://other.example/page?x=1' }],
    ['File Download', { url: 'https://example.com/files/report.PDF?dl=1' }],
    ['File Download', { url: 'https://cdn.other.example/app.zip' }]
  ])
})

test('link clicks are not tracked without the attributes', async t => {
  const b = await start(t)
  b.click(b.link('https://other.example/').a)
  b.click(b.link('/a.pdf').a)
  await b.advance(200)
  assert.deepEqual(b.names(), ['pageview'])
  const b2 = await start(t, { attrs: { ...DOMAIN, 'data-track-outbound': '' } })
  b2.click(b2.link('/a.pdf').a)
  b2.click(b2.link('https://x.example/a.pdf').a)
  await b2.advance(200)
  assert.deepEqual(b2.names(), ['pageview', 'Outbound Link: Click'])
})

test('data-track-404: "404" {path} when the page has <meta name="tally-404">', async t => {
  const on = { ...DOMAIN, 'data-track-404': '' }
  const b = await start(t, { url: 'https://example.com/missing?x=1', attrs: on, metas: ['tally-404'] })
  assert.deepEqual(b.events().map(e => [e.n, e.p]), [['pageview', undefined], ['404', { path: '/missing' }]])
  assert.deepEqual((await start(t, { attrs: on })).names(), ['pageview'], 'no meta: no 404')
  assert.deepEqual((await start(t, { metas: ['tally-404'] })).names(), ['pageview'], 'not opted in')
})

test('everything reaches the queue: batches of the tracker are arrays', async t => {
  const b = await start(t)
  for (let i = 0; i < 12; i++) tally('E' + i)
  await settle()
  assert.ok(b.posts.every(p => Array.isArray(JSON.parse(p.init.body)) && p.events.length <= 10))
})
