/** VFIO type1 model: state invariants and the arithmetic helpers behind GET_INFO. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createModelBackend, getProfile, loadFixture, type ContainerModel, type GroupModel, type Profile, type ProfileName } from '../../model'

function machine(profile: ProfileName | Profile) {
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

  for (const profile of ['rfc-v2', 'merged', 'linux-6.1'] as const) {
    it(`${profile}: failed MAPs of sizes up to __u64's limit leave the VMM and the container as they were`, () => {
      const { container, group, backend } = machine(profile)
      assert.ok(container.setIommu(3).ok)
      assert.ok(container.mapDma({ iova: 0x100000n, size: 0x1000n, flags: 3, vaddr: { kind: 'buffer' } }).ok)
      const vmm = (): string => `${backend.env.process.state()} ram=${backend.system.ram.usedBytes}`
      const before = { vmm: vmm(), container: observe(container, group) }
      const huge = [{ iova: 0n, size: 0xfffffffffffff000n }, ...Array.from({ length: 16 }, (_, i) => ({ iova: BigInt(i + 1) << 60n, size: 1n << 60n }))]
      for (const { iova, size } of huge) {
        const r = container.mapDma({ iova, size, flags: 3, vaddr: { kind: 'buffer' } })
        assert.ok(!r.ok, `map 0x${iova.toString(16)}+0x${size.toString(16)} succeeded`)
        assert.equal(vmm(), before.vmm, `map 0x${iova.toString(16)}+0x${size.toString(16)} failed with ${r.error.errno} but changed the VMM`)
        assert.equal(observe(container, group), before.container)
      }
      const after = container.mapDma({ iova: 0x104000n, size: 0x1000n, flags: 3, vaddr: { kind: 'buffer' } })
      assert.ok(after.ok, `an ordinary MAP after the failed ones: ${after.ok ? '' : after.error.message}`)
    })
  }

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

describe('UNMAP ranges at the end of the 64-bit space, per kernel rule', () => {
  /** 6.18+ rules (commits 6012379ede6a and ef270ec44637) on the 6.1 profile's other facts. */
  const after618: Profile = { ...getProfile('linux-6.1'), vfio: { ...getProfile('linux-6.1').vfio, rangeWrap: { map: 'EOVERFLOW', unmap: 'EOVERFLOW' }, unmapEnd: 'inclusive' } }
  const mapped = (profile: ProfileName | Profile) => {
    const m = machine(profile)
    assert.ok(m.container.setIommu(3).ok)
    assert.ok(m.container.mapDma({ iova: 0x100000n, size: 0x4000n, flags: 3, vaddr: { kind: 'buffer' } }).ok)
    return m
  }
  const unmap = (c: ContainerModel, iova: bigint, size: bigint, flags = 0) => {
    const r = c.unmapDma({ iova, size, flags })
    return r.ok ? `ok ${r.value.unmapped.toString(16)}` : r.error.errno
  }

  it('a range ending at 2^64: nothing found up to 6.17 (end wraps to 0); removed from 6.18', () => {
    for (const p of ['rfc-v2', 'merged', 'linux-6.1'] as const) {
      const { container } = mapped(p)
      assert.equal(unmap(container, 0x1000n, 0xfffffffffffff000n), 'ok 0', p)
      assert.equal(container.iommu?.mappings().length, 1, p)
    }
    const { container } = mapped(after618)
    assert.equal(unmap(container, 0x1000n, 0xfffffffffffff000n), 'ok 4000')
    assert.equal(container.iommu?.mappings().length, 0)
  })

  it('a range passing 2^64: 3.x does not check (nothing found), 6.1 EINVAL, 6.18+ EOVERFLOW', () => {
    assert.equal(unmap(mapped('merged').container, 0x2000n, 0xfffffffffffff000n), 'ok 0')
    assert.equal(unmap(mapped('linux-6.1').container, 0x2000n, 0xfffffffffffff000n), 'EINVAL')
    assert.equal(unmap(mapped(after618).container, 0x2000n, 0xfffffffffffff000n), 'EOVERFLOW')
    // 3.x v2: the wrapped end still must not fall inside a mapping (end 0x102000 is inside [0x100000, 0x104000)).
    assert.equal(unmap(mapped('merged').container, 0x200000n, 0xfffffffffff02000n), 'EINVAL')
  })

  it('MAP wrapping 2^64: EINVAL up to 6.17, EOVERFLOW from 6.18 (before READ/WRITE is looked at)', () => {
    const wrap = { iova: 0xfffffffffffff000n, size: 0x2000n, vaddr: { kind: 'buffer' } as const }
    assert.equal(mapped('linux-6.1').container.mapDma({ ...wrap, flags: 3 }).ok ? 'ok' : 'fail', 'fail')
    const r61 = mapped('linux-6.1').container.mapDma({ ...wrap, flags: 0 })
    assert.ok(!r61.ok && r61.error.errno === 'EINVAL')
    const r618 = mapped(after618).container.mapDma({ ...wrap, flags: 0 })
    assert.ok(!r618.ok && r618.error.errno === 'EOVERFLOW')
  })

  it('VADDR invalidation twice: EINVAL, and the vaddrs this call invalidated are valid again', () => {
    const { container } = mapped('linux-6.1')
    assert.ok(container.mapDma({ iova: 0x200000n, size: 0x1000n, flags: 3, vaddr: { kind: 'buffer' } }).ok)
    assert.ok(container.mapDma({ iova: 0x300000n, size: 0x1000n, flags: 3, vaddr: { kind: 'buffer' } }).ok)
    assert.equal(unmap(container, 0x300000n, 0x1000n, 4), 'ok 1000')
    assert.equal(unmap(container, 0x0n, 0x1000000n, 4), 'EINVAL')
    // 0x100000 and 0x200000 were invalidated, then given back: each can be invalidated once more.
    assert.equal(unmap(container, 0x100000n, 0x4000n, 4), 'ok 4000')
    assert.equal(unmap(container, 0x200000n, 0x1000n, 4), 'ok 1000')
    assert.equal(container.iommu?.mappings().length, 3)
  })
})

