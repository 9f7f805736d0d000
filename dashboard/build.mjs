// Builds the dashboard into build/dashboard/ (index.html, app.js, app.css)
// and fails when all JS + CSS together are over the gzip budget.
//   node dashboard/build.mjs [outdir]
// esbuild and uplot come from <repo>/node_modules, or from the directory in
// $TALLY_NODE_MODULES (e.g. /tmp/dash/node_modules while developing).
import { createRequire } from 'node:module'
import { readFileSync, mkdirSync, copyFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { resolve, join } from 'node:path'

const BUDGET = 100 * 1024
const root = fileURLToPath(new URL('..', import.meta.url))
const nodeModules = resolve(process.env.TALLY_NODE_MODULES || join(root, 'node_modules'))
const outdir = resolve(process.argv[2] || join(root, 'build/dashboard'))
const require = createRequire(join(nodeModules, 'noop.js'))

let esbuild, uplotVersion
try {
  esbuild = require('esbuild')
  uplotVersion = JSON.parse(readFileSync(join(nodeModules, 'uplot/package.json'), 'utf8')).version
} catch (e) {
  console.error(`dashboard: esbuild and uplot must be installed in ${nodeModules} (npm install): ${e.message}`)
  process.exit(1)
}

mkdirSync(outdir, { recursive: true })
const common = {
  bundle: true,
  minify: true,
  nodePaths: [nodeModules],
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: root
}

await esbuild.build({
  ...common,
  entryPoints: [join(root, 'dashboard/src/main.js')],
  outfile: join(outdir, 'app.js'),
  format: 'iife',
  target: 'es2019',
  platform: 'browser',
  banner: { js: `/*! Tally dashboard. Includes uPlot ${uplotVersion} (c) Leon Sorokin, MIT License, https://github.com/leeoniya/uPlot */` }
})
await esbuild.build({
  ...common,
  entryPoints: [join(root, 'dashboard/app.css')],
  outfile: join(outdir, 'app.css'),
  target: ['chrome90', 'firefox90', 'safari14']
})
copyFileSync(join(root, 'dashboard/index.html'), join(outdir, 'index.html'))

let total = 0
for (const f of ['app.js', 'app.css']) {
  const buf = readFileSync(join(outdir, f))
  const gz = gzipSync(buf, { level: 9 }).length
  total += gz
  console.log(`${join(outdir, f)}: ${buf.length} bytes, ${gz} bytes gzipped`)
}
console.log(`dashboard JS+CSS: ${total} bytes gzipped (budget ${BUDGET})`)
if (total > BUDGET) {
  console.error(`dashboard is ${total - BUDGET} bytes over the ${BUDGET}-byte gzip budget`)
  process.exit(1)
}
