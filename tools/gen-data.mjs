#!/usr/bin/env node
// tools/gen-data.mjs -- turn the maintained enrichment data shipped in npm
// packages into the compact JSON files tallyd's enrichers load at startup.
//
//   node tools/gen-data.mjs [--node-modules DIR] [--out DIR]
//
// DIR defaults: $TALLY_NODE_MODULES or ./node_modules; $TALLY_DATA_OUT or
// build/data.  Inputs (all devDependencies, nothing is fetched):
//   uap-core/regexes.yaml               user agent -> browser / OS / device
//   crawler-user-agents/crawler-user-agents.json   bot patterns
//   referer-parser/data/referers.yml    Snowplow's referrer -> source, medium
//   js-yaml                             YAML reader
// Outputs:
//   uap.json       {"source", "ua":[...], "os":[...], "device":[...], "bots":[...]}
//   referers.json  {"source", "referers":[{"name","medium","domains":[...]}]}
// The C side (aggregator/enrich_uap.c, aggregator/enrich_ref.c) documents
// the fields it reads; docs/enrichment.md explains the rules.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

function arg(name, envName, dflt) {
    const i = process.argv.indexOf(name);
    if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
    return process.env[envName] || dflt;
}

const nm = path.resolve(arg('--node-modules', 'TALLY_NODE_MODULES', 'node_modules'));
const out = path.resolve(arg('--out', 'TALLY_DATA_OUT', 'build/data'));

for (const pkg of ['js-yaml', 'uap-core', 'referer-parser', 'crawler-user-agents']) {
    if (!fs.existsSync(path.join(nm, pkg, 'package.json'))) {
        console.error(`gen-data: ${path.join(nm, pkg)} is missing (run npm ci, or pass --node-modules DIR)`);
        process.exit(1);
    }
}

function pkgVersion(name) {
    return JSON.parse(fs.readFileSync(path.join(nm, name, 'package.json'), 'utf8')).version;
}

const yamlPkg = JSON.parse(fs.readFileSync(path.join(nm, 'js-yaml', 'package.json'), 'utf8'));
const yamlEntry = (yamlPkg.exports && yamlPkg.exports['.'] && yamlPkg.exports['.'].import)
    || yamlPkg.module || yamlPkg.main;
const yaml = await import(pathToFileURL(path.join(nm, 'js-yaml', yamlEntry)).href);
const load = yaml.load || (yaml.default && yaml.default.load);

function readYaml(rel) {
    return load(fs.readFileSync(path.join(nm, rel), 'utf8'));
}

// Keep a key only when the source has it: the C side treats an absent key
// as "no replacement" (the uap-core spec's default).
function pick(src, map) {
    const o = {};
    for (const [from, to] of Object.entries(map))
        if (src[from] !== undefined && src[from] !== null) o[to] = String(src[from]);
    return o;
}

// ---- uap-core ---------------------------------------------------------------
const uap = readYaml('uap-core/regexes.yaml');
const uaRules = uap.user_agent_parsers.map(r => pick(r, {
    regex: 're', family_replacement: 'family', v1_replacement: 'v1',
    v2_replacement: 'v2', v3_replacement: 'v3' }));
const osRules = uap.os_parsers.map(r => pick(r, {
    regex: 're', os_replacement: 'family', os_v1_replacement: 'v1',
    os_v2_replacement: 'v2', os_v3_replacement: 'v3', os_v4_replacement: 'v4' }));
// Only the device family is needed (for the device class and bot flag).
const deviceRules = uap.device_parsers.map(r => {
    const o = pick(r, { regex: 're', device_replacement: 'family' });
    if (r.regex_flag) o.flags = String(r.regex_flag);
    return o;
});

const crawlers = JSON.parse(fs.readFileSync(
    path.join(nm, 'crawler-user-agents', 'crawler-user-agents.json'), 'utf8'));
const bots = crawlers.map(c => String(c.pattern));

const uapOut = {
    source: `uap-core ${pkgVersion('uap-core')}, crawler-user-agents ${pkgVersion('crawler-user-agents')}`,
    ua: uaRules, os: osRules, device: deviceRules, bots,
};

// ---- referer-parser (Snowplow referers.yml) ------------------------------
// The npm package carries a 2013-era snapshot of Snowplow's data.  This
// overlay is the only hand-maintained part: fixes of names that are typos in
// that snapshot and the few domains that took over well-known sources since
// then.  Every entry should be upstream in Snowplow's data today; drop an
// entry once the packaged data has it.  docs/enrichment.md lists them.
const RENAME = { 'DuckDuckGoL': 'DuckDuckGo' };
const EXTRA = [
    { name: 'Twitter', medium: 'social', domains: ['x.com'] },
    { name: 'Instagram', medium: 'social', domains: ['instagram.com'] },
    { name: 'YouTube', medium: 'video', domains: ['youtube.com', 'youtu.be'] },
    { name: 'Gmail', medium: 'email', domains: ['android-app://com.google.android.gm'] },
];

const refSrc = readYaml('referer-parser/data/referers.yml');
const byName = new Map();
for (const [medium, entries] of Object.entries(refSrc)) {
    for (const [rawName, cfg] of Object.entries(entries || {})) {
        const name = RENAME[rawName] || rawName;
        const key = medium + '\u0000' + name;
        if (!byName.has(key)) byName.set(key, { name, medium, domains: [] });
        for (const d of (cfg && cfg.domains) || []) byName.get(key).domains.push(String(d));
    }
}
for (const e of EXTRA) {
    const key = e.medium + '\u0000' + e.name;
    if (!byName.has(key)) byName.set(key, { name: e.name, medium: e.medium, domains: [] });
    byName.get(key).domains.push(...e.domains);
}
const refOut = {
    source: `referer-parser ${pkgVersion('referer-parser')} (Snowplow referers.yml) + overlay in tools/gen-data.mjs`,
    referers: [...byName.values()],
};

fs.mkdirSync(out, { recursive: true });
for (const [file, obj] of [['uap.json', uapOut], ['referers.json', refOut]]) {
    const tmp = path.join(out, file + '.tmp');
    fs.writeFileSync(tmp, JSON.stringify(obj));
    fs.renameSync(tmp, path.join(out, file));
}
console.log(`gen-data: ${out}/uap.json (${uaRules.length} ua, ${osRules.length} os, ` +
            `${deviceRules.length} device, ${bots.length} bot patterns), ` +
            `${out}/referers.json (${refOut.referers.length} sources)`);
