// Delivery queue: batching, retries, storage, sendBeacon (tracker/src/queue.js)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { browser, fakeStorage, settle } from './fake.js'
import { queue } from '../../tracker/src/queue.js'

const API = 'https://stats.example.com/api/event'
const ev = i => ({ n: 'e' + i, u: 'https://example.com/', d: 'example.com', r: null })
const evs = (from, to) => Array.from({ length: to - from }, (_, i) => ev(from + i))
const ids = list => list.map(e => e.n)

test('events wait 200 ms and go out as one POST batch', async t => {
  const b = browser(t)
  const q = queue(API)
  q(ev(0)); q(ev(1)); q(ev(2))
  await b.advance(199)
  assert.equal(b.posts.length, 0)
  assert.deepEqual(ids(b.stored()), ['e0', 'e1', 'e2'], 'waiting events are in localStorage')
  await b.advance(1)
  assert.equal(b.posts.length, 1)
  const [p] = b.posts
  assert.equal(p.url, API)
  assert.equal(p.init.method, 'POST')
  assert.equal(p.init.keepalive, true)
  assert.equal(typeof p.init.body, 'string')
  assert.deepEqual(JSON.parse(p.init.body), [ev(0), ev(1), ev(2)])
  // a string body without headers is sent as text/plain (CORS-safelisted)
  const req = new Request(API, { method: 'POST', body: p.init.body, headers: p.init.headers })
  assert.match(req.headers.get('content-type'), /^text\/plain\b/)
  assert.deepEqual(b.stored(), [])
})

test('10 waiting events are sent at once, at most 10 per batch', async t => {
  const b = browser(t)
  const q = queue(API)
  for (const e of evs(0, 9)) q(e)
  await settle()
  assert.equal(b.posts.length, 0)
  q(ev(9))
  await settle()
  assert.equal(b.posts.length, 1, 'the 10th event flushes without waiting')
  assert.deepEqual(ids(b.posts[0].events), ids(evs(0, 10)))
  for (const e of evs(10, 25)) q(e)
  await b.advance(0)
  // one batch in flight at a time; after it, 10 waiting -> at once
  assert.deepEqual(b.posts.map(p => p.events.length), [10, 10])
  await b.advance(199)
  assert.equal(b.posts.length, 2, 'the last 5 wait for the 200 ms timer')
  await b.advance(1)
  assert.deepEqual(b.posts.map(p => p.events.length), [10, 10, 5])
  assert.deepEqual(ids(b.events()), ids(evs(0, 25)), 'in order, each once')
})

test('5xx and network errors: kept and retried with growing, jittered, capped backoff', async t => {
  const b = browser(t)
  const random = t.mock.method(Math, 'random', () => 0)
  b.respond = () => ({ status: 503 })
  const q = queue(API)
  q(ev(0))
  await b.advance(200)
  const waits = []
  for (let i = 0; i < 9; i++) {
    const d = b.delays.at(-1)
    waits.push(d)
    assert.deepEqual(ids(b.stored()), ['e0'], 'the failed event is back in storage')
    await b.advance(d - 1)
    assert.equal(b.posts.length, i + 1, 'no retry before the backoff is over')
    await b.advance(1)
    assert.equal(b.posts.length, i + 2)
  }
  // random() = 0: the lower bound d/2, d = min(60 s, 1 s * 2^(n-1))
  assert.deepEqual(waits, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000])
  // random() -> 1: the upper bound d, never above the 60 s cap
  random.mock.mockImplementation(() => 0.999999)
  await b.advance(b.delays.at(-1))
  assert.ok(b.delays.at(-1) <= 60000 && b.delays.at(-1) > 59990, `upper bound ${b.delays.at(-1)}`)
  // jitter: the delays of one attempt spread over [d/2, d]
  random.mock.mockImplementation(() => 0.5)
  await b.advance(b.delays.at(-1))
  assert.equal(b.delays.at(-1), 45000)
  // the network comes back: delivered once, storage empty
  b.respond = () => new TypeError('Failed to fetch')
  await b.advance(b.delays.at(-1))
  assert.deepEqual(ids(b.stored()), ['e0'], 'kept after a network error too')
  b.respond = () => ({ status: 202 })
  await b.advance(b.delays.at(-1))
  assert.deepEqual(b.stored(), [])
  const n = b.posts.length
  await b.advance(120000)
  assert.equal(b.posts.length, n, 'nothing more to send')
  assert.ok(b.posts.every(p => p.events.length === 1 && p.events[0].n === 'e0'))
})

test('backoff restarts after a success; no new batch while backing off', async t => {
  const b = browser(t)
  t.mock.method(Math, 'random', () => 0)
  let fail = 2
  b.respond = () => fail-- > 0 ? { status: 500 } : { status: 202 }
  const q = queue(API)
  q(ev(0))
  await b.advance(200)
  for (const e of evs(1, 15)) q(e)
  await settle()
  assert.equal(b.posts.length, 1, '10 waiting do not skip the backoff')
  await b.advance(500)
  assert.equal(b.posts.length, 2)
  await b.advance(1000)
  assert.equal(b.posts.length, 3)
  assert.deepEqual(ids(b.posts[2].events), ids(evs(0, 10)), 'the failed event stays first')
  await b.advance(200)
  assert.deepEqual(ids(b.posts.slice(2).flatMap(p => p.events)), ids(evs(0, 15)), 'all delivered once, in order')
  b.respond = () => ({ status: 500 })
  q(ev(15))
  await b.advance(200)
  assert.equal(b.delays.at(-1), 500, 'the next failure starts at 1 s again')
})

