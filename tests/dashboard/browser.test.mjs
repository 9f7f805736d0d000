// The built dashboard in real Chromium against tests/dashboard/mock-tallyd.mjs
// (a stand-in for tallyd's contract, served under /tally/).  Needs
// /usr/bin/chromium (or $CHROMIUM) and playwright-core + esbuild + uplot in
// node_modules (or $TALLY_NODE_MODULES); skips with the reason otherwise.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startMock, EVIL_PATH, SHARE_TOKEN } from './mock-tallyd.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const nodeModules = resolve(process.env.TALLY_NODE_MODULES || join(root, 'node_modules'))
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium'
let playwright = null
let why = ''
try {
  playwright = createRequire(join(nodeModules, 'noop.js'))('playwright-core')
} catch (e) { why = 'playwright-core not installed in ' + nodeModules }
if (!why && !existsSync(chromiumPath)) why = 'no Chromium at ' + chromiumPath

let browser, mock, base, outdir
const pageErrors = []

before(async () => {
  if (why) return
  outdir = mkdtempSync(join(tmpdir(), 'tally-dash-'))
  execFileSync(process.execPath, [join(root, 'dashboard/build.mjs'), outdir], { stdio: 'pipe', env: { ...process.env, TALLY_NODE_MODULES: nodeModules } })
  mock = await startMock(outdir)
  base = `http://127.0.0.1:${mock.port}/tally/`
  browser = await playwright.chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] })
})

after(async () => {
  if (browser) await browser.close()
  if (mock) mock.server.close()
  if (outdir) rmSync(outdir, { recursive: true, force: true })
})

async function newPage (opts = {}) {
  const ctx = await browser.newContext(opts)
  const page = await ctx.newPage()
  page.setDefaultTimeout(10000)
  page.on('pageerror', (e) => pageErrors.push(String(e)))
  page.on('dialog', (d) => { pageErrors.push('dialog: ' + d.message()); d.dismiss() })
  return page
}

async function login (page) {
  await page.goto(base)
  await page.getByTestId('login-username').fill('admin')
  await page.getByTestId('login-password').fill('secret')
  await page.getByTestId('login-submit').click()
  await page.getByTestId('stat-value-visitors').filter({ hasNotText: '—' }).waitFor()
}

const t = (name, fn) => test(name, { skip: why || false }, fn)

// Polls fn() until it returns a truthy value or the deadline passes: the
// dashboard issues its queries asynchronously after the URL changes.
async function until (fn, what, ms = 10000) {
  const end = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v) return v
    if (Date.now() > end) throw new Error('timed out waiting for ' + what)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

t('login: wrong password, rate limit, then the dashboard', async () => {
  const page = await newPage()
  await page.goto(base)
  await page.getByTestId('login-username').fill('admin')
  await page.getByTestId('login-password').fill('nope')
  await page.getByTestId('login-submit').click()
  await assert.doesNotReject(page.getByTestId('login-error').filter({ hasText: 'Wrong username or password.' }).waitFor())
  mock.state.rateLimited = true
  await page.getByTestId('login-password').fill('secret')
  await page.getByTestId('login-submit').click()
  await page.getByTestId('login-error').filter({ hasText: 'Try again in 42 seconds' }).waitFor()
  mock.state.rateLimited = false
  await page.close()
  const p2 = await newPage()
  await login(p2)
  const loginReq = mock.log.filter((e) => e.path === '/tally/login').pop()
  assert.equal(loginReq.headers['content-type'], 'application/x-www-form-urlencoded')
  assert.equal(loginReq.headers['x-requested-with'], 'tally')
  // top stats from the API, formatted
  assert.match(await p2.getByTestId('stat-value-visit_duration').textContent(), /^\dm \d\ds$/)
  assert.match(await p2.getByTestId('stat-value-bounce_rate').textContent(), /^\d+(\.\d)?%$/)
  // realtime is answered 400 by the mock: a dash, not an error page
  assert.equal(await p2.getByTestId('current-visitors-value').textContent(), '—')
  // every query carried the CSRF header and was relative to /tally/
  const queries = mock.log.filter((e) => e.path === '/tally/api/v2/query')
  assert.ok(queries.length >= 7, 'top stats, graph, realtime, panels')
  assert.ok(queries.every((q) => q.headers['x-tally-csrf'] === 'C1'))
  // the graph drew
  await p2.locator('[data-testid=graph] canvas').waitFor()
  // the URL got the site
  assert.match(p2.url(), /\?site=example\.com$/)
  await p2.context().close()
})

