#!/usr/bin/env node
// `npm run unit`: the node:test unit and property tests (dist/test/unit/*.test.js), in as many
// processes as the machine has cores rather than one process per file.
//
// Why: node:test (Node 20) runs every file in a process of its own, and each of those processes
// loads the model again: over 31 files that was some 17 s of CPU out of 45 s. Here the files are
// dealt into shards, one per core; each shard is one process that runs its files one after
// another (bin/unit-shard.js), each file as a suite named after it. `node --test` runs the
// shards side by side and reports them as one run, so the reporters, the exit status and the
// per-test output are what they were.
//
// The shards are balanced by each file's wall time in the previous runs (the mean of the last
// run's and the earlier estimate, kept in node_modules/.cache/smmu-nesting-tck/unit-times.json);
// a file never timed counts as the mean of the others (1 s when nothing is known yet), so a clean
// clone still gets shards of equal size. No file takes much more than a tenth of the total (the
// campaigns are one file each), so the shards can end close together.
//
//   node bin/unit.js [--junit FILE] [--shards N] [test file...]
//
// Without test files every file under dist/test/unit runs; a file may be named by its
// TypeScript source (test/unit/memory.test.ts) or by a JavaScript file. --junit writes a
// JUnit XML report instead of the spec (stdout) and TAP (reports/unit.tap) reports.
'use strict'
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { ensureBuilt, ROOT } = require('./build')

const UNIT_DIR = path.join(ROOT, 'dist', 'test', 'unit')
// (TCK_UNIT_CACHE moves it: the tests of this runner use their own.)
const CACHE = process.env.TCK_UNIT_CACHE ?? path.join(ROOT, 'node_modules', '.cache', 'smmu-nesting-tck')
const TIMES = path.join(CACHE, 'unit-times.json')
const SHARD_DIR = path.join(CACHE, 'unit-shards')

function usage(message) {
  process.stderr.write(`${message}\nusage: node bin/unit.js [--junit FILE] [--shards N] [test file...]\n`)
  process.exit(2)
}

function parseArgs(argv) {
  const out = { junit: undefined, shards: os.availableParallelism(), files: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--junit') {
      const file = argv[++i]
      if (file === undefined) usage('--junit needs a file name')
      out.junit = path.resolve(file)
    } else if (a === '--shards') {
      out.shards = Number(argv[++i])
      if (!Number.isInteger(out.shards) || out.shards < 1) usage(`--shards needs a positive integer, not ${argv[i]}`)
    } else if (a.startsWith('-')) {
      usage(`unknown option ${a}`)
    } else {
      out.files.push(a)
    }
  }
  return out
}

/** The compiled test file a command-line name stands for (source or JavaScript path). */
function compiledTestFile(name) {
  const abs = path.resolve(name)
  if (abs.endsWith('.js') && fs.existsSync(abs)) return abs
  const rel = path.relative(ROOT, abs).split(path.sep).join('/')
  const js = rel.startsWith('dist/') ? abs : path.join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'))
  if (!fs.existsSync(js)) usage(`no compiled test file for ${name} (looked for ${path.relative(ROOT, js)})`)
  return js
}

function readTimes() {
  try {
    const t = JSON.parse(fs.readFileSync(TIMES, 'utf8'))
    return t !== null && typeof t === 'object' ? t : {}
  } catch {
    return {}
  }
}

/**
 * Deals the files into `n` shards, longest first, each to the shard with the least time so far
 * (LPT scheduling); within a shard the files keep their alphabetical order, so a run's output
 * does not depend on the timings.
 */
function deal(files, n, times) {
  const known = files.map((f) => times[path.basename(f, '.js')]).filter((t) => typeof t === 'number')
  const fallback = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : 1000
  const cost = (f) => {
    const t = times[path.basename(f, '.js')]
    return typeof t === 'number' ? t : fallback
  }
  const shards = Array.from({ length: Math.min(n, files.length) }, () => ({ files: [], ms: 0 }))
  for (const f of [...files].sort((a, b) => cost(b) - cost(a) || a.localeCompare(b))) {
    const s = shards.reduce((best, x) => (x.ms < best.ms ? x : best))
    s.files.push(f)
    s.ms += cost(f)
  }
  for (const s of shards) s.files.sort()
  return shards
}

/**
 * Folds one run's file times into the remembered ones: the mean of the two, so one run slowed down
 * by the machine's neighbours (a file's wall time moves by half from run to run) does not decide
 * the next deal alone. A file timed for the first time takes its time as measured.
 */
function blendTimes(times, measured) {
  for (const [name, ms] of Object.entries(measured)) {
    const old = times[name]
    times[name] = typeof old === 'number' ? (old + ms) / 2 : ms
  }
  return times
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  ensureBuilt()
  const files =
    opts.files.length > 0
      ? opts.files.map(compiledTestFile)
      : fs
          .readdirSync(UNIT_DIR)
          .filter((f) => f.endsWith('.test.js'))
          .sort()
          .map((f) => path.join(UNIT_DIR, f))
  if (files.length === 0) usage(`no test files under ${path.relative(ROOT, UNIT_DIR)}`)

  const times = readTimes()
  if (opts.files.length === 0) {
    // A full run: forget files that are gone (renamed or deleted), so they do not linger.
    const present = new Set(files.map((f) => path.basename(f, '.js')))
    for (const name of Object.keys(times)) if (!present.has(name)) delete times[name]
  }
  fs.rmSync(SHARD_DIR, { recursive: true, force: true })
  fs.mkdirSync(SHARD_DIR, { recursive: true })
  const shards = deal(files, opts.shards, times).map((s, i, all) => {
    const entry = path.join(SHARD_DIR, `shard-${i + 1}-of-${all.length}.js`)
    const timesFile = path.join(SHARD_DIR, `times-${i + 1}.json`)
    fs.writeFileSync(entry, `require(${JSON.stringify(path.join(__dirname, 'unit-shard.js'))}).runShard(${JSON.stringify(s.files)}, ${JSON.stringify(timesFile)})\n`)
    return { entry, timesFile }
  })

  fs.mkdirSync(path.join(ROOT, 'reports'), { recursive: true })
  const reporters = opts.junit
    ? ['--test-reporter=junit', `--test-reporter-destination=${opts.junit}`]
    : ['--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${path.join(ROOT, 'reports', 'unit.tap')}`]
  const args = ['--enable-source-maps', '--test', `--test-concurrency=${shards.length}`, ...reporters, ...shards.map((s) => s.entry)]
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit' })
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
  const code = await new Promise((resolve) => child.on('close', (c, signal) => resolve(c ?? (signal ? 1 : 0))))

  // Remember this run's times for the next one (a file that did not run keeps its old time).
  for (const s of shards) {
    try {
      blendTimes(times, JSON.parse(fs.readFileSync(s.timesFile, 'utf8')))
    } catch {
      // a shard that died before writing its times: the next run uses the old ones
    }
  }
  try {
    fs.writeFileSync(TIMES, `${JSON.stringify(times, null, 1)}\n`)
  } catch {
    // read-only node_modules: balance by count next time
  }
  process.exit(code)
}

module.exports = { blendTimes, deal }

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e.stack ?? e}\n`)
    process.exit(1)
  })
}
