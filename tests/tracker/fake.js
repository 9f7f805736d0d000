// A minimal fake browser for the tracker's node tests: it installs the
// globals the tracker uses (window, document, location, history, navigator,
// localStorage, fetch, setTimeout, clearTimeout, addEventListener, scrollY,
// Date.now) on globalThis and removes them again when the test ends.
//
//   const b = browser(t, { url, attrs, storage, ... })
//   b.init()                 run the tracker (tracker/src/tracker.js init)
//   await b.advance(ms)      move the fake clock, running due timers and the
//                            promise callbacks they cause
//   b.posts                  fetch calls: [{ url, init, events }]
//   b.respond = fn           fn(call) -> {status, headers} | Error | Promise
//   b.beacons                sendBeacon calls: [{ url, events }]
//   b.beaconOk = fn          fn(call) -> boolean (default true)
//   b.events()               every event sent so far (fetch, then beacon)
//   b.fire(target, type, ev) dispatch an event on b.window or b.document
//   b.go(url)                change location without an event (as a
//                            browser does before popstate / hashchange)
//   b.stored()               the events in localStorage.tally_queue
import { setImmediate as realImmediate } from 'node:timers'

const KEYS = ['window', 'document', 'location', 'history', 'navigator', 'localStorage',
  'fetch', 'setTimeout', 'clearTimeout', 'addEventListener', 'scrollY', 'tally']

// every pending promise callback (a few rounds: fetch -> then -> then)
export const settle = async () => { for (let i = 0; i < 5; i++) await new Promise(r => realImmediate(r)) }

// data-* attribute names -> dataset keys, as HTML does
export const dataset = attrs => {
  const d = {}
  for (const [k, v] of Object.entries(attrs)) d[k.slice(5).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = v
  return d
}

// localStorage as the tracker sees it: properties, values become strings;
// quota: throw on writes
export const fakeStorage = (init = {}, opts = {}) => {
  const data = { ...init }
  return new Proxy(data, {
    set (t, k, v) {
      if (opts.quota) throw new Error('QuotaExceededError')
      t[k] = String(v)
      return true
    }
  })
}

const target = () => {
  const ls = {}
  return {
    ls,
    addEventListener (type, fn) { (ls[type] = ls[type] || []).push(fn) },
    dispatch (type, ev = {}) { for (const fn of ls[type] || []) fn({ type, ...ev }) }
  }
}

// the real globals, restored after every test
const saved = KEYS.map(k => [k, Object.getOwnPropertyDescriptor(globalThis, k)])
const realNow = Date.now
const realWarn = console.warn

export const browser = (t, opts = {}) => {

  // clock
  let now = 1_700_000_000_000, seq = 0
  const timers = new Map()
  const delays = []
  const setTimeout = (fn, ms = 0) => {
    delays.push(ms)
    timers.set(++seq, { fn, at: now + Math.max(0, ms), id: seq })
    return seq
  }
  const clearTimeout = id => { timers.delete(id) }
  const advance = async ms => {
    const end = now + ms
    for (;;) {
      await settle()
      const next = [...timers.values()].filter(x => x.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0]
      if (!next) break
      timers.delete(next.id)
      now = next.at
      next.fn()
    }
    now = end
    await settle()
  }

  // location and history
  let url = new URL(opts.url || 'https://example.com/')
  const location = {}
  for (const k of ['href', 'pathname', 'hash', 'hostname', 'host', 'origin', 'protocol', 'search']) {
    Object.defineProperty(location, k, { get: () => url[k], enumerable: true })
  }
  const go = u => { url = new URL(u, url) }
  const history = {
    pushState (s, title, u) { if (u != null) go(u) },
    replaceState (s, title, u) { if (u != null) go(u) }
  }

  // document
  const doc = target()
  const metas = opts.metas || []
  const script = { dataset: dataset(opts.attrs || { 'data-domain': 'example.com' }), src: opts.src || 'https://example.com/tally.js' }
  const document = {
    ...doc,
    hidden: !!opts.hidden,
    referrer: opts.referrer || '',
    currentScript: script,
    documentElement: { clientHeight: 1000, scrollHeight: opts.scrollHeight || 4000 },
    getElementsByName: n => metas.filter(m => m === n).map(name => ({ name }))
  }

  // network
  const posts = [], beacons = []
  const b = {
    posts,
    beacons,
    delays,
    respond: () => ({ status: 202 }),
    beaconOk: () => true,
    now: () => now,
    timers,
    advance,
    go,
    document,
    script,
    warnings: []
  }
  const fetch = (u, init) => {
    const call = { url: u, init, events: JSON.parse(init.body) }
    posts.push(call)
    return Promise.resolve().then(() => b.respond(call)).then(r => {
      if (r instanceof Error) throw r
      const h = Object.fromEntries(Object.entries(r.headers || {}).map(([k, v]) => [k.toLowerCase(), v]))
      return { status: r.status, ok: r.status < 300, headers: { get: k => h[k.toLowerCase()] ?? null } }
    })
  }
  const navigator = {
    doNotTrack: opts.dnt,
    globalPrivacyControl: opts.gpc,
    sendBeacon (u, data) {
      const call = { url: u, data, events: JSON.parse(data) }
      const ok = b.beaconOk(call)
      if (ok) beacons.push(call)
      return ok
    }
  }
  const win = target()
  const storage = opts.storage || fakeStorage()

  const set = (k, v) => Object.defineProperty(globalThis, k, { value: v, writable: true, configurable: true, enumerable: true })
  set('window', globalThis)
  set('document', document)
  set('location', location)
  set('history', history)
  set('navigator', navigator)
  if (opts.storageThrows) {
    Object.defineProperty(globalThis, 'localStorage', { get () { throw new Error('SecurityError') }, configurable: true })
  } else set('localStorage', storage)
  set('fetch', fetch)
  set('setTimeout', setTimeout)
  set('clearTimeout', clearTimeout)
  set('addEventListener', win.addEventListener)
  set('scrollY', 0)
  if (opts.tally) set('tally', opts.tally)
  else delete globalThis.tally
  Date.now = () => now
  console.warn = (...a) => { b.warnings.push(a.join(' ')) }

  t.after(() => {
    for (const [k, d] of saved) {
      if (d) Object.defineProperty(globalThis, k, d)
      else delete globalThis[k]
    }
    Date.now = realNow
    console.warn = realWarn
  })

  Object.assign(b, {
    window: win,
    storage,
    fire: (tg, type, ev) => tg.dispatch(type, ev),
    scroll: y => { globalThis.scrollY = y; win.dispatch('scroll') },
    hide: () => { document.hidden = true; doc.dispatch('visibilitychange') },
    show: () => { document.hidden = false; doc.dispatch('visibilitychange') },
    stored: () => JSON.parse(storage.tally_queue || '[]'),
    events: () => [...posts.flatMap(p => p.events), ...beacons.flatMap(p => p.events)],
    names: () => b.events().map(e => e.n),
    // an <a href> (and a child element inside it) for click tests
    link: href => {
      const u = new URL(href, url)
      const a = { href: u.href, host: u.host, pathname: u.pathname, closest: () => a }
      return { a, child: { closest: () => a } }
    },
    click: el => doc.dispatch('click', { target: el, button: 0 })
  })
  return b
}