t('a malicious page path is text; clicking rows filters; back restores', async () => {
  const page = await newPage()
  await login(page)
  const label = page.getByTestId('panel-rows-pages').getByTestId('panel-row-label').filter({ hasText: 'onerror' })
  await label.waitFor()
  assert.equal(await label.textContent(), EVIL_PATH)
  assert.equal(await page.locator('[data-testid=panel-pages] img').count(), 0)
  await label.click()
  const chip = page.getByTestId('filter-chip')
  await chip.waitFor()
  assert.equal(await chip.getAttribute('data-dimension'), 'event:page')
  assert.match(await chip.textContent(), /Page is <img src=x onerror=alert\(1\)>/)
  assert.match(page.url(), /&f=is,event:page,%3Cimg%20src%3Dx%20onerror%3Dalert\(1\)%3E$/)
  // the filter went into the queries
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=stat-views_per_visit]').length === 0)
  const last = mock.log.filter((e) => e.query && !e.query.dimensions).pop()
  assert.deepEqual(last.query.filters, [['is', 'event:page', [EVIL_PATH]]])
  // second filter from another panel
  await page.getByTestId('tab-devices-browsers').click()
  await page.getByTestId('panel-rows-devices').getByTestId('panel-row-label').filter({ hasText: 'Alpha' }).click()
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=filter-chip]').length === 2)
  // drill-down: browsers panel now asks for versions
  await page.waitForFunction(() => /Browser version/i.test(document.querySelector('[data-testid=panel-devices] .row.head').textContent))
  await page.goBack()
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=filter-chip]').length === 1)
  await page.goBack()
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=filter-chip]').length === 0)
  await page.goForward()
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=filter-chip]').length === 1)
  await page.getByTestId('filter-chip-remove').click()
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=filter-chip]').length === 0)
  await page.context().close()
})

t('range, comparison, graph metric and interval live in the URL', async () => {
  const page = await newPage()
  await login(page)
  await page.getByTestId('period-select').selectOption('7d')
  await page.waitForURL(/period=7d/)
  await page.getByTestId('compare-toggle').check()
  await page.waitForURL(/compare=1/)
  await page.getByTestId('stat-change-visitors').filter({ hasText: /[↑↓]|0%/ }).waitFor()
  assert.match(await page.getByTestId('stat-prev-visitors').textContent(), /^vs /)
  await page.getByTestId('stat-pageviews').click()
  await page.waitForURL(/metric=pageviews/)
  assert.equal(await page.getByTestId('graph-title').textContent(), 'Total pageviews')
  const g = await until(() => {
    const d = mock.log.filter((e) => e.query && e.query.dimensions && e.query.dimensions[0] === 'time:day').slice(-2)
    return d.length === 2 && d.every((e) => e.query.metrics[0] === 'pageviews') && d
  }, 'two pageviews graph queries')
  assert.deepEqual(g.map((e) => e.query.metrics), [['pageviews'], ['pageviews']])
  assert.deepEqual(g[0].query.include, { time_labels: true })
  // custom range
  await page.getByTestId('period-select').selectOption('custom')
  await page.getByTestId('custom-from').fill('2024-02-01')
  await page.getByTestId('custom-to').fill('2024-02-29')
  await page.getByTestId('custom-apply').click()
  await page.waitForURL(/period=custom&from=2024-02-01&to=2024-02-29/)
  assert.equal(await page.getByTestId('range-label').textContent(), '1 Feb – 29 Feb 2024')
  await page.getByTestId('interval-select').selectOption('week')
  await page.waitForURL(/interval=week/)
  const wk = await until(() => {
    const w = mock.log.filter((e) => e.query && e.query.dimensions && e.query.dimensions[0] === 'time:week')
    return w.length >= 2 && w
  }, 'the weekly graph and its comparison')
  assert.deepEqual(wk.map((e) => e.query.date_range), [['2024-02-01', '2024-02-29'], ['2024-01-03', '2024-01-31']])
  // reload: the same state comes back from the URL
  await page.reload()
  await page.getByTestId('stat-change-visitors').filter({ hasText: /[↑↓]|0%/ }).waitFor()
  assert.equal(await page.getByTestId('period-select').inputValue(), 'custom')
  assert.equal(await page.getByTestId('interval-select').inputValue(), 'week')
  // site switcher
  await page.getByTestId('site-switcher').selectOption('second.example')
  await page.waitForURL(/site=second\.example/)
  await page.context().close()
})

