// One shard of the unit tests (bin/unit.js): several compiled test files run in this one process,
// one after another, each as a suite named after its file. That nesting keeps the files apart
// in the report and gives each file's own `before`/`after` hooks the file's scope, as they had
// when every file ran in a process of its own.
//
// Each file's wall time is written, when the process ends, to `<timesFile>` (JSON: file name →
// milliseconds), so bin/unit.js can balance the shards of the next run.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { after, before, describe } = require('node:test')

/** @param {string[]} files absolute paths of compiled test files; @param {string} timesFile */
function runShard(files, timesFile) {
  const times = {}
  for (const file of files) {
    const name = path.basename(file, '.js')
    describe(name, () => {
      let started = 0n
      before(() => {
        started = process.hrtime.bigint()
      })
      after(() => {
        times[name] = Number(process.hrtime.bigint() - started) / 1e6
      })
      require(file)
    })
  }
  process.on('exit', () => {
    try {
      fs.writeFileSync(timesFile, JSON.stringify(times))
    } catch {
      // The timings only balance the next run; a read-only cache costs nothing else.
    }
  })
}

module.exports = { runShard }
