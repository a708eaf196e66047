/**
 * The one assertion helper of the steps: a failure reads `expected S2, the model gave NESTED`
 * (the expectation as the feature wrote it first, then what the model did), and carries no stack
 * trace; TckWorld.each adds the profile, the scenario and the step.
 *
 *   check.equal(run.domain(d).stage, stage)          // actual first, as node:assert
 *   check.deepEqual(result, { ok: true, value: 1 })
 *   check.ok(info.ok, 'GET_INFO failed')
 */
import { inspect, isDeepStrictEqual } from 'node:util'

/** A step's expectation that the model did not meet. Printed without a stack trace. */
export class ExpectationFailed extends Error {
  constructor(
    message: string,
    readonly expected?: unknown,
    readonly actual?: unknown,
  ) {
    super(message)
    this.name = 'ExpectationFailed'
    // cucumber prints `stack`: the message alone, since where in steps/ it was thrown says nothing.
    this.stack = message
  }
}

/** A value as a reviewer reads it: strings bare, bigints in hex, results as success or errno. */
export function show(value: unknown): string {
  if (typeof value === 'string') return value === '' ? '""' : value
  if (typeof value === 'bigint') return `0x${value.toString(16)}`
  if (value === undefined) return 'nothing'
  if (isResult(value)) {
    if (value.ok) return value.value === undefined ? 'success' : `success: ${show(value.value)}`
    return `${value.error.errno} (${value.error.message})`
  }
  return inspect(hexBigints(value), { depth: 8, breakLength: Infinity, maxArrayLength: 50, maxStringLength: 200 })
}

function isResult(v: unknown): v is { ok: true; value: unknown } | { ok: false; error: { errno: string; message: string } } {
  if (typeof v !== 'object' || v === null || !('ok' in v)) return false
  const keys = Object.keys(v).sort().join(',')
  return keys === 'ok,value' || (keys === 'error,ok' && typeof (v as { error?: { errno?: unknown } }).error?.errno === 'string')
}

function hexBigints(v: unknown): unknown {
  if (typeof v === 'bigint') return new Hex(v)
  if (Array.isArray(v)) return v.map(hexBigints)
  if (v instanceof Uint8Array) return v
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hexBigints(x)]))
  return v
}

class Hex {
  constructor(private readonly n: bigint) {}
  [inspect.custom](): string {
    return `0x${this.n.toString(16)}`
  }
}

function fail(actual: unknown, expected: unknown, what: string | undefined): never {
  const said = `expected ${show(expected)}, the model gave ${show(actual)}`
  throw new ExpectationFailed(what === undefined ? said : `${what}: ${said}`, expected, actual)
}

/** node:assert's shape (actual first), with messages a reviewer reads. */
export interface Check {
  /** `actual === expected` (strict). */
  equal<T>(actual: unknown, expected: T, what?: string): asserts actual is T
  /** Deep strict equality (objects, arrays, bigints, byte arrays). */
  deepEqual<T>(actual: unknown, expected: T, what?: string): asserts actual is T
  /** A condition a step needs; `what` says what did not hold. */
  ok(condition: unknown, what?: string): asserts condition
}

export const check: Check = {
  equal<T>(actual: unknown, expected: T, what?: string): asserts actual is T {
    if (!Object.is(actual, expected)) fail(actual, expected, what)
  },
  deepEqual<T>(actual: unknown, expected: T, what?: string): asserts actual is T {
    if (!isDeepStrictEqual(actual, expected)) fail(actual, expected, what)
  },
  ok(condition: unknown, what = 'the expectation did not hold'): asserts condition {
    if (!condition) throw new ExpectationFailed(what)
  },
}
