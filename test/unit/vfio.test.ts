/** VFIO type1 model: state invariants and the arithmetic helpers behind GET_INFO. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createModelBackend, loadFixture, type ContainerModel, type GroupModel, type ProfileName } from '../../model'

function machine(profile: ProfileName) {
  const hw = { ...loadFixture('synthetic-nested'), vfio: { groups: [{ id: 0, streams: [0x10], viable: true }], reservedRegions: [] } }
  const backend = createModelBackend({ profile, fixtures: [hw] })
  const c = backend.openContainer()
  const g = backend.openGroup(0)
  assert.ok(c.ok && g.ok)
  assert.ok(g.value.setContainer(c.value).ok)
  return { container: c.value as ContainerModel, group: g.value as GroupModel, backend }
}

const PAGE = 0x1000n

/** What a test can observe: type1's mappings, the slots left, and what the device can reach. */
function observe(container: ContainerModel, group: GroupModel): string {
  const t1 = container.iommu
  const reach: string[] = []
  for (let p = 0n; p < 24n; p++) {
    const r = group.dma('read', 0x100000n + p * PAGE, 1)
    reach.push(r.ok && r.value.kind === 'ok' ? '1' : '0')
  }
  return JSON.stringify({ maps: t1?.mappings().map((m) => `${m.iova}+${m.size}`), avail: t1?.availableMappings, reach: reach.join('') })
}

type Op = { kind: 'map'; page: number; pages: number; flags: number } | { kind: 'unmap'; page: number; pages: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('map' as const), page: fc.integer({ min: 0, max: 20 }), pages: fc.integer({ min: 0, max: 4 }), flags: fc.constantFrom(0, 1, 2, 3, 0x83) }),
  fc.record({ kind: fc.constant('unmap' as const), page: fc.integer({ min: 0, max: 20 }), pages: fc.integer({ min: 0, max: 6 }) }),
)

describe('type1 MAP/UNMAP', () => {
  for (const profile of ['merged', 'linux-6.1'] as const) {
    it(`${profile}: a failed MAP or UNMAP changes nothing observable (random sequences)`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 12 }), (ops) => {
          const { container, group } = machine(profile)
          assert.ok(container.setIommu(3).ok)
          for (const op of ops) {
            const before = observe(container, group)
            const iova = 0x100000n + BigInt(op.page) * PAGE
            const size = BigInt(op.pages) * PAGE
            const r = op.kind === 'map' ? container.mapDma({ iova, size, flags: op.flags, vaddr: { kind: 'buffer' } }) : container.unmapDma({ iova, size, flags: 0 })
            if (!r.ok) assert.equal(observe(container, group), before, `${op.kind} failed with ${r.error.errno} but changed state`)
          }
        }),
        { numRuns: 60 },
      )
    })
  }

  it('every mapped page is reachable by the device and nothing else is (random sequences)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 12 }), (ops) => {
        const { container, group } = machine('linux-6.1')
        assert.ok(container.setIommu(3).ok)
        for (const op of ops) {
          const iova = 0x100000n + BigInt(op.page) * PAGE
          const size = BigInt(op.pages) * PAGE
          if (op.kind === 'map') container.mapDma({ iova, size, flags: op.flags, vaddr: { kind: 'buffer' } })
          else container.unmapDma({ iova, size, flags: 0 })
        }
        const mapped = new Set<bigint>()
        for (const m of container.iommu?.mappings() ?? []) for (let a = m.iova; a < m.iova + m.size; a += PAGE) mapped.add(a)
        for (let p = 0n; p < 28n; p++) {
          const a = 0x100000n + p * PAGE
          const r = group.dma('read', a, 8)
          const reached = r.ok && r.value.kind === 'ok'
          // A TYPE1v2 container on synthetic-nested has a stage-1 domain, where io-pgtable maps
          // write-only as read-write (stage-1 AP cannot say "write, no read"): every mapped page reads.
          assert.equal(reached, mapped.has(a), `0x${a.toString(16)}: mapped ${mapped.has(a)}, reachable ${reached}`)
        }
      }),
      { numRuns: 60 },
    )
  })

  it('the bytes a device writes land in the VMM buffer and read back through another IOVA alias', () => {
    const { container, group } = machine('linux-6.1')
    assert.ok(container.setIommu(3).ok)
    assert.ok(container.mapDma({ iova: 0x100000n, size: 0x2000n, flags: 3, vaddr: { kind: 'buffer' } }).ok)
    const payload = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8])
    const w = group.dma('write', 0x100ffcn, 8, payload) // crosses the 4K page boundary
    assert.deepEqual(w, { ok: true, value: { kind: 'ok' } })
    const r = group.dma('read', 0x100ffcn, 8)
    assert.ok(r.ok && r.value.kind === 'ok')
    assert.deepEqual(r.value.data, payload)
  })
})

describe('GET_INFO IOVA ranges', () => {
  it('reserved regions split the aperture; ranges are inclusive', () => {
    const hw = {
      ...loadFixture('synthetic-nested'),
      vfio: {
        groups: [{ id: 0, streams: [0x10], viable: true }],
        reservedRegions: [
          { start: 0x0n, end: 0xfffn, type: 'reserved' as const },
          { start: 0x8000000n, end: 0x80fffffn, type: 'sw-msi' as const },
        ],
      },
    }
    const backend = createModelBackend({ profile: 'linux-6.1', fixtures: [hw] })
    const c = backend.openContainer()
    const g = backend.openGroup(0)
    assert.ok(c.ok && g.ok && g.value.setContainer(c.value).ok && c.value.setIommu(3).ok)
    const info = c.value.getInfo()
    assert.ok(info.ok)
    // Stage-1 aperture [0, 2^48 - 1] minus [0, 0xfff] minus [0x8000000, 0x80fffff].
    assert.deepEqual(info.value.iovaRanges, [
      { start: 0x1000n, end: 0x7ffffffn },
      { start: 0x8100000n, end: 0xffff_ffff_ffffn },
    ])
  })
})
