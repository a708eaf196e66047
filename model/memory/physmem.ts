/**
 * Simulated physical memory: sparse, 4 KiB backing pages allocated on first write, little-endian.
 *
 * - Addresses are JS numbers (safe integers; every PA here is below 2^52).
 * - Memory spans [0, 2^oas). Never-written memory in that span reads as zero.
 * - Holes are page-aligned ranges with nothing behind them (MMIO-like, unbacked): an access there,
 *   or at or beyond 2^oas, is an external abort returned as a value (see bus.ts).
 * - Multi-byte accesses are all-or-nothing: if any byte aborts, nothing is written.
 *
 * The walkers' hot path is `descriptorPage(hi, lo, slot)`: the address comes as two 32-bit halves,
 * a per-level cache line (`slot`) is checked with two integer compares, and the caller reads the two
 * words of the descriptor from the page it gets back. No allocation, no BigInt, no division.
 * `read64Parts` / `readDescriptor` are the same loads into a Word64 (one lookup in a small
 * direct-mapped cache of page arrays, then two 32-bit reads).
 */
import { fail, ok, type Result } from '../errno'
import { busAbort, type BusAbort, type DescriptorReader, type PaRange, type Word64 } from './bus'

export const PAGE_SHIFT = 12
export const PAGE_SIZE = 1 << PAGE_SHIFT
const PAGE_OFFSET_MASK = PAGE_SIZE - 1
const BYTES_PER_WORD = 4
const WORDS_PER_PAGE = PAGE_SIZE / BYTES_PER_WORD
const WORD_ALIGN_MASK = BYTES_PER_WORD - 1
const DWORD_ALIGN_MASK = 7
const U32_MASK = 0xffff_ffffn
const TWO_POW_32 = 2 ** 32
/** Pages per 2^32 bytes: a page number is hi * PAGES_PER_HI + (lo >>> PAGE_SHIFT). */
const PAGES_PER_HI = TWO_POW_32 / PAGE_SIZE
/** The page-frame bits of a low word, as an int32 mask. */
const PAGE_FRAME_MASK = ~PAGE_OFFSET_MASK

/** Smallest and largest physical address sizes accepted (bits): IPS/PS encodings 32 .. 52. */
export const MIN_OAS = 32
export const MAX_OAS = 52

/** Direct-mapped cache of page arrays in front of the page map (power of two). */
const CACHE_SLOTS = 8192
const CACHE_INDEX_MASK = CACHE_SLOTS - 1

/**
 * Number of cache lines readDescriptor() / descriptorPage() offer: one per level for stage-1 walks,
 * stage-2 walks, the stage-2 walks that translate stage-1 table addresses when nested, and the
 * table builder (io-pgtable).
 */
export const WALK_SLOTS = 16

/** Shared backing for never-written pages: read-only by construction (writes allocate). */
const ZERO_PAGE = new Uint32Array(WORDS_PER_PAGE)

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('model/memory stores little-endian words in Uint32Array and needs a little-endian host')
}

export interface MemoryConfig {
  /** Physical address size in bits: memory spans [0, 2^oas). */
  readonly oas: number
  /** Page-aligned ranges with nothing behind them; accesses there abort. */
  readonly holes?: readonly PaRange[]
}

/** Validates the configuration; EINVAL for a bad OAS or a hole that is unaligned or out of range. */
export function createMemory(cfg: MemoryConfig): Result<PhysMemory> {
  if (!Number.isInteger(cfg.oas) || cfg.oas < MIN_OAS || cfg.oas > MAX_OAS) {
    return fail('EINVAL', `oas ${cfg.oas} is not an integer in [${MIN_OAS}, ${MAX_OAS}]`)
  }
  const limit = 2 ** cfg.oas
  const holes: PaRange[] = []
  for (const h of cfg.holes ?? []) {
    const aligned = Number.isInteger(h.base) && Number.isInteger(h.size) && h.base % PAGE_SIZE === 0 && h.size % PAGE_SIZE === 0
    if (!aligned || h.size <= 0 || h.base < 0 || h.base + h.size > limit) {
      return fail('EINVAL', `hole [${h.base}, +${h.size}) is not page-aligned inside [0, 2^${cfg.oas})`)
    }
    holes.push({ base: h.base, size: h.size })
  }
  holes.sort((a, b) => a.base - b.base)
  return ok(new PhysMemory(cfg.oas, holes))
}

