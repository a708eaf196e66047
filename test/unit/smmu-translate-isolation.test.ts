/**
 * Isolation property (DESIGN.md, quality bars): whatever stage-1 tables a guest writes into its
 * own memory — random descriptors, tables pointing at themselves, at IPAs the host never mapped,
 * at the host's stage-2 tables' own addresses, beyond the IPS — a DMA through the SMMU either
 * faults or touches only physical memory the host's stage 2 maps (writes: only what it maps
 * writable), and the only other memory the SMMU reads is the host's stage-2 tables. Nothing
 * throws and every DMA ends (each walk advances one level per descriptor).
 *
 * The guest also rewrites descriptors without invalidating (stale IOTLB entries), invalidates
 * by ASID, reinstalls its stage 1, and the host unmaps pages of the guest's RAM in between: after
 * a host unmap those pages are no longer allowed, so a stale IOTLB entry reaching them fails
 * the property (the domain's unmap must invalidate).
 *
 * Every physical access is observed by a PhysMemory that records the descriptor fetches (with
 * the kind of each: stage-1 descriptor, or stage-2 descriptor of either kind) and the data reads
 * and writes made while a DMA runs.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  createPgtable,
  createTableAllocator,
  FETCH,
  IommuDomain,
  loadFixture,
  PhysMemory,
  PROFILES,
  SmmuInstance,
  stage1Context,
  type BusAbort,
  type FetchKind,
  type Granule,
  type S1Regs,
} from '../../model'

const PAGE = 0x1000
const RAM_IPA = 0x4000_0000
const RAM_PA = 0x8000_0000
const RAM_SIZE = 0x20_0000
const RO_IPA = 0x4020_0000
const RO_PA = 0x9000_0000
const RO_SIZE = 0x1_0000
const POOL = { base: 0x1_0000_0000, size: 0x100_0000 }
const SID = 0x10

class WatchedMemory extends PhysMemory {
  watching = false
  readonly fetches: { pa: number; kind: FetchKind }[] = []
  readonly reads: { pa: number; length: number }[] = []
  readonly writes: { pa: number; length: number }[] = []

  /** The walkers call it as a DescriptorReader, naming the kind of each fetch. */
  override descriptorPage(hi: number, lo: number, kind?: FetchKind): number {
    if (this.watching && kind !== undefined) this.fetches.push({ pa: hi * 2 ** 32 + (lo >>> 0), kind })
    return super.descriptorPage(hi, lo)
  }

  override read(pa: number, length: number): Uint8Array | BusAbort {
    if (this.watching) this.reads.push({ pa, length })
    return super.read(pa, length)
  }

  override write(pa: number, bytes: Uint8Array): BusAbort | undefined {
    if (this.watching) this.writes.push({ pa, length: bytes.length })
    return super.write(pa, bytes)
  }
}

/** IPAs worth pointing at: the guest's RAM (where its tables live), the read-only region, and traps. */
const INTERESTING_IPAS: readonly number[] = [
  ...Array.from({ length: 8 }, (_, k) => RAM_IPA + k * PAGE),
  RAM_IPA + 0x10_0000,
  RAM_IPA + RAM_SIZE - PAGE,
  RO_IPA,
  RO_IPA + RO_SIZE - PAGE,
  0x5000_0000, // never mapped
  0x0,
  RAM_IPA - PAGE, // just below the RAM
  RAM_IPA + RAM_SIZE, // just above it
  POOL.base, // the host's stage-2 tables' own addresses, as IPAs
  POOL.base + PAGE,
  POOL.base + 2 * PAGE,
  RAM_PA, // the RAM's PA, as an IPA
  0x100_0000_0000, // 2^40: beyond IPS 40
  0xffff_ffff_f000,
]

const ipaArb = fc.oneof(fc.constantFrom(...INTERESTING_IPAS), fc.integer({ min: 0, max: 2 ** 48 - 1 }))

/** Attribute halves a guest might write: good leaves, no AF, read-only, privileged-only, APTable, XN, noise. */
const loAttrArb = fc.constantFrom(0xf44, 0x744, 0xb44, 0xfc4, 0xf04, 0x0, 0x400)
const hiAttrArb = fc.oneof(fc.constantFrom(0, 0x4000_0000, 0x2000_0000, 0x0060_0000, 0x0008_0000), fc.nat(0xffff_ffff))

const descriptorArb = fc
  .record({ addr: ipaArb, type: fc.nat(3), lo: loAttrArb, hi: hiAttrArb })
  .map(({ addr, type, lo, hi }) => ((BigInt(hi) << 32n) | BigInt((lo | type) >>> 0)) | (BigInt(addr) & 0x000f_ffff_ffff_f000n))

/** Pages of the guest's RAM the tables go to (most chains), or anything interesting. */
const tableIpaArb = fc.oneof({ weight: 5, arbitrary: fc.nat(15).map((k) => RAM_IPA + k * PAGE) }, { weight: 1, arbitrary: ipaArb })
const leafIpaArb = fc.oneof(
  { weight: 4, arbitrary: fc.nat(RAM_SIZE / PAGE - 1).map((k) => RAM_IPA + k * PAGE) },
  { weight: 1, arbitrary: fc.nat(RO_SIZE / PAGE - 1).map((k) => RO_IPA + k * PAGE) },
  { weight: 1, arbitrary: ipaArb },
)

