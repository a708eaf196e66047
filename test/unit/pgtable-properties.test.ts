/**
 * Property tests (fast-check). Oracles are the test's own: the addresses and permissions it asked
 * for, and the permission rules of the architecture written out below — never the model's output.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { createMemory, createTableAllocator, type DescriptorReader, type PhysMemory } from '../../model/memory'
import {
  createPgtable,
  stage1Context,
  walkNested,
  walkStage1,
  walkStage2,
  type Access,
  type AccessKind,
  type Granule,
  type IommuProt,
  type IoPgtable,
  type WalkResult,
} from '../../model/pgtable'
import { WatchedMemory } from '../helpers/watched-memory'

/** Leaf sizes and the level each lives at, per granule (4K: 4K@3, 2M@2, 1G@1 ...). */
const LEAVES: Record<Granule, [size: number, level: number][]> = {
  4096: [
    [0x1000, 3],
    [0x20_0000, 2],
    [0x4000_0000, 1],
  ],
  16384: [
    [0x4000, 3],
    [0x200_0000, 2],
  ],
  65536: [
    [0x1_0000, 3],
    [0x2000_0000, 2],
  ],
}
const POOL = { base: 0xf000_0000, size: 0x80_0000 }
const KINDS: AccessKind[] = ['read', 'write', 'exec']

interface Cfg {
  stage: 1 | 2
  granule: Granule
  ias: number
  oas: number
}

const cfgArb: fc.Arbitrary<Cfg> = fc.record({
  stage: fc.constantFrom(1 as const, 2 as const),
  granule: fc.constantFrom<Granule>(4096, 16384, 65536),
  ias: fc.constantFrom(32, 36, 39, 40, 42, 44, 48),
  oas: fc.constantFrom(36, 40, 44, 48),
})

const protArb: fc.Arbitrary<IommuProt> = fc
  .record({ read: fc.boolean(), write: fc.boolean(), noexec: fc.boolean(), cache: fc.boolean(), priv: fc.boolean() })
  .filter((p) => p.read || p.write)

/** A random value in [0, n) from a 64-bit draw. */
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
function below(raw: bigint, n: number): number {
  return Number(raw % BigInt(Math.max(1, Math.floor(n))))
}

function build(cfg: Cfg, poolSize = POOL.size): { mem: PhysMemory; pt: IoPgtable; used: () => number } {
  const m = createMemory({ oas: 48 })
  assert.ok(m.ok)
  const a = createTableAllocator(m.value, { base: POOL.base, size: poolSize })
  assert.ok(a.ok)
  const p = createPgtable(m.value, a.value, cfg)
  assert.ok(p.ok, JSON.stringify(cfg))
  return { mem: m.value, pt: p.value, used: () => a.value.usedBytes }
}

function walk(mem: DescriptorReader, pt: IoPgtable, iova: number, access: Access): WalkResult {
  const ctx = pt.context
  return ctx.stage === 1 ? walkStage1(mem, ctx, iova, access) : walkStage2(mem, ctx, iova, access)
}

/**
 * What the architecture lets an access do with a leaf made from `prot` (io-pgtable's encoding):
 * S1: AP[1] set unless PRIV, AP[2] set iff READ && !WRITE (so WRITE implies readable + writable);
 *     readable = privileged || !PRIV; exec needs readable and no XN.
 * S2: S2AP read / write straight from READ / WRITE; exec needs read and no XN.
 */
function expectedPerm(stage: 1 | 2, prot: IommuProt, privileged: boolean): Record<AccessKind, boolean> {
  if (stage === 1) {
    const readable = privileged || prot.priv !== true
    return { read: readable, write: readable && prot.write, exec: readable && prot.noexec !== true }
  }
  return { read: prot.read, write: prot.write, exec: prot.read && prot.noexec !== true }
}