export class PhysMemory implements DescriptorReader {
  /** 2^oas: the first address that aborts for being out of range. */
  readonly limit: number
  private readonly pageLimit: number
  private readonly pages = new Map<number, Uint32Array>()
  private readonly cacheTag = new Float64Array(CACHE_SLOTS).fill(Number.NaN)
  private readonly cachePage: Uint32Array[] = new Array<Uint32Array>(CACHE_SLOTS).fill(ZERO_PAGE)
  /** Walker cache lines: the page at (slotHi, slotLo) is slotPage; slotHi -1 matches nothing. */
  private readonly slotHi = new Int32Array(WALK_SLOTS).fill(-1)
  private readonly slotLo = new Int32Array(WALK_SLOTS)
  private readonly slotPage: Uint32Array[] = new Array<Uint32Array>(WALK_SLOTS).fill(ZERO_PAGE)

  /** Use createMemory(), which validates the configuration. */
  constructor(
    readonly oas: number,
    private readonly holes: readonly PaRange[],
  ) {
    this.limit = 2 ** oas
    this.pageLimit = this.limit / PAGE_SIZE
  }

  /** Whether a byte at `pa` is backed: inside [0, 2^oas) and not in a hole. */
  isBacked(pa: number): boolean {
    return this.pageBacked(Math.floor(pa / PAGE_SIZE))
  }

  /**
   * Whether an access to [pa, pa + length) would abort, without performing it: the abort (at its
   * first byte with nothing behind it), or undefined when every byte is backed. O(holes), whatever
   * the length.
   */
  checkAccess(pa: number, length: number): BusAbort | undefined {
    return this.checkRange(pa, length)
  }

  /** Number of 4 KiB pages that currently have their own backing store. */
  get backedPages(): number {
    return this.pages.size
  }

  // ---- 64-bit -------------------------------------------------------------------------------

  /** Little-endian 64-bit load as two halves (no allocation when aligned). */
  read64Parts(pa: number, out: Word64): BusAbort | undefined {
    if ((pa & DWORD_ALIGN_MASK) !== 0) return this.readPartsUnaligned(pa, out)
    const page = this.pageForRead(Math.floor(pa / PAGE_SIZE))
    if (page === undefined) return busAbort(pa)
    const w = (pa & PAGE_OFFSET_MASK) >>> 2
    out.lo = page[w]
    out.hi = page[w + 1]
    return undefined
  }

  /**
   * The walkers' descriptor load: like read64Parts, but `slot` (0 .. WALK_SLOTS - 1) names a
   * one-page cache line the caller keeps reusing (one per table level), so a warm walk finds its
   * table page with two compares.
   */
  readDescriptor(pa: number, slot: number, out: Word64): BusAbort | undefined {
    const hi = Math.floor(pa / TWO_POW_32)
    const lo = pa - hi * TWO_POW_32
    const page = this.descriptorPage(hi, lo, slot)
    if (page === undefined) return busAbort(pa)
    if ((lo & DWORD_ALIGN_MASK) !== 0) return this.readPartsUnaligned(pa, out)
    const w = (lo & PAGE_OFFSET_MASK) >>> 2
    out.lo = page[w]
    out.hi = page[w + 1]
    return undefined
  }

  /**
   * The page holding physical address hi * 2^32 + lo (`lo` taken modulo 2^32), as 1024
   * little-endian 32-bit words, or undefined when nothing answers there (outside memory or in a
   * hole). The word at byte offset `lo & 0xfff` is at index `(lo & 0xfff) >>> 2`. `slot` is a cache
   * line as for readDescriptor(). The array is the page's backing store (or a shared zero page):
   * callers only read it, and only until their next call into this memory.
   */
  descriptorPage(hi: number, lo: number, slot: number): Uint32Array | undefined {
    if (this.slotHi[slot] === hi && this.slotLo[slot] === (lo & PAGE_FRAME_MASK)) return this.slotPage[slot]
    return this.fillSlot(hi, lo, slot)
  }

  /** Little-endian 64-bit store of two unsigned 32-bit halves. */
  write64Parts(pa: number, lo: number, hi: number): BusAbort | undefined {
    if ((pa & DWORD_ALIGN_MASK) !== 0) return this.write(pa, bytesOf64(lo, hi))
    const page = this.pageForWrite(Math.floor(pa / PAGE_SIZE))
    if (page === undefined) return busAbort(pa)
    const w = (pa & PAGE_OFFSET_MASK) >>> 2
    page[w] = lo
    page[w + 1] = hi
    return undefined
  }

  /** Convenience 64-bit load as a bigint (tests, debugging, APIs; not the walk path). */
  read64(pa: number): bigint | BusAbort {
    const out: Word64 = { lo: 0, hi: 0 }
    const abort = this.read64Parts(pa, out)
    if (abort !== undefined) return abort
    return (BigInt(out.hi) << 32n) | BigInt(out.lo)
  }

