/**
 * Adding a YAML file to the catalogue folder makes the catalogue features run on it, with no code
 * change: a copy of the catalogue plus one new fixture, the Fix1 feature run on that folder
 * (world parameter `fixturesDir`), and the new fixture counted in every rule's verdicts.
 * Then the survey behind those features and `explain`: a few observations against values written
 * from the rules (arm_smmu_init_domain_context, VFIO type1), and how the checks read rule tables.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { PassThrough } from 'node:stream'
import { loadConfiguration, runCucumber } from '@cucumber/cucumber/api'
import type { Envelope } from '@cucumber/messages'
import { anyProfileTagExpression, loadFixture, PROFILES, stageSupport } from '../../model'
import { FIXTURES_DIR, listFixtureNames } from '../../model/hw'
import { loadCatalogue } from '../../model/hw/catalogue'
import { checkStageRule, explainFixture, failures, formatCatalogueCheck } from '../../model/survey'
import { summarize } from '../../scripts/report/messages'
import { ROOT, runningCode } from '../../model/root'

const NEW = 'zz-new-vendor-smmu'

describe('a fixture added to the catalogue folder', () => {
  let dir = ''
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-catalogue-'))
    for (const n of listFixtureNames()) fs.copyFileSync(path.join(FIXTURES_DIR, `${n}.yaml`), path.join(dir, `${n}.yaml`))
    // A new stage-1-only SMMUv2: a copy of synthetic-s1-only under another name.
    const text = fs.readFileSync(path.join(FIXTURES_DIR, 'synthetic-s1-only.yaml'), 'utf8').replace('name: synthetic-s1-only', `name: ${NEW}`)
    fs.writeFileSync(path.join(dir, `${NEW}.yaml`), text)
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('is in the loaded catalogue', () => {
    const c = loadCatalogue(dir)
    assert.deepEqual(c.errors, [])
    assert.deepEqual(c.fixtures.map((f) => f.name), [...listFixtureNames(), NEW].sort())
  })

  it('is checked by every Fix1 rule under every profile, and passes them', async () => {
    const { runConfiguration } = await loadConfiguration(
      {
        file: false,
        provided: {
          paths: ['features/fixtures/*.feature'],
          require: [runningCode('steps/**/*.ts')],
          strict: true,
          tags: anyProfileTagExpression(),
          worldParameters: { fixturesDir: dir },
        },
      },
      { cwd: ROOT },
    )
    const envelopes: Envelope[] = []
    const sink = new PassThrough().resume()
    const run = await runCucumber(runConfiguration, { cwd: ROOT, stdout: sink, stderr: sink }, (e) => envelopes.push(e))
    assert.equal(run.success, true)

    // One summary over the whole run: each catalogue check names its own profile.
    const checks = summarize('all', envelopes).catalogue
    assert.ok(checks.length >= 10, `only ${checks.length} catalogue checks ran`)
    for (const check of checks) {
      assert.equal(check.results.length, listFixtureNames().length + 1, `${check.scenario}: ${check.rule}`)
      const mine = check.results.find((r) => r.fixture === NEW)
      assert.ok(mine !== undefined, `${check.scenario} did not check ${NEW}`)
      assert.notEqual(mine.verdict, 'failed', `${check.scenario}: ${JSON.stringify(mine)}`)
    }
    // The stage rules saw it as stage-1-only hardware and checked it.
    const stageChecks = checks.filter((c) => c.rule.includes('request gets the stage'))
    assert.ok(stageChecks.every((c) => c.results.some((r) => r.fixture === NEW && r.support === 'S1' && r.verdict === 'passed')))
  })
})

