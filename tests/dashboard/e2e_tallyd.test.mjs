// The built dashboard in real Chromium against the REAL tallyd (build/tallyd),
// behind a real NGINX at /tally/ configured with conf.d/dashboard.conf.
// Events are written into a spool with tests/spoolfmt.py, the user, API key
// and share link are created with tallyd's own commands.  The numbers the
// page shows are checked against what POST /api/v2/query answers (with an
// API key) for the very queries the page sent.
//
// Screenshots (desktop and phone, light and dark) go to build/screenshots/.
// Needs /usr/bin/chromium (or $CHROMIUM), playwright-core, /usr/sbin/nginx,
// build/tallyd and build/dashboard (make build); skips with the reason
// otherwise.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import { execFileSync, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const nodeModules = resolve(process.env.TALLY_NODE_MODULES || join(root, 'node_modules'))
const binDir = resolve(process.env.TALLY_BIN || join(root, 'build'))
const tallyd = join(binDir, 'tallyd')
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium'
const nginxPath = '/usr/sbin/nginx'
const shots = join(root, 'build', 'screenshots')
const EVIL_PATH = '/<img src=x onerror=alert(1)>'
const PASSWORD = 'e2e-password-123'

let playwright = null
let why = ''
try {
  playwright = createRequire(join(nodeModules, 'noop.js'))('playwright-core')
} catch (e) { why = 'playwright-core not installed in ' + nodeModules }
if (!why && !existsSync(chromiumPath)) why = 'no Chromium at ' + chromiumPath
if (!why && !existsSync(nginxPath)) why = 'no nginx at ' + nginxPath
if (!why && !existsSync(tallyd)) why = 'no ' + tallyd + ' (run make build)'

let dir, ctx, procs = [], tport, nport, base, key, share
const pageErrors = []

function freePort () {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
    s.on('error', reject)
  })
}

async function waitFor (fn, what, ms = 15000) {
  const end = Date.now() + ms
  let last
  for (;;) {
    try { last = await fn(); if (last) return last } catch (e) { last = e }
    if (Date.now() > end) throw new Error('timed out waiting for ' + what + ': ' + last)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const DAY = 86400000
const UAS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1'
]
const iso = (d) => new Date(d * DAY).toISOString().slice(0, 10)

/** Events for a.example and b.example over the 20 days before today. */
function makeEvents () {
  const t0 = Math.floor(Date.now() / DAY)
  const evs = []
  let seed = 42
  // the high bits: the low bits of this LCG cycle (seed % 4 has period 4)
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return Math.floor(seed / 65536) % n }
  for (let d = -20; d <= -1; d++) {
    for (let i = 0; i < 25; i++) {
      const site = rnd(3) === 0 ? 'b.example' : 'a.example'
      const path = ['/', '/pricing', '/pricing', '/blog', EVIL_PATH][rnd(5)]
      // every panel tab gets rows: UTM tags, referrers, countries, browsers,
      // OSes, devices and a custom event (a goal too); counts stay < 1000
      const utm = [
        '',
        '',
        '?utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_content=banner&utm_term=analytics',
        '?utm_source=twitter&utm_medium=social&utm_campaign=launch'
      ][rnd(4)]
      evs.push({
        time_ms: (t0 + d) * DAY + rnd(DAY),
        visitor_id: 1000 + rnd(12) + (d + 100) * 100,
        site,
        name: rnd(5) === 0 ? 'signup' : 'pageview',
        url: `https://${site}${path}${utm}`,
        referrer: [null, 'https://news.example/', 'https://www.google.com/', 'https://blog.example/post'][rnd(4)],
        country: [null, 'DE', 'US', 'US', 'FR'][rnd(5)],
        ua: UAS[rnd(UAS.length)]
      })
    }
  }
  evs.sort((a, b) => a.time_ms - b.time_ms)
  return evs
}