test('map, then walk: the mapped PA with the mapped permissions', () => {
  fc.assert(
    fc.property(cfgArb, fc.nat(2), u64, u64, u64, protArb, fc.boolean(), (cfg, sizeIdx, rawIova, rawPa, rawOff, prot, privileged) => {
      const leaves = LEAVES[cfg.granule]
      const [size, level] = leaves[sizeIdx % leaves.length]
      const iova = below(rawIova, 2 ** cfg.ias / size) * size
      const pa = below(rawPa, 2 ** cfg.oas / size) * size
      const off = below(rawOff, size)
      const { mem, pt } = build(cfg)
      assert.deepEqual(pt.map(iova, pa, size, prot), { ok: true, value: undefined })
      assert.equal(pt.iovaToPhys(iova + off), pa + off)
      const want = expectedPerm(cfg.stage, prot, privileged)
      for (const kind of KINDS) {
        const r = walk(mem, pt, iova + off, { kind, privileged })
        if (want[kind]) {
          assert.equal(r.kind, 'ok', `${kind}: ${JSON.stringify(r)}`)
          if (r.kind !== 'ok') continue
          assert.equal(r.oa, pa + off)
          assert.equal(r.size, size)
          assert.equal(r.level, level)
          assert.deepEqual(r.perm, want)
        } else {
          assert.deepEqual(r, { kind: 'permission', stage: cfg.stage, level, addr: iova + off, onS1TableWalk: false, ...(cfg.stage === 2 ? { ipa: iova + off } : {}) })
        }
      }
    }),
    { numRuns: 300 },
  )
})

/** iommu_pgsize's choice, written out: the largest page size that fits the rest and aligns both addresses. */
function pieceSize(sizes: readonly number[], iova: number, pa: number, remaining: number): number {
  for (let i = sizes.length - 1; i > 0; i--) {
    const s = sizes[i] as number
    if (s <= remaining && iova % s === 0 && pa % s === 0) return s
  }
  return sizes[0] as number
}

test('mapRange writes exactly what one map() per piece writes (largest fitting aligned size each), or fails as the first failing piece does, changing nothing', () => {
  fc.assert(
    fc.property(
      cfgArb.filter((c) => c.ias >= 36 && c.oas >= 36),
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 1100 }),
      fc.integer({ min: 0, max: 1023 }),
      fc.integer({ min: 0, max: 1023 }),
      fc.option(fc.nat(), { freq: 3 }),
      (cfg, blocks, pages, iovaPages, paPages, taken) => {
        const min = LEAVES[cfg.granule][0][0]
        const block = LEAVES[cfg.granule][1][0]
        const length = blocks * block + pages * min || min
        const iova = 4 * block + iovaPages * min
        const pa = 8 * block + paPages * min
        if (iova + length > 2 ** cfg.ias || pa + length > 2 ** cfg.oas) return
        const ranged = build(cfg)
        const pieced = build(cfg)
        const prot: IommuProt = { read: true, write: true }
        if (taken !== null) {
          // Something already mapped inside the range: the run that reaches it must fail with EEXIST.
          const at = iova + (taken % (length / min)) * min
          for (const t of [ranged, pieced]) assert.deepEqual(t.pt.map(at, 0x1000_0000, min, prot), { ok: true, value: undefined })
        }
        const before = ranged.mem.snapshot()
        let failed: string | undefined
        for (let done = 0; done < length && failed === undefined; ) {
          const size = pieceSize(pieced.pt.pgsizes, iova + done, pa + done, length - done)
          const r = pieced.pt.map(iova + done, pa + done, size, prot)
          if (!r.ok) failed = r.error.errno
          done += size
        }
        const r = ranged.pt.mapRange(iova, pa, length, prot)
        if (failed === undefined) {
          assert.deepEqual(r, { ok: true, value: undefined })
          assert.deepEqual(ranged.mem.snapshot(), pieced.mem.snapshot(), 'the same descriptors in the same table pages')
          assert.equal(ranged.used(), pieced.used())
        } else {
          assert.equal(r.ok ? 'ok' : r.error.errno, failed)
          assert.deepEqual(ranged.mem.snapshot(), before, 'a failed mapRange leaves memory as it was')
        }
      },
    ),
    { numRuns: 200 },
  )
})

