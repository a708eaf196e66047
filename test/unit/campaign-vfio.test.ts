/**
 * The VFIO model-based campaign at its default size (test/campaign/vfio-campaign.ts): random
 * sequences of VFIO calls and device DMA on random machines under every profile, checked against
 * an independent reference and the invariants after every step.
 * `npm run campaign` runs the same campaigns and prints what they exercised; `npm run campaign --
 * --long` runs ten times more. (One file per campaign, so bin/unit.js can spread them over its shards.)
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
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
