/**
 * A table builder in the shape of Linux io-pgtable-arm: map / unmap / iova_to_phys over real
 * descriptor bytes in simulated memory, tables taken from a TableAllocator.
 *
 * Decisions (each tested in test/unit/pgtable-*.test.ts):
 * - Errors: misaligned address, unsupported size -> EINVAL; iova >= 2^ias or pa >= 2^oas -> ERANGE
 *   (arm_lpae_map_pages returns -ERANGE; the iommu core's alignment check returns -EINVAL);
 *   anything already mapped in the way -> EEXIST; no table page -> ENOMEM.
 * - A prot with neither READ nor WRITE (`noAccessMap` option, checked after the range): 'EINVAL'
 *   (default) or 'maps-nothing' (arm_lpae_map_pages' "If no access, then nothing to do": success,
 *   nothing written).
 * - Mapping a block where a table is: the kernel frees the table and writes the block even if
 *   the table still maps something; this builder does that only for a table with no leaf below
 *   it and returns EEXIST otherwise, so a map never silently drops a live mapping.
 * - Every operation is atomic: on error, memory is exactly as before (see journal.ts).
 * - Stage-2 start level (`s2Concatenation` option): see ioPgtableGeometry.
 * - Partial unmap of a block (`partialUnmap` option):
 *     'refuse' (default; Linux >= 6.13, commit 33729a5fc0ca): unmap returns 0 bytes and the
 *       block stays mapped ("Unmap of a partial large IOPTE is not allowed").
 *     'split' (Linux <= 6.12, arm_lpae_split_blk_unmap): the block is replaced by a next-level
 *       table replicating it (contiguous hint dropped), recursively, and the hole is unmapped;
 *       unmap returns the requested size.
 * - Freeing tables, as the kernel: an unmap whose size equals a table entry's span clears that
 *   entry and frees the whole subtree; tables that merely become empty are NOT freed (an empty
 *   table is freed later if a block is mapped over it, or by destroy()).
 * - Unmapping a slot with nothing in it returns 0 bytes; unmapRange() stops at the first such
 *   slot and returns what it unmapped so far (iommu_unmap / __iommu_unmap).
 */
import { fail, ok, type KernelError, type Result } from '../errno'
import { NO_PAGE, type PhysMemory, type TableAllocator } from '../memory'
import { stage1Context, stage2Context, sl0ForStartLevel, type S1Context, type S1Regs, type S2Context, type S2Regs, type TranslationContext } from './context'
import { DESC, DESC_BYTES, LEAF_ATTR_HI_MASK, LEAF_ATTR_LO_MASK } from './descriptor'
import { hiWord, PAGE_OFFSET_MASK } from './fetch'
import { formatGeometry, ioPgtableGeometry, MAX_LEVEL, type Geometry, type Granule, type S2Concatenation } from './geometry'
import { Journal } from './journal'
import { descAddress } from './leaf'
import { protToAttrs, type IommuProt, type LeafAttrs } from './prot'

const TWO_POW_32 = 2 ** 32
const T0SZ_BASE = 64
/** The success value of every operation that returns nothing (shared: results are read-only). */
const OK: Result<void> = ok()

export type PartialUnmapPolicy = 'refuse' | 'split'
export type NoAccessMapPolicy = 'EINVAL' | 'maps-nothing'

export interface PgtableConfig {
  readonly stage: 1 | 2
  readonly granule: Granule
  /** Input address size in bits (IOVA for stage 1, IPA for stage 2). */
  readonly ias: number
  /** Output address size in bits. */
  readonly oas: number
  /** Partial unmap of a block: 'refuse' (default, Linux >= 6.13) or 'split' (Linux <= 6.12). */
  readonly partialUnmap?: PartialUnmapPolicy
  /** A map with neither READ nor WRITE: 'EINVAL' (default) or 'maps-nothing' (older io-pgtable-arm). */
  readonly noAccessMap?: NoAccessMapPolicy
  /** Stage-2 concatenation rule (default 'level-0-fits'); see ioPgtableGeometry. */
  readonly s2Concatenation?: S2Concatenation
}

