// Tally dashboard: boot, routing (URL <-> state, pushState/popstate) and the
// wiring between the API and the views.

import { createApi } from './api.js'
import { parseState, stateToSearch, withState, addFilter, removeFilter } from './state.js'
import { todayIn, resolveRange, previousRange, chooseInterval, validIntervals, timeLabels, DEFAULT_PERIOD } from './ranges.js'
import { topStatsQuery, topStatsMetrics, totalsOf, realtimeQuery, graphQuery, graphMetric, seriesOf, PANELS, exportParams } from './queries.js'
import { storedTheme, effectiveTheme, saveTheme } from './theme.js'
import { h, replace } from './dom.js'
import { createHeader } from './views/header.js'
import { createTopStats } from './views/topstats.js'
import { createGraph } from './views/graph.js'
import { createPanel } from './views/panels.js'
import { renderChips } from './views/filters.js'
import { createLogin } from './views/login.js'

const root = document.getElementById('app')
const darkQuery = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null

let st = parseState(location.search)
const api = createApi({ share: st.share })
let sites = []
let site = null
let range = null
let ui = null

// ---- theme ------------------------------------------------------------------

function theme () {
  return effectiveTheme(storedTheme(localStorage), darkQuery ? darkQuery.matches : false)
}

function applyTheme () {
  const stored = storedTheme(localStorage)
  if (stored) document.documentElement.setAttribute('data-theme', stored)
  else document.documentElement.removeAttribute('data-theme')
}

function toggleTheme () {
  saveTheme(localStorage, theme() === 'dark' ? 'light' : 'dark')
  applyTheme()
  if (ui) { ui.graph.redraw(); syncHeader() }
}

applyTheme()
if (darkQuery && darkQuery.addEventListener) {
  darkQuery.addEventListener('change', () => { if (ui && !storedTheme(localStorage)) { ui.graph.redraw(); syncHeader() } })
}

// ---- screens ----------------------------------------------------------------

function message (text, action) {
  ui = null
  stopRealtime()
  replace(root, h('div', { class: 'center' },
    h('div', { class: 'card message', 'data-testid': 'message' }, h('p', {}, text), action || null)))
}

function showLogin () {
  ui = null
  stopRealtime()
  const login = createLogin({
    onLogin: async (u, p) => {
      await api.login(u, p)
      await loadSites()
    }
  })
  replace(root, login.el)
  const first = root.querySelector('input')
  if (first) first.focus()
}

/** Errors any query can hit; true when handled for the whole page. */
function globalError (err) {
  if (err && err.status === 401) {
    if (st.share) message('This share link is invalid or has expired.')
    else showLogin()
    return true
  }
  return false
}

async function loadSites () {
  message('Loading…')
  try {
    sites = await api.sites()
  } catch (e) {
    if (globalError(e)) return
    message('Could not load your sites: ' + e.message, h('button', { type: 'button', class: 'btn', on: { click: loadSites } }, 'Retry'))
    return
  }
  if (st.share) sites = sites.slice(0, 1)
  if (sites.length === 0) {
    message('No sites yet. Add a site in tallyd, then reload this page.')
    return
  }
  buildDashboard()
  render()
}

// ---- routing ----------------------------------------------------------------

function navigate (changes, { push = true } = {}) {
  st = withState(st, changes)
  const url = location.pathname + stateToSearch(st) + location.hash
  if (url === location.pathname + location.search + location.hash) push = false
  if (push) history.pushState(null, '', url)
  else history.replaceState(null, '', url)
  render()
}

window.addEventListener('popstate', () => {
  st = parseState(location.search)
  if (ui) render()
})

// ---- the dashboard ----------------------------------------------------------

const TAB_KEY = 'tally.tabs'
let tabs = {}
try { tabs = JSON.parse(localStorage.getItem(TAB_KEY) || '{}') || {} } catch (e) { tabs = {} }

function loader () {
  let seq = 0
  let lastKey = null
  let ctrl = null
  return {
    reset () { lastKey = null },
    /**
     * Unless `key` is unchanged since the last successful run: start(),
     * then fetch(signal), then done(err, value) if no newer run began.
     */
    run (key, start, fetch, done) {
      if (key === lastKey) return
      lastKey = key
      start()
      if (ctrl) ctrl.abort()
      ctrl = new AbortController()
      const my = ++seq
      fetch(ctrl.signal).then((v) => { if (my === seq) done(null, v) }, (e) => {
        if (my !== seq || (e && e.name === 'AbortError')) return
        lastKey = null
        if (!globalError(e)) done(e)
      })
    }
  }
}

function buildDashboard () {
  const header = createHeader({
    share: st.share,
    onSite: (domain) => navigate({ site: domain, filters: [], prop: '' }),
    onPeriod: (period) => navigate({ period, from: '', to: '', interval: '', compare: period === 'all' ? false : st.compare }),
    onCustom: (from, to) => navigate({ period: 'custom', from: from <= to ? from : to, to: from <= to ? to : from, interval: '' }),
    onCompare: (on) => navigate({ compare: on }),
    onExport: exportCsv,
    onTheme: toggleTheme,
    onLogout: logout
  })
  const topstats = createTopStats({ onSelect: (m) => navigate({ metric: m }) })
  const graph = createGraph({ onInterval: (i) => navigate({ interval: i }) })
  const panelCtx = {
    query: (q, signal) => api.query(q, signal),
    onPick: (dim, value) => navigate(addFilter(st, dim, value)),
    onProp: (key) => navigate({ prop: key }),
    getTab: (k) => tabs[k],
    setTab: (k, t) => {
      tabs[k] = t
      try { localStorage.setItem(TAB_KEY, JSON.stringify(tabs)) } catch (e) { /* ignore */ }
    },
    onError: globalError
  }
  const panels = PANELS.map((p) => createPanel(p, panelCtx))
  const errorEl = h('div', { class: 'status error', hidden: true, 'data-testid': 'export-error' })
  replace(root,
    header.el,
    h('main', { class: 'wrap' },
      errorEl,
      h('section', { class: 'card overview' }, topstats.el, graph.el),
      h('div', { class: 'grid' }, panels.map((p) => p.el))))
  ui = {
    header, topstats, graph, panels, errorEl,
    top: loader(),
    chart: loader(),
    realtimeSite: null
  }
}

