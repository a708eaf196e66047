/**
 * Geometry, start levels and stage-2 concatenation (docs/facts/smmu-translation.md#start-levels and #io-pgtable).
 * Expected values are worked by hand from
 *   va_bits = ias - pgShift; levels = ceil(va_bits / stride); start = 4 - levels;
 *   pgd_bits = va_bits - stride * (levels - 1); S2 (older kernels): start 0 with 2^pgd_bits <= 16
 *   entries -> start 1 with pgd_bits + stride bits.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createMemory, createTableAllocator } from '../../model/memory'
import {
  createPgtable,
  ioPgtableGeometry,
  stage1Context,
  stage2Context,
  startLevelForSl0,
  sl0ForStartLevel,
  type Granule,
} from '../../model/pgtable'

type Row = [stage: 1 | 2, granule: Granule, ias: number, start: number, entries: number, tables: number]

const ROWS: Row[] = [
  // 4K stride 9. S1: 48 -> va 36, 4 levels, pgd 9 bits
  [1, 4096, 48, 0, 512, 1],
  [1, 4096, 44, 0, 32, 1], // va 32 -> 4 levels, pgd 32 - 27 = 5 bits
  [1, 4096, 42, 0, 8, 1], // pgd 3 bits
  [1, 4096, 40, 0, 2, 1], // pgd 1 bit
  [1, 4096, 39, 1, 512, 1], // va 27 -> 3 levels, pgd 9 bits
  [1, 4096, 36, 1, 64, 1], // va 24 -> 3 levels, pgd 6 bits
  [1, 4096, 32, 1, 4, 1], // va 20 -> 3 levels, pgd 2 bits
  [1, 4096, 30, 2, 512, 1], // va 18 -> 2 levels, pgd 9 bits
  // S2 with concatenation
  [2, 4096, 48, 0, 512, 1],
  [2, 4096, 44, 0, 32, 1], // 32 entries > 16: stays at L0
  [2, 4096, 42, 1, 4096, 8], // 8 <= 16: L1 with 3 + 9 = 12 bits = 8 tables
  [2, 4096, 40, 1, 1024, 2], // 2 <= 16: L1 with 10 bits = 2 tables
  [2, 4096, 39, 1, 512, 1],
  [2, 4096, 32, 1, 4, 1],
  // 16K stride 11: 48 -> va 34, 4 levels, pgd 34 - 33 = 1 bit; 47 -> va 33, 3 levels, pgd 11 bits
  [1, 16384, 48, 0, 2, 1],
  [1, 16384, 47, 1, 2048, 1],
  [2, 16384, 48, 1, 4096, 2], // 2 <= 16: L1 with 12 bits = 2 tables
  // 64K stride 13: 48 -> va 32, 3 levels, pgd 32 - 26 = 6 bits; 42 -> va 26, 2 levels, 13 bits; 32 -> va 16, 2 levels, 3 bits
  [1, 65536, 48, 1, 64, 1],
  [1, 65536, 42, 2, 8192, 1],
  [1, 65536, 32, 2, 8, 1],
  [2, 65536, 48, 1, 64, 1],
]

describe('io-pgtable geometry', () => {
  for (const [stage, granule, ias, start, entries, tables] of ROWS) {
    test(`S${stage} ${granule / 1024}K ias ${ias}: L${start}, ${entries} entries, ${tables} table(s)`, () => {
      const g = ioPgtableGeometry(stage, granule, ias, 48)
      assert.ok(g.ok)
      assert.equal(g.value.startLevel, start)
      assert.equal(g.value.startEntries, entries)
      assert.equal(g.value.concatenatedTables, tables)
      assert.equal(g.value.pgdBytes, entries * 8)
    })
  }

  test('page sizes per granule', () => {
    const sizes = (granule: Granule) => {
      const g = ioPgtableGeometry(1, granule, 48, 48)
      assert.ok(g.ok)
      return g.value.pgsizes
    }
    assert.deepEqual(sizes(4096), [0x1000, 0x20_0000, 0x4000_0000])
    assert.deepEqual(sizes(16384), [0x4000, 0x200_0000])
    assert.deepEqual(sizes(65536), [0x1_0000, 0x2000_0000])
  })

  test('leaf size per level: a block where the granule allows one (Arm ARM, no FEAT_LPA), the page at L3, 0 elsewhere', () => {
    const leafSize = (granule: Granule) => {
      const g = ioPgtableGeometry(1, granule, 48, 48)
      assert.ok(g.ok)
      return g.value.leafSize
    }
    assert.deepEqual(leafSize(4096), [0, 0x4000_0000, 0x20_0000, 0x1000])
    assert.deepEqual(leafSize(16384), [0, 0, 0x200_0000, 0x4000])
    assert.deepEqual(leafSize(65536), [0, 0, 0x2000_0000, 0x1_0000])
  })

  test('unsupported configurations are EINVAL', () => {
    for (const [granule, ias, oas] of [
      [8192, 48, 48],
      [4096, 49, 48],
      [4096, 24, 48],
      [4096, 48, 52],
      [4096, 48, 38],
    ]) {
      const g = ioPgtableGeometry(1, granule as Granule, ias, oas)
      assert.equal(g.ok, false)
      if (!g.ok) assert.equal(g.error.errno, 'EINVAL')
    }
  })
})

describe('SL0 encoding (start = 2 - SL0 for 4K, 3 - SL0 for 16K/64K)', () => {
  test('decode', () => {
    assert.deepEqual([0, 1, 2, 3].map((s) => startLevelForSl0(4096, s)), [2, 1, 0, undefined])
    assert.deepEqual([0, 1, 2, 3].map((s) => startLevelForSl0(16384, s)), [3, 2, 1, 0])
    assert.deepEqual([0, 1, 2, 3].map((s) => startLevelForSl0(65536, s)), [3, 2, 1, undefined])
  })
  test('encode (Linux ~(start + (4K ? 1 : 0)) & 3)', () => {
    assert.deepEqual([0, 1, 2].map((l) => sl0ForStartLevel(4096, l)), [2, 1, 0])
    assert.deepEqual([0, 1, 2, 3].map((l) => sl0ForStartLevel(16384, l)), [3, 2, 1, 0])
    assert.deepEqual([1, 2, 3].map((l) => sl0ForStartLevel(65536, l)), [2, 1, 0])
  })
})

describe('register values of a new table', () => {
  function regs(stage: 1 | 2, granule: Granule, ias: number) {
    const m = createMemory({ oas: 48 })
    assert.ok(m.ok)
    const a = createTableAllocator(m.value, { base: 0x100_0000, size: 0x10_0000 })
    assert.ok(a.ok)
    const p = createPgtable(m.value, a.value, { stage, granule, ias, oas: 44 })
    assert.ok(p.ok)
    return p.value.regs
  }
  test('S1 4K ias 48: ttbr, t0sz 16', () => {
    assert.deepEqual(regs(1, 4096, 48), { ttbr: 0x100_0000, t0sz: 16, granule: 4096, oas: 44 })
  })
  test('S2 4K ias 40: t0sz 24, SL0 1 (level 1), 8 KiB-aligned vttbr', () => {
    assert.deepEqual(regs(2, 4096, 40), { vttbr: 0x100_0000, t0sz: 24, sl0: 1, granule: 4096, oas: 44 })
  })
  test('S2 4K ias 44: SL0 2 (level 0)', () => {
    assert.equal((regs(2, 4096, 44) as { sl0: number }).sl0, 2)
  })
  test('S2 16K ias 48: SL0 2 (level 1, two tables)', () => {
    assert.equal((regs(2, 16384, 48) as { sl0: number }).sl0, 2)
  })
})

describe('contexts from register values', () => {
  test('S1: start level from T0SZ', () => {
    const c = stage1Context({ ttbr: 0x2000, t0sz: 25, granule: 4096, oas: 40 })
    assert.ok(c.ok)
    assert.equal(c.value.geometry.startLevel, 1) // ias 39
    const d = stage1Context({ ttbr: 0x1_0000, t0sz: 16, granule: 65536, oas: 48 })
    assert.ok(d.ok)
    assert.equal(d.value.geometry.startLevel, 1) // 64K ias 48: 4 - ceil(32 / 13) = 1
  })

  test('S2: SL0 consistent with T0SZ', () => {
    // ias 40 at L0: 40 - 39 = 1 index bit: valid (2 entries)
    assert.ok(stage2Context({ vttbr: 0, t0sz: 24, sl0: 2, granule: 4096, oas: 40 }).ok)
    // ias 40 at L1: 10 bits = 2 concatenated tables: valid
    assert.ok(stage2Context({ vttbr: 0x2000, t0sz: 24, sl0: 1, granule: 4096, oas: 40 }).ok)
    // ias 43 at L1: 13 bits = 16 tables: the maximum
    assert.ok(stage2Context({ vttbr: 0x2_0000, t0sz: 21, sl0: 1, granule: 4096, oas: 40 }).ok)
  })

  test('S2: inconsistent or reserved values are EINVAL', () => {
    const bad = [
      { vttbr: 0, t0sz: 24, sl0: 0, granule: 4096 as Granule, oas: 40 }, // L2 would need 2^19 / 512 = 1024 tables
      { vttbr: 0, t0sz: 20, sl0: 1, granule: 4096 as Granule, oas: 40 }, // ias 44 at L1: 32 tables
      { vttbr: 0, t0sz: 34, sl0: 1, granule: 4096 as Granule, oas: 40 }, // ias 30 at L1: indexes no bit
      { vttbr: 0, t0sz: 24, sl0: 3, granule: 4096 as Granule, oas: 40 }, // reserved
      { vttbr: 0x1000, t0sz: 24, sl0: 1, granule: 4096 as Granule, oas: 40 }, // 8 KiB table at a 4 KiB boundary
      { vttbr: 0, t0sz: 24, sl0: 1, granule: 4096 as Granule, oas: 52 },
    ]
    for (const regs of bad) {
      const c = stage2Context(regs)
      assert.equal(c.ok, false, JSON.stringify(regs))
      if (!c.ok) assert.equal(c.error.errno, 'EINVAL')
    }
  })

  test('S1: T0SZ outside 16..39 is EINVAL', () => {
    for (const t0sz of [15, 40]) {
      const c = stage1Context({ ttbr: 0, t0sz, granule: 4096, oas: 40 })
      assert.equal(c.ok, false)
    }
  })
})

describe("stage-2 concatenation 'when-mandatory' (arm_lpae_concat_mandatory, DDI0487 K.a R_DXBSH / R_SRKBC)", () => {
  // [granule, ias, oas, start, entries] worked by hand from the rule: 4K L0 start with oas 40 or 42
  // -> L1; 16K L0 start with ias or oas 48 -> L1; 16K L1 start with oas 40 -> L2; otherwise as stage 1.
  const rows: [Granule, number, number, number, number][] = [
    [4096, 40, 40, 1, 1024], // L0 with 2 entries, oas 40: mandatory, 2 tables at L1
    [4096, 42, 42, 1, 4096], // oas 42: 8 tables at L1
    [4096, 40, 48, 0, 2], // oas 48: not mandatory, L0 with 2 entries (the older rule would concatenate)
    [4096, 44, 44, 0, 32],
    [16384, 48, 48, 1, 4096], // 16K ias 48: L0 with 2 entries -> L1, 2 tables of 2048
    [16384, 40, 40, 2, 32768], // 16K L1 start (va 26, 3 levels, pgd 4 bits) with oas 40 -> L2, 16 tables
    [16384, 40, 44, 1, 16], // oas 44: stays at L1 with 16 entries
  ]
  for (const [granule, ias, oas, start, entries] of rows) {
    test(`${granule / 1024}K ias ${ias} oas ${oas}: L${start}, ${entries} entries`, () => {
      const g = ioPgtableGeometry(2, granule, ias, oas, 'when-mandatory')
      assert.ok(g.ok)
      assert.equal(g.value.startLevel, start)
      assert.equal(g.value.startEntries, entries)
    })
  }
})