t('share links: one site, no switcher or logout, token header on every call', async () => {
  const page = await newPage()
  const before = mock.log.length
  await page.goto(base + '?share=' + SHARE_TOKEN)
  await page.getByTestId('stat-value-visitors').filter({ hasNotText: '—' }).waitFor()
  assert.equal(await page.getByTestId('site-name').textContent(), 'shared.example')
  assert.equal(await page.getByTestId('site-switcher').count(), 0)
  assert.equal(await page.getByTestId('logout').count(), 0)
  const api = mock.log.slice(before).filter((e) => e.path.startsWith('/tally/api/'))
  assert.ok(api.length > 3)
  assert.ok(api.every((e) => e.headers['x-tally-share'] === SHARE_TOKEN))
  // filters keep the token in the URL
  await page.getByTestId('panel-rows-sources').getByTestId('panel-row-label').first().click()
  await page.waitForURL(new RegExp('share=' + SHARE_TOKEN))
  // a bad token says so instead of showing a login form
  await page.goto(base + '?share=wrong')
  await page.getByTestId('message').filter({ hasText: 'invalid or has expired' }).waitFor()
  assert.equal(await page.getByTestId('login-form').count(), 0)
  await page.context().close()
})

t('export, details pagination, theme toggle, logout', async () => {
  const page = await newPage({ acceptDownloads: true })
  await login(page)
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()])
  assert.equal(download.suggestedFilename(), 'export.csv')
  const exp = mock.log.filter((e) => e.path === '/tally/api/v1/export').pop()
  assert.match(exp.search, /^\?site_id=example\.com&date_range=\d{4}-\d\d-\d\d%2C\d{4}-\d\d-\d\d$/)
  await page.getByTestId('panel-details-pages').click()
  await page.getByTestId('panel-pages').filter({ hasText: '3 of 3' }).waitFor()
  const det = mock.log.filter((e) => e.query && e.query.pagination && e.query.pagination.limit === 100).pop()
  assert.deepEqual(det.query.include, { total_rows: true })
  const before = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
  await page.getByTestId('theme-toggle').click()
  const theme = await page.evaluate(() => [document.documentElement.dataset.theme, localStorage.getItem('tally.theme')])
  assert.equal(theme[0], theme[1])
  assert.notEqual(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), before)
  await page.getByTestId('logout').click()
  await page.getByTestId('login-form').waitFor()
  const lo = mock.log.filter((e) => e.path === '/tally/logout').pop()
  assert.equal(lo.headers['x-tally-csrf'], 'C1')
  await page.context().close()
})

t('phone width: one column', async () => {
  const page = await newPage({ viewport: { width: 390, height: 800 } })
  await login(page)
  const boxes = await Promise.all(['panel-sources', 'panel-pages', 'panel-devices'].map((id) => page.getByTestId(id).boundingBox()))
  assert.ok(boxes.every((b) => Math.abs(b.x - boxes[0].x) < 1), 'stacked')
  assert.ok(boxes[1].y > boxes[0].y + boxes[0].height - 1)
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  assert.ok(overflow <= 0, 'no horizontal scroll, overflow ' + overflow)
  await page.context().close()
})

t('no script errors and no dialogs in any test', () => {
  assert.deepEqual(pageErrors, [])
})