function syncHeader () {
  ui.header.sync({ st, range, sites, site, today: todayIn(site.timezone), theme: theme() })
}

function render () {
  if (!ui) return
  site = sites.find((s) => s.domain === st.site)
  if (!site) {
    site = sites[0]
    st = withState(st, { site: site.domain, filters: st.share ? st.filters : [] })
    history.replaceState(null, '', location.pathname + stateToSearch(st) + location.hash)
  }
  const today = todayIn(site.timezone)
  range = resolveRange(st.period, today, st.from, st.to) || resolveRange(DEFAULT_PERIOD, today)
  const prev = st.compare ? previousRange(range) : null
  document.title = site.domain + ' · Tally'
  syncHeader()
  renderChips(ui.header.chips, st.filters, {
    onRemove: (dim) => navigate(removeFilter(st, dim)),
    onClear: () => navigate({ filters: [] })
  })

  // top stats (+ previous period)
  const metrics = topStatsMetrics(st.filters)
  const selected = graphMetric(st)
  const goal = st.filters.some((f) => f[1] === 'event:goal')
  const tq = topStatsQuery(st, range)
  const tp = prev ? topStatsQuery(st, prev) : null
  ui.topstats.select(metrics, selected, goal)
  ui.top.run(JSON.stringify([tq, tp]), () => ui.topstats.loading(), (signal) => Promise.all([
    api.query(tq, signal),
    tp ? api.query(tp, signal) : null
  ]), (err, res) => {
    if (err) {
      ui.topstats.render({ metrics, goal, totals: null, prevTotals: null, comparing: false, error: err.message })
      return
    }
    ui.topstats.render({ metrics, goal, totals: totalsOf(res[0], metrics), prevTotals: res[1] ? totalsOf(res[1], metrics) : null, comparing: !!tp })
  })

  // graph
  const interval = chooseInterval(range, st.interval)
  const intervals = validIntervals(range)
  const gq = graphQuery(st, range, interval)
  const gp = prev ? graphQuery(st, prev, interval) : null
  ui.chart.run(JSON.stringify([gq, gp]), () => ui.graph.loading({ intervals, interval, metric: selected }), (signal) => Promise.all([
    api.query(gq, signal),
    gp ? api.query(gp, signal) : null
  ]), (err, res) => {
    if (err) { ui.graph.error(err.message); return }
    const cur = seriesOf(res[0], timeLabels(range, interval))
    const old = res[1] ? seriesOf(res[1], timeLabels(prev, interval)) : null
    ui.graph.render({ labels: cur.labels, values: cur.values, prevValues: old ? old.values : null, metric: selected, interval, intervals })
  })

  for (const p of ui.panels) p.update(st, range)
  startRealtime()
}

// ---- current visitors ---------------------------------------------------------

let realtimeTimer = null
let realtimeSeq = 0

function stopRealtime () {
  clearInterval(realtimeTimer)
  realtimeTimer = null
  realtimeSeq++
}

function pollRealtime () {
  if (!ui || !site) return
  const my = ++realtimeSeq
  api.query(realtimeQuery(site.domain)).then((resp) => {
    if (my !== realtimeSeq || !ui) return
    const v = totalsOf(resp, ['visitors']).visitors
    ui.header.setCurrent(typeof v === 'number' ? v : null)
  }, (e) => {
    // tallyd may not support "realtime" yet: show "—", never an error page
    if (my !== realtimeSeq || !ui) return
    if (e && e.status === 401) { globalError(e); return }
    ui.header.setCurrent(null)
  })
}

function startRealtime () {
  if (ui.realtimeSite === site.domain) return
  ui.realtimeSite = site.domain
  stopRealtime()
  ui.header.setCurrent(null)
  pollRealtime()
  realtimeTimer = setInterval(() => { if (!document.hidden) pollRealtime() }, 30000)
}

// ---- export / logout ------------------------------------------------------------

async function exportCsv () {
  const btn = ui.header.exportBtn
  btn.disabled = true
  ui.errorEl.hidden = true
  try {
    const { blob, filename } = await api.exportCsv(exportParams(st, range))
    const url = URL.createObjectURL(blob)
    const a = document.createElement('a')
    a.href = url
    a.download = filename || `tally-${site.domain}-${range.first || 'all'}-${range.last || 'time'}.csv`
    document.body.appendChild(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(url), 10000)
  } catch (e) {
    if (!globalError(e) && ui) {
      ui.errorEl.textContent = 'Export failed: ' + e.message
      ui.errorEl.hidden = false
    }
  } finally {
    btn.disabled = false
  }
}

async function logout () {
  try {
    await api.logout()
  } catch (e) {
    if (!(e && e.status === 401)) {
      ui.errorEl.textContent = 'Logout failed: ' + e.message
      ui.errorEl.hidden = false
      return
    }
  }
  showLogin()
}

loadSites()
