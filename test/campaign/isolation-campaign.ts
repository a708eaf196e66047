/**
 * Isolation campaign at the page-table level: whatever stage-1 tables a guest writes, a nested walk
 * (walkNested over a host stage 2 built with the model's builder) ends, and either faults or yields
 * a PA that stage 2 maps for that access. Never an exception, never a hang.
 *
 * Each scene: a host stage 2 (4K, 16K or 64K granule) mapping a few guest IPA pages to scattered
 * PAs with random permissions; among them, pages stage 2 maps onto MMIO-like holes (nothing
 * answers there) and, sometimes, a page stage 2 maps onto its own table pool (a host exposing its
 * tables: the guest then reads stage-2 descriptors as its own). A guest stage 1 (4K, 16K or 64K,
 * random T0SZ, a TTB that may be any of those IPAs or an unmapped one) whose tables are written
 * first as well-formed chains, then overwritten with hostile descriptors: tables that point at
 * themselves, at their parent (loops), at unmapped IPAs, at MMIO, at the numeric addresses of
 * the stage-2 tables, beyond the IPA size; leaves with any attributes; garbage.
 *
 * The oracle is the test's own: the IPA -> PA pages it asked stage 2 to map, with their
 * permissions. Each walk is checked against it, and every descriptor fetch is checked to be a
 * stage-2 table read or a read of a page stage 2 maps readable. A walk fetches at most
 * (levels + 1) * levels descriptors (24 for four levels at both stages): that bound is asserted.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createMemory, createTableAllocator } from '../../model/memory'
import { createPgtable, stage1Context, walkNested, type AccessKind, type Granule, type IommuProt, type S1Context } from '../../model/pgtable'
import { WatchedMemory } from '../helpers/watched-memory'

const MEM_OAS = 40
/** Stage 2's table pool, in PA space. */
const S2_POOL = { base: 0x100_0000, size: 0x40_0000 }
/** An MMIO-like hole: nothing answers there. */
const HOLE = { base: 0x800_0000, size: 0x100_0000 }
/** Guest pages are mapped to PAs here and above (one granule apart, shuffled). */
const PA_BASE = 0x1000_0000
/** Guest IPA pages: g * granule for g < GUEST_PAGES. */
const GUEST_PAGES = 12
const MAX_FETCHES = 24
const KINDS: readonly string[] = ['translation', 'accessFlag', 'permission', 'addressSize', 'externalAbort']

export interface IsolationStats {
  scenes: number
  walks: number
  translated: number
  faults: Record<string, number>
  s2FaultsOnS1TableWalk: number
  maxFetches: number
  exposedS2Scenes: number
}

export function newIsolationStats(): IsolationStats {
  return { scenes: 0, walks: 0, translated: 0, faults: {}, s2FaultsOnS1TableWalk: 0, maxFetches: 0, exposedS2Scenes: 0 }
}

type GuestPageKind = 'ram' | 'mmio' | 'unmapped' | 's2-tables'

interface Scene {
  readonly s2Granule: Granule
  readonly s1Granule: Granule
  /** Stage-1 input size. */
  readonly s1Ias: number
  /** What stage 2 does with each guest IPA page (a stage-2 granule each). */
  readonly pages: readonly { readonly kind: GuestPageKind; readonly prot: IommuProt; readonly slot: number }[]
  /** TTB: a guest page index, or an IPA no page covers. */
  readonly ttb: { readonly page: number; readonly wild: number; readonly useWild: boolean }
  readonly chains: readonly { readonly tables: readonly number[]; readonly out: number; readonly attrs: number }[]
  readonly writes: readonly { readonly target: number; readonly level: number; readonly table: number; readonly desc: Desc }[]
  readonly garbage: readonly { readonly page: number; readonly slot: number; readonly lo: number; readonly hi: number }[]
  readonly iovas: readonly bigint[]
  readonly accesses: readonly { readonly kind: AccessKind; readonly privileged: boolean }[]
}

/** A hostile descriptor, as what it points at; resolved to bits once the scene's addresses are known. */
type Desc =
  | { readonly t: 'table'; readonly to: 'page' | 'self' | 'parent' | 'unmapped' | 's2-table' | 'beyond' | 'mmio'; readonly page: number; readonly hiAttrs: number }
  | { readonly t: 'leaf'; readonly lo: number; readonly hiAddr: number; readonly block: boolean }
  | { readonly t: 'guest-leaf'; readonly page: number; readonly attrs: number }
  | { readonly t: 'raw'; readonly lo: number; readonly hi: number }