test('after unmap, every address of the range faults with a translation fault', () => {
  fc.assert(
    fc.property(cfgArb, fc.nat(2), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3 }), u64, u64, fc.boolean(), fc.array(u64, { minLength: 4, maxLength: 4 }), (cfg, sizeIdx, blocks, pages, rawIova, rawPa, alignPa, rawOffs) => {
      const leaves = LEAVES[cfg.granule]
      const min = leaves[0][0]
      const size = leaves[sizeIdx % leaves.length][0]
      const length = blocks * size + pages * min || min
      const iova = below(rawIova, (2 ** cfg.ias - length) / size + 1) * size
      const pa = below(rawPa, (2 ** cfg.oas - length) / size) * size + (alignPa ? 0 : min)
      const { mem, pt, used } = build(cfg)
      const tablesBefore = used()
      assert.deepEqual(pt.mapRange(iova, pa, length, { read: true, write: true }), { ok: true, value: undefined })
      const offs = rawOffs.map((r) => below(r, length))
      for (const off of offs) {
        const r = walk(mem, pt, iova + off, { kind: 'read' })
        assert.equal(r.kind === 'ok' && r.oa, pa + off, JSON.stringify(r))
      }
      assert.deepEqual(pt.unmapRange(iova, length), { ok: true, value: length })
      for (const off of [0, length - 1, ...offs]) {
        const r = walk(mem, pt, iova + off, { kind: 'read' })
        assert.equal(r.kind, 'translation', JSON.stringify(r))
        assert.equal(r.kind === 'translation' && r.stage, cfg.stage)
        assert.equal(pt.iovaToPhys(iova + off), undefined)
      }
      assert.ok(used() >= tablesBefore)
    }),
    { numRuns: 300 },
  )
})

type Op = { op: 'map' | 'mapRange' | 'unmap'; sizeIdx: number; slot: number; paSlot: number; pages: number }
const opArb: fc.Arbitrary<Op> = fc.record({
  op: fc.constantFrom<Op['op']>('map', 'map', 'mapRange', 'unmap'),
  sizeIdx: fc.nat(2),
  slot: fc.nat(7),
  paSlot: fc.nat(7),
  pages: fc.integer({ min: 1, max: 20 }),
})

test('a failed map, mapRange or unmap changes nothing (memory bytes and table pages)', () => {
  let failures = 0
  fc.assert(
    fc.property(cfgArb, fc.integer({ min: 1, max: 6 }), fc.array(opArb, { minLength: 1, maxLength: 12 }), (cfg, poolGranules, ops) => {
      const { mem, pt, used } = build({ ...cfg, ias: 48, oas: 48 }, (poolGranules + 1) * Math.max(cfg.granule, 0x1000) * (cfg.stage === 2 ? 2 : 1))
      const leaves = LEAVES[cfg.granule]
      const min = leaves[0][0]
      for (const o of ops) {
        const size = leaves[o.sizeIdx % leaves.length][0]
        const before = mem.snapshot()
        const tables = used()
        const r =
          o.op === 'map'
            ? pt.map(o.slot * size, o.paSlot * size, size, { read: true, write: o.slot % 2 === 0 })
            : o.op === 'mapRange'
              ? pt.mapRange(o.slot * min, o.paSlot * min, o.pages * min, { read: true, write: true })
              : pt.unmap(o.slot * size, size)
        if (!r.ok) {
          failures++
          assert.deepEqual(mem.snapshot(), before, `${o.op} failed with ${r.error.errno} but changed memory`)
          assert.equal(used(), tables)
        }
      }
    }),
    { numRuns: 300 },
  )
  assert.ok(failures > 50, `only ${failures} failing operations were exercised`)
})