  /** Convenience 64-bit store of a bigint (bits above 63 are ignored). */
  write64(pa: number, value: bigint): BusAbort | undefined {
    return this.write64Parts(pa, Number(value & U32_MASK), Number((value >> 32n) & U32_MASK))
  }

  // ---- 32-bit -------------------------------------------------------------------------------

  /** Little-endian 32-bit load: an unsigned number, or an abort. */
  read32(pa: number): number | BusAbort {
    if ((pa & WORD_ALIGN_MASK) !== 0) {
      const bytes = this.read(pa, BYTES_PER_WORD)
      if (bytes instanceof Uint8Array) return (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0
      return bytes
    }
    const page = this.pageForRead(Math.floor(pa / PAGE_SIZE))
    if (page === undefined) return busAbort(pa)
    return page[(pa & PAGE_OFFSET_MASK) >>> 2]
  }

  /** Little-endian 32-bit store (value taken modulo 2^32). */
  write32(pa: number, value: number): BusAbort | undefined {
    if ((pa & WORD_ALIGN_MASK) !== 0) return this.write(pa, bytesOf32(value >>> 0))
    const page = this.pageForWrite(Math.floor(pa / PAGE_SIZE))
    if (page === undefined) return busAbort(pa)
    page[(pa & PAGE_OFFSET_MASK) >>> 2] = value >>> 0
    return undefined
  }

  // ---- byte ranges (device DMA) -------------------------------------------------------------

  /** Reads `length` bytes; aborts at the first byte with nothing behind it. */
  read(pa: number, length: number): Uint8Array | BusAbort {
    const abort = this.checkRange(pa, length)
    if (abort !== undefined) return abort
    const out = new Uint8Array(length)
    this.forEachChunk(pa, length, (pn, offset, done, n) => {
      const page = this.pages.get(pn)
      if (page !== undefined) out.set(bytesView(page).subarray(offset, offset + n), done)
    })
    return out
  }

  /** Writes `bytes` at `pa`; all-or-nothing. */
  write(pa: number, bytes: Uint8Array): BusAbort | undefined {
    const abort = this.checkRange(pa, bytes.length)
    if (abort !== undefined) return abort
    this.forEachChunk(pa, bytes.length, (pn, offset, done, n) => {
      bytesView(this.pageForWrite(pn) as Uint32Array).set(bytes.subarray(done, done + n), offset)
    })
    return undefined
  }

  /** Zeroes a range; whole pages give their backing store back. All-or-nothing. */
  zero(pa: number, length: number): BusAbort | undefined {
    const abort = this.checkRange(pa, length)
    if (abort !== undefined) return abort
    if (length / PAGE_SIZE > 2 * this.pages.size) {
      // Mostly unbacked (a fresh gigabyte handed out): visit the backed pages, not every page.
      const end = pa + length
      for (const pn of [...this.pages.keys()]) {
        const start = Math.max(pa, pn * PAGE_SIZE)
        const stop = Math.min(end, (pn + 1) * PAGE_SIZE)
        if (start < stop) this.zeroInPage(pn, start - pn * PAGE_SIZE, stop - start)
      }
      return undefined
    }
    this.forEachChunk(pa, length, (pn, offset, _done, n) => this.zeroInPage(pn, offset, n))
    return undefined
  }

  /**
   * Copies of every page holding a non-zero byte, keyed by the page's PA. Two snapshots are equal
   * (deepStrictEqual) exactly when memory contents are equal, however the backing was allocated.
   */
  snapshot(): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>()
    for (const [pn, page] of this.pages) {
      if (page.some((w) => w !== 0)) out.set(pn * PAGE_SIZE, bytesView(page).slice())
    }
    return out
  }

  // ---- internals ----------------------------------------------------------------------------

  private pageBacked(pn: number): boolean {
    if (!(pn >= 0 && pn < this.pageLimit)) return false
    const pa = pn * PAGE_SIZE
    for (const h of this.holes) {
      if (pa < h.base) return true
      if (pa < h.base + h.size) return false
    }
    return true
  }

  private pageForRead(pn: number): Uint32Array | undefined {
    const slot = pn & CACHE_INDEX_MASK
    if (this.cacheTag[slot] === pn) return this.cachePage[slot]
    const page = this.pages.get(pn) ?? (this.pageBacked(pn) ? ZERO_PAGE : undefined)
    if (page !== undefined) {
      this.cacheTag[slot] = pn
      this.cachePage[slot] = page
    }
    return page
  }

