#!/usr/bin/env node
// Runs a TypeScript entry point from its compiled JavaScript: `node bin/run.js scripts/report.ts
// [args...]` brings dist/ up to date (bin/build.js) and runs dist/scripts/report.js with the same
// arguments (process.argv[1] is the JavaScript file, so process.argv.slice(2) is unchanged).
// The npm scripts go through it; any new entry point works the same way, with no configuration.
'use strict'
const path = require('node:path')
const { ensureBuilt, ROOT, DIST } = require('./build')

const entry = process.argv[2]
if (entry === undefined || !entry.endsWith('.ts')) {
  process.stderr.write('usage: node bin/run.js <file.ts> [args...]\n')
  process.exit(2)
}
ensureBuilt()
process.setSourceMapsEnabled(true)
const js = path.join(DIST, path.relative(ROOT, path.resolve(entry)).replace(/\.ts$/, '.js'))
process.argv.splice(1, 2, js)
require(js)