const granuleArb = fc.constantFrom<Granule>(4096, 4096, 16384, 65536)
const u32 = fc.nat(0xffff_ffff)

const descArb: fc.Arbitrary<Desc> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('table' as const), to: fc.constantFrom('page', 'page', 'self', 'parent', 'unmapped', 's2-table', 'beyond', 'mmio') as fc.Arbitrary<Extract<Desc, { t: 'table' }>['to']>, page: fc.nat(GUEST_PAGES - 1), hiAttrs: u32 }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('leaf' as const), lo: u32, hiAddr: fc.nat(0xfff), block: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('guest-leaf' as const), page: fc.nat(GUEST_PAGES - 1), attrs: fc.nat(0x3ff) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('raw' as const), lo: u32, hi: u32 }) },
)

const protArb = fc.constantFrom<IommuProt>({ read: true, write: true }, { read: true, write: true }, { read: true, write: false }, { read: false, write: true })

export const sceneArb: fc.Arbitrary<Scene> = fc.record({
  s2Granule: granuleArb,
  s1Granule: granuleArb,
  s1Ias: fc.constantFrom(25, 32, 36, 39, 40, 42, 48),
  pages: fc.array(
    fc.record({
      kind: fc.oneof({ weight: 12, arbitrary: fc.constant<GuestPageKind>('ram') }, { weight: 1, arbitrary: fc.constantFrom<GuestPageKind>('mmio', 'unmapped', 's2-tables') }),
      prot: protArb,
      slot: fc.nat(63),
    }),
    { minLength: GUEST_PAGES, maxLength: GUEST_PAGES },
  ),
  ttb: fc.record({ page: fc.nat(GUEST_PAGES - 1), wild: fc.nat(0xff_ffff), useWild: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) }),
  chains: fc.array(fc.record({ tables: fc.array(fc.nat(GUEST_PAGES - 1), { minLength: 4, maxLength: 4 }), out: fc.nat(GUEST_PAGES - 1), attrs: fc.nat(0xff) }), { minLength: 8, maxLength: 8 }),
  writes: fc.array(fc.record({ target: fc.nat(7), level: fc.nat(3), table: fc.nat(GUEST_PAGES - 1), desc: descArb }), { maxLength: 16 }),
  garbage: fc.array(fc.record({ page: fc.nat(GUEST_PAGES - 1), slot: fc.nat(511), lo: u32, hi: u32 }), { maxLength: 8 }),
  iovas: fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 8, maxLength: 8 }),
  accesses: fc.array(fc.record({ kind: fc.constantFrom<AccessKind>('read', 'write', 'exec'), privileged: fc.boolean() }), { minLength: 8, maxLength: 8 }),
})

function s1StartLevel(granule: Granule, ias: number): number {
  const pgShift = Math.log2(granule)
  return 4 - Math.ceil((ias - pgShift) / (pgShift - 3))
}

function levelShift(granule: Granule, level: number): number {
  const pgShift = Math.log2(granule)
  return (4 - level) * (pgShift - 3) + 3
}