test('Retry-After (seconds) is honoured', async t => {
  const b = browser(t)
  let first = true
  b.respond = () => first ? (first = false, { status: 503, headers: { 'Retry-After': '7' } }) : { status: 202 }
  const q = queue(API)
  q(ev(0))
  await b.advance(200)
  assert.equal(b.delays.at(-1), 7000)
  await b.advance(6999)
  assert.equal(b.posts.length, 1)
  await b.advance(1)
  assert.equal(b.posts.length, 2)
  assert.deepEqual(b.stored(), [])
})

test('4xx: dropped, counted, never retried; the queue goes on', async t => {
  const b = browser(t)
  b.respond = call => call.events[0].n === 'e0' ? { status: 400 } : { status: 202 }
  const q = queue(API)
  q(ev(0)); q(ev(1))
  await b.advance(200)
  assert.equal(b.posts.length, 1)
  assert.deepEqual(b.stored(), [])
  assert.equal(b.storage.tally_dropped, '2')
  await b.advance(600000)
  assert.equal(b.posts.length, 1, 'not retried')
  q(ev(5))
  await b.advance(200)
  assert.equal(b.posts.length, 2)
  assert.deepEqual(ids(b.posts[1].events), ['e5'])
  assert.equal(b.storage.tally_dropped, '2')
})

test('storage keeps at most 100 events, dropping (and counting) the oldest', async t => {
  const b = browser(t)
  b.respond = () => new TypeError('offline')
  const q = queue(API)
  q(ev(0))
  await b.advance(200) // fails: backing off, nothing else is sent
  for (const e of evs(1, 105)) q(e)
  assert.equal(b.stored().length, 100)
  assert.deepEqual(ids(b.stored()), ids(evs(5, 105)), 'the newest 100')
  assert.equal(b.storage.tally_dropped, '5')
})

test('events stored by an earlier page are sent on start; online drains at once', async t => {
  const storage = fakeStorage({ tally_queue: JSON.stringify(evs(0, 3)) })
  const b = browser(t, { storage })
  b.respond = () => new TypeError('offline')
  queue(API)
  await b.advance(200)
  assert.deepEqual(ids(b.posts[0].events), ['e0', 'e1', 'e2'], 'restored from localStorage')
  assert.equal(b.stored().length, 3, 'kept while offline')
  assert.ok(b.delays.at(-1) >= 500)
  b.respond = () => ({ status: 202 })
  b.fire(b.window, 'online')
  await settle()
  assert.equal(b.posts.length, 2, 'online flushes without waiting for the backoff')
  assert.deepEqual(ids(b.posts[1].events), ['e0', 'e1', 'e2'])
  assert.deepEqual(b.stored(), [])
})

test('two tabs sharing localStorage send every event once', async t => {
  const b = browser(t)
  let release
  // tab 1's first batch hangs in flight while tab 2 flushes
  b.respond = () => b.posts.length === 1 ? new Promise(r => { release = () => r({ status: 202 }) }) : { status: 202 }
  const tab1 = queue(API), tab2 = queue(API)
  tab1(ev(0)); tab1(ev(1))
  await b.advance(200)
  assert.equal(b.posts.length, 1)
  assert.deepEqual(b.stored(), [], 'an in-flight batch is not in storage')
  tab2(ev(2)); tab1(ev(3))
  await b.advance(200)
  release()
  await b.advance(1000)
  const sent = ids(b.events()).sort()
  assert.deepEqual(sent, ['e0', 'e1', 'e2', 'e3'])
})

test('pagehide: the rest goes by sendBeacon in chunks of 10, removed only when accepted', async t => {
  const b = browser(t)
  b.respond = () => new Promise(() => {}) // never answers
  const q = queue(API)
  for (const e of evs(0, 10)) q(e) // in flight
  for (const e of evs(10, 33)) q(e)
  let n = 0
  b.beaconOk = () => ++n <= 2
  q()
  assert.deepEqual(b.beacons.map(c => c.events.length), [10, 10])
  assert.equal(b.beacons[0].url, API)
  assert.equal(typeof b.beacons[0].data, 'string')
  assert.deepEqual(ids(b.beacons.flatMap(c => c.events)), ids(evs(10, 30)))
  assert.deepEqual(ids(b.stored()), ids(evs(30, 33)), 'the refused chunk stays stored')
  b.beaconOk = () => false
  q()
  assert.deepEqual(ids(b.stored()), ids(evs(30, 33)))
  b.beaconOk = () => true
  q()
  assert.deepEqual(b.stored(), [])
  assert.deepEqual(ids(b.beacons.flatMap(c => c.events)), ids(evs(10, 33)))
})

test('without localStorage (blocked) events still go out from memory', async t => {
  const b = browser(t, { storageThrows: true })
  const q = queue(API)
  q(ev(0)); q(ev(1))
  await b.advance(200)
  assert.deepEqual(ids(b.events()), ['e0', 'e1'])
})

test('a failing localStorage write falls back to memory', async t => {
  const b = browser(t, { storage: fakeStorage({}, { quota: true }) })
  const q = queue(API)
  q(ev(2)); q(ev(3))
  await b.advance(200)
  assert.deepEqual(ids(b.events()), ['e2', 'e3'])
})