/** One level of a chain: a well-formed table / leaf (AF, unprivileged, read-write) at a likely IPA, or any descriptor. */
type ChainStep = { readonly good: true; readonly table: number; readonly leaf: number } | { readonly good: false; readonly raw: bigint }
const chainStepArb: fc.Arbitrary<ChainStep> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ good: fc.constant(true as const), table: tableIpaArb, leaf: leafIpaArb }) },
  { weight: 1, arbitrary: fc.record({ good: fc.constant(false as const), raw: descriptorArb }) },
)

function stepDescriptor(step: ChainStep, isLeaf: boolean, level: number): bigint {
  if (!step.good) return isLeaf ? step.raw : (step.raw & ~3n) | 3n
  if (!isLeaf) return BigInt(step.table) | 3n
  return BigInt(step.leaf) | (level === 3 ? 0xf47n : 0xf45n)
}

const regsArb: fc.Arbitrary<S1Regs> = fc
  .record({
    ttb: fc.oneof({ weight: 6, arbitrary: fc.constant(RAM_IPA) }, { weight: 1, arbitrary: fc.constantFrom(RAM_IPA + 0x1_0000, RO_IPA, 0x5000_0000, POOL.base, 0x100_0000_0000) }),
    t0sz: fc.constantFrom(16, 25, 34),
    granule: fc.constantFrom<Granule>(4096, 16384, 65536),
    oas: fc.constantFrom(40, 48),
  })
  .map(({ ttb, t0sz, granule, oas }) => ({ ttbr: ttb, t0sz, granule, oas }))

type Op =
  | { readonly op: 'chain'; readonly iova: number; readonly steps: readonly ChainStep[]; readonly leafAt: number }
  | { readonly op: 'poke'; readonly ipa: number; readonly desc: bigint }
  | { readonly op: 'dma'; readonly pick: number; readonly offset: number; readonly write: boolean; readonly length: number }
  /** Unmap one 4K page of the guest's RAM: one a DMA reached (by `pick`), else page `page`. */
  | { readonly op: 'hostUnmap'; readonly page: number; readonly pick: number }
  | { readonly op: 'tlbi'; readonly asid: number }
  | { readonly op: 'install'; readonly regs: S1Regs; readonly asid: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('chain' as const), iova: fc.integer({ min: 0, max: 2 ** 48 - 1 }), steps: fc.array(chainStepArb, { minLength: 4, maxLength: 4 }), leafAt: fc.oneof({ weight: 4, arbitrary: fc.constant(3) }, { weight: 1, arbitrary: fc.nat(2) }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('poke' as const), ipa: fc.constantFrom(...INTERESTING_IPAS).chain((b) => fc.nat(511).map((i) => b + i * 8)), desc: descriptorArb }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('dma' as const), pick: fc.nat(), offset: fc.oneof({ weight: 4, arbitrary: fc.nat(0xff8) }, { weight: 1, arbitrary: fc.nat(0x2fff) }), write: fc.boolean(), length: fc.constantFrom(1, 8, 8, 64, 0x1800) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('hostUnmap' as const), page: fc.nat(RAM_SIZE / PAGE - 1), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tlbi' as const), asid: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('install' as const), regs: regsArb, asid: fc.nat(3) }) },
)

const stats = { dmas: 0, succeeded: 0, s2TableWalkFaults: 0, stale: 0, s1Fetches: 0 }

function pagesOf(pa: number, length: number): number[] {
  const out: number[] = []
  for (let p = pa - (pa % PAGE); p < pa + length; p += PAGE) out.push(p)
  return out
}

