// A stand-in for tallyd's dashboard contract (sites, login/logout with CSRF
// and rate limiting, share tokens, /api/v2/query, export), serving the
// built dashboard under a sub-path.  Used by browser.test.mjs; also handy
// by hand:  node tests/dashboard/mock-tallyd.mjs build/dashboard 8090
// then open http://127.0.0.1:8090/tally/ (admin / secret).
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

export const EVIL_PATH = '<img src=x onerror=alert(1)>'
export const SHARE_TOKEN = 'share-tok-123'

function dayList (a, b) {
  const out = []
  for (let t = Date.parse(a + 'T00:00:00Z'); t <= Date.parse(b + 'T00:00:00Z'); t += 86400000) out.push(new Date(t).toISOString().slice(0, 10))
  return out
}

const TOTALS = { visitors: 1234, visits: 1500, pageviews: 4321, views_per_visit: 2.88, bounce_rate: 45, visit_duration: 125, events: 77, conversion_rate: 3.2 }

export function answer (q) {
  if (q.date_range === 'realtime') return [400, { error: 'date_range "realtime" is not supported yet' }]
  if (!q.site_id || !Array.isArray(q.metrics)) return [400, { error: 'bad query' }]
  const shift = Array.isArray(q.date_range) ? +q.date_range[0].slice(8, 10) : 0
  const dims = q.dimensions || []
  const val = (m, k) => (m in TOTALS ? Math.round((TOTALS[m] * (1 + shift / 50)) / k * 100) / 100 : 1)
  if (dims.length === 0) return [200, { results: [{ dimensions: [], metrics: q.metrics.map((m) => val(m, 1)) }], meta: {}, query: q }]
  const d = dims[0]
  if (d.startsWith('time:')) {
    const labels = Array.isArray(q.date_range) ? dayList(q.date_range[0], q.date_range[1]) : ['2024-01-01', '2024-02-01']
    const results = labels.filter((_, i) => i % 2 === 0).map((l, i) => ({ dimensions: [l], metrics: [10 + i] }))
    return [200, { results, meta: q.include && q.include.time_labels ? { time_labels: labels } : {}, query: q }]
  }
  let labels = ['Alpha', 'Beta', 'Gamma']
  if (d === 'event:page') labels = ['/', EVIL_PATH, '/pricing']
  const filtered = (q.filters || []).find((f) => f[1] === d)
  if (filtered) labels = labels.filter((l) => filtered[2].includes(l))
  const limit = q.pagination ? q.pagination.limit : 10000
  const results = labels.slice(0, limit).map((l, i) => ({ dimensions: [l], metrics: q.metrics.map((m) => (m === 'percentage' ? [50, 30, 20][i] : [100, 60, 40][i])) }))
  const meta = q.include && q.include.total_rows ? { total_rows: labels.length } : {}
  return [200, { results, meta, query: q }]
}

export function startMock (dir, port = 0) {
  const log = []
  const state = { failLogins: 0, rateLimited: false }
  const cookies = (req) => Object.fromEntries((req.headers.cookie || '').split(';').map((c) => c.trim().split('=')).filter((p) => p.length === 2))
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x')
    let body = ''
    req.on('data', (c) => { body += c })
    req.on('end', () => {
      const send = (status, obj, headers = {}) => {
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers })
        res.end(obj === null ? '' : JSON.stringify(obj))
      }
      const c = cookies(req)
      const loggedIn = c.tally_session === 'S1'
      const share = req.headers['x-tally-share']
      const entry = { method: req.method, path: url.pathname, search: url.search, headers: req.headers, body }
      log.push(entry)
      if (!url.pathname.startsWith('/tally/')) { res.writeHead(404); res.end(); return }
      const p = url.pathname.slice('/tally/'.length)
      if (req.method === 'GET' && (p === '' || p === 'index.html' || p === 'app.js' || p === 'app.css')) {
        const f = p === '' ? 'index.html' : p
        const type = { html: 'text/html', js: 'text/javascript', css: 'text/css' }[f.split('.').pop()]
        res.writeHead(200, { 'Content-Type': type + '; charset=utf-8' })
        res.end(readFileSync(join(dir, f)))
        return
      }
      const authed = loggedIn || share === SHARE_TOKEN
      if (p === 'login' && req.method === 'POST') {
        if (req.headers['x-requested-with'] !== 'tally') return send(403, { error: 'missing X-Requested-With' })
        if (state.rateLimited) return send(429, { error: 'too many attempts' }, { 'Retry-After': '42' })
        const f = new URLSearchParams(body)
        if (f.get('username') === 'admin' && f.get('password') === 'secret') {
          res.writeHead(204, { 'Set-Cookie': ['tally_session=S1; Path=/tally/; HttpOnly; SameSite=Strict', 'tally_csrf=C1; Path=/tally/; SameSite=Strict'] })
          res.end()
          return
        }
        state.failLogins++
        return send(401, { error: 'wrong username or password' })
      }
      if (p === 'logout' && req.method === 'POST') {
        if (req.headers['x-tally-csrf'] !== c.tally_csrf) return send(403, { error: 'bad csrf' })
        res.writeHead(204, { 'Set-Cookie': ['tally_session=; Path=/tally/; Max-Age=0', 'tally_csrf=; Path=/tally/; Max-Age=0'] })
        res.end()
        return
      }
      if (!authed) return send(401, { error: 'login required' })
      if (p === 'api/v1/sites') {
        if (share) return send(200, { sites: [{ domain: 'shared.example', timezone: 'UTC' }] })
        return send(200, { sites: [{ domain: 'example.com', timezone: 'UTC' }, { domain: 'second.example', timezone: 'Europe/Berlin' }] })
      }
      if (p === 'api/v2/query' && req.method === 'POST') {
        if (!share && req.headers['x-tally-csrf'] !== c.tally_csrf) return send(403, { error: 'bad csrf' })
        let q
        try { q = JSON.parse(body) } catch (e) { return send(400, { error: 'bad json' }) }
        entry.query = q
        const [status, obj] = answer(q)
        return send(status, obj)
      }
      if (p === 'api/v1/export') {
        res.writeHead(200, { 'Content-Type': 'text/csv', 'Content-Disposition': 'attachment; filename="export.csv"' })
        res.end('date,visitors\n2024-01-01,1\n')
        return
      }
      send(404, { error: 'not found' })
    })
  })
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, log, state, port: server.address().port })))
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const m = await startMock(process.argv[2] || 'build/dashboard', +(process.argv[3] || 8090))
  console.log(`mock tallyd on http://127.0.0.1:${m.port}/tally/  (admin / secret; share: ?share=${SHARE_TOKEN})`)
}
