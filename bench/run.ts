/**
 * npm run bench [-- --json] [-- --skip-suite] [-- --quick]
 *
 * Prints, for one run on this machine, every figure with its target and, for the walk and IOTLB
 * figures, its ratio against the reference walker measured in the same run (bench/reference.ts).
 * --json prints one JSON object on stdout instead of the table; progress goes to stderr either way
 * (npm itself prints a two-line banner on stdout first: `npm run -s bench -- --json` omits it).
 * --skip-suite skips timing `npm test` (its four scripts, spawned one after the other: a minute or
 * more); --quick makes every round shorter (figures get noisier).
 *
 * The stage-1 and nested walks are also timed against a plain C walker over the same tables
 * (bench/c/walk.c, compiled with `cc` when there is one), in alternating rounds: the JSON keys
 * c_s1_walks_per_s, c_nested_walks_per_s, s1_ratio_to_c and nested_ratio_to_c (null without a C
 * compiler; `c_walker` then says why). Every walk figure is per CPU second (bench/measure.ts).
 */
import { calibrate, collectGarbage, compare, median, rateOf, type Comparison } from './measure'
import { buildNativeWalker, nativeRound, type NativeScene } from './native'
import { machineInfo, testPhaseTimes, timeNpm, type SuiteTime } from './suite'
import { IOVA_2M_LEAVES, IOVA_4K_LEAVES, mapFigure, memoryFigure, perMapPoint, type MapFigure, type PerMapPoint } from './vfio'
import * as walks from './walks'

const args = new Set(process.argv.slice(2))
const known = ['--json', '--skip-suite', '--quick']
for (const a of args) {
  if (!known.includes(a)) {
    process.stderr.write(`unknown option ${a} (options: ${known.join(' ')})\n`)
    process.exit(2)
  }
}
const json = args.has('--json')
const quick = args.has('--quick')
const ROUND_MS = quick ? 60 : 200
const ROUNDS = quick ? 3 : 5
/**
 * Rounds against the C walker: more than against the reference, because the ratio of a
 * memory-bound C walker to the model moves with the machine's neighbours (0.11 to 0.23 for the
 * same tree within minutes), and its median settles only over more rounds.
 */
const C_ROUNDS = quick ? 3 : 9
const WARM_MAP_ROUNDS = quick ? 1 : 3

