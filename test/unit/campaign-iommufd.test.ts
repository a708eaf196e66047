/**
 * The iommufd campaigns at their default size (test/campaign/iommufd-campaign.ts): random
 * allocate / attach / invalidate / destroy / map / unmap sequences where a failed call changes
 * nothing and no held object goes; guest-controlled vSTEs, CDs and stage-1 tables that never take
 * a device outside what the host's stage 2 maps.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runIommufdIsolationCampaign, runIommufdLifetimeCampaign } from '../campaign/iommufd-campaign'
import { DEFAULT_SEED, DEFAULT_SIZES } from '../campaign/sizes'

test(`iommufd lifetimes campaign: ${DEFAULT_SIZES.iommufdSteps} calls`, (t) => {
  const s = runIommufdLifetimeCampaign({ steps: DEFAULT_SIZES.iommufdSteps, seed: DEFAULT_SEED })
  t.diagnostic(`${s.steps} calls, ${s.failed} failed, ${s.partialUnmaps} unmaps that failed after removing whole mappings, up to ${s.maxObjects} objects; ${JSON.stringify(s.byCall)}`)
  for (const [call, n] of Object.entries(s.byCall)) {
    if (call === 'dma' || call === 'ioas') continue // a DMA's call always returns (ok or fault); IOAS_ALLOC cannot fail here
    assert.ok(n.ok > 0 && n.failed > 0, `${call}: ${n.ok} succeeded, ${n.failed} failed: both must be exercised`)
  }
  assert.ok(s.maxObjects >= 6)
})

test(`iommufd isolation campaign: ${DEFAULT_SIZES.iommufdScenes} guests scribbling over their vSTE, CD and tables`, (t) => {
  const s = runIommufdIsolationCampaign({ scenes: DEFAULT_SIZES.iommufdScenes, seed: DEFAULT_SEED })
  t.diagnostic(`${s.scenes} scenes, ${s.dmas} accesses: ${s.translated} translated, ${s.faulted} faulted`)
  assert.ok(s.translated > s.dmas / 20, `only ${s.translated} accesses translated: the guest is too hostile to be meaningful`)
  assert.ok(s.faulted > 0)
})
