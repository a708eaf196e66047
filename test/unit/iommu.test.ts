/** iommu layer: the nesting request and its lifetime rules. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createSystem, loadFixture, type ProfileName, type Result } from '../../model'

function errnoOf(r: Result<unknown>): string {
  return r.ok ? 'ok' : r.error.errno
}

function setup(profile: ProfileName, fixture: string) {
  const system = createSystem(profile)
  const added = system.addSmmu('smmu0', loadFixture(fixture))
  assert.ok(added.ok)
  return { system, smmu: added.value }
}

describe('iommu domain', () => {
  it('set_attr(NESTING) after attach: EPERM, stage and context unchanged', () => {
    const { system, smmu } = setup('rfc-v2', 'synthetic-nested')
    const { domain, result } = system.attachNewDomain('NESTED', smmu, 0x10)
    assert.ok(result.ok)
    const before = domain.context
    assert.equal(errnoOf(domain.setAttr('NESTING', 0)), 'EPERM')
    assert.equal(domain.stage, 'NESTED')
    assert.equal(domain.context, before)
  })

  it('the kernel API follows the profile: set_attr does not exist in linux-6.1', () => {
    const { system } = setup('linux-6.1', 'synthetic-nested')
    const domain = system.iommu.allocDomain()
    assert.throws(() => domain.setAttr('NESTING', 1), /does not exist/)
    assert.equal(errnoOf(domain.enableNesting()), 'ok')
    assert.equal(domain.stage, 'NESTED')
  })

  it('iommu_enable_nesting does not exist in the 3.x profiles', () => {
    const { system } = setup('merged', 'synthetic-nested')
    assert.throws(() => system.iommu.allocDomain().enableNesting(), /does not exist/)
  })

  it('a failed first attach (ENOSPC) leaves the stage fixed up, as the kernel does, but binds nothing', () => {
    // One bank, both stages, no nesting: the RFC fixes NESTED up to S2 before it looks for a bank.
    const hw = { ...loadFixture('synthetic-one-bank'), translation: { stage1: true, stage2: true, nested: false } }
    const system = createSystem('rfc-v2')
    const added = system.addSmmu('smmu0', hw)
    assert.ok(added.ok)
    assert.ok(system.attachNewDomain('S1', added.value, 0x10).result.ok) // takes the only bank
    const { domain, result } = system.attachNewDomain('NESTED', added.value, 0x11)
    assert.equal(errnoOf(result), 'ENOSPC')
    assert.equal(domain.smmu, undefined)
    assert.equal(domain.stage, 'S2')
    assert.deepEqual(domain.getAttr('NESTING'), { ok: true, value: 0 })
    assert.equal(errnoOf(domain.setAttr('NESTING', 1)), 'ok') // not bound, so still settable
  })

  it('a domain bound to one SMMU cannot take a stream of another: EINVAL', () => {
    const system = createSystem('merged')
    const a = system.addSmmu('a', loadFixture('synthetic-nested'))
    const b = system.addSmmu('b', loadFixture('synthetic-s1-only'))
    assert.ok(a.ok && b.ok)
    const { domain, result } = system.attachNewDomain('NESTED', a.value, 0x10)
    assert.ok(result.ok)
    assert.equal(errnoOf(domain.attach(b.value, 0x20)), 'EINVAL')
    assert.deepEqual(b.value.banksInUse(), [])
  })

  it('free releases the bank and detaches remaining streams', () => {
    const { system, smmu } = setup('merged', 'synthetic-nested')
    const { domain } = system.attachNewDomain('S1', smmu, 0x10)
    assert.ok(domain.attach(smmu, 0x11).ok)
    system.iommu.freeDomain(domain)
    assert.deepEqual(smmu.banksInUse(), [])
    assert.equal(smmu.streamContext(0x10), undefined)
    assert.equal(smmu.streamContext(0x11), undefined)
    assert.throws(() => domain.getAttr('NESTING'), /after iommu_domain_free/)
  })

  it('detaching a stream that is not attached: ENODEV', () => {
    const { system } = setup('merged', 'synthetic-nested')
    assert.equal(errnoOf(system.iommu.allocDomain().detach(0x10)), 'ENODEV')
  })
})