const GUEST_PAGES = 16
const PAGE = 0x1000
const S2_POOL = { base: 0x100_0000, size: 0x10_0000 }
const PA_PAGES_BASE = 0x1000_0000

/** A descriptor a hostile or buggy guest might write, as [lo, hi] (hi may carry any attribute bits). */
const descArb = (self: number): fc.Arbitrary<[number, number]> =>
  fc.oneof(
    // table descriptor at a guest page, itself, an unmapped IPA, or anywhere below 2^40
    fc.tuple(fc.oneof(fc.nat(GUEST_PAGES - 1), fc.constant(self), fc.integer({ min: GUEST_PAGES, max: 4096 })), fc.nat(0xffff_ffff)).map(([p, hi]) => [((p * PAGE) | 0b11) >>> 0, (hi & 0xfff0_0000) >>> 0] as [number, number]),
    // leaf: any output IPA below 2^44, any low attributes, valid type bits
    fc.tuple(fc.nat(0xffff_ffff), fc.nat(0xfff), fc.constantFrom(0b01, 0b11)).map(([lo, hiAddr, type]) => [((lo & ~0b11) | type) >>> 0, hiAddr] as [number, number]),
    // a guest leaf to a guest page with AF set
    fc.tuple(fc.nat(GUEST_PAGES - 1), fc.nat(0x3ff)).map(([p, attrs]) => [((p * PAGE) | 0x400 | (attrs << 2) | 0b11) >>> 0, 0] as [number, number]),
    // garbage
    fc.tuple(fc.nat(0xffff_ffff), fc.nat(0xffff_ffff)),
  )

/** A well-formed stage-1 chain: the table page used at each level, the output page, leaf attributes [9:2]. */
const chainArb = fc.record({
  build: fc.boolean(),
  tables: fc.array(fc.nat(GUEST_PAGES - 1), { minLength: 4, maxLength: 4 }),
  out: fc.nat(GUEST_PAGES - 1),
  attrs: fc.nat(0xff),
})

