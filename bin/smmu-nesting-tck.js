#!/usr/bin/env node
// The `smmu-nesting-tck` command: loads the TypeScript CLI (cli/main.ts) through ts-node, so the
// tool runs from a checkout after `npm ci` with no build step. Type-checking is `npm run typecheck`'s job.
/* global require, __dirname, process */
'use strict'
const path = require('node:path') // eslint-disable-line @typescript-eslint/no-require-imports

require('ts-node').register({ transpileOnly: true, project: path.join(__dirname, '..', 'tsconfig.json') }) // eslint-disable-line @typescript-eslint/no-require-imports
const { main } = require('../cli/main') // eslint-disable-line @typescript-eslint/no-require-imports

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e) => {
    process.stderr.write(`smmu-nesting-tck: internal error: ${e && e.stack ? e.stack : String(e)}\n`)
    process.exitCode = 70
  },
)