function run (args, input) {
  return execFileSync(tallyd, args, { input: input || '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })
}

async function apiQuery (body) {
  const r = await fetch(`http://127.0.0.1:${tport}/api/v2/query`, {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' },
    body: JSON.stringify(body)
  })
  return { status: r.status, json: await r.json() }
}

before(async () => {
  if (why) return
  dir = mkdtempSync(join(tmpdir(), 'tally-e2e-'))
  chmodSync(dir, 0o755)
  const spool = join(dir, 'spool')
  const db = join(dir, 'tally.db')
  mkdirSync(spool)
  // the spool, written by the independent Python implementation
  writeFileSync(join(dir, 'events.json'), JSON.stringify(makeEvents()))
  execFileSync('/usr/bin/python3', ['-c',
    'import json, sys; sys.path.insert(0, sys.argv[1]); import spoolfmt; ' +
    'spoolfmt.write_segment(sys.argv[2], json.load(open(sys.argv[3])), pid=4200000, created_us=1, per_record=10, finished=True)',
    join(root, 'tests'), spool, join(dir, 'events.json')])
  run(['users', 'add', '--db', db, 'admin'], PASSWORD + '\n')
  key = run(['keys', 'add', '--db', db, '--name', 'e2e']).trim().split('\n').pop().trim()
  run(['sites', 'add', '--db', db, 'a.example'])
  run(['goals', 'add', '--db', db, '--site', 'a.example', '--event', 'signup'])
  run(['goals', 'add', '--db', db, '--site', 'a.example', '--page', '/pricing'])
  share = run(['share', 'add', '--db', db, '--site', 'a.example']).trim().split('\n').pop().split('share=')[1]
  assert.ok(share && key)

  tport = await freePort()
  const t = spawn(tallyd, ['serve', '--spool', spool, '--db', db, '--listen', `127.0.0.1:${tport}`, '--poll-ms', '50'],
    { stdio: ['ignore', 'ignore', 'pipe'] })
  procs.push(t)
  await waitFor(async () => (await fetch(`http://127.0.0.1:${tport}/health`)).ok, 'tallyd')
  const total = makeEvents().filter((e) => e.site === 'a.example').length
  const t0 = Math.floor(Date.now() / DAY)
  await waitFor(async () => {
    const r = await apiQuery({ site_id: 'a.example', metrics: ['events'], date_range: [iso(t0 - 30), iso(t0)] })
    return r.status === 200 && r.json.results[0].metrics[0] === total
  }, 'events drained')

  // NGINX at /tally/ with the shipped snippet
  nport = await freePort()
  const ndir = join(dir, 'nginx')
  for (const d of ['logs', 'tmp']) mkdirSync(join(ndir, d), { recursive: true })
  const snippet = readFileSync(join(root, 'conf.d', 'dashboard.conf'), 'utf8').replaceAll('127.0.0.1:8089', `127.0.0.1:${tport}`)
  writeFileSync(join(ndir, 'nginx.conf'), `daemon off; master_process on; worker_processes 1;
pid ${ndir}/nginx.pid; error_log ${ndir}/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${ndir}/tmp/body; proxy_temp_path ${ndir}/tmp/proxy;
  fastcgi_temp_path ${ndir}/tmp/fcgi; uwsgi_temp_path ${ndir}/tmp/uwsgi; scgi_temp_path ${ndir}/tmp/scgi;
  server { listen 127.0.0.1:${nport}; ${snippet} }
}
`)
  const n = spawn(nginxPath, ['-p', ndir, '-c', join(ndir, 'nginx.conf')], { stdio: 'ignore' })
  procs.push(n)
  base = `http://127.0.0.1:${nport}/tally/`
  await waitFor(async () => (await fetch(base)).ok, 'nginx')

  ctx = await playwright.chromium.launchPersistentContext(mkdtempSync(join(dir, 'profile-')), {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 }
  })
  mkdirSync(shots, { recursive: true })
})

after(async () => {
  if (ctx) await ctx.close()
  for (const p of procs.reverse()) {
    p.kill(p.spawnfile === nginxPath ? 'SIGQUIT' : 'SIGTERM')
    await new Promise((r) => { if (p.exitCode !== null) r(); else p.on('exit', r) })
  }
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** A page that records every /api/v2/query body and answer. */
async function newPage () {
  const page = await ctx.newPage()
  page.setDefaultTimeout(15000)
  page.queries = []
  page.on('pageerror', (e) => pageErrors.push(String(e)))
  page.on('dialog', (d) => { pageErrors.push('dialog: ' + d.message()); d.dismiss() })
  page.on('response', async (res) => {
    if (!res.url().endsWith('/api/v2/query')) return
    let body = null
    try { body = JSON.parse(res.request().postData()) } catch (e) { return }
    page.queries.push({ body, status: res.status(), share: res.request().headers()['x-tally-share'] || '' })
  })
  return page
}

/** The last top-stats query the page sent (no dimensions, not realtime). */
function lastTopQuery (page) {
  const q = page.queries.filter((e) => !(e.body.dimensions || []).length && e.body.date_range !== 'realtime' &&
    e.body.metrics.length > 1)
  return q.length ? q[q.length - 1] : null
}

/** Compares every top-stat cell with the API's answer to the same query. */
async function checkTopStats (page, what) {
  const err = page.getByTestId('topstats-error')
  await page.waitForFunction(() => {
    const v = document.querySelector('[data-testid=stat-value-visitors]')
    const e = document.querySelector('[data-testid=topstats-error]')
    return (v && v.textContent !== '—' && !document.querySelector('.topstats.loading')) || (e && !e.hidden)
  })
  assert.equal(await err.isHidden(), true, what + ': ' + (await err.textContent()))
  const q = lastTopQuery(page)
  assert.ok(q, 'no top stats query seen')
  assert.equal(q.status, 200)
  const api = await apiQuery(q.body)
  assert.equal(api.status, 200, JSON.stringify(api.json))
  const values = api.json.results[0].metrics
  assert.ok(values[0] > 0, what + ': no visitors at all')
  for (let i = 0; i < q.body.metrics.length; i++) {
    const m = q.body.metrics[i]
    const title = await page.getByTestId('stat-value-' + m).getAttribute('title')
    const shown = Number(String(title).replace(/,/g, ''))
    const want = Math.trunc(values[i] * 100) / 100
    assert.ok(Math.abs(shown - want) < 0.011, `${what}: ${m} shows ${title}, the API says ${values[i]}`)
  }
  return q
}

// Every panel tab, with the dimension and metrics it must query unfiltered
// (dashboard/README.md), and whether the generated events give it rows.
const PCT = ['visitors', 'percentage']
const PANEL_TABS = [
  ['sources', 'channels', 'visit:channel', PCT],
  ['sources', 'sources', 'visit:source', PCT],
  ['sources', 'referrers', 'visit:referrer', ['visitors']],
  ['sources', 'utm_medium', 'visit:utm_medium', ['visitors']],
  ['sources', 'utm_source', 'visit:utm_source', ['visitors']],
  ['sources', 'utm_campaign', 'visit:utm_campaign', ['visitors']],
  ['sources', 'utm_content', 'visit:utm_content', ['visitors']],
  ['sources', 'utm_term', 'visit:utm_term', ['visitors']],
  ['pages', 'pages', 'event:page', ['visitors', 'pageviews']],
  ['pages', 'entry', 'visit:entry_page', ['visitors', 'visits']],
  ['pages', 'exit', 'visit:exit_page', ['visitors', 'visits']],
  ['locations', 'countries', 'visit:country_name', PCT],
  ['devices', 'browsers', 'visit:browser', PCT],
  ['devices', 'os', 'visit:os', PCT],
  ['devices', 'devices', 'visit:device', PCT],
  ['conversions', 'goals', 'event:goal', ['visitors', 'events', 'conversion_rate']],
  ['conversions', 'events', 'event:name', ['visitors', 'events']]
]
const COUNT_METRICS = new Set(['visitors', 'visits', 'pageviews', 'events'])

/** What a panel cell must read for an API value (independent of format.js). */
function shownAs (metric, v) {
  if (COUNT_METRICS.has(metric)) {
    // the data keep every count below 1000, where the page shows it in full
    assert.ok(Number.isInteger(v) && v >= 0 && v < 1000, `${metric} = ${v}: not a small count`)
    return String(v)
  }
  assert.equal(typeof v, 'number', metric)
  const r = Math.round(v * 10) / 10
  return (Number.isInteger(r) ? String(r) : r.toFixed(1)) + '%'
}

/** The rows a panel shows: [{label, cells: {metric: {text, title}}}]. */
function readRows (page, panel, metrics) {
  return page.getByTestId('panel-rows-' + panel).evaluate((ol, metrics) =>
    [...ol.querySelectorAll('[data-testid=panel-row]')].map((li) => ({
      panel: li.getAttribute('data-panel'),
      label: li.querySelector('[data-testid=panel-row-label]').textContent,
      cells: Object.fromEntries(metrics.map((m) => {
        const c = li.querySelector('[data-testid=panel-row-' + m + ']')
        return [m, c ? { text: c.textContent, title: c.getAttribute('title') } : null]
      }))
    })), metrics)
}

/**
 * Clicks through every panel tab and checks that its rows (labels and every
 * metric, as displayed) equal the API's answer to the query the tab sent.
 */
async function checkPanels (page, what) {
  const seen = []
  for (const [panel, tab, dim, metrics] of PANEL_TABS) {
    const where = `${what}: ${panel}/${tab}`
    const tabBtn = page.getByTestId(`tab-${panel}-${tab}`)
    if (await tabBtn.count()) {
      await tabBtn.click()
      await page.waitForFunction((id) => document.querySelector(`[data-testid="${id}"]`).getAttribute('aria-selected') === 'true', `tab-${panel}-${tab}`)
    }
    // the tab's rows are drawn (or it says there are none, or it failed)
    await page.waitForFunction((p) => {
      const s = document.querySelector(`[data-testid="panel-status-${p}"]`)
      return s && !s.classList.contains('loading')
    }, panel)
    const status = await page.getByTestId('panel-status-' + panel).textContent()
    assert.doesNotMatch(status, /Could not load/, where)
    const qs = page.queries.filter((e) => (e.body.dimensions || [])[0] === dim && e.body.pagination)
    assert.ok(qs.length, where + ': no query for ' + dim)
    const q = qs[qs.length - 1]
    assert.equal(q.status, 200, where)
    assert.deepEqual(q.body.metrics, metrics, where + ': metrics sent')
    assert.deepEqual(q.body.order_by, [[metrics[0], 'desc']], where)
    assert.deepEqual(q.body.pagination, { limit: 9, offset: 0 }, where)
    const api = await apiQuery(q.body)
    assert.equal(api.status, 200, where + ': ' + JSON.stringify(api.json))
    const want = api.json.results.map((r) => ({
      label: r.dimensions[0] === '' || r.dimensions[0] === null ? '(none)' : String(r.dimensions[0]),
      metrics: r.metrics
    }))
    assert.ok(want.length > 0, where + ': the API has no rows (the test data should give every tab some)')
    assert.ok(want.length <= 9, where)
    const rows = await readRows(page, panel, metrics)
    assert.deepEqual(rows.map((r) => r.label), want.map((w) => w.label), where + ': labels (in order)')
    for (let i = 0; i < rows.length; i++) {
      assert.equal(rows[i].panel, panel, where)
      metrics.forEach((m, j) => {
        const v = want[i].metrics[j]
        const c = rows[i].cells[m]
        assert.ok(c, `${where}: row ${rows[i].label} has no ${m} cell`)
        assert.equal(c.text, shownAs(m, v), `${where}: ${rows[i].label} ${m} shows ${c.text}, the API says ${v}`)
        assert.ok(Math.abs(Number(c.title.replace(/,/g, '')) - v) < 0.01, `${where}: ${rows[i].label} ${m} title ${c.title}, the API says ${v}`)
      })
    }
    seen.push(`${panel}/${tab}: ${JSON.stringify(rows.map((r) => r.label))}`)
  }
  return seen
}

const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/**
 * The graph is a uPlot canvas; its values are readable from the uPlot
 * legend while the cursor is on a point.  Moves the mouse over every day
 * and compares the legend (day and value) with the API's time:day series.
 */
async function checkGraph (page, what) {
  const qs = page.queries.filter((e) => (e.body.dimensions || [])[0] === 'time:day')
  assert.ok(qs.length, what + ': no time:day graph query')
  const q = qs[qs.length - 1]
  assert.equal(q.status, 200)
  assert.deepEqual(q.body.metrics, ['visitors'])
  const api = await apiQuery(q.body)
  assert.equal(api.status, 200)
  const labels = api.json.meta && api.json.meta.time_labels
  assert.ok(Array.isArray(labels) && labels.length > 1, what + ': no time_labels')
  const by = new Map(api.json.results.map((r) => [r.dimensions[0], r.metrics[0]]))
  const values = labels.map((l) => by.get(l) || 0)
  assert.ok(values.some((v) => v > 0), what + ': an empty series')
  await page.waitForFunction(() => !document.querySelector('[data-testid=graph-status]').classList.contains('loading') &&
    document.querySelector('[data-testid=graph] .u-over'))
  const over = page.locator('[data-testid=graph] .u-over')
  await over.scrollIntoViewIfNeeded()
  const box = await over.boundingBox()
  const legend = page.locator('[data-testid=graph] .u-legend .u-series')
  for (let i = 0; i < labels.length; i++) {
    const x = box.x + (box.width * i) / (labels.length - 1)
    await page.mouse.move(Math.min(x, box.x + box.width - 1), box.y + box.height / 2)
    const [y, m, d] = labels[i].split('-').map(Number)
    const day = `${d} ${MONTH_NAMES[m - 1]} ${y}`
    const want = shownAs('visitors', values[i])
    await waitFor(async () => {
      const t = await legend.evaluateAll((els) => els.map((e) => (e.querySelector('.u-value') || {}).textContent))
      if (t[0] === day && t[1] === want) return true
      throw new Error(`legend ${JSON.stringify(t)}, want ${day} = ${want}`)
    }, `${what}: graph point ${labels[i]}`, 5000)
  }
  await page.mouse.move(0, 0)
  return labels.length
}

const t = (name, fn) => test(name, { skip: why || false }, fn)

t('log in through the form; top stats, every panel tab and the graph equal the API; filters, Back; XSS; screenshots; logout', async (tc) => {
  const page = await newPage()
  await page.goto(base)
  await page.getByTestId('login-form').waitFor()
  await page.getByTestId('login-username').fill('admin')
  await page.getByTestId('login-password').fill('not-the-password')
  await page.getByTestId('login-submit').click()
  await page.getByTestId('login-error').filter({ hasText: 'Wrong username or password.' }).waitFor()
  await page.getByTestId('login-password').fill(PASSWORD)
  await page.getByTestId('login-submit').click()
  await page.getByTestId('topstats').waitFor()
  // the session cookie is HttpOnly, scoped to /tally/ by the proxy
  const cookies = await ctx.cookies(base)
  const sess = cookies.find((c) => c.name === 'tally_session')
  assert.ok(sess && sess.httpOnly && sess.sameSite === 'Strict' && sess.path === '/tally/')
  assert.equal(await page.evaluate(() => document.cookie.includes('tally_session')), false)

  // screenshots first (whatever the numbers), once the panels have drawn
  await page.getByTestId('panel-rows-pages').getByTestId('panel-row-label').first().waitFor()
  await page.waitForFunction(() => !document.querySelector('.topstats.loading'))
  for (const [name, vp, scheme] of [['desktop-light', { width: 1280, height: 900 }, 'light'],
    ['desktop-dark', { width: 1280, height: 900 }, 'dark'],
    ['phone-light', { width: 390, height: 844 }, 'light'],
    ['phone-dark', { width: 390, height: 844 }, 'dark']]) {
    await page.setViewportSize(vp)
    await page.emulateMedia({ colorScheme: scheme })
    await page.waitForTimeout(300)
    await page.screenshot({ path: join(shots, `tallyd-${name}.png`), fullPage: true })
  }
  await page.setViewportSize({ width: 1280, height: 900 })
  await page.emulateMedia({ colorScheme: 'light' })

  // the evil page path is text: no <img>, no dialog
  const evil = page.getByTestId('panel-rows-pages').getByTestId('panel-row-label').filter({ hasText: 'onerror' })
  await evil.waitFor()
  assert.match(await evil.textContent(), /<img src=x onerror=alert\(1\)>/)
  assert.equal(await page.locator('[data-testid=panel-pages] img').count(), 0)

  const top = await checkTopStats(page, 'unfiltered')
  assert.equal(top.body.site_id, 'a.example')
  assert.match(page.url(), /[?&]site=a\.example/)
  const unfiltered = await page.getByTestId('stat-value-visitors').getAttribute('title')

  // every panel tab and the main graph show what the API answers
  const seen = await checkPanels(page, 'unfiltered')
  tc.diagnostic('panel rows: ' + seen.join(', '))
  const points = await checkGraph(page, 'unfiltered')
  assert.ok(points >= 28, 'graph points: ' + points)
  tc.diagnostic('graph points: ' + points)
  await page.getByTestId('tab-pages-pages').click()
  await page.waitForFunction(() => document.querySelector('[data-testid=tab-pages-pages]').getAttribute('aria-selected') === 'true' &&
    !document.querySelector('[data-testid=panel-status-pages]').classList.contains('loading'))

  // click /pricing: URL, chip and numbers follow, and equal the API
  const before = page.queries.length
  await page.getByTestId('panel-rows-pages').getByTestId('panel-row-label').filter({ hasText: /^\/pricing$/ }).click()
  await page.getByTestId('filter-chip').waitFor()
  assert.match(page.url(), /f=is,event:page,%2Fpricing|f=is,event:page,\/pricing/)
  await waitFor(() => page.queries.slice(before).some((q) => (q.body.filters || []).length && !(q.body.dimensions || []).length), 'filtered top stats query')
  const fq = await checkTopStats(page, 'filtered')
  assert.deepEqual(fq.body.filters, [['is', 'event:page', ['/pricing']]])
  const filtered = await page.getByTestId('stat-value-visitors').getAttribute('title')
  assert.notEqual(filtered, unfiltered)

  // Back restores the unfiltered view
  await page.goBack()
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=filter-chip]').length === 0)
  assert.doesNotMatch(page.url(), /f=/)
  await page.waitForFunction((v) => document.querySelector('[data-testid=stat-value-visitors]').getAttribute('title') === v, unfiltered)

  // logout ends the session: back to the form, and the old cookie is dead
  await page.getByTestId('logout').click()
  await page.getByTestId('login-form').waitFor()
  const r = await fetch(base + 'api/v1/sites', { headers: { Cookie: `tally_session=${sess.value}` } })
  assert.equal(r.status, 401)
  assert.deepEqual(pageErrors, [])
  await page.close()
})

t('a share link works without login and cannot reach another site', async () => {
  await ctx.clearCookies()
  const page = await newPage()
  await page.goto(base + '?share=' + share)
  await page.getByTestId('site-name').filter({ hasText: 'a.example' }).waitFor()
  assert.equal(await page.getByTestId('login-form').count(), 0)
  assert.equal(await page.getByTestId('logout').isVisible(), false)
  const q = await checkTopStats(page, 'shared')
  assert.equal(q.share, share)
  // asking for b.example in the URL still shows a.example only
  await page.goto(base + '?share=' + share + '&site=b.example')
  await page.getByTestId('site-name').filter({ hasText: 'a.example' }).waitFor()
  await checkTopStats(page, 'shared, site=b.example in the URL')
  assert.ok(page.queries.every((e) => e.body.site_id === 'a.example' || e.status === 404))
  // and the API refuses it outright, as if b.example did not exist
  const res = await page.evaluate(async (tok) => {
    const r = await fetch('api/v2/query', {
      method: 'POST',
      headers: { 'X-Tally-Share': tok, 'Content-Type': 'application/json' },
      body: JSON.stringify({ site_id: 'b.example', metrics: ['visitors'], date_range: '7d' })
    })
    return r.status
  }, share)
  assert.equal(res, 404)
  // a wrong token gets the share-link message, not a login form
  await page.goto(base + '?share=' + 'A'.repeat(43))
  await page.getByTestId('message').filter({ hasText: 'share link is invalid' }).waitFor()
  assert.deepEqual(pageErrors, [])
  await page.close()
})

t('wrong passwords are rejected, then rate limited with a wait', async () => {
  await ctx.clearCookies()
  const page = await newPage()
  await page.goto(base)
  await page.getByTestId('login-username').fill('admin')
  // five failures per 15 minutes per user name and per client address
  // (the first test already spent one from this address)
  let wrong = 0
  let limited = false
  for (let i = 0; i < 6 && !limited; i++) {
    await page.getByTestId('login-password').fill('wrong-' + i)
    const answer = page.waitForResponse((r) => r.url().endsWith('/login'))
    await page.getByTestId('login-submit').click()
    const st = (await answer).status()
    if (st === 401) {
      await page.getByTestId('login-error').filter({ hasText: 'Wrong username or password.' }).waitFor()
      wrong++
    } else {
      assert.equal(st, 429)
      await page.getByTestId('login-error').filter({ hasText: /Too many login attempts\. Try again in \d+ (minutes?|seconds?)/ }).waitFor()
      limited = true
    }
  }
  assert.ok(wrong >= 1 && wrong <= 5 && limited, `wrong=${wrong} limited=${limited}`)
  // the form waits (its button stays disabled), and so does the server,
  // even for the right password
  assert.equal(await page.getByTestId('login-submit').isDisabled(), true)
  const st = await page.evaluate(async (pw) => (await fetch('login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Requested-With': 'tally' },
    body: new URLSearchParams({ username: 'admin', password: pw }).toString()
  })).status, PASSWORD)
  assert.equal(st, 429)
  assert.equal(await page.getByTestId('topstats').count(), 0)
  assert.deepEqual(pageErrors, [])
  await page.close()
})
