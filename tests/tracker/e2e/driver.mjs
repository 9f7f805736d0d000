// Browser driver for the tracker's end-to-end tests (test_tracker_e2e.py).
//
// One real headless Chromium (playwright-core, /usr/bin/chromium or
// $CHROMIUM) for the whole run; each page lives in its own fresh browser
// context.  The User-Agent (argv[2], else a desktop Chrome one) is set both
// per context and with --user-agent: headless Chromium's own contains
// "HeadlessChrome", which the bot filter drops, and a sendBeacon sent while
// a page unloads for a navigation goes out with the browser's User-Agent,
// not the context's override.
//
// Protocol: JSON lines.  Each line on stdin is a command
//   {"id": n, "op": "...", ...args}
// and each answer is one line on stdout
//   {"id": n, "ok": true, "value": ...}   or   {"id": n, "ok": false, "error": "..."}
// Commands run one at a time, in order.  A first line {"ready": true} says
// the browser is up.  EOF on stdin closes the browser and exits.
//
// ops:
//   open      {url, clock?}         fresh context + page, goto url (load);
//                                   clock: install Playwright's fake clock
//                                   first (time flows until "pause");
//                                   value: page id
//   eval      {page, expr}          page.evaluate(expr) (an expression
//                                   string; a promise is awaited)
//   wait      {page, expr, timeout} waits until expr is truthy in the page
//   click     {page, selector}
//   offline   {page, value}         context.setOffline(value)
//   pause     {page}                stops the fake clock (no timer fires
//                                   any more; Date.now() stands still)
//   requests  {page}                what the page sent to .../api/event as
//                                   Playwright saw it: [{url, method, type,
//                                   body, failure}].  Statuses are not kept:
//                                   Playwright reports keepalive fetches as
//                                   net::ERR_ABORTED even when the server
//                                   answered 202 (the tests read NGINX's
//                                   access log for what arrived)
//   wait_failed {page, n, pattern, timeout}
//                                   waits until >= n logged requests failed
//                                   with an error matching pattern
//   console   {page}                console messages and page errors
//   close     {page, runBeforeUnload}  page.close(); the context stays open
//                                   (a sendBeacon outlives its page)
//   dispose   {page}                closes the context
import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const { chromium } = createRequire(root + 'package.json')('playwright-core')

const UA = process.argv[2] || 'Mozilla/5.0 (X11; Linux x86_64) ' +
  'AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--user-agent=' + UA]
})

const pages = new Map()
let nextPage = 1

const isBeacon = r => /\/api\/event(\?|$)/.test(new URL(r.url()).pathname)

const ops = {
  async open ({ url, clock }) {
    const context = await browser.newContext({ userAgent: UA })
    if (clock) await context.clock.install()
    const log = []
    const console_ = []
    const entry = new Map()
    context.on('request', r => {
      if (!isBeacon(r)) return
      const e = { url: r.url(), method: r.method(), type: r.resourceType(), body: r.postData(), failure: null }
      entry.set(r, e)
      log.push(e)
    })
    context.on('requestfailed', r => {
      const e = entry.get(r)
      if (e) e.failure = r.failure()?.errorText || 'failed'
    })
    const page = await context.newPage()
    page.on('console', m => console_.push(m.type() + ': ' + m.text()))
    page.on('pageerror', e => console_.push('pageerror: ' + e.message))
    const id = nextPage++
    pages.set(id, { context, page, log, console: console_ })
    await page.goto(url, { waitUntil: 'load', timeout: 15000 })
    return id
  },
  async eval ({ page, expr }) { return await get(page).page.evaluate(expr) },
  async wait ({ page, expr, timeout = 10000 }) {
    await get(page).page.waitForFunction(expr, null, { timeout, polling: 20 })
    return true
  },
  async click ({ page, selector }) { await get(page).page.click(selector); return true },
  async offline ({ page, value }) { await get(page).context.setOffline(!!value); return true },
  async requests ({ page }) { return get(page).log },
  async console ({ page }) { return get(page).console },
  async pause ({ page }) {
    const p = get(page).page
    // a moment ahead: the fake clock keeps flowing until it is paused
    await p.clock.pauseAt(await p.evaluate('Date.now()') + 1000)
    return true
  },
  async wait_failed ({ page, n, pattern, timeout = 10000 }) {
    const p = get(page)
    const re = new RegExp(pattern)
    const deadline = Date.now() + timeout
    for (;;) {
      const got = p.log.filter(e => e.failure && re.test(e.failure)).length
      if (got >= n) return got
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeout} ms waiting for ${n} requests ` +
          `failed with /${pattern}/; log: ` + JSON.stringify(p.log))
      }
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  },
  async close ({ page, runBeforeUnload = false }) {
    await get(page).page.close({ runBeforeUnload })
    return true
  },
  async dispose ({ page }) {
    const p = pages.get(page)
    if (p) { pages.delete(page); await p.context.close() }
    return true
  }
}

function get (id) {
  const p = pages.get(id)
  if (!p) throw new Error(`no page ${id}`)
  return p
}

const out = o => process.stdout.write(JSON.stringify(o) + '\n')
out({ ready: true, version: browser.version() })

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of rl) {
  if (!line.trim()) continue
  let cmd
  try { cmd = JSON.parse(line) } catch (e) { out({ id: null, ok: false, error: 'bad JSON: ' + e.message }); continue }
  try {
    const f = ops[cmd.op]
    if (!f) throw new Error(`unknown op ${cmd.op}`)
    out({ id: cmd.id, ok: true, value: (await f(cmd)) ?? null })
  } catch (e) {
    out({ id: cmd.id, ok: false, error: String(e && e.stack || e) })
  }
}
await browser.close()
