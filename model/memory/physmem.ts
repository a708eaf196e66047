/**
 * Simulated physical memory: sparse, 4 KiB backing pages allocated on first write, little-endian.
 *
 * - Addresses are JS numbers (safe integers; every PA here is below 2^52).
 * - Memory spans [0, 2^oas). Never-written memory in that span reads as zero.
 * - Holes are page-aligned ranges with nothing behind them (MMIO-like, unbacked): an access there,
 *   or at or beyond 2^oas, is an external abort returned as a value (see bus.ts).
 * - Multi-byte accesses are all-or-nothing: if any byte aborts, nothing is written.
 *
 * Backing store is one word arena, `words`: every backed page is a 1024-word frame of it, found
 * through a map from page number to frame (fronted by a direct-mapped cache); frame 0 is a shared
 * zero page that is never written. One flat array keeps a table walk's dependent loads few: page
 * number -> frame offset -> descriptor, with no per-page object in between.
 *
 * The walkers' read is `descriptorPage(hi, lo)`: the address comes as two 32-bit halves, the
 * direct-mapped cache is checked with one integer compare, and the caller reads the two words of
 * the descriptor from `words` at the frame offset it gets back. No allocation, no BigInt, no
 * division. `read64Parts` is the same load into a Word64.
 */
import { fail, ok, type Result } from '../errno'
import { busAbort, NO_PAGE, type BusAbort, type DescriptorReader, type PaRange, type Word64 } from './bus'

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

/** Smallest and largest physical address sizes accepted (bits): IPS/PS encodings 32 .. 52. */
export const MIN_OAS = 32
export const MAX_OAS = 52

/**
 * Direct-mapped cache in front of the page map: CACHE_SLOTS entries of two int32 words, [tag, frame].
 * Page number pn has the tag floor(pn / CACHE_SLOTS) (below 2^27 for every pn under 2^52 / 4 KiB, so
 * an int32) and the entry (pn XOR tag) % CACHE_SLOTS: folding the tag in keeps pages CACHE_SLOTS
 * pages apart (the first tables of two pools at 32 MiB-aligned bases, say) in different entries.
 * Tag and frame start at -1: a lookup that matches an empty entry (only a negative page number can)
 * gets NO_PAGE, which is the right answer for it.
 */
const CACHE_BITS = 13
const CACHE_SLOTS = 1 << CACHE_BITS
const CACHE_INDEX_MASK = CACHE_SLOTS - 1
/**
 * The tag of hi * 2^32 + lo is hi * 2^TAG_HI_SHIFT + (lo >>> TAG_SHIFT), computed as
 * (hi << TAG_HI_SHIFT) | (lo >>> TAG_SHIFT): integer operations, where a multiplication V8 cannot
 * bound is done in floating point. Exact for 0 <= hi < TAG_HI_LIMIT (every address below 2^52,
 * MAX_OAS); a larger hi would wrap onto another page's tag, so it skips the cache (and aborts).
 */