function run(regs: S1Regs, asid: number, ops: readonly Op[]): void {
  const mem = new WatchedMemory(48, [])
  const pool = createTableAllocator(mem, POOL)
  assert.ok(pool.ok)
  const smmu = SmmuInstance.probe('smmu0', loadFixture('synthetic-nested'), PROFILES.merged.smmu, mem)
  assert.ok(smmu.ok)
  const domain = new IommuDomain(1, PROFILES.merged.iommu, { create: (cfg) => createPgtable(mem, pool.value, cfg) })
  assert.ok(domain.requestNesting().ok)
  assert.ok(domain.attach(smmu.value, SID).ok)
  assert.ok(domain.map(BigInt(RAM_IPA), RAM_PA, BigInt(RAM_SIZE), { read: true, write: true }).ok)
  assert.ok(domain.map(BigInt(RO_IPA), RO_PA, BigInt(RO_SIZE), { read: true, write: false }).ok)
  const readable = new Set<number>([...pagesOf(RAM_PA, RAM_SIZE), ...pagesOf(RO_PA, RO_SIZE)])
  const writable = new Set<number>(pagesOf(RAM_PA, RAM_SIZE))
  const guest = smmu.value.guestMemory(SID)
  assert.ok(guest.ok)
  let current = regs
  smmu.value.installGuestStage1(SID, regs, asid) // may be EINVAL (a TTB the start table's size does not divide)
  const iovas: number[] = [0]
  /** RAM pages (index from RAM_PA) successful DMAs reached: what a host unmap should hit to matter. */
  const reached: number[] = []

  for (const op of ops) {
    switch (op.op) {
      case 'chain': {
        // Write descriptors along `iova`'s path from the current TTB: tables, then a leaf at `leafAt`.
        const ctx = stage1Context(current)
        if (!ctx.ok) break
        const g = ctx.value.geometry
        const iova = op.iova % g.inputLimit
        iovas.push(iova)
        let table = current.ttbr
        for (let level = g.startLevel; level <= 3; level++) {
          const mask = level === g.startLevel ? g.startIndexMask : g.indexMask
          const entry = table + (Math.floor(iova / (g.blockSize[level] as number)) & mask) * 8
          const isLeaf = level >= op.leafAt
          const desc = stepDescriptor(op.steps[level] as ChainStep, isLeaf, level)
          if (!guest.value.write64(entry, desc).ok) break
          if (isLeaf) break
          table = Number(desc & 0x0000_ffff_ffff_f000n) - (Number(desc & 0x0000_ffff_ffff_f000n) % g.granule)
        }
        break
      }
      case 'poke':
        guest.value.write64(op.ipa, op.desc)
        break
      case 'hostUnmap': {
        const page = reached.length > 0 ? (reached[op.pick % reached.length] as number) : op.page
        const r = domain.unmap(BigInt(RAM_IPA + page * PAGE), BigInt(PAGE))
        assert.ok(r.ok)
        if (r.value === BigInt(PAGE)) {
          readable.delete(RAM_PA + page * PAGE)
          writable.delete(RAM_PA + page * PAGE)
        }
        break
      }
      case 'tlbi':
        assert.ok(smmu.value.guestInvalidate(SID, { asid: op.asid }).ok)
        break
      case 'install':
        if (smmu.value.installGuestStage1(SID, op.regs, op.asid).ok) current = op.regs
        break
      case 'dma': {
        const iova = (iovas[op.pick % iovas.length] as number) + op.offset
        const hitsBefore = smmu.value.tlbStats.hits
        mem.fetches.length = 0
        mem.reads.length = 0
        mem.writes.length = 0
        mem.watching = true
        let r
        try {
          r = smmu.value.dma(SID, op.write ? 'write' : 'read', iova, op.length)
        } finally {
          mem.watching = false
        }
        stats.dmas++
        if (r.kind === 'ok') stats.succeeded++
        if (r.kind === 'ok') for (const p of r.pieces) if (p.pa >= RAM_PA && p.pa < RAM_PA + RAM_SIZE) reached.push(Math.floor((p.pa - RAM_PA) / PAGE))
        if (smmu.value.tlbStats.hits > hitsBefore) stats.stale++
        if (r.kind === 'fault' && r.fault.kind !== 'streamNotTranslated' && r.fault.onS1TableWalk) stats.s2TableWalkFaults++
        for (const f of mem.fetches) {
          if (f.kind === FETCH.S1) {
            stats.s1Fetches++
            assert.ok(readable.has(f.pa - (f.pa % PAGE)), `stage-1 descriptor fetched at PA 0x${f.pa.toString(16)}, which stage 2 does not map`)
          } else {
            assert.ok(f.pa >= POOL.base && f.pa < POOL.base + POOL.size, `stage-2 descriptor fetched at PA 0x${f.pa.toString(16)}, outside the host's tables`)
          }
        }
        for (const a of mem.reads) for (const p of pagesOf(a.pa, a.length)) assert.ok(readable.has(p), `DMA read PA 0x${p.toString(16)}, not mapped by stage 2`)
        for (const a of mem.writes) for (const p of pagesOf(a.pa, a.length)) assert.ok(writable.has(p), `DMA wrote PA 0x${p.toString(16)}, not mapped writable by stage 2`)
        break
      }
    }
  }
}

describe('isolation: a guest-written stage 1 never reaches memory outside the host stage 2', () => {
  it('random guest tables, rewrites, invalidations and host unmaps', () => {
    fc.assert(
      fc.property(regsArb, fc.nat(3), fc.array(opArb, { minLength: 5, maxLength: 40 }), (regs, asid, ops) => run(regs, asid, ops)),
      { numRuns: 250 },
    )
    // The property is not vacuous: DMAs got through, some from the IOTLB, and stage-1 table
    // addresses outside stage 2 were caught on the walk.
    assert.ok(stats.succeeded >= 40, `only ${stats.succeeded} of ${stats.dmas} DMAs translated`)
    assert.ok(stats.stale >= 5, `only ${stats.stale} DMAs hit the IOTLB`)
    assert.ok(stats.s2TableWalkFaults >= 10, `only ${stats.s2TableWalkFaults} stage-2 faults on a stage-1 table walk`)
    assert.ok(stats.s1Fetches >= 100, `only ${stats.s1Fetches} stage-1 descriptor fetches were seen`)
  })
})
