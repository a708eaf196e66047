/**
 * How the walkers fetch descriptors: a table address as two 32-bit halves (hi = bits [51:32],
 * lo = bits [31:0]), the FETCH kind and the table level in, the index in `words` where the 4 KiB
 * page holding it starts out (or NO_PAGE: the bus aborted), from which the walker reads the
 * descriptor's two words. PhysMemory serves this directly (descriptorPage over its word arena); any other
 * DescriptorReader (a test watching the addresses a walk touches) is served through its
 * readDescriptor(), one descriptor at a time, so it still sees every fetch.
 *
 * A walk only reads memory, so `words` stays the same array for the whole walk.
 */
import { NO_PAGE, type DescriptorReader, type FetchKind, type Word64 } from '../memory'

export const TWO_POW_32 = 2 ** 32
/** Byte offset within a 4 KiB memory page (descriptor pages are always 4 KiB, whatever the granule). */
export const PAGE_OFFSET_MASK = 0xfff

export interface TablePageReader {
  /** Index in `words` of the page holding hi * 2^32 + lo, or NO_PAGE; the fetch is of `kind` at `level`. */
  descriptorPage(hi: number, lo: number, kind: FetchKind, level: number): number
  /** The words descriptorPage indexes (the descriptor at lo is at page + ((lo & 0xfff) >>> 2)). */
  readonly words: Uint32Array
}

/** Serves a reader without descriptorPage: copies each descriptor into a scratch page. */
class CopyingPageReader implements TablePageReader {
  readonly words = new Uint32Array(1024)
  private readonly word: Word64 = { lo: 0, hi: 0 }

  constructor(private readonly reader: DescriptorReader) {}

  descriptorPage(hi: number, lo: number, kind: FetchKind, level: number): number {
    if (this.reader.readDescriptor(hi * TWO_POW_32 + (lo >>> 0), kind, level, this.word) !== undefined) return NO_PAGE
    const w = (lo & PAGE_OFFSET_MASK) >>> 2
    this.words[w] = this.word.lo
    this.words[w + 1] = this.word.hi
    return 0
  }
}

const adapters = new WeakMap<DescriptorReader, TablePageReader>()

/** The page reader behind `mem`: itself when it has descriptorPage and words, an adapter otherwise. */
export function pageReader(mem: DescriptorReader): TablePageReader {
  if (mem.descriptorPage !== undefined && mem.words !== undefined) return mem as TablePageReader
  let adapter = adapters.get(mem)
  if (adapter === undefined) {
    adapter = new CopyingPageReader(mem)
    adapters.set(mem, adapter)
  }
  return adapter
}

/** bits [63:32] of a non-negative address below 2^53. */
export function hiWord(addr: number): number {
  return Math.floor(addr / TWO_POW_32)
}