/** Allocates the start-level table (ENOMEM) after validating the configuration (EINVAL). */
export function createPgtable(mem: PhysMemory, alloc: TableAllocator, cfg: PgtableConfig): Result<IoPgtable> {
  const g = ioPgtableGeometry(cfg.stage, cfg.granule, cfg.ias, cfg.oas, cfg.s2Concatenation)
  if (!g.ok) return g
  if (cfg.partialUnmap !== undefined && cfg.partialUnmap !== 'refuse' && cfg.partialUnmap !== 'split') {
    return fail('EINVAL', `partialUnmap ${String(cfg.partialUnmap)} is not 'refuse' or 'split'`)
  }
  if (cfg.noAccessMap !== undefined && cfg.noAccessMap !== 'EINVAL' && cfg.noAccessMap !== 'maps-nothing') {
    return fail('EINVAL', `noAccessMap ${String(cfg.noAccessMap)} is not 'EINVAL' or 'maps-nothing'`)
  }
  const pgdAllocBytes = Math.max(g.value.pgdBytes, g.value.granule)
  const pgd = alloc.alloc(pgdAllocBytes, pgdAllocBytes)
  if (!pgd.ok) return pgd
  return ok(new IoPgtable(mem, alloc, g.value, pgd.value, pgdAllocBytes, cfg.partialUnmap ?? 'refuse', cfg.noAccessMap ?? 'EINVAL'))
}

function isKernelError(x: unknown): x is KernelError {
  return typeof x === 'object' && x !== null && 'errno' in x
}

function isAddress(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0
}

const MAX_MASKABLE = 2 ** 30

/**
 * Whether `x`, a non-negative safe integer, is a multiple of `p`, a power of two (every page and
 * block size is). Up to 2^30 the low 32 bits decide, so a mask does it without a float modulo.
 */
function aligned(x: number, p: number): boolean {
  return p <= MAX_MASKABLE ? (x & (p - 1)) === 0 : x % p === 0
}

export class IoPgtable {
  /** The register values a context using this table holds. */
  readonly regs: S1Regs | S2Regs
  /** The validated context the walkers take. */
  readonly context: TranslationContext
  private readonly journal: Journal
  private destroyed = false

  /** Use createPgtable(). */
  constructor(
    private readonly mem: PhysMemory,
    private readonly alloc: TableAllocator,
    readonly geometry: Geometry,
    /** PA of the start-level table (TTBR / VTTBR). */
    readonly pgd: number,
    private readonly pgdAllocBytes: number,
    readonly partialUnmap: PartialUnmapPolicy,
    readonly noAccessMap: NoAccessMapPolicy = 'EINVAL',
  ) {
    this.journal = new Journal(mem, alloc)
    const { granule, ias, oas } = geometry
    const t0sz = T0SZ_BASE - ias
    if (geometry.stage === 1) {
      const regs: S1Regs = { ttbr: pgd, t0sz, granule, oas }
      this.regs = regs
      this.context = unwrap(stage1Context(regs), geometry)
    } else {
      const regs: S2Regs = { vttbr: pgd, t0sz, sl0: sl0ForStartLevel(granule, geometry.startLevel), granule, oas }
      this.regs = regs
      this.context = unwrap(stage2Context(regs), geometry)
    }
  }

  get stage(): 1 | 2 {
    return this.geometry.stage
  }

  /** The stage-1 context; throws if this is a stage-2 table (a bug in the caller). */
  get s1Context(): S1Context {
    if (this.context.stage !== 1) throw new Error('s1Context of a stage-2 table')
    return this.context
  }

  /** The stage-2 context; throws if this is a stage-1 table (a bug in the caller). */
  get s2Context(): S2Context {
    if (this.context.stage !== 2) throw new Error('s2Context of a stage-1 table')
    return this.context
  }

