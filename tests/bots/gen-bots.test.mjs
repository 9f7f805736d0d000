// tests/bots/gen-bots.test.mjs -- tools/gen-bots.mjs: JS regex -> PCRE2
// conversion and the generated C file.   node --test tests/bots/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsToPcre } from '../../tools/gen-bots.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const gen = join(root, 'tools', 'gen-bots.mjs');

test('plain and PCRE-compatible syntax passes through', () => {
  for (const p of ['Googlebot\\/', 'AdsBot-Google([^-]|$)', '[wW]get', '^curl',
                   '(^| )sentry\\/', 'BlogTraffic\\/\\d\\.\\d+ Feed', 'a[\\s\\S]*b',
                   'Unshorten\\.It\\!', '(?:x)(?=y)(?!z)(?<=a)(?<!b)', '(?<name>q)']) {
    assert.equal(jsToPcre(p), p);
  }
});

test('JS-only meanings are translated', () => {
  assert.equal(jsToPcre('a.b'), 'a[^\\n\\r]b');          // JS . excludes CR too
  assert.equal(jsToPcre('[^]x'), '[\\s\\S]x');            // any char
  assert.equal(jsToPcre('[]x'), '(?!)x');                 // never matches
  assert.equal(jsToPcre('a\\vb'), 'a\\x{0b}b');           // VT, not a class
  assert.equal(jsToPcre('\\u0041\\x41'), '\\x{0041}\\x{41}');
  assert.equal(jsToPcre('\\e\\Q\\p'), 'eQp');             // identity escapes
  assert.equal(jsToPcre('[[:a]'), '[\\[:a]');             // not a POSIX class
  assert.equal(jsToPcre('[\\b]'), '[\\x{08}]');           // backspace in a class
  assert.equal(jsToPcre('\\0'), '\\x{00}');
});

test('what cannot be combined or converted is refused', () => {
  assert.throws(() => jsToPcre('(a)\\1'), /back-reference/);
  assert.throws(() => jsToPcre('(?<n>a)\\k<n>'), /back-reference/);
  assert.throws(() => jsToPcre('\\u0141'), /Latin-1/);
  assert.throws(() => jsToPcre('a('), SyntaxError);
});

function generate(list, pkg) {
  const dir = mkdtempSync(join(tmpdir(), 'gen-bots-'));
  writeFileSync(join(dir, 'crawler-user-agents.json'), JSON.stringify(list));
  if (pkg) writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
  const out = join(dir, 'out.c');
  execFileSync(process.execPath, [gen, join(dir, 'crawler-user-agents.json'), out],
               { stdio: ['ignore', 'ignore', 'pipe'] });
  return readFileSync(out, 'utf8');
}

test('C output: escaping, version, extras only when missing', () => {
  const c = generate([{ pattern: 'a"b\\\\c??=d', instances: [] },
                      { pattern: 'HeadlessChrome', instances: [] }],
                     { name: 'crawler-user-agents', version: '9.9.9' });
  assert.match(c, /crawler-user-agents@9\.9\.9/);
  assert.ok(c.includes('"a\\"b\\\\\\\\c\\?\\?=d"'), c);   // no trigraph, no bare "
  assert.ok(c.includes('"HeadlessChrome",\n'));          // upstream, not extra
  assert.ok(!c.includes('"HeadlessChrome", /* extra'));
  assert.ok(c.includes('"PhantomJS", /* extra'));
  assert.ok(c.includes('"Lighthouse", /* extra'));
  assert.match(c, /const size_t bot_patterns_count = sizeof bot_patterns/);
});

test('a pattern that misses its own example stops the build', () => {
  assert.throws(() => generate([{ pattern: 'foo', instances: ['bar'] }]));
  assert.throws(() => generate([{ pattern: '(x)\\1', instances: [] }]));
  assert.throws(() => generate([]));
});
