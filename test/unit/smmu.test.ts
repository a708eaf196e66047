/**
 * SMMU layer: stage selection against the seed's table (written out independently here), and
 * context allocation.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { PROFILES, createMemory, loadFixture, selectStage, SmmuInstance, type DomainStage, type FeatureSet, type RequestedStage, type TranslationSupport } from '../../model'

const HW: Record<string, TranslationSupport> = {
  N: { stage1: true, stage2: true, nested: true },
  'S1+S2': { stage1: true, stage2: true, nested: false },
  S2: { stage1: false, stage2: true, nested: false },
  S1: { stage1: true, stage2: false, nested: false },
}

// RFC PATCHv2 3/3, the comment table in arm_smmu_init_domain_context: Requested, Supported, Actual.
const SEED_TABLE: [RequestedStage, string, DomainStage][] = [
  ['S1', 'N', 'S1'],
  ['S1', 'S1+S2', 'S1'],
  ['S1', 'S2', 'S2'],
  ['S1', 'S1', 'S1'],
  ['NESTED', 'N', 'NESTED'],
  ['NESTED', 'S1+S2', 'S2'],
  ['NESTED', 'S2', 'S2'],
  ['NESTED', 'S1', 'S1'],
]

describe('stage selection', () => {
  for (const [requested, supported, actual] of SEED_TABLE) {
    it(`RFC: ${requested} on ${supported} -> ${actual}`, () => {
      assert.equal(selectStage(requested, HW[supported] as TranslationSupport, PROFILES['rfc-v2'].smmu), actual)
    })
  }

  it('merged differs from the seed only in NESTED on S1+S2 (no TRANS_NESTED check)', () => {
    const differing = SEED_TABLE.filter(([r, s, a]) => selectStage(r, HW[s] as TranslationSupport, PROFILES.merged.smmu) !== a)
    assert.deepEqual(differing, [['NESTED', 'S1+S2', 'S2']])
    assert.equal(selectStage('NESTED', HW['S1+S2'] as TranslationSupport, PROFILES.merged.smmu), 'NESTED')
  })

  it('a stage field already fixed to S2 by a failed attach stays S2 on S1+S2 hardware', () => {
    assert.equal(selectStage('S2', HW['S1+S2'] as TranslationSupport, PROFILES['rfc-v2'].smmu), 'S2')
  })
})

const memory = (() => {
  const m = createMemory({ oas: 48 })
  assert.ok(m.ok)
  return m.value
})()

function probe(fixture: string | FeatureSet, profile: keyof typeof PROFILES = 'merged'): SmmuInstance {
  const hw = typeof fixture === 'string' ? loadFixture(fixture) : fixture
  const r = SmmuInstance.probe('smmu0', hw, PROFILES[profile].smmu, memory)
  assert.ok(r.ok)
  return r.value
}

describe('context banks', () => {
  it('stage-1 banks start after the stage-2-only banks, stage-2 banks at 0', () => {
    const smmu = probe('synthetic-nested') // 8 banks, 2 stage-2-only
    assert.deepEqual(smmu.bankRange('S1'), { first: 2, last: 7 })
    assert.deepEqual(smmu.bankRange('NESTED'), { first: 0, last: 7 })
    const banks = ['S1', 'S1', 'S2', 'NESTED', 'S2'].map((s) => {
      const r = smmu.allocateContext(s as DomainStage)
      assert.ok(r.ok && r.value.kind === 'context-bank')
      return r.value.bank
    })
    // S2 and NESTED fill 0, 1 then continue above the S1 banks already taken (2, 3) -> 4.
    assert.deepEqual(banks, [2, 3, 0, 1, 4])
  })

  it('exhaustion gives ENOSPC and takes nothing', () => {
    const smmu = probe('synthetic-one-bank')
    assert.ok(smmu.allocateContext('S1').ok)
    const r = smmu.allocateContext('NESTED')
    assert.deepEqual(r.ok ? 'ok' : r.error.errno, 'ENOSPC')
    assert.deepEqual(smmu.banksInUse(), [0])
  })

  it('releasing a bank twice is a TCK bug and throws', () => {
    const smmu = probe('synthetic-one-bank')
    const r = smmu.allocateContext('S1')
    assert.ok(r.ok)
    smmu.releaseContext(r.value)
    assert.throws(() => smmu.releaseContext(r.value))
  })

  it('a kernel without an SMMUv3 driver cannot probe an SMMUv3: ENODEV', () => {
    const r = SmmuInstance.probe('smmu0', loadFixture('qemu-smmuv3-7.2'), PROFILES.merged.smmu, memory)
    assert.deepEqual(r.ok ? 'ok' : r.error.errno, 'ENODEV')
  })

  it('SMMUv3 ASIDs run 1 .. 2^asid_bits - 1, then EBUSY', () => {
    const base = loadFixture('qemu-smmuv3-7.2')
    const smmu = probe({ ...base, asidBits: 8 }, 'linux-6.1')
    const asids: (number | undefined)[] = []
    for (let i = 0; i < 255; i++) {
      const r = smmu.allocateContext('S1')
      assert.ok(r.ok)
      asids.push(r.value.asid)
    }
    assert.equal(asids[0], 1)
    assert.equal(asids[254], 255)
    const full = smmu.allocateContext('S1')
    assert.deepEqual(full.ok ? 'ok' : full.error.errno, 'EBUSY')
  })

  it('SMMUv3 VMIDs run 1 .. 2^vmid_bits - 1, then ENOSPC', () => {
    const smmu = probe({ ...loadFixture('synthetic-smmuv3-nested'), vmidBits: 8 }, 'linux-6.1')
    for (let i = 1; i <= 255; i++) {
      const r = smmu.allocateContext('S2')
      assert.ok(r.ok)
      assert.equal(r.value.vmid, i)
    }
    const full = smmu.allocateContext('NESTED')
    assert.deepEqual(full.ok ? 'ok' : full.error.errno, 'ENOSPC')
  })
})
