/**
 * Timing helpers for the benchmarks: an ops/s measurement (warm up, then the median of a few
 * timed rounds), and heap/RSS readings. The seeded PRNG is lib/prng.ts.
 */
import * as v8 from 'node:v8'
import * as vm from 'node:vm'

/**
 * Seconds of CPU this process has used (user + system). Rounds are timed in CPU time, not wall
 * time: on a shared machine the process waits for a core for part of the wall time, which says
 * nothing about the code; what is left (caches shared with the neighbours) still varies, so the
 * figures are medians of several rounds. bench/c/walk.c times its rounds the same way.
 */
export function cpuSeconds(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/**
 * How many operations `body(count)` (which performs `count` operations and returns a checksum,
 * kept so the work cannot be optimised away) needs for one round of about `roundMs`. Calibrating
 * also warms the JIT up.
 */
export function calibrate(body: (count: number) => number, roundMs: number): number {
  let count = 1024
  for (;;) {
    const t0 = cpuSeconds()
    sink(body(count))
    const ms = (cpuSeconds() - t0) * 1e3
    if (ms >= roundMs / 4 || count >= 1 << 30) return Math.max(1024, Math.round((count * roundMs) / Math.max(ms, 0.001)))
    count *= 4
  }
}

/** Operations per CPU second of one round of `count` operations. */
export function rateOf(body: (count: number) => number, count: number): number {
  const t0 = cpuSeconds()
  sink(body(count))
  return count / Math.max(cpuSeconds() - t0, 1e-6)
}

let checksum = 0
function sink(x: number): void {
  checksum += x
  if (Number.isNaN(checksum)) throw new Error('benchmark checksum is NaN')
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

export interface Comparison {
  /** Median operations per second of the model's rounds. */
  readonly model: number
  /** Median operations per second of the reference's rounds. */
  readonly reference: number
  /** Median of the per-round-pair ratios model / reference. */
  readonly ratio: number
  /** The model's fastest round (what a quiet machine gives; the median is the figure). */
  readonly modelBest: number
  readonly rounds: number
}

/**
 * The model against the reference, in alternating rounds (model, reference, model, ...) so both
 * see the same machine: on a shared machine the load changes from second to second, and the
 * ratio of neighbouring rounds is steadier than either figure.
 */
export function compare(model: (count: number) => number, reference: (count: number) => number, roundMs: number, rounds: number): Comparison {
  const m = calibrate(model, roundMs)
  const r = calibrate(reference, roundMs)
  const ms: number[] = []
  const rs: number[] = []
  const ratios: number[] = []
  for (let i = 0; i < rounds; i++) {
    // Each round starts from a collected heap, so neither pays for collecting the other's garbage
    // (the reference's BigInts reach the old generation; collecting them is CPU time too).
    collectGarbage()
    const a = rateOf(model, m)
    collectGarbage()
    const b = rateOf(reference, r)
    ms.push(a)
    rs.push(b)
    ratios.push(a / b)
  }
  return { model: median(ms), reference: median(rs), ratio: median(ratios), modelBest: Math.max(...ms), rounds }
}

/** Seconds taken by `fn`. */
export function timeIt<T>(fn: () => T): { seconds: number; value: T } {
  const t0 = process.hrtime.bigint()
  const value = fn()
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, value }
}

let gcFn: (() => void) | undefined

/** A full garbage collection (enables --expose-gc at run time the first time). */
export function collectGarbage(): void {
  if (gcFn === undefined) {
    v8.setFlagsFromString('--expose-gc')
    gcFn = vm.runInNewContext('gc') as () => void
  }
  gcFn()
  gcFn()
}

/** Bytes held by the JS heap and by ArrayBuffers (typed-array page backing lives there). */
export function heldBytes(): number {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}
