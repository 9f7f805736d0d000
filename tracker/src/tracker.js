// The tracker, configured by the data- attributes of its script element s:
//   data-domain          site domain (default: location.hostname)
//   data-api             endpoint (default: /api/event on the script's origin)
//   data-exclude         path globs (glob.js): no pageviews there
//   data-hash            hash routing: the #fragment is part of path and url
//   data-allow-localhost track on localhost, 127.*, [::1] and file: (else
//                        nothing is sent there, with a console warning)
//   data-respect-dnt     send nothing when navigator.doNotTrack is "1" or
//                        navigator.globalPrivacyControl is on
//   data-track-outbound  a click on a link to another host:
//                        "Outbound Link: Click" {url}
//   data-track-files     a click on a link to a file (FILES extensions):
//                        "File Download" {url}
//                        Navigation is not delayed: a same-tab navigation
//                        fires pagehide, which sends the queue by sendBeacon.
//   data-track-404       "404" {path} on load when the page has
//                        <meta name="tally-404"> (put it in the 404 template)
// localStorage tally_ignore = "true" opts this browser out.  The opt-out,
// DNT and localhost checks run for every event.
//
// An event is {n: name, u: url, d: domain, r: referrer|null, p: props (only
// if not empty), $: revenue (only if given), i: false (engagement only)}:
// the short keys of Plausible's Events API.  url has no #fragment unless
// data-hash.
//
// Pageviews: on load, and whenever the path (with the #fragment in hash mode)
// changes: after history.pushState/replaceState, popstate, hashchange.
//
// window.tally(name, {props, revenue, callback}) sends a custom event; calls
// queued by the snippet in window.tally.q before the script loaded are
// replayed in order, after the pageview.  The callback runs once the event is
// queued (or ignored): delivery goes on in the background, and by sendBeacon
// on pagehide, so the callback may navigate away.
//
// Engagement: the milliseconds the page was visible and the deepest scroll
// (% of the document height) of the current pageview, sent once per pageview
// as "engagement" {e, sd} (non-interactive, with the pageview's url) when the
// page is hidden (visibilitychange to hidden, pagehide) or the next SPA
// pageview replaces it, and only if the visible time is > 0.  The time is
// that of the visible stretch that ended it.
//
// Browser globals used (tests install fakes): window, document, location,
// history, navigator, scrollY, console, Date.now, and those of queue.js.
import { glob } from './glob.js'
import { queue, S } from './queue.js'

const FILES = /\.(pdf|docx?|xlsx?|pptx?|csv|txt|zip|rar|7z|gz|dmg|exe|mp[34])$/i

export const init = s => {
  const D = s.dataset, de = document.documentElement, h = history, hash = 'hash' in D, ex = glob(D.exclude)
  const q = queue(D.api || new URL('/api/event', s.src).href)
  const url = () => hash ? location.href : location.href.split('#')[0]
  const pre = (window.tally || 0).q || []
  // cur: path of the last pageview; u, v, sd: engagement of the pageview at
  // url u (0: none to send), visible since v (0: hidden), scrolled sd %
  let cur, u, v, sd

  // o: {props, revenue, callback} and, internally, u (url) and i (false:
  // non-interactive); returns the event when it was queued
  const send = (name, o = {}, p = o.props, e) => {
    S.tally_ignore == 'true' ||
    'respectDnt' in D && (navigator.doNotTrack == 1 || navigator.globalPrivacyControl) ||
    !('allowLocalhost' in D) && /^(localhost|127\..*|\[::1]|)$/.test(location.hostname) &&
      !console.warn('tally: ignoring localhost') ||
    q(e = {
      n: name, u: o.u || url(), d: D.domain || location.hostname, r: document.referrer || null,
      p: Object.keys(p || 0)[0] && p, $: o.revenue, i: o.i
    })
    o.callback && o.callback()
    return e
  }
  const depth = () => { sd = Math.max(sd, Math.round((scrollY + de.clientHeight) / de.scrollHeight * 100)) }
  // send the engagement of the current pageview (once)
  const end = t => {
    depth()
    u && v && (t = Date.now() - v) && (send('engagement', { props: { e: t, sd }, u, i: false }), u = 0)
  }
  const page = p => {
    if ((p = location.pathname + (hash ? location.hash : '')) != cur) {
      cur = p
      end()
      u = !(ex && ex.test(p)) && send('pageview') && url()
      sd = 0
      v = !document.hidden && Date.now()
    }
  }
  const away = () => { v = end(); q() }

  const wrap = (k, o = h[k]) => h[k] = (...a) => { o.apply(h, a); page() }
  wrap('pushState')
  wrap('replaceState')
  document.addEventListener('click', (e, a) => {
    (a = e.target.closest('[href]')) && (
      'trackFiles' in D && FILES.test(a.pathname) ? send('File Download', { props: { url: a.href } })
        : 'trackOutbound' in D && a.host && a.host != location.host && send('Outbound Link: Click', { props: { url: a.href } }))
  })
  document.addEventListener('visibilitychange', () => document.hidden ? away() : v = v || Date.now())
  addEventListener('pagehide', away)
  addEventListener('scroll', depth)
  addEventListener('popstate', page)
  addEventListener('hashchange', page)
  window.tally = send
  page()
  'track-404' in D && document.getElementsByName('tally-404')[0] && send('404', { props: { path: location.pathname } })
  pre.map(x => send(...x))
}