  /** Leaf sizes map() accepts, ascending (the domain's pgsize_bitmap). */
  get pgsizes(): readonly number[] {
    return this.geometry.pgsizes
  }

  describe(): string {
    return `${formatGeometry(this.geometry)}, pgd ${this.pgd}, partial unmap: ${this.partialUnmap}`
  }

  /** Maps one page or block of `size` (one of pgsizes) at `iova` to `pa` (map_pages, pgcount 1). */
  map(iova: number, pa: number, size: number, prot: IommuProt): Result<void> {
    this.requireLive()
    const g = this.geometry
    if (!g.pgsizes.includes(size)) return fail('EINVAL', `size ${size} is not one of the page sizes ${g.pgsizes.join(', ')}`)
    const bad = this.checkMap(iova, pa, size, size, prot)
    if (bad !== undefined) return bad
    if (!prot.read && !prot.write) return OK // noAccessMap 'maps-nothing' (checkMap failed it otherwise)
    const attrs = protToAttrs(this.stage, prot)
    const mapped = this.mapAt(g.startLevel, this.pgd, g.startIndexMask, iova, pa, size, 1, attrs)
    return this.finish(isKernelError(mapped) ? mapped : undefined)
  }

  /**
   * Maps [iova, iova + length) to [pa, pa + length) with the largest leaves alignment allows
   * (iommu_map's iommu_pgsize choice). All or nothing: on error nothing stays mapped.
   */
  mapRange(iova: number, pa: number, length: number, prot: IommuProt): Result<void> {
    this.requireLive()
    if (length === 0) return OK
    const bad = this.checkMap(iova, pa, length, this.geometry.pgsizes[0], prot)
    if (bad !== undefined) return bad
    if (!prot.read && !prot.write) return OK // noAccessMap 'maps-nothing'
    return this.finish(this.mapPieces(iova, pa, length, protToAttrs(this.stage, prot)))
  }

  /**
   * mapRange's body: the pieces, largest first; the first error stops it. Like iommu_map's
   * map_pages(pgsize, pgcount), pieces of one size are mapped in one descent, up to the end of
   * their table: exactly the pieces one at a time would give, as every page size is the block
   * size of a level, so a larger one can only start where the table of the smaller ones ends.
   */
  private mapPieces(iova: number, pa: number, length: number, attrs: LeafAttrs): KernelError | undefined {
    const g = this.geometry
    for (let done = 0; done < length; ) {
      const size = this.pickSize(iova + done, pa + done, length - done)
      const mapped = this.mapAt(g.startLevel, this.pgd, g.startIndexMask, iova + done, pa + done, size, Math.floor((length - done) / size), attrs)
      if (isKernelError(mapped)) return mapped
      done += mapped * size
    }
    return undefined
  }

  /** Unmaps one page or block of `size` at `iova`; returns the bytes unmapped (see header). */
  unmap(iova: number, size: number): Result<number> {
    this.requireLive()
    const g = this.geometry
    if (!isAddress(iova) || !g.pgsizes.includes(size) || !aligned(iova, size)) {
      return fail('EINVAL', `unmap of ${size} bytes at ${iova}: unsupported size or unaligned address`)
    }
    if (iova >= g.inputLimit) return fail('EINVAL', `iova ${iova} is beyond the ${g.ias}-bit input range`)
    return this.finish(this.unmapAt(g.startLevel, this.pgd, g.startIndexMask, iova, size))
  }

  /** Unmaps [iova, iova + length) piece by piece, stopping at the first empty piece (iommu_unmap). */
  unmapRange(iova: number, length: number): Result<number> {
    this.requireLive()
    const g = this.geometry
    const min = g.pgsizes[0]
    if (!isAddress(iova) || !isAddress(length) || !aligned(iova, min) || !aligned(length, min)) {
      return fail('EINVAL', `unmap of ${length} bytes at ${iova} is not aligned to ${min}`)
    }
    if (iova + length > g.inputLimit) return fail('EINVAL', `range ends beyond the ${g.ias}-bit input range`)
    let done = 0
    while (done < length) {
      const r = this.unmap(iova + done, this.pickSize(iova + done, 0, length - done))
      if (!r.ok) return r
      if (r.value === 0) break
      done += r.value
    }
    return ok(done)
  }

