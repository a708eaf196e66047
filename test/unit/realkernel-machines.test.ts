/**
 * The real-kernel machines and the fixtures their recordings replay with: every transcript group a
 * machine maps to a PCI device must be a VFIO group of exactly one of the machine's fixtures (one
 * fixture per SMMU), or the recordings would replay a group the model puts behind the wrong SMMU,
 * or none. And a fixture's groups of another machine must not leak in: each fixture's groups are
 * all the machine's.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { formatFixtureError, loadFixtureFile, resolveFixturePath } from '../../model/hw'
import { machineByName, machineFixtures, MACHINES } from '../../realkernel/machines'

describe('real-kernel machines: groups and fixtures', () => {
  for (const machine of MACHINES) {
    it(`${machine.name}: each group is in exactly one of ${machineFixtures(machine).join(', ')}`, () => {
      const owners = new Map<number, string[]>()
      for (const name of machineFixtures(machine)) {
        const { fixture, errors } = loadFixtureFile(resolveFixturePath(name))
        assert.ok(fixture !== undefined, `${name}: ${errors.map(formatFixtureError).join('; ')}`)
        for (const g of fixture.vfio.groups) owners.set(g.id, [...(owners.get(g.id) ?? []), name])
      }
      const groups = Object.keys(machine.groups).map(Number)
      for (const g of groups) assert.equal(owners.get(g)?.length, 1, `group ${g} (${machine.groups[g]}) is in ${owners.get(g)?.join(' and ') ?? 'no fixture'}`)
      assert.deepEqual([...owners.keys()].sort(), [...groups].sort(), 'the fixtures define no group the machine does not map')
    })
  }

  it('the two-SMMU machines put each group behind its own SMMU fixture', () => {
    const expected = {
      'virt11-2smmu': ['qemu-smmuv3-11.1-s1', 'qemu-smmuv3-11.1-nested'],
      'virt11-2smmu-s2': ['qemu-smmuv3-11.1-s1', 'qemu-smmuv3-11.1-s2'],
      'virt11-2smmu-nested': ['qemu-smmuv3-11.1-pcie0-nested-canwbs', 'qemu-smmuv3-11.1-pxb-nested-canwbs'],
    }
    for (const [name, fixtures] of Object.entries(expected)) {
      const m = machineByName(name)
      assert.ok(m !== undefined, name)
      assert.deepEqual(machineFixtures(m), fixtures)
      // pcie.0's edu (00:02.0) behind the first -device arm-smmuv3 (stage 1 only, or nested), the pxb's behind the other.
      assert.deepEqual(m.groups, { 1: '0000:00:02.0', 2: '0000:81:00.0' })
      const first = loadFixtureFile(resolveFixturePath(fixtures[0] as string)).fixture
      const second = loadFixtureFile(resolveFixturePath(fixtures[1] as string)).fixture
      assert.deepEqual(first?.vfio.groups.map((g) => [g.id, g.streams]), [[1, [0x10]]])
      assert.deepEqual(second?.vfio.groups.map((g) => [g.id, g.streams]), [[2, [0x8100]]])
    }
  })
})
