/**
 * npm run bench:instructions [-- --json] [-- --runs K]
 *
 * Instructions per walk, the model's and the C walker's (bench/c/walk.c), counted by valgrind
 * (`--tool=cachegrind --cache-sim=no`): each program runs twice on the same scene, once with N
 * walks and once with none, and the difference over N is the cost of one walk. Unlike walks per
 * second, the count does not move with what the machine's neighbours do, so it tells whether a
 * change to a walker made it do less work; it does not see cache misses, which are most of the C
 * walker's time. The model's count still moves by a few per cent from one pair of runs to the
 * next (a collection or a compilation more or less in one of them), so it is measured K times
 * (default 3) and the median printed with the range; the C walker's is the same every time.
 *
 * The model runs under `node --predictable` (V8 compiles on the main thread, at the same points
 * every run) after bench/instructions-driver.ts's warm-up; its count includes the share of
 * garbage collection its walks cause. Needs valgrind (Debian: `apt-get install valgrind`) and a
 * C compiler; without them it says so and exits 2. Takes about a minute per run on two cores
 * (the two runs of a pair side by side).
 */
import { spawn, spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { ROOT } from '../model/root'
import { median } from './measure'
import { buildNativeWalker, type NativeScene } from './native'

/** Counted walks: enough that a few thousand instructions of noise are below 0.1 per walk. */
const MODEL_WALKS = { s1: 400_000, nested: 100_000 } as const
const C_WALKS = { s1: 1_000_000, nested: 1_000_000 } as const

const USAGE = 'usage: npm run bench:instructions [-- --json] [-- --runs K]'
const args = process.argv.slice(2)
let json = false
let runs = 3
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '--json') json = true
  else if (a === '--runs') {
    runs = Number(args[++i])
    if (!Number.isInteger(runs) || runs < 1) {
      process.stderr.write(`--runs needs a positive integer, not ${args[i]}\n${USAGE}\n`)
      process.exit(2)
    }
  } else {
    process.stderr.write(`unknown option ${a}\n${USAGE}\n`)
    process.exit(2)
  }
}

function progress(msg: string): void {
  process.stderr.write(`bench:instructions: ${msg}\n`)
}

const VALGRIND_ARGS = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null']

/** The count valgrind printed for one run of `command`. */
function parseCount(command: string, commandArgs: readonly string[], status: number | null, stderr: string): number {
  if (status !== 0) throw new Error(`valgrind ${command} ${commandArgs.join(' ')} failed (exit ${status}): ${stderr.trim().split('\n').slice(-5).join('\n')}`)
  const m = /I\s+refs:\s+([\d,]+)/.exec(stderr)
  if (m === null) throw new Error(`valgrind printed no instruction count for ${command}: ${stderr.slice(-500)}`)
  return Number((m[1] as string).replace(/,/g, ''))
}

/** Instructions valgrind counted for one run of `command` (side by side with others). */
function instructions(command: string, commandArgs: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('valgrind', [...VALGRIND_ARGS, command, ...commandArgs], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (d: string) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (status) => {
      try {
        resolve(parseCount(command, commandArgs, status, stderr))
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)))
      }
    })
  })
}

/** Instructions per walk: (count with `walks` walks − count with none) / walks, the two run side by side. */
async function perWalk(command: string, argsFor: (walks: number) => string[], walks: number): Promise<number> {
  const [some, none] = await Promise.all([instructions(command, argsFor(walks)), instructions(command, argsFor(0))])
  return (some - none) / walks
}

async function main(): Promise<number> {
  const v = spawnSync('valgrind', ['--version'], { encoding: 'utf8' })
  if (v.error !== undefined || v.status !== 0) {
    process.stderr.write('bench:instructions: valgrind is not installed (Debian: apt-get install valgrind)\n')
    return 2
  }
  const native = buildNativeWalker()
  if (!('binary' in native)) {
    process.stderr.write(`bench:instructions: ${native.missing}\n`)
    return 2
  }
  const driver = path.join(ROOT, 'dist', 'bench', 'instructions-driver.js')
  const out: Record<string, number | number[] | string> = { valgrind: v.stdout.trim(), runs }
  const rows: string[] = []
  for (const scene of ['s1', 'nested'] as NativeScene[]) {
    const counts: number[] = []
    for (let r = 1; r <= runs; r++) {
      progress(`the model's ${scene} walks, run ${r} of ${runs} (${MODEL_WALKS[scene]} counted, and none, side by side under valgrind)`)
      counts.push(Math.round(await perWalk(process.execPath, (n) => ['--predictable', driver, scene, String(n)], MODEL_WALKS[scene])))
    }
    progress(`the C walker's ${scene} walks`)
    const c = Math.round(await perWalk(native.binary, (n) => [scene, '--walks', String(n)], C_WALKS[scene]))
    const model = median(counts)
    out[`model_${scene}_instructions_per_walk`] = model
    out[`model_${scene}_instructions_per_walk_runs`] = counts
    out[`c_${scene}_instructions_per_walk`] = c
    out[`${scene}_instruction_ratio_to_c`] = Number((c / model).toFixed(3))
    const range = runs > 1 ? ` (${Math.min(...counts)}-${Math.max(...counts)} over ${runs} runs)` : ''
    rows.push(`  ${scene.padEnd(7)} model ${String(model).padStart(6)}${range}   C ${String(c).padStart(6)}   C / model ${out[`${scene}_instruction_ratio_to_c`]}`)
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
  } else {
    process.stdout.write(`instructions per walk (${out.valgrind}; the model's median; C / model: the share of the model's work the C walker does)\n${rows.join('\n')}\n`)
  }
  return 0
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench:instructions: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exit(1)
  },
)