  /** The PA `iova` maps to, or undefined (the kernel returns 0) — permissions and AF ignored. */
  iovaToPhys(iova: number): number | undefined {
    this.requireLive()
    const g = this.geometry
    if (!isAddress(iova) || iova >= g.inputLimit) return undefined
    let table = this.pgd
    let mask = g.startIndexMask
    for (let level = g.startLevel; level <= MAX_LEVEL; level++) {
      const ptep = table + ((iova * g.levelScale[level]) & mask) * DESC_BYTES
      const at = this.slot(ptep)
      const lo = this.word(at)
      const hi = this.word(at + 1)
      if (!present(level, lo)) return undefined
      if (isLeaf(level, lo)) return descAddress(lo, hi, g.leafAddrLoMask[level]) + (iova & g.offsetMask[level])
      table = descAddress(lo, hi, g.tableAddrLoMask)
      mask = g.indexMask
    }
    return undefined
  }

  /** Frees every table, the start table included (free_io_pgtable_ops). The object is dead after. */
  destroy(): void {
    this.requireLive()
    const frees: number[] = []
    this.collectTables(this.geometry.startLevel, this.pgd, this.geometry.startEntries, this.pgdAllocBytes, frees)
    for (let i = 0; i < frees.length; i += 2) this.alloc.release(frees[i], frees[i + 1])
    this.destroyed = true
  }

  // ---- recursive operations (one function each, stepping to level + 1) ----------------------

  /**
   * Maps up to `count` consecutive leaves of `size` from `iova` to `pa`: as many as the table
   * holding the first one has entries left for. Returns how many it mapped (at least 1), or the error.
   */
  private mapAt(level: number, table: number, mask: number, iova: number, pa: number, size: number, count: number, attrs: LeafAttrs): number | KernelError {
    const g = this.geometry
    const index = (iova * g.levelScale[level]) & mask
    const ptep = table + index * DESC_BYTES
    if (size === g.blockSize[level]) {
      const n = Math.min(count, mask - index + 1)
      for (let i = 0; i < n; i++) {
        const err = this.mapLeaf(level, ptep + i * DESC_BYTES, iova + i * size, pa + i * size, size, attrs)
        if (err !== undefined) return err
      }
      return n
    }
    const at = this.slot(ptep)
    const lo = this.word(at)
    const hi = this.word(at + 1)
    let next: number
    if (!present(level, lo)) {
      const fresh = this.newTable()
      if (isKernelError(fresh)) return fresh
      this.store(ptep, DESC.TYPE_TABLE | lo32(fresh), hi32(fresh))
      next = fresh
    } else if (isLeaf(level, lo)) {
      return exists(iova, size)
    } else {
      next = descAddress(lo, hi, g.tableAddrLoMask)
    }
    return this.mapAt(level + 1, next, g.indexMask, iova, pa, size, count, attrs)
  }

  /** Writes one leaf of `size` at `ptep` (a level-`level` entry), replacing only an empty table. */
  private mapLeaf(level: number, ptep: number, iova: number, pa: number, size: number, attrs: LeafAttrs): KernelError | undefined {
    const g = this.geometry
    const at = this.slot(ptep)
    const lo = this.word(at)
    if (present(level, lo)) {
      if (isLeaf(level, lo)) return exists(iova, size)
      const sub = descAddress(lo, this.word(at + 1), g.tableAddrLoMask)
      if (this.hasLeafBelow(level + 1, sub)) return exists(iova, size)
      this.collectTables(level + 1, sub, g.entriesPerTable, g.granule, undefined)
    }
    const type = level === MAX_LEVEL ? DESC.TYPE_PAGE : DESC.TYPE_BLOCK
    this.store(ptep, attrs.lo | type | lo32(pa), attrs.hi | hi32(pa))
    return undefined
  }

