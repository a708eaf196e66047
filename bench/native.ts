/**
 * The C yardstick (bench/c/walk.c): a plain C walker over the same table shape as the model's
 * stage-1 and nested walk benchmarks. Compiled with `cc` (or $CC) into dist/bench/ when the source
 * is newer than the binary; without a compiler the bench says so and prints everything else.
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { ROOT } from '../model/root'

const SOURCE = path.join(ROOT, 'bench', 'c', 'walk.c')
const BINARY = path.join(ROOT, 'dist', 'bench', 'walk-c')

export type NativeScene = 's1' | 'nested'

export interface NativeRound {
  /** Walks per CPU second of the round. */
  readonly walksPerS: number
  /** Sum of the output addresses of the first `checkInputs` inputs (decimal). */
  readonly checksum: string
  readonly checkInputs: number
}

/** The compiled walker's path, or why there is none. */
export function buildNativeWalker(): { readonly binary: string } | { readonly missing: string } {
  if (fs.existsSync(BINARY) && fs.statSync(BINARY).mtimeMs >= fs.statSync(SOURCE).mtimeMs) return { binary: BINARY }
  const cc = process.env.CC ?? 'cc'
  fs.mkdirSync(path.dirname(BINARY), { recursive: true })
  const r = spawnSync(cc, ['-O2', '-std=c11', '-Wall', '-Wextra', '-o', BINARY, SOURCE, '-lm'], { encoding: 'utf8' })
  if (r.error !== undefined) return { missing: `no C compiler: ${cc} cannot run (${r.error.message})` }
  if (r.status !== 0) return { missing: `${cc} could not compile bench/c/walk.c: ${r.stderr.trim()}` }
  return { binary: BINARY }
}

/** One timed round of the C walker over `scene` (it builds the scene, warms up, then times). */
export function nativeRound(binary: string, scene: NativeScene, roundMs: number, checkInputs: number): NativeRound {
  const r = spawnSync(binary, [scene, '--rounds', '1', '--round-ms', String(roundMs), '--check', String(checkInputs)], { encoding: 'utf8', maxBuffer: 1 << 20 })
  if (r.status !== 0) throw new Error(`bench/c/walk.c ${scene} failed (exit ${r.status}): ${r.stderr.trim()}`)
  const out = JSON.parse(r.stdout) as { walks_per_s: number; checksum: string; check_inputs: number }
  return { walksPerS: out.walks_per_s, checksum: out.checksum, checkInputs: out.check_inputs }
}