/** Builds a scene in memory; returns what the checks need. */
function build(scene: Scene, stats: IsolationStats) {
  const m = createMemory({ oas: MEM_OAS, holes: [HOLE] })
  assert.ok(m.ok)
  const mem = m.value
  const alloc = createTableAllocator(mem, S2_POOL)
  assert.ok(alloc.ok)
  const s2 = createPgtable(mem, alloc.value, { stage: 2, granule: scene.s2Granule, ias: MEM_OAS, oas: MEM_OAS })
  assert.ok(s2.ok)
  // Guest pages are stage-2 granules; a guest table (a stage-1 granule) must fit one.
  const gpage = Math.max(scene.s2Granule, scene.s1Granule)
  /** Oracle: guest IPA page index -> PA of its first byte (undefined: unmapped), and its permissions. */
  const paOf: (number | undefined)[] = []
  let exposed = false
  scene.pages.forEach((p, g) => {
    let pa: number | undefined
    if (p.kind === 'ram') pa = PA_BASE + (g * 64 + p.slot) * gpage
    else if (p.kind === 'mmio') pa = HOLE.base + (p.slot % (HOLE.size / gpage)) * gpage
    else if (p.kind === 's2-tables') {
      pa = S2_POOL.base
      exposed = true
    }
    paOf.push(pa)
    if (pa === undefined) return
    const r = s2.value.mapRange(g * gpage, pa, gpage, p.prot)
    assert.ok(r.ok, `stage 2 maps guest page ${g}: ${r.ok ? '' : r.error.message}`)
  })
  if (exposed) stats.exposedS2Scenes++
  const ipaOfPage = (g: number): number => g * gpage
  const unmappedIpa = GUEST_PAGES * gpage + 0x10_0000 * 7
  const ttbIpa = scene.ttb.useWild ? (scene.ttb.wild * scene.s1Granule) % 2 ** MEM_OAS : ipaOfPage(scene.ttb.page)
  const start = s1StartLevel(scene.s1Granule, scene.s1Ias)
  // The TTB must be aligned to the start table; larger start tables are aligned down.
  const pgdBytes = 2 ** (scene.s1Ias - levelShift(scene.s1Granule, start)) * 8
  const ttb = Math.floor(ttbIpa / Math.max(pgdBytes, 8)) * Math.max(pgdBytes, 8)
  const c1 = stage1Context({ ttbr: ttb, t0sz: 64 - scene.s1Ias, granule: scene.s1Granule, oas: MEM_OAS })
  assert.ok(c1.ok, `stage-1 context: ${c1.ok ? '' : c1.error.message}`)

  // Seven IOVAs inside the stage-1 input range, the last one anywhere up to twice beyond it.
  const iovas = scene.iovas.map((x, i) => Number(x % BigInt(2 ** (i === scene.iovas.length - 1 ? scene.s1Ias + 1 : scene.s1Ias))))
  const indexAt = (iova: number, level: number): number => {
    const bits = level === start ? scene.s1Ias - levelShift(scene.s1Granule, level) : Math.log2(scene.s1Granule) - 3
    return Math.floor(iova / 2 ** levelShift(scene.s1Granule, level)) % 2 ** bits
  }
  /** Write a descriptor into guest page `g` (if stage 2 maps it to RAM or the exposed tables). */
  const put = (g: number, offset: number, lo: number, hi: number): void => {
    const pa = paOf[g]
    // The guest writes its RAM; the pages that are MMIO or the host's own tables are not written
    // (the oracle is what the host's tables say, so they must stay the host's).
    if (pa === undefined || scene.pages[g]?.kind !== 'ram') return
    mem.write64Parts(pa + (offset % gpage), lo >>> 0, hi >>> 0)
  }
  const tableOfPage = (g: number): number => ipaOfPage(g)
  // Well-formed chains first (some IOVAs then translate), then hostile writes over them.
  scene.chains.forEach((c, i) => {
    const iova = iovas[i] as number
    for (let level = start; level <= 3; level++) {
      // A wild TTB has no chain at the start level; the chains' lower tables are still written.
      if (level === start && scene.ttb.useWild) continue
      const g = level === start ? scene.ttb.page : (c.tables[level] as number)
      const offset = indexAt(iova, level) * 8
      if (level < 3) put(g, offset, tableOfPage(c.tables[level + 1] as number) + 0b11, 0)
      else put(g, offset, ipaOfPage(c.out) + 0x400 + (c.attrs << 2) + 0b11, 0)
    }
  })
  for (const w of scene.writes) {
    const level = Math.max(start, w.level)
    const iova = iovas[w.target] as number
    const offset = indexAt(iova, level) * 8
    put(w.table, offset, ...resolveDesc(w.desc, w.table, scene, ipaOfPage, unmappedIpa, level, start))
  }
  for (const g of scene.garbage) put(g.page, g.slot * 8, g.lo, g.hi)
  return { mem, s2: s2.value, c1: c1.value, paOf, gpage, iovas }
}

