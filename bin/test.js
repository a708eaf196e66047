#!/usr/bin/env node
// `npm test`: every check, as fast as two cores allow. First dist/ is brought up to date
// (bin/build.js: only the TypeScript changed since the last run is emitted), then the four
// phases run side by side, each being the npm script of the same name:
//
//   typecheck   tsc --noEmit (incremental: dist/.tsbuildinfo)
//   lint        eslint (with its cache in node_modules/.cache/eslint)
//   features    the cucumber features under every behaviour profile
//   unit        node:test over dist/test/unit/*.test.js, one process per core (bin/unit.js)
//
// Each phase's output is printed whole when it ends (in the order above), then one line per
// phase with its wall time; the exit status is 0 only when every phase passed.
//
//   node bin/test.js [--serial] [phase...]   --serial runs the phases one after another (what
//                                            scripts/time-test.sh uses to time each one alone)
'use strict'
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { ensureBuilt, ROOT } = require('./build')

const PHASES = ['typecheck', 'lint', 'features', 'unit']

const args = process.argv.slice(2)
const serial = args.includes('--serial')
const chosen = args.filter((a) => !a.startsWith('--'))
for (const p of chosen) {
  if (!PHASES.includes(p)) {
    process.stderr.write(`unknown phase ${p} (phases: ${PHASES.join(', ')})\n`)
    process.exit(2)
  }
}
const phases = chosen.length > 0 ? PHASES.filter((p) => chosen.includes(p)) : PHASES

/** The command line of an npm script, read from package.json (so `npm run X` and this agree). */
function scriptOf(name) {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
  const cmd = pkg.scripts[name]
  if (cmd === undefined) throw new Error(`package.json has no script ${name}`)
  return cmd
}

/** Runs one phase with its output captured; resolves to { name, code, seconds, output }. */
function run(name) {
  const started = process.hrtime.bigint()
  return new Promise((resolve) => {
    const chunks = []
    // The same PATH npm gives its scripts: node_modules/.bin first.
    const env = { ...process.env, PATH: `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}`, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' }
    const child = spawn(scriptOf(name), { cwd: ROOT, env, shell: true, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    child.stdout.on('data', (d) => chunks.push(d))
    child.stderr.on('data', (d) => chunks.push(d))
    child.on('close', (code, signal) => {
      children.delete(child)
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      resolve({ name, code: code ?? 1, signal, seconds, output: Buffer.concat(chunks).toString('utf8') })
    })
  })
}

const children = new Set()
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of children) c.kill(sig)
    process.exit(130)
  })
}

async function main() {
  const t0 = process.hrtime.bigint()
  ensureBuilt()
  const results = []
  if (serial) {
    for (const p of phases) {
      const r = await run(p)
      print(r)
      results.push(r)
    }
  } else {
    // Started together; printed in PHASES order as soon as each and those before it are done.
    const pending = phases.map(run)
    for (const p of pending) {
      const r = await p
      print(r)
      results.push(r)
    }
  }
  const total = Number(process.hrtime.bigint() - t0) / 1e9
  console.log(`\nnpm test${serial ? ' --serial' : ''}: ${total.toFixed(1)} s wall on ${require('node:os').availableParallelism()} cores (load ${require('node:os').loadavg()[0].toFixed(2)})`)
  for (const r of results) console.log(`  ${r.name.padEnd(10)} ${r.seconds.toFixed(1).padStart(6)} s  ${r.code === 0 ? 'ok' : `FAILED (exit ${r.code}${r.signal ? `, ${r.signal}` : ''})`}`)
  fs.mkdirSync(path.join(ROOT, 'reports'), { recursive: true })
  fs.writeFileSync(
    path.join(ROOT, 'reports', 'test-times.json'),
    JSON.stringify({ serial, seconds: total, phases: Object.fromEntries(results.map((r) => [r.name, { seconds: r.seconds, exitCode: r.code }])) }, null, 2) + '\n',
  )
  return results.every((r) => r.code === 0) ? 0 : 1
}

function print(r) {
  console.log(`\n===== ${r.name}: npm run ${r.name} (${r.seconds.toFixed(1)} s, ${r.code === 0 ? 'ok' : 'FAILED'}) =====`)
  process.stdout.write(r.output.endsWith('\n') || r.output === '' ? r.output : `${r.output}\n`)
}

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    console.error(e)
    process.exitCode = 2
  },
)