describe('explainFixture', () => {
  it('MMU-401 (stage 2 only, 4 banks all stage-2-only): a stage 1 request gets S2 in bank 0; only stage-2 banks are listed', () => {
    const e = explainFixture(loadFixture('mmu-401'), PROFILES.merged)
    assert.equal(e.support, 'S2')
    assert.deepEqual([e.requests?.S1.stage, e.requests?.S1.context?.bank, e.requests?.S1.context?.cbar], ['S2', 0, 'S2_TRANS'])
    assert.deepEqual(e.bankRanges, { S2: { first: 0, last: 3 } })
  })

  it('synthetic-all-banks-s2-only (N, NUMS2CB = NUMCB = 2): no stage-1 bank; stage 2 and nested take banks 0-1', () => {
    const e = explainFixture(loadFixture('synthetic-all-banks-s2-only'), PROFILES.merged)
    assert.deepEqual(e.bankRanges, { S1: { first: 2, last: 1 }, S2: { first: 0, last: 1 }, NESTED: { first: 0, last: 1 } })
    assert.equal(e.requests?.S1.attach.ok, false)
  })

  it('Tegra186 (N, no stage-2-only banks) under 6.1: nested gets NESTED in bank 0, stage 1 also starts at bank 0', () => {
    const e = explainFixture(loadFixture('tegra186-smmu'), PROFILES['linux-6.1'])
    assert.deepEqual([e.requests?.NESTED.stage, e.requests?.NESTED.context?.bank, e.requests?.S1.context?.bank], ['NESTED', 0, 0])
    assert.deepEqual([e.vfio?.setIommu, e.vfio?.domainStage], [{ ok: true, value: undefined }, 'NESTED'])
  })

  it('an SMMUv3 under a 3.x kernel is not probed (ENODEV) and nothing else is observed', () => {
    const e = explainFixture(loadFixture('qemu-smmuv3-7.2'), PROFILES.merged)
    assert.deepEqual([e.probe.ok ? 'ok' : e.probe.error.errno, e.requests, e.vfio], ['ENODEV', undefined, undefined])
  })

  it('VT-d under 6.1: iommu_enable_nesting is EINVAL, and so is SET_IOMMU(nesting)', () => {
    const e = explainFixture(loadFixture('synthetic-vtd'), PROFILES['linux-6.1'])
    assert.equal(e.requests?.NESTED.nestingRequest?.ok, false)
    const set = e.vfio?.setIommu
    assert.equal(set?.ok === false ? set.error.errno : 'ok', 'EINVAL')
  })

  it('stage support follows the seed: N, S1+S2, S1, S2, and VT-d apart', () => {
    assert.deepEqual(['synthetic-nested', 'synthetic-s1-s2', 'synthetic-s1-only', 'synthetic-s2-only', 'synthetic-vtd'].map((n) => stageSupport(loadFixture(n))), ['N', 'S1+S2', 'S1', 'S2', 'VT-d'])
  })
})

describe('catalogue checks', () => {
  const { fixtures } = loadCatalogue()

  it('a wrong rule fails exactly the fixtures it gets wrong, and the table names them', () => {
    const rows = [
      { 'stage support': 'N', stage: 'S2' }, // wrong on purpose: merged keeps NESTED
      { 'stage support': 'S1+S2', stage: 'NESTED' },
      { 'stage support': 'S1', stage: 'S1' },
      { 'stage support': 'S2', stage: 'S2' },
      { 'stage support': 'VT-d', stage: 'S2' },
    ]
    const check = checkStageRule(fixtures, PROFILES.merged, 'NESTED', rows)
    const failed = failures(check).map((f) => f.fixture)
    assert.deepEqual(failed, fixtures.filter((f) => stageSupport(f) === 'N' && f.arch !== 'smmuv3').map((f) => f.name))
    assert.match(formatCatalogueCheck(check), /^mmu-500 +N +S2 +NESTED +failed$/m)
  })

  it('a row missing for a stage support present in the catalogue fails those fixtures', () => {
    const check = checkStageRule(fixtures, PROFILES.merged, 'S1', [{ 'stage support': 'N', stage: 'S1' }])
    assert.ok(failures(check).some((f) => f.expected === '(no row for S2)'))
  })

  it('a table naming an unknown stage support or stage is a bug in the feature: it throws', () => {
    assert.throws(() => checkStageRule(fixtures, PROFILES.merged, 'S1', [{ 'stage support': 'S3', stage: 'S1' }]), /not a stage support/)
    assert.throws(() => checkStageRule(fixtures, PROFILES.merged, 'S1', [{ 'stage support': 'N', stage: 'S4' }]), /not one of/)
  })
})
