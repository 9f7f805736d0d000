#!/usr/bin/env node
// tools/gen-bots.mjs -- compile the crawler-user-agents list into C.
//
//   node tools/gen-bots.mjs node_modules/crawler-user-agents/crawler-user-agents.json \
//        build/gen/bot_patterns.c
//
// Reads the npm package `crawler-user-agents` (its JSON list of
// {pattern, instances, ...}) and writes a C file defining
//
//   const char *const bot_patterns[];     PCRE2 syntax, one per entry
//   const size_t      bot_patterns_count;
//
// (declared in bots/bot_patterns.h), which bots/bots.c compiles into a few
// case-insensitive PCRE2 alternations at run time.  The patterns upstream are
// JavaScript regular expressions (no flags); every one is converted here to
// the PCRE2 syntax with the same meaning (see jsToPcre below) and any that
// cannot be converted exactly stops the build with a message.
//
// Headless browsers must count as bots.  EXTRA below names the ones we insist
// on; an extra pattern is appended only when no upstream pattern already
// matches its sample user agent, so the list stays the maintained one.

import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join, basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// Headless / automation browsers that must be classified as bots.  Each entry
// is added only if nothing in the upstream data matches `sample`
// (case-insensitively, as bots.c matches).
const EXTRA = [
  { pattern: 'HeadlessChrome',
    why: 'Chrome/Chromium headless mode, Puppeteer and Playwright defaults',
    sample: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.29 Safari/537.36' },
  { pattern: 'PhantomJS',
    why: 'PhantomJS headless WebKit',
    sample: 'Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1' },
  { pattern: 'Lighthouse',
    why: 'Google Lighthouse / PageSpeed Insights audits',
    sample: 'Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse' },
  { pattern: 'SlimerJS',
    why: 'SlimerJS headless Gecko',
    sample: 'Mozilla/5.0 (X11; Linux x86_64; rv:38.0) Gecko/20100101 SlimerJS/0.10.3' },
];

function die(msg) {
  process.stderr.write(`gen-bots: ${msg}\n`);
  process.exit(1);
}

const HEX = /^[0-9a-fA-F]$/;

// One escape sequence (`\` + more) of a JS regex without the `u` flag, at
// src[i] == '\\'.  Returns [pcreText, charsConsumed].  inClass: inside [...].
function convertEscape(src, i, inClass) {
  const c = src[i + 1];
  if (c === undefined) throw new Error('trailing backslash');
  if (c === 'u') {
    const h = src.slice(i + 2, i + 6);
    if (h.length === 4 && [...h].every((x) => HEX.test(x))) {
      if (parseInt(h, 16) > 0xff) throw new Error(`\\u${h} beyond Latin-1 (the matcher works on bytes)`);
      return [`\\x{${h}}`, 6];
    }
    return ['u', 2]; // identity escape in non-unicode JS
  }
  if (c === 'x') {
    const h = src.slice(i + 2, i + 4);
    if (h.length === 2 && [...h].every((x) => HEX.test(x))) return [`\\x{${h}}`, 4];
    return ['x', 2];
  }
  if (c === 'c') {
    const l = src[i + 2];
    if (l !== undefined && /[A-Za-z]/.test(l)) return [`\\c${l.toUpperCase()}`, 3];
    throw new Error('\\c without a control letter');
  }
  if (c >= '1' && c <= '9') {
    if (inClass) throw new Error('octal escape in class');
    throw new Error('back-reference (cannot be combined into one alternation)');
  }
  if (c === '0') {
    if (/[0-9]/.test(src[i + 2] || '')) throw new Error('legacy octal escape');
    return ['\\x{00}', 2];
  }
  if (c === 'k') throw new Error('named back-reference');
  if (c === 'b') return inClass ? ['\\x{08}', 2] : ['\\b', 2];
  if (c === 'B') {
    if (inClass) return ['B', 2];
    return ['\\B', 2];
  }
  if (c === 'v') return ['\\x{0b}', 2]; // JS \v is VT only; PCRE2 \v is a class
  if ('dDwWsSfnrt'.includes(c)) return [`\\${c}`, 2];
  if (/[A-Za-z]/.test(c)) return [c, 2]; // identity escape (\e, \p, \Q, ...)
  if (/[0-9]/.test(c)) throw new Error('unexpected digit escape');
  return [`\\${c}`, 2]; // escaped punctuation is literal in both
}

// JS regex source (no flags) -> PCRE2 source with the same meaning when
// compiled with PCRE2_CASELESS | PCRE2_DOLLAR_ENDONLY | PCRE2_NO_AUTO_CAPTURE
// (the options bots.c uses) and matched against bytes.
export function jsToPcre(src) {
  new RegExp(src); // must be valid JS in the first place (throws otherwise)
  let out = '';
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    if (ch.charCodeAt(0) > 0x7e || ch.charCodeAt(0) < 0x20) {
      const code = ch.charCodeAt(0);
      if (code > 0xff) throw new Error('non-Latin-1 character');
      out += `\\x{${code.toString(16).padStart(2, '0')}}`;
      i++;
    } else if (ch === '\\') {
      const [t, n] = convertEscape(src, i, false);
      out += t;
      i += n;
    } else if (ch === '[') {
      let j = i + 1;
      let neg = false;
      if (src[j] === '^') { neg = true; j++; }
      if (src[j] === ']') { // [] never matches, [^] matches anything
        out += neg ? '[\\s\\S]' : '(?!)';
        i = j + 1;
        continue;
      }
      let cls = neg ? '[^' : '[';
      while (j < src.length && src[j] !== ']') {
        const cj = src[j];
        if (cj === '\\') {
          const [t, n] = convertEscape(src, j, true);
          cls += t;
          j += n;
        } else if (cj === '[') { // literal in JS; PCRE2 might read [: as POSIX
          cls += '\\[';
          j++;
        } else if (cj.charCodeAt(0) > 0x7e || cj.charCodeAt(0) < 0x20) {
          const code = cj.charCodeAt(0);
          if (code > 0xff) throw new Error('non-Latin-1 character');
          cls += `\\x{${code.toString(16).padStart(2, '0')}}`;
          j++;
        } else {
          cls += cj;
          j++;
        }
      }
      if (j >= src.length) throw new Error('unterminated class');
      out += cls + ']';
      i = j + 1;
    } else if (ch === '.') {
      out += '[^\\n\\r]'; // JS . excludes CR and LF; PCRE2's only LF
      i++;
    } else if (ch === '(' && src[i + 1] === '?') {
      const m = /^\(\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>)/.exec(src.slice(i));
      if (!m) throw new Error('unsupported group syntax');
      out += m[0];
      i += m[0].length;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

// C string literal for an ASCII string; escapes \ " ? (trigraphs under
// -std=c11) and anything unprintable.
function cString(s) {
  let out = '"';
  for (const ch of s) {
    const code = ch.charCodeAt(0);
    if (ch === '\\' || ch === '"' || ch === '?') out += '\\' + ch;
    else if (code < 0x20 || code > 0x7e) out += '\\' + code.toString(8).padStart(3, '0');
    else out += ch;
  }
  return out + '"';
}

function cComment(s) {
  return s.replace(/\*\//g, '*\\/').replace(/[^\x20-\x7e]/g, '?');
}

function main() {
  const [jsonPath, outPath] = process.argv.slice(2);
  if (!jsonPath || !outPath) die('usage: gen-bots.mjs <crawler-user-agents.json> <out.c>');
  let list;
  try {
    list = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    die(`cannot read ${jsonPath}: ${e.message}`);
  }
  if (!Array.isArray(list) || list.length === 0) die(`${jsonPath}: not a non-empty array`);

  let version = 'unknown';
  const pkgPath = join(dirname(jsonPath), 'package.json');
  if (existsSync(pkgPath)) {
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
    version = `${pkg.name}@${pkg.version}`;
  }

  const entries = []; // { js, pcre, extra? }
  // Generated pattern i is upstream entry i (tests/bots relies on it to
  // check each entry against its own examples); the extras follow.
  list.forEach((e, idx) => {
    if (!e || typeof e.pattern !== 'string' || e.pattern === '') die(`entry ${idx}: no pattern`);
    let pcre;
    try {
      pcre = jsToPcre(e.pattern);
    } catch (err) {
      die(`entry ${idx} /${e.pattern}/: ${err.message}`);
    }
    // sanity: the upstream examples must match the upstream JS pattern
    const re = new RegExp(e.pattern, 'i');
    for (const inst of e.instances || []) {
      if (!re.test(inst)) die(`entry ${idx} /${e.pattern}/ does not match its own instance ${JSON.stringify(inst)}`);
    }
    entries.push({ js: e.pattern, pcre });
  });

  const upstream = entries.length;
  const added = [];
  for (const x of EXTRA) {
    const hit = entries.some((e) => new RegExp(e.js, 'i').test(x.sample));
    if (!hit) {
      entries.push({ js: x.pattern, pcre: jsToPcre(x.pattern), extra: x.why });
      added.push(x.pattern);
    }
  }

  const lines = [];
  lines.push('/*');
  lines.push(' * GENERATED by tools/gen-bots.mjs -- do not edit, do not commit.');
  lines.push(` * Source: ${cComment(version)} (${cComment(basename(jsonPath))}),`);
  lines.push(` * ${upstream} upstream patterns + ${added.length} extra` +
             (added.length ? ` (${cComment(added.join(', '))})` : '') + '.');
  lines.push(' * Patterns are PCRE2 syntax for PCRE2_CASELESS | PCRE2_DOLLAR_ENDONLY |');
  lines.push(' * PCRE2_NO_AUTO_CAPTURE; a comment gives the JS original where it differs.');
  lines.push(' */');
  lines.push('#include "bots/bot_patterns.h"');
  lines.push('');
  lines.push(`const char bot_patterns_source[] = ${cString(version)};`);
  lines.push('');
  lines.push('const char *const bot_patterns[] = {');
  entries.forEach((e, i) => {
    let line = `    /* ${i} */ ${cString(e.pcre)},`;
    if (e.extra) line += ` /* extra: ${cComment(e.extra)} */`;
    else if (e.pcre !== e.js) line += ` /* js: ${cComment(e.js)} */`;
    lines.push(line);
  });
  lines.push('};');
  lines.push('');
  lines.push('const size_t bot_patterns_count = sizeof bot_patterns / sizeof bot_patterns[0];');
  lines.push('');

  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, lines.join('\n'));
  process.stdout.write(`gen-bots: ${entries.length} patterns (${version}` +
                      (added.length ? `, extra: ${added.join(', ')}` : '') + `) -> ${outPath}\n`);
}

// run only as a script, so tests can import jsToPcre
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
