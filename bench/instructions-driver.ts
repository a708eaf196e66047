/**
 * The model's side of bench/instructions.ts, run under valgrind:
 *
 *   node --predictable dist/bench/instructions-driver.js s1|nested N
 *
 * builds the scene of bench/walks.ts, walks WARM_UP inputs with the loop bench/run.ts times (so
 * the walker is optimised before the walks that count), then exactly N more, and prints the sum
 * of their output addresses.
 * `--predictable` makes V8 compile on this thread, so two runs differing only in N execute the
 * same instructions apart from the N walks.
 */
import * as walks from './walks'

/** Walks before the counted ones: enough for V8 to have optimised the walker and the loop. */
const WARM_UP = 300_000

const [scene, n] = process.argv.slice(2)
const count = Number(n)
if ((scene !== 's1' && scene !== 'nested') || !Number.isSafeInteger(count) || count < 0) {
  process.stderr.write('usage: node --predictable dist/bench/instructions-driver.js s1|nested N\n')
  process.exit(2)
}
// The loop bench/run.ts times (walks.modelS1 / modelNested), so the counts are of the same work.
const body = scene === 's1' ? walks.modelS1(walks.s1Scene()) : walks.modelNested(walks.nestedScene())
body(WARM_UP)
process.stdout.write(`${JSON.stringify({ scene, walks: count, sum: count > 0 ? body(count) : 0 })}\n`)
