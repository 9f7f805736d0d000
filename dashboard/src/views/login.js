// Login form (POST login); shows wrong credentials and rate limiting.

import { h, setText } from '../dom.js'

export function waitText (seconds) {
  if (seconds === null || seconds === undefined) return 'a little while'
  if (seconds < 60) return seconds + (seconds === 1 ? ' second' : ' seconds')
  const m = Math.ceil(seconds / 60)
  return m + (m === 1 ? ' minute' : ' minutes')
}

export function loginErrorText (err) {
  if (err && err.status === 401) return 'Wrong username or password.'
  if (err && err.status === 429) return 'Too many login attempts. Try again in ' + waitText(err.retryAfter) + '.'
  return 'Login failed: ' + (err && err.message ? err.message : String(err))
}

export function createLogin ({ onLogin }) {
  const user = h('input', { id: 'login-username', name: 'username', type: 'text', autocomplete: 'username', required: true, autofocus: true, 'data-testid': 'login-username' })
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'login-password' })
  const btn = h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'login-submit' }, 'Log in')
  const err = h('p', { class: 'status error', role: 'alert', 'data-testid': 'login-error', hidden: true })
  let unlockTimer = null

  const form = h('form', { class: 'card login', 'data-testid': 'login-form', on: { submit } },
    h('h1', {}, 'Log in to Tally'),
    h('label', { for: 'login-username' }, 'Username'), user,
    h('label', { for: 'login-password' }, 'Password'), pass,
    err, btn)

  async function submit (ev) {
    ev.preventDefault()
    if (btn.disabled) return
    btn.disabled = true
    err.hidden = true
    try {
      await onLogin(user.value, pass.value)
    } catch (e) {
      setText(err, loginErrorText(e))
      err.hidden = false
      pass.value = ''
      if (e && e.status === 429 && e.retryAfter) {
        clearTimeout(unlockTimer)
        unlockTimer = setTimeout(() => { btn.disabled = false }, e.retryAfter * 1000)
        return
      }
    }
    btn.disabled = false
  }

  return { el: h('div', { class: 'center' }, form) }
}
