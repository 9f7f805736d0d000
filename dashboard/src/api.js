// fetch wrapper for tallyd.  Every URL is relative to the page, so the
// dashboard works under a sub-path (https://host/tally/).  Adds the CSRF
// header (value of the readable tally_csrf cookie) to every POST, the share
// token header to every call in share mode, and turns {"error": "..."}
// answers into ApiError.

export class ApiError extends Error {
  constructor (status, message, retryAfter = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.retryAfter = retryAfter
  }
}

export function readCookie (cookieString, name) {
  for (const part of String(cookieString || '').split(';')) {
    const i = part.indexOf('=')
    if (i < 0) continue
    if (part.slice(0, i).trim() === name) {
      const v = part.slice(i + 1).trim()
      try { return decodeURIComponent(v) } catch (e) { return v }
    }
  }
  return ''
}

/** Retry-After (seconds or HTTP date) -> whole seconds, or null. */
export function parseRetryAfter (value, now = Date.now()) {
  if (value === null || value === undefined || value === '') return null
  const s = String(value).trim()
  if (/^\d+$/.test(s)) return parseInt(s, 10)
  const t = Date.parse(s)
  if (Number.isNaN(t)) return null
  return Math.max(0, Math.ceil((t - now) / 1000))
}

async function errorFrom (res) {
  let msg = ''
  try {
    const body = await res.text()
    try {
      const j = JSON.parse(body)
      if (j && typeof j.error === 'string') msg = j.error
    } catch (e) {
      msg = body.trim().slice(0, 200)
    }
  } catch (e) { /* no body */ }
  if (!msg) msg = `HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`
  const ra = res.headers && res.headers.get ? parseRetryAfter(res.headers.get('Retry-After')) : null
  return new ApiError(res.status, msg, ra)
}

export function createApi ({ fetch: fetchFn, cookies, share = '' } = {}) {
  const doFetch = fetchFn || ((...a) => globalThis.fetch(...a))
  const getCookies = cookies || (() => globalThis.document.cookie)

  function headers (post, extra) {
    const h = { Accept: 'application/json' }
    if (share) h['X-Tally-Share'] = share
    if (post) {
      const csrf = readCookie(getCookies(), 'tally_csrf')
      if (csrf) h['X-Tally-CSRF'] = csrf
    }
    return Object.assign(h, extra)
  }

  async function request (method, path, { body, extraHeaders, signal } = {}) {
    const post = method !== 'GET'
    let res
    try {
      res = await doFetch(path, {
        method,
        headers: headers(post, extraHeaders),
        body,
        signal,
        credentials: 'same-origin',
        cache: 'no-store'
      })
    } catch (e) {
      if (e && e.name === 'AbortError') throw e
      throw new ApiError(0, 'Network error: ' + (e && e.message ? e.message : 'request failed'))
    }
    if (!res.ok) throw await errorFrom(res)
    return res
  }

  async function json (res) {
    try {
      return await res.json()
    } catch (e) {
      throw new ApiError(res.status, 'Malformed JSON from server')
    }
  }

  return {
    share,
    async sites () {
      const j = await json(await request('GET', 'api/v1/sites'))
      if (!j || !Array.isArray(j.sites)) throw new ApiError(200, 'Malformed site list from server')
      return j.sites.filter((s) => s && typeof s.domain === 'string')
    },
    async query (body, signal) {
      return json(await request('POST', 'api/v2/query', {
        body: JSON.stringify(body),
        extraHeaders: { 'Content-Type': 'application/json' },
        signal
      }))
    },
    async login (username, password) {
      const form = new URLSearchParams({ username, password })
      await request('POST', 'login', {
        body: form.toString(),
        extraHeaders: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Requested-With': 'tally' }
      })
    },
    async logout () {
      await request('POST', 'logout', { extraHeaders: { 'X-Requested-With': 'tally' } })
    },
    /** -> {blob, filename} */
    async exportCsv (params) {
      const res = await request('GET', 'api/v1/export?' + params, { extraHeaders: { Accept: 'text/csv' } })
      const cd = (res.headers && res.headers.get && res.headers.get('Content-Disposition')) || ''
      const m = /filename="?([^";]+)"?/i.exec(cd)
      return { blob: await res.blob(), filename: m ? m[1].replace(/[/\\]/g, '_') : '' }
    }
  }
}
