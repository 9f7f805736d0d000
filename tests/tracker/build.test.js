// The built script: size budget, and that the minified IIFE works
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { runInThisContext } from 'node:vm'
import { browser } from './fake.js'

const dir = mkdtempSync(join(tmpdir(), 'tally-build-'))
const out = join(dir, 'tally.js')
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))

test('build: bundled, minified, within 1536 bytes gzipped', () => {
  const log = execFileSync(process.execPath, [new URL('../../tracker/build.mjs', import.meta.url).pathname, out], { encoding: 'utf8' })
  const code = readFileSync(out)
  const gz = gzipSync(code).length
  assert.ok(gz <= 1536, `${gz} bytes gzipped`)
  assert.match(log, new RegExp(`${code.length} bytes, ${gz} bytes gzipped`))
  assert.match(code.toString(), /^\(\(\)=>\{/, 'an IIFE')
  assert.doesNotMatch(code.toString(), /\bimport\b|\bexport\b|\?\.|\?\?/, 'no modules, no ES2020 syntax')
})

test('build: the minified script tracks a pageview and a queued custom event', async t => {
  const w = {}
  w.tally = w.tally || function () { (w.tally.q = w.tally.q || []).push(arguments) }
  w.tally('Early', { props: { k: 'v' } })
  const b = browser(t, { url: 'https://example.com/x#h', tally: w.tally, attrs: { 'data-domain': 'example.com', 'data-api': '/e' } })
  runInThisContext(readFileSync(out, 'utf8'))
  await b.advance(200)
  assert.deepEqual(b.events(), [
    { n: 'pageview', u: 'https://example.com/x', d: 'example.com', r: null },
    { n: 'Early', u: 'https://example.com/x', d: 'example.com', r: null, p: { k: 'v' } }
  ])
  assert.equal(b.posts[0].url, '/e')
})