function resolveDesc(d: Desc, self: number, scene: Scene, ipaOfPage: (g: number) => number, unmappedIpa: number, level: number, start: number): [number, number] {
  const split = (addr: number): [number, number] => [addr % 2 ** 32, Math.floor(addr / 2 ** 32)]
  switch (d.t) {
    case 'table': {
      let addr: number
      if (d.to === 'page') addr = ipaOfPage(d.page)
      else if (d.to === 'self') addr = ipaOfPage(self)
      else if (d.to === 'parent') addr = ipaOfPage(level > start ? (scene.chains[d.page % scene.chains.length]?.tables[level - 1] ?? self) : self)
      else if (d.to === 'unmapped') addr = unmappedIpa
      else if (d.to === 's2-table') addr = S2_POOL.base + (d.page % 4) * scene.s2Granule
      else if (d.to === 'mmio') addr = HOLE.base
      else addr = 2 ** MEM_OAS + ipaOfPage(d.page)
      const [lo, hi] = split(addr)
      return [((lo & ~0xfff) | 0b11) >>> 0, (hi | (d.hiAttrs & 0xfff0_0000)) >>> 0]
    }
    case 'leaf':
      return [((d.lo & ~0b11) | (d.block ? 0b01 : 0b11)) >>> 0, d.hiAddr]
    case 'guest-leaf':
      return [(ipaOfPage(d.page) | 0x400 | (d.attrs << 2) | 0b11) >>> 0, 0]
    case 'raw':
      return [d.lo, d.hi]
  }
}

/** One scene: build it, walk its IOVAs, check every result against the oracle. */
function runScene(scene: Scene, stats: IsolationStats): void {
  stats.scenes++
  const { mem, s2, c1, paOf, gpage, iovas } = build(scene, stats)
  const watched = new WatchedMemory(mem)
  const s2TableEnd = S2_POOL.base + S2_POOL.size
  iovas.forEach((iova, i) => {
    const access = scene.accesses[i] as { kind: AccessKind; privileged: boolean }
    watched.reads = []
    let r
    let direct
    try {
      r = walkNested(watched, c1 as S1Context, s2.s2Context, iova, access)
      direct = walkNested(mem, c1 as S1Context, s2.s2Context, iova, access)
    } catch (e) {
      assert.fail(`walkNested threw at IOVA 0x${iova.toString(16)}: ${e instanceof Error ? e.stack : String(e)}`)
    }
    // Memory's own fast descriptor path and the one-descriptor-at-a-time path agree.
    assert.deepEqual(direct, r, 'walking PhysMemory directly and through a watching reader differ')
    stats.walks++
    stats.maxFetches = Math.max(stats.maxFetches, watched.reads.length)
    assert.ok(watched.reads.length <= MAX_FETCHES, `a walk fetched ${watched.reads.length} descriptors (bound ${MAX_FETCHES})`)
    if (r.kind === 'ok') {
      stats.translated++
      assert.ok(r.ipa !== undefined)
      const g = Math.floor(r.ipa / gpage)
      const base = paOf[g]
      assert.ok(g < GUEST_PAGES && base !== undefined, `translated through IPA 0x${r.ipa.toString(16)}, which stage 2 does not map`)
      assert.equal(r.oa, base + (r.ipa % gpage), 'the PA is the one stage 2 maps the IPA to')
      const p = scene.pages[g]?.prot as IommuProt
      assert.ok(access.kind === 'write' ? p.write : p.read, `stage 2 does not allow a ${access.kind} at IPA page ${g}`)
    } else {
      assert.ok(KINDS.includes(r.kind), `fault kind ${r.kind}`)
      assert.ok(r.level >= 0 && r.level <= 3 && (r.stage === 1 || r.stage === 2))
      stats.faults[r.kind] = (stats.faults[r.kind] ?? 0) + 1
      if (r.onS1TableWalk) {
        stats.s2FaultsOnS1TableWalk++
        assert.equal(r.stage, 2)
      }
    }
    // Every fetch is a stage-2 table read or a read of a page stage 2 maps readable.
    for (const pa of watched.reads) {
      if (pa >= S2_POOL.base && pa < s2TableEnd) continue
      const g = paOf.findIndex((base, k) => base !== undefined && pa >= base && pa < base + gpage && scene.pages[k]?.prot.read === true)
      assert.ok(g >= 0, `a walk read PA 0x${pa.toString(16)}, which stage 2 does not map readable`)
    }
  })
}

export interface IsolationOptions {
  readonly walks: number
  readonly seed: number
  readonly onProgress?: (s: IsolationStats) => void
}

export function runIsolationCampaign(opts: IsolationOptions): IsolationStats {
  const stats = newIsolationStats()
  let batch = 0
  while (stats.walks < opts.walks) {
    fc.assert(
      fc.property(sceneArb, (scene) => runScene(scene, stats)),
      { seed: opts.seed + batch, numRuns: 100 },
    )
    batch++
    opts.onProgress?.(stats)
  }
  return stats
}