  private unmapAt(level: number, table: number, mask: number, iova: number, size: number): number | KernelError {
    const g = this.geometry
    const ptep = table + ((iova * g.levelScale[level]) & mask) * DESC_BYTES
    const at = this.slot(ptep)
    const lo = this.word(at)
    const hi = this.word(at + 1)
    if (!present(level, lo)) return 0
    if (size === g.blockSize[level]) {
      if (!isLeaf(level, lo)) this.collectTables(level + 1, descAddress(lo, hi, g.tableAddrLoMask), g.entriesPerTable, g.granule, undefined)
      this.store(ptep, 0, 0)
      return size
    }
    let next: number
    if (isLeaf(level, lo)) {
      if (this.partialUnmap === 'refuse') return 0
      const split = this.splitBlock(level, ptep, lo, hi)
      if (isKernelError(split)) return split
      next = split
    } else {
      next = descAddress(lo, hi, g.tableAddrLoMask)
    }
    return this.unmapAt(level + 1, next, g.indexMask, iova, size)
  }

  /** Replaces the block at `ptep` (level `level`) by a table of next-level leaves mapping the same. */
  private splitBlock(level: number, ptep: number, lo: number, hi: number): number | KernelError {
    const g = this.geometry
    const fresh = this.newTable()
    if (isKernelError(fresh)) return fresh
    const base = descAddress(lo, hi, g.leafAddrLoMask[level])
    const child = g.blockSize[level + 1]
    const type = level + 1 === MAX_LEVEL ? DESC.TYPE_PAGE : DESC.TYPE_BLOCK
    const attrLo = (lo & LEAF_ATTR_LO_MASK) | type
    const attrHi = hi & LEAF_ATTR_HI_MASK
    for (let i = 0; i < g.entriesPerTable; i++) {
      const pa = base + i * child
      this.store(fresh + i * DESC_BYTES, attrLo | lo32(pa), attrHi | hi32(pa))
    }
    this.store(ptep, DESC.TYPE_TABLE | lo32(fresh), hi32(fresh))
    return fresh
  }

  /** Whether any leaf is reachable from the table at `level`. */
  private hasLeafBelow(level: number, table: number): boolean {
    const g = this.geometry
    for (let i = 0; i < g.entriesPerTable; i++) {
      const at = this.slot(table + i * DESC_BYTES)
      const lo = this.word(at)
      const hi = this.word(at + 1)
      if (!present(level, lo)) continue
      if (isLeaf(level, lo) || this.hasLeafBelow(level + 1, descAddress(lo, hi, g.tableAddrLoMask))) return true
    }
    return false
  }

  /** Lists (pa, bytes) of the table at `level` and every table below it, into `out` or the journal's deferred frees. */
  private collectTables(level: number, table: number, entries: number, bytes: number, out: number[] | undefined): void {
    const g = this.geometry
    if (level < MAX_LEVEL) {
      for (let i = 0; i < entries; i++) {
        const at = this.slot(table + i * DESC_BYTES)
        const lo = this.word(at)
        const hi = this.word(at + 1)
        if (present(level, lo) && !isLeaf(level, lo)) {
          this.collectTables(level + 1, descAddress(lo, hi, g.tableAddrLoMask), g.entriesPerTable, g.granule, out)
        }
      }
    }
    if (out === undefined) this.journal.deferFree(table, bytes)
    else out.push(table, bytes)
  }

  // ---- plumbing ----------------------------------------------------------------------------

