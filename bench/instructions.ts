/**
 * npm run bench:instructions [-- --json]
 *
 * Instructions per walk, the model's and the C walker's (bench/c/walk.c), counted by valgrind
 * (`--tool=cachegrind --cache-sim=no`): each program runs twice on the same scene, once with N
 * walks and once with none, and the difference over N is the cost of one walk. Unlike walks per
 * second, the count does not move with what the machine's neighbours do (the same figures within
 * a few instructions from run to run), so it tells whether a change to a walker made it do less
 * work; it does not see cache misses, which are most of the C walker's time.
 *
 * The model runs under `node --predictable` (V8 compiles on the main thread, at the same points
 * every run) after bench/instructions-driver.ts's warm-up; its count includes the share of
 * garbage collection its walks cause. Needs valgrind (Debian: `apt-get install valgrind`) and a
 * C compiler; without them it says so and exits 2. Takes about three minutes.
 */
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { ROOT } from '../model/root'
import { buildNativeWalker, type NativeScene } from './native'

/** Counted walks: enough that a few thousand instructions of noise are below 0.1 per walk. */
const MODEL_WALKS = { s1: 400_000, nested: 100_000 } as const
const C_WALKS = { s1: 1_000_000, nested: 1_000_000 } as const

const args = process.argv.slice(2)
for (const a of args) {
  if (a !== '--json') {
    process.stderr.write(`unknown option ${a} (options: --json)\n`)
    process.exit(2)
  }
}
const json = args.includes('--json')

function progress(msg: string): void {
  process.stderr.write(`bench:instructions: ${msg}\n`)
}

/** Instructions valgrind counted for one run of `command`. */
function instructions(command: string, commandArgs: readonly string[]): number {
  const r = spawnSync('valgrind', ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null', command, ...commandArgs], { encoding: 'utf8', maxBuffer: 1 << 24 })
  if (r.status !== 0) throw new Error(`valgrind ${command} ${commandArgs.join(' ')} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-5).join('\n')}`)
  const m = /I\s+refs:\s+([\d,]+)/.exec(r.stderr)
  if (m === null) throw new Error(`valgrind printed no instruction count for ${command}: ${r.stderr.slice(-500)}`)
  return Number((m[1] as string).replace(/,/g, ''))
}

/** Instructions per walk: (count with `walks` walks − count with none) / walks. */
function perWalk(command: string, argsFor: (walks: number) => string[], walks: number): number {
  return (instructions(command, argsFor(walks)) - instructions(command, argsFor(0))) / walks
}

function main(): number {
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
  const out: Record<string, number | string> = { valgrind: v.stdout.trim() }
  for (const scene of ['s1', 'nested'] as NativeScene[]) {
    progress(`the model's ${scene} walks (${MODEL_WALKS[scene]} counted, twice under valgrind)`)
    const model = perWalk(process.execPath, (n) => ['--predictable', driver, scene, String(n)], MODEL_WALKS[scene])
    progress(`the C walker's ${scene} walks`)
    const c = perWalk(native.binary, (n) => [scene, '--walks', String(n)], C_WALKS[scene])
    out[`model_${scene}_instructions_per_walk`] = Math.round(model)
    out[`c_${scene}_instructions_per_walk`] = Math.round(c)
    out[`${scene}_instruction_ratio_to_c`] = Number((c / model).toFixed(3))
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
  } else {
    process.stdout.write(`instructions per walk (${out.valgrind}; C / model: the share of the model's work the C walker does)\n`)
    for (const scene of ['s1', 'nested']) {
      process.stdout.write(`  ${scene.padEnd(7)} model ${String(out[`model_${scene}_instructions_per_walk`]).padStart(6)}   C ${String(out[`c_${scene}_instructions_per_walk`]).padStart(6)}   C / model ${out[`${scene}_instruction_ratio_to_c`]}\n`)
    }
  }
  return 0
}

process.exit(main())
