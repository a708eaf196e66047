/**
 * The isolation campaign at its default size (test/campaign/isolation-campaign.ts): guest-written
 * stage-1 tables, hostile ones included, walked nested over a host stage 2; every walk ends in a
 * fault or a PA stage 2 maps for the access.
 * `npm run campaign` runs the same campaigns and prints what they exercised; `npm run campaign --
 * --long` runs ten times more. (One file per campaign, so bin/unit.js can spread them over its shards.)
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runIsolationCampaign } from '../campaign/isolation-campaign'
import { DEFAULT_SEED, DEFAULT_SIZES } from '../campaign/sizes'

test(`isolation campaign: ${DEFAULT_SIZES.isolationWalks} nested walks over guest-written stage-1 tables`, (t) => {
  const s = runIsolationCampaign({ walks: DEFAULT_SIZES.isolationWalks, seed: DEFAULT_SEED })
  t.diagnostic(`${s.walks} walks over ${s.scenes} table sets: ${s.translated} translated; faults ${JSON.stringify(s.faults)}; ${s.s2FaultsOnS1TableWalk} stage-2 faults on table fetches; max ${s.maxFetches} fetches per walk`)
  assert.ok(s.walks >= DEFAULT_SIZES.isolationWalks)
  assert.ok(s.translated > s.walks / 50, `only ${s.translated} walks translated: the generator is too hostile to be meaningful`)
  for (const kind of ['translation', 'permission', 'accessFlag', 'addressSize', 'externalAbort']) assert.ok((s.faults[kind] ?? 0) > 0, `no ${kind} fault exercised`)
  assert.ok(s.s2FaultsOnS1TableWalk > 0 && s.exposedS2Scenes > 0)
})
