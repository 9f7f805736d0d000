// Builds build/tally.js (bundled, minified IIFE, ES2017) from tracker/src and
// fails when it is over the size budget (1536 bytes gzipped).
//   node tracker/build.mjs [outfile]
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'

const BUDGET = 1536
const root = fileURLToPath(new URL('..', import.meta.url))
const outfile = resolve(process.argv[2] || resolve(root, 'build/tally.js'))

await build({
  entryPoints: [resolve(root, 'tracker/src/index.js')],
  outfile,
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2017',
  platform: 'browser',
  legalComments: 'none',
  logLevel: 'warning'
})

const code = readFileSync(outfile)
const gz = gzipSync(code).length
console.log(`${outfile}: ${code.length} bytes, ${gz} bytes gzipped (budget ${BUDGET})`)
if (gz > BUDGET) {
  console.error(`tally.js is ${gz - BUDGET} bytes over the ${BUDGET}-byte gzip budget`)
  process.exit(1)
}
