/**
 * The IOTLB model-based campaign at its default size (test/campaign/iotlb-campaign.ts): inserts,
 * lookups, evictions and invalidations against a reference list.
 * `npm run campaign` runs the same campaigns and prints what they exercised; `npm run campaign --
 * --long` runs ten times more. (One file per campaign, so bin/unit.js can spread them over its shards.)
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runIotlbCampaign } from '../campaign/iotlb-campaign'
import { DEFAULT_SEED, DEFAULT_SIZES } from '../campaign/sizes'

test(`IOTLB campaign: ${DEFAULT_SIZES.iotlbOps} operations against a reference`, (t) => {
  const s = runIotlbCampaign({ ops: DEFAULT_SIZES.iotlbOps, seed: DEFAULT_SEED })
  t.diagnostic(`${s.ops} operations in ${s.runs} runs: ${s.hits} hits, ${s.misses} misses, ${s.evictions} evictions, ${s.invalidated} invalidated`)
  assert.ok(s.ops >= DEFAULT_SIZES.iotlbOps)
  assert.ok(s.hits > s.ops / 50 && s.evictions > 0 && s.invalidated > 0)
})
