import { test } from 'node:test'
import assert from 'node:assert/strict'
import { installFakeDocument } from './fakedom.js'

installFakeDocument()
const { loginErrorText, waitText, createLogin } = await import('../../dashboard/src/views/login.js')
const { ApiError } = await import('../../dashboard/src/api.js')

test('login error messages, including rate limiting', () => {
  assert.equal(loginErrorText(new ApiError(401, 'x')), 'Wrong username or password.')
  assert.equal(loginErrorText(new ApiError(429, 'x', 30)), 'Too many login attempts. Try again in 30 seconds.')
  assert.equal(loginErrorText(new ApiError(429, 'x', 90)), 'Too many login attempts. Try again in 2 minutes.')
  assert.equal(loginErrorText(new ApiError(429, 'x', null)), 'Too many login attempts. Try again in a little while.')
  assert.equal(loginErrorText(new ApiError(500, 'boom')), 'Login failed: boom')
  assert.equal(waitText(1), '1 second')
})

test('login form: test ids, submits the fields, shows the error as text', async () => {
  const seen = []
  const { el } = createLogin({ onLogin: async (u, p) => { seen.push([u, p]); throw new ApiError(401, 'no') } })
  const form = el.byTestId('login-form')[0]
  const user = el.byTestId('login-username')[0]
  const pass = el.byTestId('login-password')[0]
  assert.ok(el.byTestId('login-submit')[0])
  user.value = 'admin'
  pass.value = 'secret'
  for (const fn of form.listeners.submit) await fn({ preventDefault () {} })
  assert.deepEqual(seen, [['admin', 'secret']])
  const err = el.byTestId('login-error')[0]
  assert.equal(err.hidden, false)
  assert.equal(err.textContent, 'Wrong username or password.')
  assert.equal(pass.value, '')
})