const TAG_SHIFT = PAGE_SHIFT + CACHE_BITS
const TAG_HI_SHIFT = 32 - TAG_SHIFT
const TAG_HI_LIMIT = 2 ** (MAX_OAS - 32)
/** Frame 0 of the arena: the shared all-zero page behind every backed, never-written page. */
const ZERO_FRAME = 0
/** Frames in a new memory's arena; it grows by half when full. */
const INITIAL_FRAMES = 16
/** Arena limit: frame offsets are int32 word indices, so at most 2^31 words (8 GiB) of backed pages. */
const MAX_ARENA_WORDS = 2 ** 31

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
  /**
   * The word arena holding every backed page (see the file comment). Callers index it only with an
   * offset descriptorPage() just returned, and only until the next write to this memory: a write may
   * grow the arena, replacing this array.
   */
  words = new Uint32Array(INITIAL_FRAMES * WORDS_PER_PAGE)
  private readonly pageLimit: number
  /** Page number -> word offset of its frame in `words`, for pages with their own backing store. */
  private readonly frames = new Map<number, number>()
  /** Frames given back (already zeroed), reused before the arena grows. */
  private readonly freeFrames: number[] = []
  /** Word offset of the first never-used frame. */
  private nextFrame = WORDS_PER_PAGE
  private readonly cache = new Int32Array(CACHE_SLOTS * 2).fill(-1)

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
    return this.frames.size
  }

  // ---- 64-bit -------------------------------------------------------------------------------

  /** Little-endian 64-bit load as two halves (no allocation when aligned). */
  read64Parts(pa: number, out: Word64): BusAbort | undefined {
    if ((pa & DWORD_ALIGN_MASK) !== 0) return this.readPartsUnaligned(pa, out)
    const frame = this.frameForRead(Math.floor(pa / PAGE_SIZE))
    if (frame === NO_PAGE) return busAbort(pa)
    const w = frame + ((pa & PAGE_OFFSET_MASK) >>> 2)
    out.lo = this.words[w]
    out.hi = this.words[w + 1]
    return undefined
  }

  /**
   * Where the page holding physical address hi * 2^32 + lo (`lo` taken modulo 2^32) lives: the
   * index in `words` of its first word, or NO_PAGE when nothing answers there (outside memory or in a
   * hole). The word at byte offset `lo & 0xfff` is `words[frame + ((lo & 0xfff) >>> 2)]`, little
   * endian. The frame may be the shared zero page: callers only read it, and only until their next
   * write to this memory.
   */
  descriptorPage(hi: number, lo: number): number {
    // `hi` is an integer (every caller derives it with Math.floor or a mask); below TAG_HI_LIMIT its
    // tag names exactly one page.
    const tag = (hi << TAG_HI_SHIFT) | (lo >>> TAG_SHIFT)
    const at = (((lo >>> PAGE_SHIFT) ^ tag) & CACHE_INDEX_MASK) << 1
    if (hi >= 0 && hi < TAG_HI_LIMIT && this.cache[at] === tag) return this.cache[at + 1]
    if (!Number.isInteger(hi) || hi < 0) return NO_PAGE
    return this.frameForRead(hi * PAGES_PER_HI + (lo >>> PAGE_SHIFT))
  }

  /** Little-endian 64-bit store of two unsigned 32-bit halves. */
  write64Parts(pa: number, lo: number, hi: number): BusAbort | undefined {
    if ((pa & DWORD_ALIGN_MASK) !== 0) return this.write(pa, bytesOf64(lo, hi))
    const frame = this.frameForWrite(Math.floor(pa / PAGE_SIZE))
    if (frame === NO_PAGE) return busAbort(pa)
    const w = frame + ((pa & PAGE_OFFSET_MASK) >>> 2)
    this.words[w] = lo
    this.words[w + 1] = hi
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
    const frame = this.frameForRead(Math.floor(pa / PAGE_SIZE))
    if (frame === NO_PAGE) return busAbort(pa)
    return this.words[frame + ((pa & PAGE_OFFSET_MASK) >>> 2)]
  }

  /** Little-endian 32-bit store (value taken modulo 2^32). */
  write32(pa: number, value: number): BusAbort | undefined {
    if ((pa & WORD_ALIGN_MASK) !== 0) return this.write(pa, bytesOf32(value >>> 0))
    const frame = this.frameForWrite(Math.floor(pa / PAGE_SIZE))
    if (frame === NO_PAGE) return busAbort(pa)
    this.words[frame + ((pa & PAGE_OFFSET_MASK) >>> 2)] = value >>> 0
    return undefined
  }

  // ---- byte ranges (device DMA) -------------------------------------------------------------

  /** Reads `length` bytes; aborts at the first byte with nothing behind it. */
  read(pa: number, length: number): Uint8Array | BusAbort {
    const abort = this.checkRange(pa, length)
    if (abort !== undefined) return abort
    const out = new Uint8Array(length)
    this.forEachChunk(pa, length, (pn, offset, done, n) => {
      const frame = this.frames.get(pn)
      if (frame !== undefined) out.set(this.bytesOf(frame).subarray(offset, offset + n), done)
    })
    return out
  }

  /** Writes `bytes` at `pa`; all-or-nothing. */
  write(pa: number, bytes: Uint8Array): BusAbort | undefined {
    const abort = this.checkRange(pa, bytes.length)
    if (abort !== undefined) return abort
    this.forEachChunk(pa, bytes.length, (pn, offset, done, n) => {
      this.bytesOf(this.frameForWrite(pn)).set(bytes.subarray(done, done + n), offset)
    })
    return undefined
  }

  /** Zeroes a range; whole pages give their backing store back. All-or-nothing. */
  zero(pa: number, length: number): BusAbort | undefined {
    const abort = this.checkRange(pa, length)
    if (abort !== undefined) return abort
    if (length / PAGE_SIZE > 2 * this.frames.size) {
      // Mostly unbacked (a fresh gigabyte handed out): visit the backed pages, not every page.
      const end = pa + length
      for (const pn of [...this.frames.keys()]) {
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
    for (const [pn, frame] of this.frames) {
      if (this.words.subarray(frame, frame + WORDS_PER_PAGE).some((w) => w !== 0)) out.set(pn * PAGE_SIZE, this.bytesOf(frame).slice())
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

  /** The frame of page `pn` for reading (ZERO_FRAME if never written), or NO_PAGE if unbacked. */
  private frameForRead(pn: number): number {
    const tag = Math.floor(pn / CACHE_SLOTS)
    const at = ((pn ^ tag) & CACHE_INDEX_MASK) << 1
    if (this.cache[at] === tag) return this.cache[at + 1]
    const frame = this.frames.get(pn) ?? (this.pageBacked(pn) ? ZERO_FRAME : NO_PAGE)
    if (frame !== NO_PAGE) {
      this.cache[at] = tag
      this.cache[at + 1] = frame
    }
    return frame
  }

  /** The frame of page `pn` for writing (given its own on first write), or NO_PAGE if unbacked. */
  private frameForWrite(pn: number): number {
    const tag = Math.floor(pn / CACHE_SLOTS)
    const at = ((pn ^ tag) & CACHE_INDEX_MASK) << 1
    if (this.cache[at] === tag && this.cache[at + 1] !== ZERO_FRAME) return this.cache[at + 1]
    const frame = this.frames.get(pn)
    if (frame !== undefined) return frame
    if (!this.pageBacked(pn)) return NO_PAGE
    const fresh = this.newFrame()
    this.frames.set(pn, fresh)
    this.repoint(pn, fresh)
    return fresh
  }

  /** A zeroed frame: a given-back one, else the next never-used one (growing the arena if full). */
  private newFrame(): number {
    const reused = this.freeFrames.pop()
    if (reused !== undefined) return reused
    if (this.nextFrame + WORDS_PER_PAGE > this.words.length) {
      // Grow by half (whole frames): amortised O(1) per page, at most a third of the arena unused.
      const frames = this.words.length / WORDS_PER_PAGE
      const size = Math.min(MAX_ARENA_WORDS, (frames + Math.ceil(frames / 2)) * WORDS_PER_PAGE)
      if (size <= this.words.length) throw new Error(`simulated memory: more than ${MAX_ARENA_WORDS / WORDS_PER_PAGE} pages written`)
      const grown = new Uint32Array(size)
      grown.set(this.words)
      this.words = grown
    }
    const frame = this.nextFrame
    this.nextFrame += WORDS_PER_PAGE
    return frame
  }

  /** A frame's bytes (a view of the arena: valid until the next write to this memory). */
  private bytesOf(frame: number): Uint8Array {
    return new Uint8Array(this.words.buffer, frame * BYTES_PER_WORD, PAGE_SIZE)
  }

  /** Zeroes `n` bytes at `offset` of page `pn`; a whole page gives its backing store back. */
  private zeroInPage(pn: number, offset: number, n: number): void {
    const frame = this.frames.get(pn)
    if (frame === undefined) return
    if (n === PAGE_SIZE) this.dropPage(pn, frame)
    else this.bytesOf(frame).fill(0, offset, offset + n)
  }

  private dropPage(pn: number, frame: number): void {
    this.frames.delete(pn)
    this.words.fill(0, frame, frame + WORDS_PER_PAGE)
    this.freeFrames.push(frame)
    this.repoint(pn, ZERO_FRAME)
  }

  /** Page `pn` changed frame: the cache entry holding it now points at `frame`. */
  private repoint(pn: number, frame: number): void {
    const tag = Math.floor(pn / CACHE_SLOTS)
    const at = ((pn ^ tag) & CACHE_INDEX_MASK) << 1
    if (this.cache[at] === tag) this.cache[at + 1] = frame
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