  /** The checks map() and mapRange() share: integers, alignment (EINVAL), range (ERANGE), prot (EINVAL). */
  private checkMap(iova: number, pa: number, length: number, align: number, prot: IommuProt): Result<void> | undefined {
    const g = this.geometry
    if (!isAddress(iova) || !isAddress(pa) || !isAddress(length) || length === 0) {
      return fail('EINVAL', `map(${iova}, ${pa}, ${length}): not non-negative integers`)
    }
    if (!aligned(iova, align) || !aligned(pa, align) || !aligned(length, align)) {
      return fail('EINVAL', `map(${iova}, ${pa}, ${length}) is not aligned to ${align}`)
    }
    if (iova + length > g.inputLimit) return fail('ERANGE', `iova ${iova} + ${length} is beyond the ${g.ias}-bit input range`)
    if (pa + length > g.outputLimit) return fail('ERANGE', `pa ${pa} + ${length} is beyond the ${g.oas}-bit output range`)
    if (!prot.read && !prot.write && this.noAccessMap === 'EINVAL') return fail('EINVAL', 'prot has neither READ nor WRITE')
    return undefined
  }

  /** Largest page size that fits `remaining` and to which both addresses are aligned. */
  private pickSize(iova: number, pa: number, remaining: number): number {
    const sizes = this.geometry.pgsizes
    for (let i = sizes.length - 1; i > 0; i--) {
      const s = sizes[i]
      if (s <= remaining && aligned(iova, s) && aligned(pa, s)) return s
    }
    return sizes[0]
  }

  /** Ends an operation: on error undo its writes and allocations, otherwise commit (deferred frees). */
  private finish<T>(r: T | KernelError): Result<T> {
    if (isKernelError(r)) {
      this.journal.rollback()
      return { ok: false, error: r }
    }
    this.journal.commit()
    return r === undefined ? (OK as Result<T>) : ok(r)
  }

  private newTable(): number | KernelError {
    const bytes = this.geometry.granule
    const r = this.alloc.alloc(bytes, bytes)
    if (!r.ok) return r.error
    this.journal.recordAlloc(r.value, bytes)
    return r.value
  }

  /**
   * Where, in memory's word arena, the descriptor at `pa` (an entry of one of our tables) is: the
   * index of its low half, the high half following it. The page is always backed (the allocator
   * pool is checked). Valid until the next write to memory, which may grow the arena.
   */
  private slot(pa: number): number {
    const page = this.mem.descriptorPage(hiWord(pa), pa >>> 0)
    if (page === NO_PAGE) throw new Error(`io-pgtable: table memory at ${pa} aborted`)
    return page + ((pa & PAGE_OFFSET_MASK) >>> 2)
  }

  /** The 32-bit word at index `at` of memory's word arena (a slot() or the one after it). */
  private word(at: number): number {
    return this.mem.words[at] as number
  }

  /** Writes a descriptor of one of our tables, logging the old value for rollback. */
  private store(pa: number, lo: number, hi: number): void {
    const at = this.slot(pa)
    this.journal.recordWrite(pa, this.word(at), this.word(at + 1))
    if (this.mem.write64Parts(pa, lo >>> 0, hi >>> 0) !== undefined) throw new Error(`io-pgtable: table memory at ${pa} aborted`)
  }

  private requireLive(): void {
    if (this.destroyed) throw new Error('io-pgtable used after destroy()')
  }
}

/** Whether an entry at `level` maps or points at something (at level 3 only a page counts). */
function present(level: number, lo: number): boolean {
  return level === MAX_LEVEL ? (lo & DESC.TYPE_MASK) === DESC.TYPE_PAGE : (lo & DESC.VALID) !== 0
}

/** For a present entry: block or page (not a table). */
function isLeaf(level: number, lo: number): boolean {
  return level === MAX_LEVEL || (lo & DESC.TYPE_MASK) === DESC.TYPE_BLOCK
}

function lo32(pa: number): number {
  return pa >>> 0
}

function hi32(pa: number): number {
  return Math.floor(pa / TWO_POW_32)
}

function exists(iova: number, size: number): KernelError {
  return { errno: 'EEXIST', message: `something is already mapped in the ${size}-byte slot at iova ${iova}` }
}

function unwrap<T>(r: Result<T>, g: Geometry): T {
  if (!r.ok) throw new Error(`io-pgtable produced registers its own context rejects (${formatGeometry(g)}): ${r.error.message}`)
  return r.value
}
