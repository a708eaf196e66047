/**
 * How the walkers fetch a descriptor: through a DescriptorReader (model/memory; PhysMemory itself
 * or a reader that records the walk), given the descriptor's address as two 32-bit halves (hi =
 * bits [51:32], lo = bits [31:0]), the kind of walk and the table level. It answers with the index
 * in `words` where the 4 KiB page holding the descriptor starts (or NO_PAGE: the bus aborted), and
 * the walker reads the descriptor's two words there: words[page + ((lo & PAGE_OFFSET_MASK) >>> 2)]
 * and the one after it, little-endian.
 *
 * A walk only reads memory, so `words` stays the same array for the whole walk.
 */

export const TWO_POW_32 = 2 ** 32
/** Byte offset within a 4 KiB memory page (descriptor pages are always 4 KiB, whatever the granule). */
export const PAGE_OFFSET_MASK = 0xfff

/** bits [63:32] of a non-negative address below 2^53. */
export function hiWord(addr: number): number {
  return Math.floor(addr / TWO_POW_32)
}
