/**
 * Walkers over hand-written descriptors (no builder involved): translations, every fault kind
 * with its stage and level, hierarchical attributes, nested faults.
 *
 * 4K granule index arithmetic used throughout:
 *   L0 = iova >> 39, L1 = (iova >> 30) & 511, L2 = (iova >> 21) & 511, L3 = (iova >> 12) & 511;
 *   descriptor address = table + index * 8.
 * Leaf attribute shorthands (low 12 bits):
 *   S1 page RW, ISH, AttrIndx 1, AF, nG, AP_UNPRIV: 0x800|0x400|0x300|0x40|0x4|0x3 = 0xF47 (block 0xF45)
 *   S2 page RW, ISH, WB, AF: 0x400|0x300|0xC0|0x3C|0x3 = 0x7FF (block 0x7FD)
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createMemory, type PhysMemory } from '../../model/memory'
import {
  isFault,
  stage1Context,
  stage2Context,
  walkNested,
  walkStage1,
  walkStage2,
  type Fault,
  type S1Context,
  type S1Regs,
  type S2Context,
  type S2Regs,
  type Translation,
  type WalkResult,
} from '../../model/pgtable'

const R = { kind: 'read' } as const
const W = { kind: 'write' } as const
const X = { kind: 'exec' } as const
const PR = { kind: 'read', privileged: true } as const
const PX = { kind: 'exec', privileged: true } as const

function mem(oas: number, holes?: { base: number; size: number }[]): PhysMemory {
  const m = createMemory({ oas, holes })
  assert.ok(m.ok)
  return m.value
}

function put(m: PhysMemory, pa: number, desc: bigint): void {
  assert.equal(m.write64(pa, desc), undefined)
}

function s1(regs: S1Regs): S1Context {
  const c = stage1Context(regs)
  assert.ok(c.ok, 'stage1Context')
  return c.value
}

function s2(regs: S2Regs): S2Context {
  const c = stage2Context(regs)
  assert.ok(c.ok, 'stage2Context')
  return c.value
}

function ok(r: WalkResult): Translation {
  assert.equal(r.kind, 'ok', `expected a translation, got ${JSON.stringify(r)}`)
  return r as Translation
}

function fault(r: WalkResult, expected: Partial<Fault>): void {
  assert.ok(isFault(r), `expected a fault, got ${JSON.stringify(r)}`)
  const picked = Object.fromEntries(Object.keys(expected).map((k) => [k, (r as unknown as Record<string, unknown>)[k]]))
  assert.deepEqual(picked, expected)
}

describe('stage 1 (4K, ias 39: start level 1, TTB 0x10000, oas 40)', () => {
  // L1 at 0x10000, L2 at 0x11000, L3 at 0x12000.
  // iova 0x4020_3000: L1 index 1, L2 index (0x4020_3000 >> 21) & 511 = 0x201 & 511 = 1, L3 index 0x40203 & 511 = 3.
  const m = mem(40, [{ base: 0x30000, size: 0x1000 }])
  put(m, 0x10000 + 1 * 8, 0x11003n)
  put(m, 0x11000 + 1 * 8, 0x12003n)
  const L3 = 0x12000
  put(m, L3 + 3 * 8, 0x8765_4f47n) // page -> 0x8765_4000, RWX
  put(m, L3 + 5 * 8, 0x8765_5f45n) // type 01 at level 3: reserved
  put(m, L3 + 6 * 8, 0x8765_6b47n) // 0xF47 without AF (0x400) = 0xB47
  put(m, L3 + 7 * 8, 0x8765_7bc7n) // no AF and read-only (0xB47 | 0x80)
  put(m, L3 + 8 * 8, 0x8765_8fc7n) // read-only: 0xF47 | 0x80
  put(m, L3 + 9 * 8, 0x8765_9f07n) // privileged only: 0xF47 & ~0x40
  put(m, L3 + 10 * 8, 0x0040_0000_8765_af47n) // UXN (bit 54)
  put(m, L3 + 11 * 8, 0x0020_0000_8765_bf47n) // PXN (bit 53)
  put(m, L3 + 12 * 8, 0x0000_0100_0000_0f47n) // output 2^40: beyond oas 40
  put(m, L3 + 13 * 8, 0x0000_0100_0000_0b47n) // beyond oas and no AF
  put(m, L3 + 14 * 8, 0x0010_0000_8765_ef47n) // contiguous hint (bit 52)
  put(m, 0x11000 + 3 * 8, 0x0000_0200_0000_0003n) // L2[3]: table at 2^41, beyond oas
  put(m, 0x11000 + 4 * 8, 0x30003n) // L2[4]: table inside the hole
  put(m, 0x10000 + 3 * 8, 0xc000_0f45n) // L1[3]: 1G block -> 0xC000_0000
  // Hierarchical attributes: L1[4] APTable[1] (bit 62, no write), L1[5] UXNTable (bit 60), L1[6] APTable[0] (bit 61)
  put(m, 0x10000 + 4 * 8, 0x4000_0000_0001_3003n)
  put(m, 0x13000, 0x9000_0f45n) // L2[0] of that table: 2M block, RW
  put(m, 0x10000 + 5 * 8, 0x1000_0000_0001_4003n)
  put(m, 0x14000, 0x9020_0f45n)
  put(m, 0x10000 + 6 * 8, 0x2000_0000_0001_5003n)
  put(m, 0x15000, 0x9040_0f45n)
  const ctx = s1({ ttbr: 0x10000, t0sz: 25, granule: 4096, oas: 40 })

  test('page translation', () => {
    const t = ok(walkStage1(m, ctx, 0x4020_3abc, R))
    assert.equal(t.oa, 0x8765_4abc)
    assert.equal(t.level, 3)
    assert.equal(t.size, 0x1000)
    assert.deepEqual(t.perm, { read: true, write: true, exec: true })
    assert.deepEqual(t.s1, { attrIndx: 1, sh: 3, ng: true, contiguous: false, perm: { read: true, write: true, exec: true } })
    assert.equal(ok(walkStage1(m, ctx, 0x4020_e000, R)).s1?.contiguous, true)
  })

  test('1G block at level 1', () => {
    const t = ok(walkStage1(m, ctx, 0xc000_1234, W))
    assert.equal(t.oa, 0xc000_1234)
    assert.equal(t.level, 1)
    assert.equal(t.size, 0x4000_0000)
  })

  test('translation faults at each level, and for an input beyond 2^39 (level 0)', () => {
    fault(walkStage1(m, ctx, 0x4020_4000, R), { kind: 'translation', stage: 1, level: 3, addr: 0x4020_4000 })
    fault(walkStage1(m, ctx, 0x4040_0000, R), { kind: 'translation', stage: 1, level: 2, addr: 0x4040_0000 })
    fault(walkStage1(m, ctx, 0x8000_0000, R), { kind: 'translation', stage: 1, level: 1 })
    fault(walkStage1(m, ctx, 0x80_0000_0000, R), { kind: 'translation', stage: 1, level: 0, addr: 0x80_0000_0000, onS1TableWalk: false })
    fault(walkStage1(m, ctx, 0x4020_5000, R), { kind: 'translation', stage: 1, level: 3 }) // reserved type
  })

  test('access flag, beating permission', () => {
    fault(walkStage1(m, ctx, 0x4020_6000, R), { kind: 'accessFlag', stage: 1, level: 3 })
    fault(walkStage1(m, ctx, 0x4020_7000, W), { kind: 'accessFlag', stage: 1, level: 3 })
  })

  test('permission: AP[2], AP[1], UXN, PXN', () => {
    ok(walkStage1(m, ctx, 0x4020_8000, R))
    fault(walkStage1(m, ctx, 0x4020_8000, W), { kind: 'permission', stage: 1, level: 3, addr: 0x4020_8000 })
    fault(walkStage1(m, ctx, 0x4020_9000, R), { kind: 'permission', stage: 1, level: 3 })
    assert.deepEqual(ok(walkStage1(m, ctx, 0x4020_9000, PR)).perm, { read: true, write: true, exec: true })
    fault(walkStage1(m, ctx, 0x4020_a000, X), { kind: 'permission', stage: 1, level: 3 })
    ok(walkStage1(m, ctx, 0x4020_a000, PX))
    fault(walkStage1(m, ctx, 0x4020_b000, PX), { kind: 'permission', stage: 1, level: 3 })
    ok(walkStage1(m, ctx, 0x4020_b000, X))
  })

  test('address size: leaf output and next-table address beyond 2^40, after AF', () => {
    fault(walkStage1(m, ctx, 0x4020_c000, R), { kind: 'addressSize', stage: 1, level: 3 })
    fault(walkStage1(m, ctx, 0x4020_d000, R), { kind: 'accessFlag', stage: 1, level: 3 })
    fault(walkStage1(m, ctx, 0x4060_0000, R), { kind: 'addressSize', stage: 1, level: 2 })
  })

  test('external abort fetching from a hole, with the fetch address', () => {
    // L2 index 4 = iova 0x4080_0000; its L3 table is at 0x30000, L3 index 0
    fault(walkStage1(m, ctx, 0x4080_0000, R), { kind: 'externalAbort', stage: 1, level: 3, addr: 0x4080_0000, fetchAddr: 0x30000 })
  })

  test('external abort past the end of memory (context oas 44 > memory oas 40)', () => {
    const wide = s1({ ttbr: 0x100_0000_0000, t0sz: 25, granule: 4096, oas: 44 })
    // L1 index of 0x4000_0000 is 1: fetch at 2^40 + 8
    fault(walkStage1(m, wide, 0x4000_0000, R), { kind: 'externalAbort', stage: 1, level: 1, fetchAddr: 0x100_0000_0008 })
  })

  test('TTB beyond the output size: address size fault at level 0', () => {
    const far = s1({ ttbr: 0x100_0000_0000, t0sz: 25, granule: 4096, oas: 40 })
    fault(walkStage1(m, far, 0, R), { kind: 'addressSize', stage: 1, level: 0 })
  })

  test('APTable / XNTable honoured, and ignored with HAD', () => {
    // iova 4G = L1 index 4 (APTable no-write), 5G index 5 (UXNTable), 6G index 6 (APTable no-unprivileged)
    ok(walkStage1(m, ctx, 0x1_0000_0000, R))
    fault(walkStage1(m, ctx, 0x1_0000_0000, W), { kind: 'permission', stage: 1, level: 2 })
    fault(walkStage1(m, ctx, 0x1_4000_0000, X), { kind: 'permission', stage: 1, level: 2 })
    ok(walkStage1(m, ctx, 0x1_4000_0000, PX))
    fault(walkStage1(m, ctx, 0x1_8000_0000, R), { kind: 'permission', stage: 1, level: 2 })
    ok(walkStage1(m, ctx, 0x1_8000_0000, PR))
    const had = s1({ ttbr: 0x10000, t0sz: 25, granule: 4096, oas: 40, had: true })
    assert.equal(ok(walkStage1(m, had, 0x1_0000_0000, W)).oa, 0x9000_0000)
    ok(walkStage1(m, had, 0x1_4000_0000, X))
    ok(walkStage1(m, had, 0x1_8000_0000, R))
  })

  test('no block at level 0 with a 4K granule (ias 48)', () => {
    const m0 = mem(40)
    put(m0, 0x20000, 0x0000_0000_0f45n) // L0[0] as a block
    const c0 = s1({ ttbr: 0x20000, t0sz: 16, granule: 4096, oas: 40 })
    fault(walkStage1(m0, c0, 0x1234, R), { kind: 'translation', stage: 1, level: 0 })
  })
})

describe('stage 2 (4K, ias 40, SL0 1: level 1, two concatenated tables at 0x40000, oas 40)', () => {
  // IPA 0x80_4000_0000: L1 index 0x80_4000_0000 >> 30 = 513 -> 0x40000 + 513 * 8 = 0x41008;
  // L2 index (>> 21) & 511 = 0x40200 & 511 = 0; L3 index (>> 12) & 511 = 0.
  const m = mem(40)
  put(m, 0x41008, 0x42003n)
  put(m, 0x42000, 0x43003n)
  const L3 = 0x43000
  put(m, L3 + 0 * 8, 0x5555_57ffn) // RW, WB, ISH
  put(m, L3 + 1 * 8, 0x5555_6697n) // WRITE-only, NC, OSH
  put(m, L3 + 2 * 8, 0x0060_0000_5555_77ffn) // XN[1:0] = 11
  put(m, L3 + 3 * 8, 0x0020_0000_5555_87ffn) // XN[1:0] = 01
  put(m, L3 + 4 * 8, 0x5555_93ffn) // 0x7FF without AF
  put(m, L3 + 5 * 8, 0x0000_0100_0000_07ffn) // output 2^40
  const ctx = s2({ vttbr: 0x40000, t0sz: 24, sl0: 1, granule: 4096, oas: 40 })
  const xnx = s2({ vttbr: 0x40000, t0sz: 24, sl0: 1, granule: 4096, oas: 40, xnx: true })
  const ipa = (page: number) => 0x80_4000_0000 + page * 0x1000

  test('page translation through the second concatenated table', () => {
    const t = ok(walkStage2(m, ctx, 0x80_4000_0123, R))
    assert.equal(t.oa, 0x5555_5123)
    assert.equal(t.level, 3)
    assert.deepEqual(t.s2, { memAttr: 0xf, sh: 3, contiguous: false, perm: { read: true, write: true, exec: true } })
  })

  test('S2AP write-only', () => {
    fault(walkStage2(m, ctx, ipa(1), R), { kind: 'permission', stage: 2, level: 3, addr: ipa(1), ipa: ipa(1) })
    const t = ok(walkStage2(m, ctx, ipa(1), W))
    assert.deepEqual(t.perm, { read: false, write: true, exec: false })
    assert.equal(t.s2?.memAttr, 0x5)
  })

  test('XN without and with FEAT_XNX', () => {
    fault(walkStage2(m, ctx, ipa(2), X), { kind: 'permission', stage: 2 })
    fault(walkStage2(m, ctx, ipa(2), PX), { kind: 'permission', stage: 2 })
    ok(walkStage2(m, ctx, ipa(3), X))
    ok(walkStage2(m, ctx, ipa(3), PX))
    // XNX: 11 -> privileged may execute, unprivileged may not; 01 -> the reverse
    ok(walkStage2(m, xnx, ipa(2), PX))
    fault(walkStage2(m, xnx, ipa(2), X), { kind: 'permission', stage: 2 })
    ok(walkStage2(m, xnx, ipa(3), X))
    fault(walkStage2(m, xnx, ipa(3), PX), { kind: 'permission', stage: 2 })
  })

  test('access flag, address size, translation', () => {
    fault(walkStage2(m, ctx, ipa(4), R), { kind: 'accessFlag', stage: 2, level: 3 })
    fault(walkStage2(m, ctx, ipa(5), R), { kind: 'addressSize', stage: 2, level: 3 })
    fault(walkStage2(m, ctx, ipa(6), R), { kind: 'translation', stage: 2, level: 3, ipa: ipa(6) })
    fault(walkStage2(m, ctx, 0x4000_0000, R), { kind: 'translation', stage: 2, level: 1 }) // L1 index 1: empty
  })

  test('IPA beyond 2^(64 - T0SZ): stage-2 translation fault at level 0', () => {
    fault(walkStage2(m, ctx, 0x100_0000_0000, R), { kind: 'translation', stage: 2, level: 0, addr: 0x100_0000_0000, ipa: 0x100_0000_0000 })
  })
})

describe('nested (S1 4K ias 39 over S2 4K ias 40)', () => {
  // Stage 2 (VTTBR 0x40000, L1 x2): L1[0] -> L2 at 0x42000, L1[1] -> L2 at 0x8000_0000 (a hole).
  //   L2[0]: IPA [0, 2M)   -> PA 0x400_0000, RW          0x0400_07FD
  //   L2[1]: IPA [2M, 4M)  -> PA 0x600_0000, read-only   0x0600_077D (0x7FD - 0x80)
  //   L2[2]: IPA [4M, 6M)  -> PA 0x800_0000, no access   0x0800_073D (0x7FD - 0xC0)
  //   L2[3]: IPA [6M, 8M)  unmapped
  //   L2[4]: IPA [8M, 10M) -> PA 0x9000_0000 (a hole), RW 0x9000_07FD
  // Stage 1 tables live at IPAs 0x1000 (L1, the TTB), 0x2000 (L2), 0x3000 (L3) = PAs 0x400_1000 ...
  const m = mem(40, [{ base: 0x8000_0000, size: 0x2000_0000 }])
  put(m, 0x40000, 0x42003n)
  put(m, 0x40008, 0x8000_0003n)
  put(m, 0x42000 + 0 * 8, 0x0400_07fdn)
  put(m, 0x42000 + 1 * 8, 0x0600_077dn)
  put(m, 0x42000 + 2 * 8, 0x0800_073dn)
  put(m, 0x42000 + 4 * 8, 0x9000_07fdn)
  const ipaToPa = (ipa: number) => 0x400_0000 + ipa
  put(m, ipaToPa(0x1000), 0x2003n) // S1 L1[0] -> L2 at IPA 0x2000
  put(m, ipaToPa(0x2000) + 0 * 8, 0x3003n) // S1 L2[0] -> L3 at IPA 0x3000
  put(m, ipaToPa(0x2000) + 1 * 8, 0x60_0003n) // S1 L2[1] -> L3 at IPA 6M (unmapped at S2)
  put(m, ipaToPa(0x2000) + 2 * 8, 0x40_0003n) // S1 L2[2] -> L3 at IPA 4M (S2: no access)
  put(m, ipaToPa(0x2000) + 3 * 8, 0x80_0003n) // S1 L2[3] -> L3 at IPA 8M (S2 -> PA in a hole)
  put(m, ipaToPa(0x3000) + 0 * 8, 0x20_0f47n) // page -> IPA 2M (S2 read-only), S1 RWX
  put(m, ipaToPa(0x3000) + 1 * 8, 0x20_1fc7n) // page -> IPA 2M + 4K, S1 read-only
  put(m, ipaToPa(0x3000) + 2 * 8, 0x61_0f47n) // page -> IPA 0x61_0000 (unmapped at S2)
  put(m, ipaToPa(0x3000) + 3 * 8, 0x0000_0100_0000_0f47n) // page -> IPA 2^40 (beyond S2's input)
  put(m, ipaToPa(0x3000) + 4 * 8, 0x0040_0000_0000_0f47n) // page -> IPA 0, UXN
  put(m, ipaToPa(0x3000) + 5 * 8, 0x0000_0000_0000_0f47n) // page -> IPA 0 (S2 RW, executable)
  const c2 = s2({ vttbr: 0x40000, t0sz: 24, sl0: 1, granule: 4096, oas: 40 })
  const c1 = s1({ ttbr: 0x1000, t0sz: 25, granule: 4096, oas: 44 })

  test('translation: PA from stage 2, smaller leaf, permissions combined', () => {
    const t = ok(walkNested(m, c1, c2, 0x123, R))
    assert.equal(t.ipa, 0x20_0123)
    assert.equal(t.oa, 0x600_0123)
    assert.equal(t.level, 3)
    assert.equal(t.size, 0x1000)
    assert.deepEqual(t.perm, { read: true, write: false, exec: true })
    assert.deepEqual(t.s1?.perm, { read: true, write: true, exec: true })
    assert.deepEqual(t.s2?.perm, { read: true, write: false, exec: true })
  })

  test('stage-2 permission fault on the final IPA', () => {
    fault(walkNested(m, c1, c2, 0x123, W), { kind: 'permission', stage: 2, level: 2, addr: 0x20_0123, ipa: 0x20_0123, iova: 0x123, onS1TableWalk: false })
  })

  test('stage 1 is checked first: both deny a write, stage 1 is reported', () => {
    fault(walkNested(m, c1, c2, 0x1000, W), { kind: 'permission', stage: 1, level: 3, addr: 0x1000, onS1TableWalk: false })
  })

  test('exec: denied by S1 UXN, or by nothing', () => {
    fault(walkNested(m, c1, c2, 0x4000, X), { kind: 'permission', stage: 1, level: 3 })
    assert.equal(ok(walkNested(m, c1, c2, 0x5000, X)).oa, 0x400_0000)
  })

  test('stage-2 translation fault while fetching a stage-1 table: CLASS TT, descriptor IPA', () => {
    // iova 0x20_5000: S1 L2 index 1 -> L3 table at IPA 0x60_0000, L3 index 5 -> descriptor IPA 0x60_0028;
    // S2 L2 index of 0x60_0000 is 3: empty.
    fault(walkNested(m, c1, c2, 0x20_5000, R), {
      kind: 'translation',
      stage: 2,
      level: 2,
      addr: 0x60_0028,
      ipa: 0x60_0028,
      iova: 0x20_5000,
      onS1TableWalk: true,
    })
  })

  test('stage-2 permission fault while fetching a stage-1 table', () => {
    fault(walkNested(m, c1, c2, 0x40_0000, R), { kind: 'permission', stage: 2, level: 2, ipa: 0x40_0000, onS1TableWalk: true })
  })

  test('the TTB itself is an IPA', () => {
    const c1far = s1({ ttbr: 0x70_0000, t0sz: 25, granule: 4096, oas: 44 })
    fault(walkNested(m, c1far, c2, 0x4000_0000, R), { kind: 'translation', stage: 2, level: 2, ipa: 0x70_0008, onS1TableWalk: true })
  })

  test('stage-2 translation fault on the final IPA, and beyond the stage-2 input range', () => {
    fault(walkNested(m, c1, c2, 0x2000, R), { kind: 'translation', stage: 2, level: 2, ipa: 0x61_0000, iova: 0x2000, onS1TableWalk: false })
    fault(walkNested(m, c1, c2, 0x3000, R), { kind: 'translation', stage: 2, level: 0, ipa: 0x100_0000_0000, onS1TableWalk: false })
  })

  test('external aborts: in the stage-2 walk for a table address, and on the stage-1 fetch', () => {
    // A stage-1 TTB at IPA 1G: S2 L1[1] points into the hole at 0x8000_0000, L2 index 0
    const c1hole = s1({ ttbr: 0x4000_0000, t0sz: 25, granule: 4096, oas: 44 })
    fault(walkNested(m, c1hole, c2, 0, R), { kind: 'externalAbort', stage: 2, level: 2, fetchAddr: 0x8000_0000, onS1TableWalk: true })
    // iova 0x60_0000: S1 L2 index 3 -> L3 at IPA 8M -> PA 0x9000_0000 (hole), L3 index 0
    fault(walkNested(m, c1, c2, 0x60_0000, R), { kind: 'externalAbort', stage: 1, level: 3, fetchAddr: 0x9000_0000, onS1TableWalk: false })
  })
})
