/**
 * Descriptor encodings, checked against hand-computed vectors (docs/facts/smmu-translation.md#hand-vectors).
 * Bit values used below:
 *   nG 0x800 (bit 11), AF 0x400 (bit 10), SH inner 0x300 / outer 0x200 (bits 9:8),
 *   AP[2] RDONLY 0x80 (bit 7), AP[1] UNPRIV 0x40 (bit 6), AttrIndx n -> n << 2,
 *   S2AP R 0x40, W 0x80, MemAttr m -> m << 2 (WB 0xF -> 0x3C, NC 0x5 -> 0x14, DEV 0x1 -> 0x4),
 *   XN bits 53 + 54 -> high word 0x0060_0000; block type 0b01, page/table 0b11.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createMemory, createTableAllocator, type PhysMemory } from '../../model/memory'
import { createPgtable, joinDescriptor, protToAttrs, splitDescriptor, type IoPgtable } from '../../model/pgtable'
import { DESC_BYTES, DESC_SHIFT } from '../../model/pgtable/descriptor'

const POOL = 0x1000_0000
const RW_NOEXEC_CACHE = { read: true, write: true, noexec: true, cache: true }
const WRITE_ONLY = { read: false, write: true }

function setup(stage: 1 | 2, ias = 48): { mem: PhysMemory; pt: IoPgtable } {
  const m = createMemory({ oas: 48 })
  assert.ok(m.ok)
  const a = createTableAllocator(m.value, { base: POOL, size: 0x10_0000 })
  assert.ok(a.ok)
  const p = createPgtable(m.value, a.value, { stage, granule: 4096, ias, oas: 48 })
  assert.ok(p.ok)
  return { mem: m.value, pt: p.value }
}

function read(mem: PhysMemory, pa: number): bigint {
  const v = mem.read64(pa)
  assert.equal(typeof v, 'bigint', `read at ${pa} aborted`)
  return v as bigint
}

test('a descriptor is 64 bits: 8 bytes, so a table index shifted by 3 is its byte offset', () => {
  assert.equal(DESC_BYTES, 8)
  assert.equal(1 << DESC_SHIFT, DESC_BYTES)
})

describe('prot -> leaf attributes (arm_lpae_prot_to_pte)', () => {
  const cases: [string, 1 | 2, Parameters<typeof protToAttrs>[1], number, number][] = [
    // 0x800 | 0x400 | 0x300 | 0x40 | 1 << 2 = 0xF44, XN
    ['S1 R|W|NOEXEC|CACHE', 1, RW_NOEXEC_CACHE, 0xf44, 0x0060_0000],
    // 0x800 | 0x400 | 0x200 | 0x40 = 0xE40
    ['S1 WRITE', 1, WRITE_ONLY, 0xe40, 0],
    // 0x800 | 0x400 | 0x200 | 0x80 | 0x40 = 0xEC0
    ['S1 READ', 1, { read: true, write: false }, 0xec0, 0],
    // 0x800 | 0x400 | 0x200 (no AP_UNPRIV) = 0xE00
    ['S1 R|W|PRIV', 1, { read: true, write: true, priv: true }, 0xe00, 0],
    // 0x800 | 0x400 | 0x200 | 0x40 | 2 << 2 = 0xE48 (MMIO wins over CACHE for AttrIndx; SH still follows CACHE)
    ['S1 R|W|MMIO', 1, { read: true, write: true, mmio: true }, 0xe48, 0],
    // 0x400 | 0x300 | 0xC0 | 0x3C = 0x7FC
    ['S2 R|W|NOEXEC|CACHE', 2, RW_NOEXEC_CACHE, 0x7fc, 0x0060_0000],
    // 0x400 | 0x200 | 0x80 | 0x14 = 0x694
    ['S2 WRITE', 2, WRITE_ONLY, 0x694, 0],
    // 0x400 | 0x200 | 0x40 | 0x4 = 0x644
    ['S2 READ|MMIO', 2, { read: true, write: false, mmio: true }, 0x644, 0],
  ]
  for (const [name, stage, prot, lo, hi] of cases) {
    test(name, () => assert.deepEqual(protToAttrs(stage, prot), { lo, hi }))
  }
})

describe('descriptors the builder writes', () => {
  // ias 48, 4K: L0 index = iova >> 39, L1 = (iova >> 30) & 511, L2 = (iova >> 21) & 511, L3 = (iova >> 12) & 511.
  // First-fit allocator from POOL: pgd = POOL, then each new table takes the next page.

  test('S1 R|W|NOEXEC|CACHE 2M block at 1G = 0x0060_0000_4000_0F45, tables = next PA | 3', () => {
    const { mem, pt } = setup(1)
    assert.equal(pt.pgd, POOL)
    assert.ok(pt.map(0x4000_0000, 0x4000_0000, 0x20_0000, RW_NOEXEC_CACHE).ok)
    // L0[0] -> L1 table at POOL + 0x1000; L1[1] -> L2 table at POOL + 0x2000; L2[0] is the block
    assert.equal(read(mem, POOL), 0x1000_1003n)
    assert.equal(read(mem, POOL + 0x1000 + 1 * 8), 0x1000_2003n)
    assert.equal(read(mem, POOL + 0x2000), 0x0060_0000_4000_0f45n)
  })

  test('S1 pages: R|W|NOEXEC|CACHE 0xF47, WRITE-only 0xE43', () => {
    const { mem, pt } = setup(1)
    assert.ok(pt.map(0, 0x12_3456_7000, 0x1000, RW_NOEXEC_CACHE).ok)
    assert.ok(pt.map(0x1000, 0x5000, 0x1000, WRITE_ONLY).ok)
    // L0[0] -> POOL+0x1000 (L1), L1[0] -> POOL+0x2000 (L2), L2[0] -> POOL+0x3000 (L3)
    assert.equal(read(mem, POOL + 0x3000), 0x0060_0012_3456_7f47n)
    assert.equal(read(mem, POOL + 0x3000 + 8), 0x0000_0000_0000_5e43n)
  })

  test('S2 pages: R|W|NOEXEC|CACHE 0x7FF, WRITE-only 0x697; 1G block 0x7FD', () => {
    const { mem, pt } = setup(2)
    assert.ok(pt.map(0, 0x8000, 0x1000, RW_NOEXEC_CACHE).ok)
    assert.ok(pt.map(0x1000, 0x5000, 0x1000, WRITE_ONLY).ok)
    assert.ok(pt.map(0x8000_0000, 0xc000_0000, 0x4000_0000, RW_NOEXEC_CACHE).ok)
    assert.equal(read(mem, POOL + 0x3000), 0x0060_0000_0000_87ffn)
    assert.equal(read(mem, POOL + 0x3000 + 8), 0x0000_0000_0000_5697n)
    // 2G: L0[0] (existing L1 at POOL+0x1000), L1[2] is the block
    assert.equal(read(mem, POOL + 0x1000 + 2 * 8), 0x0060_0000_c000_07fdn)
  })

  test('S2 ias 40 starts at level 1 with two concatenated tables', () => {
    const { mem, pt } = setup(2, 40)
    // 8 KiB start table at POOL. IPA 0x80_4000_0000 -> L1 index 0x80_4000_0000 >> 30 = 513 (second table, entry 1)
    assert.ok(pt.map(0x80_4000_0000, 0x4000_0000, 0x4000_0000, RW_NOEXEC_CACHE).ok)
    assert.equal(read(mem, POOL + 513 * 8), 0x0060_0000_4000_07fdn)
    assert.equal(read(mem, POOL + 0x1008), 0x0060_0000_4000_07fdn)
  })
})

test('split / join descriptors', () => {
  assert.deepEqual(splitDescriptor(0x0060_0000_4000_0f45n), { lo: 0x4000_0f45, hi: 0x0060_0000 })
  assert.equal(joinDescriptor(0xffff_ffff, 0x8000_0000), 0x8000_0000_ffff_ffffn)
})