function progress(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`)
}

const native = buildNativeWalker()
/** Inputs whose output addresses the C walker and the model must sum to the same value. */
const CHECK_INPUTS = 10_000

interface VersusC {
  /** Median walks per CPU second of the C walker's rounds. */
  readonly c: number
  /** Median of the per-round ratios model / C. */
  readonly ratio: number
  /** With a lookup body: its median walks per CPU second, and the median of its ratios to C. */
  readonly lookup?: { readonly walksPerS: number; readonly ratio: number }
}

/**
 * The model against the C walker on the same scene, in alternating rounds (C, model, C, ...;
 * with `lookup`, C, model, lookup, C, ...). All must first agree on the sum of the output
 * addresses of the first CHECK_INPUTS inputs: the same tables, the same inputs.
 */
function versusC(scene: NativeScene, model: (count: number) => number, modelOa: (i: number) => number, lookup?: (count: number) => number): VersusC | undefined {
  if (!('binary' in native)) return undefined
  progress(`timing the C walker against the model (${scene}), alternating rounds`)
  const count = calibrate(model, ROUND_MS)
  const lookupCount = lookup === undefined ? 0 : calibrate(lookup, ROUND_MS)
  let sum = 0
  for (let i = 0; i < CHECK_INPUTS; i++) sum += modelOa(i)
  if (lookup !== undefined && lookup(CHECK_INPUTS) !== sum) throw new Error(`the ${scene} lookup and walk disagree on the first ${CHECK_INPUTS} inputs`)
  const cs: number[] = []
  const ratios: number[] = []
  const lookups: number[] = []
  const lookupRatios: number[] = []
  for (let i = 0; i < C_ROUNDS; i++) {
    const c = nativeRound(native.binary, scene, ROUND_MS, CHECK_INPUTS)
    if (c.checksum !== String(sum)) throw new Error(`C walker and model disagree on the ${scene} scene: output sums ${c.checksum} vs ${sum}`)
    collectGarbage() // the reference rounds before these left garbage the model's rounds should not pay for
    const m = rateOf(model, count)
    cs.push(c.walksPerS)
    ratios.push(m / c.walksPerS)
    if (lookup !== undefined) {
      collectGarbage()
      const l = rateOf(lookup, lookupCount)
      lookups.push(l)
      lookupRatios.push(l / c.walksPerS)
    }
  }
  return { c: median(cs), ratio: median(ratios), ...(lookup === undefined ? {} : { lookup: { walksPerS: median(lookups), ratio: median(lookupRatios) } }) }
}

/** Targets from issue 7. */
const TARGETS = {
  s1: 10e6,
  s2: 10e6,
  nested: 2e6,
  iotlb: 30e6,
  map4k: 0.5,
  map2m: 0.01,
} as const

/** Stage 1 and the IOTLB (filled from the stage-1 scene). Each scene lives only while it is timed. */
function s1AndIotlb(): { s1: Comparison; s1VersusC: VersusC | undefined; iotlb: Comparison } {
  progress('building the stage-1 scene (1 GiB in 4 KiB pages)')
  const s1 = walks.s1Scene()
  walks.crossCheck((i) => walks.walkOa1(s1, i), (i) => walks.refOa1(s1, i), 10_000, 'S1')
  progress('timing stage-1 walks')
  // Against C first: the reference walker's BigInts, once they have filled the heap, are collected
  // on every thread, and a per-CPU-second figure would charge that to whatever runs next.
  const s1VersusC = versusC('s1', walks.modelS1(s1), (i) => walks.walkOa1(s1, i), walks.modelS1Lookup(s1))
  const s1c = compare(walks.modelS1(s1), walks.refS1(s1), ROUND_MS, ROUNDS)
  progress('building the IOTLB')
  const tlb = walks.iotlbScene(s1)
  progress('timing IOTLB hits')
  return { s1: s1c, s1VersusC, iotlb: compare(walks.modelIotlb(tlb), walks.refIotlb(tlb), ROUND_MS, ROUNDS) }
}

function s2(): Comparison {
  progress('building the stage-2 scene (concatenated start level)')
  const scene = walks.s2Scene()
  walks.crossCheck((i) => walks.walkOa2(scene, i), (i) => walks.refOa2(scene, i), 10_000, 'S2')
  progress('timing stage-2 walks')
  return compare(walks.modelS2(scene), walks.refS2(scene), ROUND_MS, ROUNDS)
}

function nested(): { nested: Comparison; nestedVersusC: VersusC | undefined } {
  progress('building the nested scene')
  const scene = walks.nestedScene()
  walks.crossCheck((i) => walks.walkOaN(scene, i), (i) => walks.refOaN(scene, i), 10_000, 'nested')
  progress('timing nested walks')
  const nestedVersusC = versusC('nested', walks.modelNested(scene), (i) => walks.walkOaN(scene, i))
  return { nested: compare(walks.modelNested(scene), walks.refNested(scene), ROUND_MS, ROUNDS), nestedVersusC }
}

function walkFigures(): { s1: Comparison; s2: Comparison; nested: Comparison; iotlb: Comparison; s1VersusC: VersusC | undefined; nestedVersusC: VersusC | undefined } {
  const first = s1AndIotlb()
  collectGarbage()
  const s2c = s2()
  collectGarbage()
  const n = nested()
  return { s1: first.s1, s2: s2c, nested: n.nested, iotlb: first.iotlb, s1VersusC: first.s1VersusC, nestedVersusC: n.nestedVersusC }
}

function main(): void {
  const machine = machineInfo()
  progress(`${machine.cpu}, ${machine.nproc} CPUs, Node ${machine.node}`)
  const w = walkFigures()
  collectGarbage()

  progress('MAP_DMA 1 GiB with 4 KiB leaves, then UNMAP_ALL')
  const map4k: MapFigure = mapFigure(IOVA_4K_LEAVES, WARM_MAP_ROUNDS)
  progress('MAP_DMA 1 GiB with 2 MiB leaves, then UNMAP_ALL')
  const map2m: MapFigure = mapFigure(IOVA_2M_LEAVES, WARM_MAP_ROUNDS * 3)
  progress('memory per mapped 4 KiB page')
  const mem = memoryFigure()
  progress('separate 4 KiB MAP_DMA calls (dma_entry_limit raised)')
  const perMap: PerMapPoint[] = (quick ? [1024, 4096] : [1024, 4096, 16384]).map(perMapPoint)
  const peakRss = process.resourceUsage().maxRSS * 1024

  // `npm test` runs its four phases side by side (bin/test.js) and writes each one's wall time to
  // reports/test-times.json; the cucumber time is the features phase's.
  let suite: { parts: SuiteTime[]; seconds: number; exitCode: number; features: SuiteTime } | undefined
  if (!args.has('--skip-suite')) {
    progress('timing `npm test`')
    const whole = timeNpm(['test'])
    const parts = testPhaseTimes()
    suite = { parts, seconds: whole.seconds, exitCode: whole.exitCode ?? 1, features: parts.find((p) => p.command === 'npm run features') ?? whole }
  }

  const result = {
    machine,
    s1_walks_per_s: w.s1.model,
    s1_best_round_walks_per_s: w.s1.modelBest,
    s1_reference_walks_per_s: w.s1.reference,
    s1_ratio_vs_reference: w.s1.ratio,
    s2_walks_per_s: w.s2.model,
    s2_best_round_walks_per_s: w.s2.modelBest,
    s2_reference_walks_per_s: w.s2.reference,
    s2_ratio_vs_reference: w.s2.ratio,
    nested_walks_per_s: w.nested.model,
    nested_best_round_walks_per_s: w.nested.modelBest,
    nested_reference_walks_per_s: w.nested.reference,
    nested_ratio_vs_reference: w.nested.ratio,
    c_walker: 'binary' in native ? 'bench/c/walk.c, cc -O2' : native.missing,
    c_s1_walks_per_s: w.s1VersusC?.c ?? null,
    c_nested_walks_per_s: w.nestedVersusC?.c ?? null,
    s1_ratio_to_c: w.s1VersusC?.ratio ?? null,
    s1_lookup_walks_per_s: w.s1VersusC?.lookup?.walksPerS ?? null,
    s1_lookup_ratio_to_c: w.s1VersusC?.lookup?.ratio ?? null,
    nested_ratio_to_c: w.nestedVersusC?.ratio ?? null,
    iotlb_hits_per_s: w.iotlb.model,
    iotlb_best_round_hits_per_s: w.iotlb.modelBest,
    iotlb_reference_hits_per_s: w.iotlb.reference,
    iotlb_ratio_vs_reference: w.iotlb.ratio,
    iotlb_entries: walks.IOTLB_ENTRIES,
    map_1g_4k_s: map4k.warmTotalSeconds,
    map_1g_4k_map_s: map4k.warmMapSeconds,
    map_1g_4k_unmap_all_s: map4k.warmUnmapAllSeconds,
    map_1g_4k_cold_s: map4k.cold.mapSeconds + map4k.cold.unmapAllSeconds,
    map_1g_4k_leaf_bytes: map4k.leaf,
    map_1g_2m_s: map2m.warmTotalSeconds,
    map_1g_2m_map_s: map2m.warmMapSeconds,
    map_1g_2m_unmap_all_s: map2m.warmUnmapAllSeconds,
    map_1g_2m_cold_s: map2m.cold.mapSeconds + map2m.cold.unmapAllSeconds,
    map_1g_2m_leaf_bytes: map2m.leaf,
    map_4k_separate_calls: perMap.map((p) => ({ maps: p.maps, seconds: p.seconds, us_per_map: p.microsPerMap, unmap_all_s: p.unmapAllSeconds })),
    bytes_per_4k_page: mem.bytesPer4kPage,
    table_bytes_per_4k_page: mem.tableBytesPer4kPage,
    peak_rss_bytes: peakRss,
    ...(suite === undefined
      ? { npm_test_s: null, cucumber_s: null }
      : {
          npm_test_s: suite.seconds,
          npm_test_exit: suite.exitCode,
          npm_test_parts_s: Object.fromEntries(suite.parts.map((p) => [p.command.replace('npm run ', ''), p.seconds])),
          cucumber_s: suite.features.seconds,
          cucumber_exit: suite.features.exitCode,
        }),
    walk_rounds: ROUNDS,
    c_rounds: C_ROUNDS,
    round_ms: ROUND_MS,
  }

  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    return
  }

  const M = (x: number): string => `${(x / 1e6).toFixed(2)} M/s`
  const S = (x: number): string => (x < 0.1 ? `${(x * 1e3).toFixed(1)} ms` : `${x.toFixed(3)} s`)
  const met = (ok: boolean): string => (ok ? 'yes' : 'NO')
  const rows: string[][] = [
    ['figure', 'target', 'model', 'best round', 'reference', 'ratio', 'met'],
    ['stage-1 walk, 4 levels, 4K pages, random IOVA over 1 GiB', '>= 10 M/s', M(w.s1.model), M(w.s1.modelBest), M(w.s1.reference), `${w.s1.ratio.toFixed(1)}x`, met(w.s1.model >= TARGETS.s1)],
    ['stage-2 walk, L1 start, 2 concatenated tables', '>= 10 M/s', M(w.s2.model), M(w.s2.modelBest), M(w.s2.reference), `${w.s2.ratio.toFixed(1)}x`, met(w.s2.model >= TARGETS.s2)],
    ['nested walk, 4-level S1 over 4-level S2, no TLB', '>= 2 M/s', M(w.nested.model), M(w.nested.modelBest), M(w.nested.reference), `${w.nested.ratio.toFixed(1)}x`, met(w.nested.model >= TARGETS.nested)],
    [`IOTLB hit (${walks.IOTLB_ENTRIES} entries)`, '>= 30 M/s', M(w.iotlb.model), M(w.iotlb.modelBest), M(w.iotlb.reference), `${w.iotlb.ratio.toFixed(1)}x`, met(w.iotlb.model >= TARGETS.iotlb)],
    ['MAP_DMA 1 GiB, 4K leaves, + UNMAP_ALL', '<= 0.5 s', S(map4k.warmTotalSeconds), '', '', '', met(map4k.warmTotalSeconds <= TARGETS.map4k)],
    ['MAP_DMA 1 GiB, 2M blocks, + UNMAP_ALL', '<= 10 ms', S(map2m.warmTotalSeconds), '', '', '', met(map2m.warmTotalSeconds <= TARGETS.map2m)],
  ]
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? []
  const line = (r: string[]): string => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ')
  const out: string[] = []
  out.push(`machine: ${machine.cpu}, ${machine.nproc} CPUs, ${(machine.memoryBytes / 2 ** 30).toFixed(0)} GiB, Node ${machine.node}`)
  out.push('')
  out.push(line(rows[0] as string[]))
  for (const r of rows.slice(1)) out.push(line(r))
  out.push('')
  if (w.s1VersusC !== undefined && w.nestedVersusC !== undefined) {
    out.push(`C walker (bench/c/walk.c, same tables and inputs): stage-1 ${M(w.s1VersusC.c)}, nested ${M(w.nestedVersusC.c)}; model / C: stage-1 ${w.s1VersusC.ratio.toFixed(3)}, nested ${w.nestedVersusC.ratio.toFixed(3)}`)
    if (w.s1VersusC.lookup !== undefined) {
      out.push(`stage-1 walker filling the caller's record (s1Lookup, no result object; C fills *out): ${M(w.s1VersusC.lookup.walksPerS)}, / C ${w.s1VersusC.lookup.ratio.toFixed(3)}`)
    }
  } else {
    out.push(`C walker: ${'missing' in native ? native.missing : 'not run'}`)
  }
  out.push(`MAP 4K:  map ${S(map4k.warmMapSeconds)} + UNMAP_ALL ${S(map4k.warmUnmapAllSeconds)} (warm median); first round in this process ${S(result.map_1g_4k_cold_s)}`)
  out.push(`MAP 2M:  map ${S(map2m.warmMapSeconds)} + UNMAP_ALL ${S(map2m.warmUnmapAllSeconds)} (warm median); first round in this process ${S(result.map_1g_2m_cold_s)}`)
  for (const p of perMap) out.push(`${p.maps} separate 4 KiB MAP_DMA calls: ${S(p.seconds)} (${p.microsPerMap.toFixed(0)} us per MAP), UNMAP_ALL ${S(p.unmapAllSeconds)}`)
  out.push(`memory: ${mem.bytesPer4kPage.toFixed(1)} bytes per mapped 4 KiB page (of which page tables ${mem.tableBytesPer4kPage.toFixed(1)}); peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`)
  if (suite !== undefined) {
    out.push(`npm test: ${suite.seconds.toFixed(1)} s (exit ${suite.exitCode}); its phases, side by side: ${suite.parts.map((p) => `${p.command.replace('npm run ', '')} ${p.seconds.toFixed(1)} s`).join(', ')}`)
  } else {
    out.push('npm test / features: skipped (--skip-suite)')
  }
  out.push(`walk figures: per CPU second, median of ${ROUNDS} rounds (${C_ROUNDS} against C) of ~${ROUND_MS} ms of CPU (and the fastest round), model and reference (or C) alternating; ratio = median of per-round ratios; "met" compares the median`)
  process.stdout.write(`${out.join('\n')}\n`)
}

main()
