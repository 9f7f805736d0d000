import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createApi, readCookie, parseRetryAfter, ApiError } from '../../dashboard/src/api.js'

// A fake fetch that records requests and answers from a queue.
function fakeFetch (answers) {
  const calls = []
  const fn = async (url, init) => {
    calls.push({ url, init })
    const a = answers.shift()
    if (a instanceof Error) throw a
    const headers = new Map(Object.entries(a.headers || {}).map(([k, v]) => [k.toLowerCase(), v]))
    return {
      ok: a.status >= 200 && a.status < 300,
      status: a.status,
      statusText: a.statusText || '',
      headers: { get: (k) => (headers.has(k.toLowerCase()) ? headers.get(k.toLowerCase()) : null) },
      json: async () => JSON.parse(a.body),
      text: async () => a.body || '',
      blob: async () => ({ size: (a.body || '').length, text: a.body })
    }
  }
  fn.calls = calls
  return fn
}

const COOKIES = () => 'theme=x; tally_csrf=abc%2B123; other=1'

test('readCookie', () => {
  assert.equal(readCookie('a=1; tally_csrf=tok; b=2', 'tally_csrf'), 'tok')
  assert.equal(readCookie('xtally_csrf=no; tally_csrf=yes', 'tally_csrf'), 'yes')
  assert.equal(readCookie('', 'tally_csrf'), '')
  assert.equal(readCookie('tally_csrf=a%2Bb', 'tally_csrf'), 'a+b')
})

test('parseRetryAfter', () => {
  assert.equal(parseRetryAfter('30'), 30)
  assert.equal(parseRetryAfter(null), null)
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 30)
  assert.equal(parseRetryAfter('soon'), null)
})

test('query: relative URL, JSON body, CSRF header, no share header', async () => {
  const f = fakeFetch([{ status: 200, body: '{"results":[],"meta":{},"query":{}}' }])
  const api = createApi({ fetch: f, cookies: COOKIES })
  const body = { site_id: 'example.com', metrics: ['visitors'], date_range: '7d' }
  const r = await api.query(body)
  assert.deepEqual(r.results, [])
  const { url, init } = f.calls[0]
  assert.equal(url, 'api/v2/query')
  assert.equal(init.method, 'POST')
  assert.equal(init.credentials, 'same-origin')
  assert.deepEqual(JSON.parse(init.body), body)
  assert.equal(init.headers['X-Tally-CSRF'], 'abc+123')
  assert.equal(init.headers['Content-Type'], 'application/json')
  assert.equal(init.headers['X-Tally-Share'], undefined)
})

test('share mode: X-Tally-Share on every call, GETs carry no CSRF header', async () => {
  const f = fakeFetch([
    { status: 200, body: '{"sites":[{"domain":"example.com","timezone":"Europe/Berlin"},{"nodomain":1}]}' },
    { status: 200, body: '{"results":[]}' }
  ])
  const api = createApi({ fetch: f, cookies: () => '', share: 's3cr3t' })
  const sites = await api.sites()
  assert.deepEqual(sites, [{ domain: 'example.com', timezone: 'Europe/Berlin' }])
  await api.query({})
  assert.equal(f.calls[0].url, 'api/v1/sites')
  assert.equal(f.calls[0].init.method, 'GET')
  assert.equal(f.calls[0].init.headers['X-Tally-Share'], 's3cr3t')
  assert.equal(f.calls[0].init.headers['X-Tally-CSRF'], undefined)
  assert.equal(f.calls[1].init.headers['X-Tally-Share'], 's3cr3t')
})

test('login: form-encoded, X-Requested-With; 401 and 429 become ApiError', async () => {
  const f = fakeFetch([
    { status: 204, body: '' },
    { status: 401, body: '{"error":"wrong username or password"}' },
    { status: 429, body: '{"error":"too many attempts"}', headers: { 'Retry-After': '120' } }
  ])
  const api = createApi({ fetch: f, cookies: () => '' })
  await api.login('admin', 'p&ss=w rd')
  const { url, init } = f.calls[0]
  assert.equal(url, 'login')
  assert.equal(init.method, 'POST')
  assert.equal(init.headers['Content-Type'], 'application/x-www-form-urlencoded')
  assert.equal(init.headers['X-Requested-With'], 'tally')
  const form = new URLSearchParams(init.body)
  assert.equal(form.get('username'), 'admin')
  assert.equal(form.get('password'), 'p&ss=w rd')
  await assert.rejects(api.login('a', 'b'), (e) => e instanceof ApiError && e.status === 401 && e.message === 'wrong username or password')
  await assert.rejects(api.login('a', 'b'), (e) => e.status === 429 && e.retryAfter === 120)
})

test('logout sends the CSRF header', async () => {
  const f = fakeFetch([{ status: 204, body: '' }])
  await createApi({ fetch: f, cookies: COOKIES }).logout()
  assert.equal(f.calls[0].url, 'logout')
  assert.equal(f.calls[0].init.headers['X-Tally-CSRF'], 'abc+123')
  assert.equal(f.calls[0].init.headers['X-Requested-With'], 'tally')
})

test('errors: JSON error, plain text, empty, network, malformed JSON', async () => {
  const f = fakeFetch([
    { status: 400, body: '{"error":"Invalid metric \\"foo\\""}' },
    { status: 502, body: '<html>Bad gateway</html>' },
    { status: 500, body: '', statusText: 'Internal Server Error' },
    new TypeError('Failed to fetch'),
    { status: 200, body: 'not json' }
  ])
  const api = createApi({ fetch: f, cookies: COOKIES })
  await assert.rejects(api.query({}), { status: 400, message: 'Invalid metric "foo"' })
  await assert.rejects(api.query({}), { status: 502, message: '<html>Bad gateway</html>' })
  await assert.rejects(api.query({}), { status: 500, message: 'HTTP 500 Internal Server Error' })
  await assert.rejects(api.query({}), { status: 0, message: 'Network error: Failed to fetch' })
  await assert.rejects(api.query({}), { message: 'Malformed JSON from server' })
})

test('aborts propagate as AbortError', async () => {
  const err = new Error('aborted')
  err.name = 'AbortError'
  const api = createApi({ fetch: fakeFetch([err]), cookies: COOKIES })
  await assert.rejects(api.query({}), { name: 'AbortError' })
})

test('sites: malformed list is an error', async () => {
  const api = createApi({ fetch: fakeFetch([{ status: 200, body: '{"nope":1}' }]), cookies: COOKIES })
  await assert.rejects(api.sites(), /Malformed site list/)
})

test('export: GET with the same auth, filename from Content-Disposition (sanitised)', async () => {
  const f = fakeFetch([{ status: 200, body: 'a,b\n1,2\n', headers: { 'Content-Disposition': 'attachment; filename="../x/example.com.csv"' } }])
  const api = createApi({ fetch: f, cookies: COOKIES, share: 'tok' })
  const { blob, filename } = await api.exportCsv('site_id=example.com&date_range=all')
  assert.equal(f.calls[0].url, 'api/v1/export?site_id=example.com&date_range=all')
  assert.equal(f.calls[0].init.method, 'GET')
  assert.equal(f.calls[0].init.headers['X-Tally-Share'], 'tok')
  assert.equal(f.calls[0].init.headers.Accept, 'text/csv')
  assert.equal(filename, '.._x_example.com.csv')
  assert.equal(blob.size, 8)
})