test('nested: whatever stage-1 tables a guest writes, a walk ends and only reaches what stage 2 maps', () => {
  const protArbS2 = fc.constantFrom<IommuProt>({ read: true, write: true }, { read: true, write: true }, { read: true, write: false }, { read: false, write: true })
  const writeArb = fc.record({ level: fc.nat(3), table: fc.nat(GUEST_PAGES - 1), target: fc.nat(5) }).chain((w) => fc.record({ w: fc.constant(w), desc: descArb(w.table) }))
  let translated = 0
  let tableWalkFaults = 0
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.nat(255), { minLength: GUEST_PAGES, maxLength: GUEST_PAGES }),
      fc.array(protArbS2, { minLength: GUEST_PAGES, maxLength: GUEST_PAGES }),
      fc.constantFrom(39, 48),
      fc.nat(GUEST_PAGES - 1),
      fc.array(u64, { minLength: 6, maxLength: 6 }),
      fc.array(writeArb, { minLength: 0, maxLength: 12 }),
      fc.array(fc.record({ page: fc.nat(GUEST_PAGES - 1), slot: fc.nat(511), lo: fc.nat(0xffff_ffff), hi: fc.nat(0xffff_ffff) }), { maxLength: 10 }),
      fc.array(fc.record({ kind: fc.constantFrom<AccessKind>('read', 'write', 'exec'), privileged: fc.boolean() }), { minLength: 6, maxLength: 6 }),
      fc.array(chainArb, { minLength: 6, maxLength: 6 }),
      (paPages, s2prots, ias, ttbPage, rawIovas, writes, garbage, accesses, chains) => {
        const m = createMemory({ oas: 40 })
        assert.ok(m.ok)
        const mem = m.value
        const a = createTableAllocator(mem, S2_POOL)
        assert.ok(a.ok)
        const s2 = createPgtable(mem, a.value, { stage: 2, granule: 4096, ias: 40, oas: 40 })
        assert.ok(s2.ok)
        // The oracle: guest IPA page g -> PA page paOf[g], with s2prots[g].
        const paOf = paPages.map((p) => PA_PAGES_BASE + p * PAGE)
        for (let g = 0; g < GUEST_PAGES; g++) assert.ok(s2.value.map(g * PAGE, paOf[g], PAGE, s2prots[g]).ok)
        const c1 = stage1Context({ ttbr: ttbPage * PAGE, t0sz: 64 - ias, granule: 4096, oas: 40 })
        assert.ok(c1.ok)
        const start = ias === 39 ? 1 : 0
        const iovas = rawIovas.map((r) => below(r, 2 ** ias))
        // Descriptors go where the chosen IOVAs' walks will look: index = (iova >> shift) & 511.
        const slotOf = (iova: number, level: number) => (Math.floor(iova / 2 ** (12 + 9 * (3 - level))) % 512) * 8
        // First well-formed chains (some IOVAs may then translate), then hostile writes over them.
        chains.forEach((c, i) => {
          if (!c.build) return
          for (let level = start; level <= 3; level++) {
            const table = level === start ? ttbPage : c.tables[level]
            const [lo, hi] = level < 3 ? [c.tables[level + 1] * PAGE + 0b11, 0] : [c.out * PAGE + 0x400 + (c.attrs << 2) + 0b11, 0]
            assert.equal(mem.write64Parts(paOf[table] + slotOf(iovas[i], level), lo, hi), undefined)
          }
        })
        for (const { w, desc } of writes) {
          const level = Math.max(start, w.level)
          assert.equal(mem.write64Parts(paOf[w.table] + slotOf(iovas[w.target], level), desc[0], desc[1]), undefined)
        }
        for (const g of garbage) mem.write64Parts(paOf[g.page] + g.slot * 8, g.lo, g.hi)
        const readable = new Set(paOf.filter((_, g) => s2prots[g].read))
        const watched = new WatchedMemory(mem)
        iovas.forEach((iova, i) => {
          const access = accesses[i]
          const r = walkNested(watched, c1.value, s2.value.s2Context, iova, access)
          if (r.kind === 'ok') {
            translated++
            assert.ok(r.ipa !== undefined)
            const g = Math.floor(r.ipa / PAGE)
            assert.ok(g < GUEST_PAGES, `translated through an IPA stage 2 does not map: ${r.ipa}`)
            assert.equal(r.oa, paOf[g] + (r.ipa % PAGE))
            const p = s2prots[g]
            assert.ok(access.kind === 'write' ? p.write : p.read, 'stage 2 would not allow this access')
          } else {
            assert.ok(['translation', 'accessFlag', 'permission', 'addressSize', 'externalAbort'].includes(r.kind))
            assert.ok(r.level >= 0 && r.level <= 3)
            if (r.onS1TableWalk) {
              tableWalkFaults++
              assert.equal(r.stage, 2)
            }
            if (r.stage === 2) assert.equal(typeof r.ipa, 'number')
          }
        })
        for (const pa of watched.reads) {
          const inS2Tables = pa >= S2_POOL.base && pa < S2_POOL.base + S2_POOL.size
          assert.ok(inS2Tables || readable.has(pa - (pa % PAGE)), `a walk read PA ${pa}, which stage 2 does not map readable`)
        }
      },
    ),
    { numRuns: 300 },
  )
  // Guard against a generator that never reaches the interesting cases (about 10% translate).
  assert.ok(translated > 40, `only ${translated} nested walks translated: the generator is too hostile to be meaningful`)
  assert.ok(tableWalkFaults > 20, `only ${tableWalkFaults} stage-2 faults on stage-1 table walks were exercised`)
})
