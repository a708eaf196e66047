/**
 * Builder decisions (model/pgtable/builder.ts header): errnos, partial unmap per policy, table
 * freeing, range splitting, atomicity.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createMemory, createTableAllocator, type PhysMemory, type TableAllocator } from '../../model/memory'
import { createPgtable, walkStage1, type IoPgtable, type PartialUnmapPolicy, type WalkResult } from '../../model/pgtable'

const RW = { read: true, write: true }
const SZ_4K = 0x1000
const SZ_2M = 0x20_0000
const SZ_1G = 0x4000_0000
const POOL = 0x1000_0000

interface Rig {
  mem: PhysMemory
  alloc: TableAllocator
  pt: IoPgtable
}

function rig(policy: PartialUnmapPolicy = 'refuse', poolPages = 256, ias = 48): Rig {
  const m = createMemory({ oas: 48 })
  assert.ok(m.ok)
  const a = createTableAllocator(m.value, { base: POOL, size: poolPages * SZ_4K })
  assert.ok(a.ok)
  const p = createPgtable(m.value, a.value, { stage: 1, granule: 4096, ias, oas: 48, partialUnmap: policy })
  assert.ok(p.ok)
  return { mem: m.value, alloc: a.value, pt: p.value }
}

function walk(r: Rig, iova: number): WalkResult {
  return walkStage1(r.mem, r.pt.s1Context, iova, { kind: 'read' })
}

function errno(res: { ok: boolean; error?: { errno: string } }): string | undefined {
  return res.ok ? undefined : res.error?.errno
}

describe('map errors', () => {
  test('EINVAL: unsupported size, misaligned address, neither READ nor WRITE', () => {
    const r = rig()
    assert.equal(errno(r.pt.map(0, 0, 0x2000, RW)), 'EINVAL')
    assert.equal(errno(r.pt.map(0x1000, 0, SZ_2M, RW)), 'EINVAL')
    assert.equal(errno(r.pt.map(0, 0x1000, SZ_2M, RW)), 'EINVAL')
    assert.equal(errno(r.pt.map(0, 0, SZ_4K, { read: false, write: false })), 'EINVAL')
    assert.equal(errno(r.pt.map(-4096, 0, SZ_4K, RW)), 'EINVAL')
  })

  test("neither READ nor WRITE with noAccessMap 'maps-nothing' (\"If no access, then nothing to do\"): success, nothing written; range checks come first", () => {
    const m = createMemory({ oas: 48 })
    assert.ok(m.ok)
    const a = createTableAllocator(m.value, { base: POOL, size: 16 * SZ_4K })
    assert.ok(a.ok)
    const p = createPgtable(m.value, a.value, { stage: 1, granule: 4096, ias: 48, oas: 48, noAccessMap: 'maps-nothing' })
    assert.ok(p.ok)
    const none = { read: false, write: false }
    assert.deepEqual(p.value.map(0, 0, SZ_4K, none), { ok: true, value: undefined })
    assert.deepEqual(p.value.mapRange(0, 0, SZ_2M, none), { ok: true, value: undefined })
    assert.equal(p.value.iovaToPhys(0), undefined)
    assert.equal(a.value.liveAllocations, 1, 'only the start table: no table was allocated for the no-access map')
    assert.equal(errno(p.value.map(2 ** 48, 0, SZ_4K, none)), 'ERANGE')
  })

  test('ERANGE: iova >= 2^ias or pa >= 2^oas (arm_lpae_map_pages)', () => {
    const r = rig()
    assert.equal(errno(r.pt.map(2 ** 48, 0, SZ_4K, RW)), 'ERANGE')
    assert.equal(errno(r.pt.map(0, 2 ** 48, SZ_4K, RW)), 'ERANGE')
  })

  test('EINVAL: a block size above the start level (ias 30 starts at level 2: no 1G blocks)', () => {
    const r = rig('refuse', 16, 30)
    assert.equal(errno(r.pt.map(0, 0, SZ_1G, RW)), 'EINVAL')
    assert.deepEqual(r.pt.pgsizes, [SZ_4K, SZ_2M])
  })

  test('EEXIST: leaf in the way while descending, leaf at the target, live table under a block', () => {
    const r = rig()
    assert.ok(r.pt.map(0, 0, SZ_2M, RW).ok)
    assert.equal(errno(r.pt.map(0x1000, 0x1000, SZ_4K, RW)), 'EEXIST')
    assert.equal(errno(r.pt.map(0, 0, SZ_2M, RW)), 'EEXIST')
    assert.ok(r.pt.map(SZ_2M + SZ_4K, 0, SZ_4K, RW).ok)
    assert.equal(errno(r.pt.map(SZ_2M, SZ_2M, SZ_2M, RW)), 'EEXIST')
    assert.equal(errno(r.pt.map(0, 0, SZ_1G, RW)), 'EEXIST')
  })

  test('a block over an emptied table succeeds and frees the table', () => {
    const r = rig()
    assert.ok(r.pt.map(0, 0, SZ_4K, RW).ok)
    assert.equal(r.alloc.liveAllocations, 4) // pgd, L1, L2, L3
    assert.deepEqual(r.pt.unmap(0, SZ_4K), { ok: true, value: SZ_4K })
    assert.equal(r.alloc.liveAllocations, 4, 'an emptied table is not freed by unmap')
    assert.ok(r.pt.map(0, 0x4000_0000, SZ_2M, RW).ok)
    assert.equal(r.alloc.liveAllocations, 3, 'the empty L3 table was freed')
    const t = walk(r, 0x1234)
    assert.equal(t.kind === 'ok' && t.oa, 0x4000_1234)
  })

  test('ENOMEM leaves memory and the allocator as they were', () => {
    const r = rig('refuse', 3) // pgd + 2 tables: a 4K page needs 3 more
    const before = r.mem.snapshot()
    assert.equal(errno(r.pt.map(0, 0, SZ_4K, RW)), 'ENOMEM')
    assert.deepEqual(r.mem.snapshot(), before)
    assert.equal(r.alloc.usedBytes, SZ_4K)
    assert.ok(r.pt.map(0, 0, SZ_2M, RW).ok, 'a 2M block needs only L1 and L2')
  })
})

describe('partial unmap of a block', () => {
  test("'refuse' (Linux >= 6.13): 0 bytes, block intact", () => {
    const r = rig('refuse')
    assert.ok(r.pt.map(SZ_2M, 0x8000_0000, SZ_2M, RW).ok)
    assert.deepEqual(r.pt.unmap(SZ_2M + SZ_4K, SZ_4K), { ok: true, value: 0 })
    const t = walk(r, SZ_2M + SZ_4K)
    assert.equal(t.kind === 'ok' && t.oa, 0x8000_1000)
    assert.equal(t.kind === 'ok' && t.level, 2)
  })

  test("'split' (Linux <= 6.12): the block becomes pages minus the hole", () => {
    const r = rig('split')
    assert.ok(r.pt.map(SZ_2M, 0x8000_0000, SZ_2M, { read: true, write: false, noexec: true }).ok)
    assert.deepEqual(r.pt.unmap(SZ_2M + SZ_4K, SZ_4K), { ok: true, value: SZ_4K })
    assert.equal(walk(r, SZ_2M + SZ_4K).kind, 'translation')
    const t = walk(r, SZ_2M + 2 * SZ_4K + 5)
    assert.equal(t.kind, 'ok')
    if (t.kind === 'ok') {
      assert.equal(t.oa, 0x8000_2005)
      assert.equal(t.level, 3)
      assert.deepEqual(t.perm, { read: true, write: false, exec: false }, 'pieces keep the block attributes')
    }
  })

  test("'split' of a 1G block down to a page: two new tables", () => {
    const r = rig('split')
    assert.ok(r.pt.map(SZ_1G, SZ_1G, SZ_1G, RW).ok)
    const live = r.alloc.liveAllocations
    assert.deepEqual(r.pt.unmap(SZ_1G + SZ_2M + SZ_4K, SZ_4K), { ok: true, value: SZ_4K })
    assert.equal(r.alloc.liveAllocations, live + 2)
    const block = walk(r, SZ_1G + 5)
    assert.equal(block.kind === 'ok' && block.level, 2)
    assert.equal(block.kind === 'ok' && block.oa, SZ_1G + 5)
    assert.equal(walk(r, SZ_1G + SZ_2M + SZ_4K).kind, 'translation')
    assert.equal(r.pt.iovaToPhys(SZ_1G + SZ_2M), SZ_1G + SZ_2M)
  })

  test("'split' that runs out of table pages changes nothing", () => {
    const r = rig('split', 3) // pgd + L1 for the 1G block leave one page: the second split has none
    assert.ok(r.pt.map(SZ_1G, SZ_1G, SZ_1G, RW).ok)
    const before = r.mem.snapshot()
    const used = r.alloc.usedBytes
    assert.equal(errno(r.pt.unmap(SZ_1G + SZ_4K, SZ_4K)), 'ENOMEM')
    assert.deepEqual(r.mem.snapshot(), before)
    assert.equal(r.alloc.usedBytes, used)
  })
})

describe('unmap', () => {
  test('a size matching a table entry removes and frees the whole subtree', () => {
    const r = rig()
    assert.ok(r.pt.map(0, 0, SZ_4K, RW).ok)
    assert.ok(r.pt.map(SZ_4K * 7, 0, SZ_4K, RW).ok)
    assert.deepEqual(r.pt.unmap(0, SZ_2M), { ok: true, value: SZ_2M })
    assert.equal(r.alloc.liveAllocations, 3)
    assert.equal(walk(r, SZ_4K * 7).kind, 'translation')
  })

  test('nothing mapped: 0 bytes; bad arguments: EINVAL', () => {
    const r = rig()
    assert.deepEqual(r.pt.unmap(0, SZ_4K), { ok: true, value: 0 })
    assert.equal(errno(r.pt.unmap(0x800, SZ_4K)), 'EINVAL')
    assert.equal(errno(r.pt.unmap(0, 0x3000)), 'EINVAL')
    assert.equal(errno(r.pt.unmap(2 ** 48, SZ_4K)), 'EINVAL')
  })

  test('unmapRange stops at the first empty piece (iommu_unmap)', () => {
    const r = rig()
    assert.ok(r.pt.map(SZ_4K, SZ_4K, SZ_4K, RW).ok)
    assert.deepEqual(r.pt.unmapRange(0, 2 * SZ_4K), { ok: true, value: 0 })
    assert.ok(r.pt.map(0, 0, SZ_4K, RW).ok)
    assert.deepEqual(r.pt.unmapRange(0, 3 * SZ_4K), { ok: true, value: 2 * SZ_4K })
  })
})

describe('mapRange', () => {
  test('largest aligned leaves: 4K, 2M, 4K', () => {
    const r = rig()
    // [0x1F_F000, 0x40_1000): 4K at 0x1F_F000, 2M at 0x20_0000, 4K at 0x40_0000
    assert.ok(r.pt.mapRange(0x1f_f000, 0x1f_f000, 0x20_2000, RW).ok)
    const sizes = [0x1f_f000, 0x20_0000, 0x40_0000].map((iova) => {
      const t = walk(r, iova)
      return t.kind === 'ok' ? t.size : t.kind
    })
    assert.deepEqual(sizes, [SZ_4K, SZ_2M, SZ_4K])
    assert.equal(walk(r, 0x40_1000).kind, 'translation')
  })

  test('pa alignment limits the leaf size', () => {
    const r = rig()
    assert.ok(r.pt.mapRange(SZ_2M, SZ_2M + SZ_4K, SZ_2M, RW).ok)
    const t = walk(r, SZ_2M + 0x10_0000)
    assert.equal(t.kind === 'ok' && t.size, SZ_4K)
    assert.equal(t.kind === 'ok' && t.oa, SZ_2M + SZ_4K + 0x10_0000)
  })

  test('all or nothing', () => {
    const r = rig()
    assert.ok(r.pt.map(0x40_0000, 0, SZ_4K, RW).ok)
    const before = r.mem.snapshot()
    const used = r.alloc.usedBytes
    assert.equal(errno(r.pt.mapRange(0x1f_f000, 0x1f_f000, 0x20_2000, RW)), 'EEXIST')
    assert.deepEqual(r.mem.snapshot(), before)
    assert.equal(r.alloc.usedBytes, used)
    assert.equal(errno(r.pt.mapRange(2 ** 48 - SZ_4K, 0, 2 * SZ_4K, RW)), 'ERANGE')
    assert.equal(errno(r.pt.mapRange(0, 0, 0x1800, RW)), 'EINVAL')
  })
})

test('destroy frees every table; later use is a bug', () => {
  const r = rig()
  assert.ok(r.pt.mapRange(0, 0, 3 * SZ_1G + 5 * SZ_4K, RW).ok)
  r.pt.destroy()
  assert.equal(r.alloc.usedBytes, 0)
  assert.throws(() => r.pt.map(0, 0, SZ_4K, RW))
})
