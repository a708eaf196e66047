/**
 * npm run smmu-oracle -- [--cases N] [--seed S] [--record FILE] [--qemu DIR]
 *
 * Builds the hand cases and N random cases (default 1000) from seed S, boots QEMU 10 once with the
 * bare-metal agent running all of them, predicts every DMA with the model from the same bytes, and
 * prints each difference. Ends with "N agree, N differ"; exits 0 when every difference is a
 * documented QEMU deviation (oracle/known-differences.json).
 */
import * as fs from 'node:fs'
import { randomCases } from './campaign'
import { judge, knownDifferences } from './compare'
import { handCases } from './hand'
import { fetchQemu10, runQemu } from './qemu'
import { recordRun } from './record'

interface Options {
  cases: number
  seed: number
  record?: string
  qemu?: string
}

function parseArgs(argv: string[]): Options {
  const o: Options = { cases: 1000, seed: 20261201 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--cases') o.cases = Number(value())
    else if (a === '--seed') o.seed = Number(value())
    else if (a === '--record') o.record = value()
    else if (a === '--qemu') o.qemu = value()
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run smmu-oracle -- [--cases N] [--seed S] [--record FILE] [--qemu DIR]')
      process.exit(0)
    } else throw new Error(`unknown option ${a}`)
  }
  if (!Number.isInteger(o.cases) || o.cases < 0) throw new Error('--cases takes a non-negative integer')
  if (!Number.isInteger(o.seed)) throw new Error('--seed takes an integer')
  return o
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  const started = Date.now()
  const hand = handCases()
  const cases = [...hand, ...randomCases(o.seed, o.cases, hand.length + 1)]
  const qemuDir = o.qemu ?? process.env.TCK_QEMU10_DIR ?? fetchQemu10((s) => console.error(s))
  console.log(`${hand.length} hand cases + ${o.cases} random cases (seed ${o.seed}), one boot`)
  const run = await runQemu(qemuDir, cases, 120_000 + cases.length * 200)
  console.log(`${run.version}; SMMU sid/IDR0/IDR1/IDR3/IDR5 ${run.idRegisters}; QEMU ran ${run.seconds.toFixed(1)} s`)
  const results = judge(cases, run.observations)
  for (const r of results) for (const l of r.lines) console.log(l)
  const agree = results.filter((r) => r.agree).length
  const differ = results.length - agree
  const known = results.filter((r) => !r.agree && r.known !== undefined)
  const byKnown = new Map<string, number>()
  for (const r of known) for (const k of r.known!.split('+')) byKnown.set(k, (byKnown.get(k) ?? 0) + 1)
  const titles = new Map(knownDifferences().map((k) => [k.id, k.title]))
  for (const [id, n] of byKnown) console.log(`known QEMU deviation ${id} (${n} cases): ${titles.get(id) ?? '?'}`)
  if (o.record !== undefined) {
    fs.writeFileSync(o.record, recordRun(run.version, cases, run.observations))
    console.log(`recorded to ${o.record}`)
  }
  console.log(`wall time ${((Date.now() - started) / 1000).toFixed(1)} s`)
  console.log(`${agree} agree, ${differ} differ${known.length > 0 ? ` (${known.length} known QEMU deviations)` : ''}`)
  process.exitCode = differ === known.length ? 0 : 1
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e)
  process.exitCode = 2
})
