#!/usr/bin/env node
// The `smmu-nesting-tck` command: runs the CLI (cli/main.ts) from its compiled JavaScript in
// dist/, which bin/build.js brings up to date first (after an edit, only the changed files are
// emitted), so the tool runs from a checkout after `npm ci` with no build step to remember.
// Type-checking is `npm run typecheck`'s job.
'use strict'
require('./build').ensureBuilt()
// `smmu-nesting-tck --help | head`: the reader has gone; stop quietly instead of an EPIPE trace.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw e
})
const { main } = require('../dist/cli/main')

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e) => {
    process.stderr.write(`smmu-nesting-tck: internal error: ${e && e.stack ? e.stack : String(e)}\n`)
    process.exitCode = 70
  },
)
