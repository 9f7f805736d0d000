// Delivery queue.  queue(api) starts it and returns q:
//   q(e)  append event e; flush after 200 ms, or at once when 10 are waiting
//   q()   pagehide: send everything left by navigator.sendBeacon, 10 a
//         chunk; a chunk leaves storage only if sendBeacon returned true
//
// Storage S is localStorage, or a plain object when that is unavailable (and
// from the first failed write on).  S.tally_queue *is* the queue, so unsent
// events survive reloads, and an event lives in exactly one place: in
// storage, or in this page's one in-flight batch (taken out of storage when
// the batch is formed, put back in front when it fails) -- so two tabs do
// not send the same event.
//
// A batch is one fetch POST of a JSON array of up to 10 events as a string
// body, so Content-Type is text/plain;charset=UTF-8 (no CORS preflight),
// keepalive.  Status < 500: done; a 4xx is dropped, never retried.  5xx or
// network error: the batch goes back, and the next try waits Retry-After
// seconds when the answer has that header (a positive number), else an
// exponential backoff with jitter; nothing else is sent meanwhile.
// More than 100 events stored: the oldest are dropped.  Dropped events
// (overflow and 4xx) are counted in S.tally_dropped.  Start and the window's
// "online" event drain what is stored.
//
// Browser globals used (tests install fakes): localStorage, fetch,
// setTimeout, clearTimeout, navigator.sendBeacon, addEventListener.
export let S

export const queue = api => {
  let timer, busy, tries = 0
  const arm = t => timer = timer || setTimeout(flush, t)
  const get = () => JSON.parse(S.tally_queue || '[]')
  // store a (its newest 100), count n + the overflow as dropped
  const put = (a, n = 0) => {
    n += a.splice(0, a.length - 100).length
    try {
      S.tally_dropped = ~~S.tally_dropped + n
      S.tally_queue = JSON.stringify(a)
    } catch (e) { S = {}; put(a) }
  }
  // flush soon, unless a batch is in flight or a retry is pending
  const sched = n => { !busy && !tries && (n = get().length) && (n < 10 ? arm(200) : flush()) }
  const flush = (a, b) => {
    clearTimeout(timer)
    timer = 0
    // nothing to send (or a batch in flight): leave backoff mode
    if (busy || !(b = (a = get()).splice(0, 10))[0]) return tries = 0
    put(a)
    busy = 1
    const retry = ra => {
      put(b.concat(get()))
      busy = 0
      // Retry-After seconds, else backoff with "equal jitter": attempt n
      // (1, 2, ...) waits a random time in [d/2, d], d = min(60 s, 1 s * 2^(n-1))
      arm(ra * 1e3 || Math.min(6e4, 1e3 * 2 ** tries++) * (1 + Math.random()) / 2)
    }
    fetch(api, { method: 'POST', body: JSON.stringify(b), keepalive: true }).then(r =>
      r.status > 499 ? retry(r.headers.get('Retry-After'))
        : (tries = busy = 0, r.status > 399 && put(get(), b.length), sched()), retry)
  }

  try { S = localStorage || {} } catch (e) { S = {} }
  addEventListener('online', () => { tries = 0; flush() })
  sched()

  return (e, a = get()) => {
    if (e) {
      a.push(e)
      put(a)
      sched()
    } else {
      while (a[0] && navigator.sendBeacon(api, JSON.stringify(a.slice(0, 10)))) a.splice(0, 10)
      put(a)
    }
  }
}