  private pageForWrite(pn: number): Uint32Array | undefined {
    const slot = pn & CACHE_INDEX_MASK
    if (this.cacheTag[slot] === pn && this.cachePage[slot] !== ZERO_PAGE) return this.cachePage[slot]
    const page = this.pages.get(pn)
    if (page !== undefined) return page
    if (!this.pageBacked(pn)) return undefined
    const fresh = new Uint32Array(WORDS_PER_PAGE)
    this.pages.set(pn, fresh)
    this.repoint(pn, fresh)
    return fresh
  }

  /** Zeroes `n` bytes at `offset` of page `pn`; a whole page gives its backing store back. */
  private zeroInPage(pn: number, offset: number, n: number): void {
    const page = this.pages.get(pn)
    if (page === undefined) return
    if (n === PAGE_SIZE) this.dropPage(pn)
    else bytesView(page).fill(0, offset, offset + n)
  }

  private dropPage(pn: number): void {
    this.pages.delete(pn)
    this.repoint(pn, ZERO_PAGE)
  }

  /** A walker cache-line miss: look the page up and remember it in `slot`. */
  private fillSlot(hi: number, lo: number, slot: number): Uint32Array | undefined {
    if (!Number.isInteger(hi) || hi < 0) return undefined
    const page = this.pageForRead(hi * PAGES_PER_HI + ((lo & PAGE_FRAME_MASK) >>> PAGE_SHIFT))
    if (page === undefined || !(slot >= 0 && slot < WALK_SLOTS)) return page
    this.slotHi[slot] = hi
    this.slotLo[slot] = lo & PAGE_FRAME_MASK
    this.slotPage[slot] = page
    return page
  }

  /** Page `pn` changed backing: every cache line holding it now points at `page`. */
  private repoint(pn: number, page: Uint32Array): void {
    const slot = pn & CACHE_INDEX_MASK
    if (this.cacheTag[slot] === pn) this.cachePage[slot] = page
    const hi = Math.floor(pn / PAGES_PER_HI)
    const lo = ((pn - hi * PAGES_PER_HI) * PAGE_SIZE) | 0
    for (let i = 0; i < WALK_SLOTS; i++) if (this.slotHi[i] === hi && this.slotLo[i] === lo) this.slotPage[i] = page
  }

  /** The first aborting byte of [pa, pa + length), if any. */
  private checkRange(pa: number, length: number): BusAbort | undefined {
    if (!Number.isSafeInteger(pa) || !Number.isSafeInteger(length) || length < 0) return busAbort(pa)
    if (length === 0) return undefined
    const first = this.firstUnbacked(pa, pa + length)
    return first === undefined ? undefined : busAbort(first)
  }

  /**
   * The first address of [from, to) with nothing behind it, or undefined. Holes and the OAS limit
   * are page-aligned, so this is what checking page by page gives, in O(number of holes).
   */
  private firstUnbacked(from: number, to: number): number | undefined {
    if (from < 0 || from >= this.limit) return from
    for (const h of this.holes) {
      if (h.base >= to) break
      if (h.base + h.size > from) return Math.max(from, h.base)
    }
    return to > this.limit ? this.limit : undefined
  }

  /** Calls `fn(pageNumber, offsetInPage, bytesDoneSoFar, chunkLength)` page by page. */
  private forEachChunk(pa: number, length: number, fn: (pn: number, offset: number, done: number, n: number) => void): void {
    let done = 0
    while (done < length) {
      const at = pa + done
      const offset = at % PAGE_SIZE
      const n = Math.min(PAGE_SIZE - offset, length - done)
      fn(Math.floor(at / PAGE_SIZE), offset, done, n)
      done += n
    }
  }

  private readPartsUnaligned(pa: number, out: Word64): BusAbort | undefined {
    const bytes = this.read(pa, 8)
    if (!(bytes instanceof Uint8Array)) return bytes
    const view = new DataView(bytes.buffer)
    out.lo = view.getUint32(0, true)
    out.hi = view.getUint32(4, true)
    return undefined
  }
}

function bytesView(page: Uint32Array): Uint8Array {
  return new Uint8Array(page.buffer, page.byteOffset, PAGE_SIZE)
}

function bytesOf32(value: number): Uint8Array {
  const b = new Uint8Array(BYTES_PER_WORD)
  new DataView(b.buffer).setUint32(0, value, true)
  return b
}

function bytesOf64(lo: number, hi: number): Uint8Array {
  const b = new Uint8Array(8)
  const view = new DataView(b.buffer)
  view.setUint32(0, lo >>> 0, true)
  view.setUint32(4, hi >>> 0, true)
  return b
}
