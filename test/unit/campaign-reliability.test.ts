/**
 * The reliability campaigns at their default size (test/campaign/): `npm run campaign` runs the
 * same ones and prints what they exercised; `npm run campaign -- --long` runs ten times more.
 *
 * - VFIO model-based: random sequences of VFIO calls and device DMA on random machines under every
 *   profile, checked against an independent reference and the invariants after every step.
 * - Isolation: guest-written stage-1 tables, hostile ones included, walked nested over a host
 *   stage 2; every walk ends in a fault or a PA stage 2 maps for the access.
 * - IOTLB model-based: inserts, lookups, evictions and invalidations against a reference list.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runIotlbCampaign } from '../campaign/iotlb-campaign'
import { runIsolationCampaign } from '../campaign/isolation-campaign'
import { DEFAULT_SEED, DEFAULT_SIZES } from '../campaign/sizes'
import { runVfioCampaign } from '../campaign/vfio-campaign'

test(`VFIO campaign: ${DEFAULT_SIZES.vfioSteps} random calls against the reference, invariants after each`, (t) => {
  const s = runVfioCampaign({ steps: DEFAULT_SIZES.vfioSteps, seed: DEFAULT_SEED })
  t.diagnostic(`${s.steps} steps in ${s.runs} runs; ${s.failedCalls} failed calls checked to change nothing (${s.errnos['huge_map EINVAL'] ?? 0} + ${s.errnos['huge_map ENOMEM'] ?? 0} huge MAPs EINVAL + ENOMEM, ${s.mapsAfterHugeFailure} MAPs succeeded after one); ${s.dmaOk} DMAs reached their buffers, ${s.dmaFault} faulted; ${s.translationProbes} + ${s.faultProbes} translation probes`)
  assert.ok(s.steps >= DEFAULT_SIZES.vfioSteps)
  // Guard against a generator that stops reaching the interesting cases.
  assert.ok((s.succeeded.map ?? 0) > s.steps / 30, `only ${s.succeeded.map ?? 0} MAPs succeeded`)
  assert.ok(s.dmaOk > s.steps / 200, `only ${s.dmaOk} DMAs reached a buffer`)
  assert.ok((s.succeeded.set_iommu ?? 0) > s.runs / 2, 'SET_IOMMU rarely succeeds')
  // Failed MAPs of sizes up to __u64's limit, and ordinary MAPs that still succeed after them.
  assert.ok((s.errnos['huge_map EINVAL'] ?? 0) > 0 && (s.errnos['huge_map ENOMEM'] ?? 0) > 0, `huge MAPs: ${JSON.stringify(s.errnos)}`)
  assert.ok(s.mapsAfterHugeFailure > 0, 'no MAP succeeded after a huge MAP failed')
  assert.ok((s.succeeded.huge_unmap ?? 0) > 0 && (s.errnos['huge_unmap EINVAL'] ?? 0) > 0, 'UNMAPs ending at or past 2^64 not exercised')
  for (const errno of ['map EEXIST', 'map EINVAL', 'map ENOSPC', 'map EFAULT', 'set_container EPERM', 'set_container ENOSPC', 'unmap EINVAL']) {
    assert.ok((s.errnos[errno] ?? 0) > 0, `no ${errno} exercised`)
  }
})

test(`isolation campaign: ${DEFAULT_SIZES.isolationWalks} nested walks over guest-written stage-1 tables`, (t) => {
  const s = runIsolationCampaign({ walks: DEFAULT_SIZES.isolationWalks, seed: DEFAULT_SEED })
  t.diagnostic(`${s.walks} walks over ${s.scenes} table sets: ${s.translated} translated; faults ${JSON.stringify(s.faults)}; ${s.s2FaultsOnS1TableWalk} stage-2 faults on table fetches; max ${s.maxFetches} fetches per walk`)
  assert.ok(s.walks >= DEFAULT_SIZES.isolationWalks)
  assert.ok(s.translated > s.walks / 50, `only ${s.translated} walks translated: the generator is too hostile to be meaningful`)
  for (const kind of ['translation', 'permission', 'accessFlag', 'addressSize', 'externalAbort']) assert.ok((s.faults[kind] ?? 0) > 0, `no ${kind} fault exercised`)
  assert.ok(s.s2FaultsOnS1TableWalk > 0 && s.exposedS2Scenes > 0)
})

test(`IOTLB campaign: ${DEFAULT_SIZES.iotlbOps} operations against a reference`, (t) => {
  const s = runIotlbCampaign({ ops: DEFAULT_SIZES.iotlbOps, seed: DEFAULT_SEED })
  t.diagnostic(`${s.ops} operations in ${s.runs} runs: ${s.hits} hits, ${s.misses} misses, ${s.evictions} evictions, ${s.invalidated} invalidated`)
  assert.ok(s.ops >= DEFAULT_SIZES.iotlbOps)
  assert.ok(s.hits > s.ops / 50 && s.evictions > 0 && s.invalidated > 0)
})