describe('type1 bookkeeping at scale', () => {
  it('MAP/UNMAP cycles give the VMM buffer back: 1 GiB four times over a 2 GiB RAM', () => {
    const { container, backend } = machine('linux-6.1')
    assert.ok(container.setIommu(3).ok)
    const idle = backend.system.ram.usedBytes
    for (let cycle = 0; cycle < 4; cycle++) {
      const m = container.mapDma({ iova: 0x4000_0000n, size: 1n << 30n, flags: 3, vaddr: { kind: 'buffer' } })
      assert.ok(m.ok, `cycle ${cycle}: ${m.ok ? '' : m.error.errno}`)
      assert.ok(backend.system.ram.usedBytes >= idle + 2 ** 30, 'the buffer is faulted in while mapped')
      assert.deepEqual(container.unmapDma({ iova: 0x4000_0000n, size: 1n << 30n, flags: 0 }), { ok: true, value: { unmapped: 1n << 30n } })
      assert.equal(backend.system.ram.usedBytes, idle, `cycle ${cycle}: RAM back to what it was`)
    }
  })

  it('a MAP that fails after pinning gives its buffer back', () => {
    const { container, backend } = machine('linux-6.1')
    assert.ok(container.setIommu(3).ok)
    const idle = backend.system.ram.usedBytes
    // More than the 2 GiB of RAM: pinning fails with ENOMEM and nothing stays allocated.
    const m = container.mapDma({ iova: 0x4000_0000n, size: 3n << 30n, flags: 3, vaddr: { kind: 'buffer' } })
    assert.ok(!m.ok && m.error.errno === 'ENOMEM')
    assert.equal(backend.system.ram.usedBytes, idle)
  })

  it('8,192 separate mappings in shuffled order: sorted, each reachable, then removed by ranges', () => {
    const { container, group } = machine('linux-6.1')
    assert.ok(container.setIommu(3).ok)
    const n = 8192
    const base = 0x1_0000_0000n
    // Every other page, inserted in a fixed shuffled order (a multiplicative permutation mod n).
    for (let k = 0; k < n; k++) {
      const slot = BigInt((k * 5039) % n)
      assert.ok(container.mapDma({ iova: base + slot * 2n * PAGE, size: PAGE, flags: 3, vaddr: { kind: 'buffer' } }).ok)
    }
    const maps = container.iommu?.mappings() ?? []
    assert.equal(maps.length, n)
    maps.forEach((m, i) => assert.equal(m.iova, base + BigInt(i) * 2n * PAGE, `mapping #${i} in order`))
    for (const i of [0, 1, 4095, 8191]) {
      const r = group.dma('read', base + BigInt(i) * 2n * PAGE, 8)
      assert.ok(r.ok && r.value.kind === 'ok', `page ${i} reachable`)
      const hole = group.dma('read', base + (BigInt(i) * 2n + 1n) * PAGE, 8)
      assert.ok(hole.ok && hole.value.kind !== 'ok', `the gap after page ${i} faults`)
    }
    // v2: a range that starts or ends inside a mapping is refused, one that covers whole ones works.
    assert.equal(container.unmapDma({ iova: base + 0x800n, size: PAGE, flags: 0 }).ok, false)
    const head = container.unmapDma({ iova: base + 2n * PAGE * 100n, size: 2n * PAGE * 1000n - PAGE, flags: 0 })
    assert.deepEqual(head, { ok: true, value: { unmapped: 1000n * PAGE } })
    assert.equal(container.iommu?.mappings().length, n - 1000)
    assert.equal(container.iommu?.availableMappings, 65535 - (n - 1000))
    const r = group.dma('read', base + 2n * PAGE * 100n, 8)
    assert.ok(r.ok && r.value.kind !== 'ok', 'an unmapped page faults')
    assert.deepEqual(container.unmapDma({ iova: 0n, size: 0n, flags: 2 }), { ok: true, value: { unmapped: BigInt(n - 1000) * PAGE } })
    assert.equal(container.iommu?.mappings().length, 0)
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
