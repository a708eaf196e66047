/**
 * npm run campaign [-- --long] [-- --seed N] [-- --only vfio|isolation|iotlb]
 *
 * Runs the reliability campaigns (the same ones `npm test` runs at their default size) and prints
 * what they exercised. --long runs ten times as many steps. Exit status 1 on the first failure,
 * with fast-check's shrunk counterexample and the seed to replay it.
 */
import { runIommufdIsolationCampaign, runIommufdLifetimeCampaign } from './iommufd-campaign'
import { runIotlbCampaign } from './iotlb-campaign'
import { runIsolationCampaign } from './isolation-campaign'
import { DEFAULT_SEED, DEFAULT_SIZES, LONG_SIZES } from './sizes'
import { runVfioCampaign } from './vfio-campaign'

const CAMPAIGNS = ['vfio', 'isolation', 'iotlb', 'iommufd'] as const
type Campaign = (typeof CAMPAIGNS)[number]

function parseArgs(argv: readonly string[]): { long: boolean; seed: number; only: readonly Campaign[] } {
  let long = false
  let seed = DEFAULT_SEED
  let only: Campaign[] = [...CAMPAIGNS]
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--long') long = true
    else if (a === '--seed' && argv[i + 1] !== undefined && /^\d+$/.test(argv[i + 1] as string)) seed = Number(argv[++i])
    else if (a === '--only' && CAMPAIGNS.includes(argv[i + 1] as Campaign)) only = [argv[++i] as Campaign]
    else {
      process.stderr.write(`usage: npm run campaign [-- --long] [-- --seed N] [-- --only ${CAMPAIGNS.join('|')}] (not understood: ${a})\n`)
      process.exit(2)
    }
  }
  return { long, seed, only }
}

/** Progress on a terminal only (a log file gets the summary lines). */
function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r${text}`)
}

function seconds(t0: bigint): string {
  return `${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s`
}

function main(): void {
  const { long, seed, only } = parseArgs(process.argv.slice(2))
  const sizes = long ? LONG_SIZES : DEFAULT_SIZES
  console.log(`reliability campaign (${long ? 'long' : 'default'} size, seed ${seed})`)
  const total = process.hrtime.bigint()
  if (only.includes('vfio')) {
    const t0 = process.hrtime.bigint()
    const s = runVfioCampaign({ steps: sizes.vfioSteps, seed, onProgress: (st) => progress(`vfio: ${st.steps} steps`) })
    progress('\n')
    console.log(`vfio model-based: ${s.steps} steps in ${s.runs} runs (${seconds(t0)})`)
    console.log(`  commands:   ${Object.entries(s.byCommand).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`)
    console.log(`  succeeded:  ${Object.entries(s.succeeded).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`)
    console.log(`  failed:     ${s.failedCalls} calls (each checked to change nothing): ${Object.entries(s.errnos).filter(([k]) => !k.includes('(')).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`)
    console.log(`  device DMA: ${s.dmaOk} reached their buffers, ${s.dmaFault} faulted as predicted; invariant probes: ${s.translationProbes} mapped IOVAs read back, ${s.faultProbes} unmapped IOVAs faulted`)
  }
  if (only.includes('isolation')) {
    const t0 = process.hrtime.bigint()
    const s = runIsolationCampaign({ walks: sizes.isolationWalks, seed, onProgress: (st) => progress(`isolation: ${st.walks} walks`) })
    progress('\n')
    console.log(`isolation (guest stage 1 over host stage 2): ${s.walks} nested walks over ${s.scenes} guest-written table sets (${seconds(t0)})`)
    console.log(`  ${s.translated} translated (each to a PA stage 2 maps for the access); faults: ${Object.entries(s.faults).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`)
    console.log(`  ${s.s2FaultsOnS1TableWalk} stage-2 faults on stage-1 table fetches; ${s.exposedS2Scenes} scenes where stage 2 exposes its own tables; at most ${s.maxFetches} descriptor fetches per walk (bound 24)`)
  }
  if (only.includes('iotlb')) {
    const t0 = process.hrtime.bigint()
    const s = runIotlbCampaign({ ops: sizes.iotlbOps, seed })
    console.log(`iotlb model-based: ${s.ops} operations in ${s.runs} runs (${seconds(t0)}): ${s.hits} hits, ${s.misses} misses, ${s.evictions} evictions, ${s.invalidated} entries invalidated`)
  }
  if (only.includes('iommufd')) {
    const t0 = process.hrtime.bigint()
    const l = runIommufdLifetimeCampaign({ steps: sizes.iommufdSteps, seed })
    console.log(`iommufd lifetimes: ${l.steps} calls (${seconds(t0)}), ${l.failed} failed (each checked to change nothing), ${l.partialUnmaps} IOAS unmaps that failed after removing whole mappings, up to ${l.maxObjects} objects`)
    console.log(`  by call: ${Object.entries(l.byCall).sort().map(([k, v]) => `${k} ${v.ok}/${v.failed}`).join(', ')}`)
    const t1 = process.hrtime.bigint()
    const i = runIommufdIsolationCampaign({ scenes: sizes.iommufdScenes, seed })
    console.log(`iommufd isolation: ${i.scenes} guests, ${i.dmas} accesses (${seconds(t1)}): ${i.translated} translated inside guest RAM, ${i.faulted} faulted`)
  }
  console.log(`total ${seconds(total)}`)
}

main()
