/**
 * What a bus access can return besides data: an external abort.
 *
 * An access to an address at or beyond 2^OAS, or to a range declared absent (a hole), gets no
 * data. That is an architectural event (SMMUv3 F_WALK_EABT when it hits a descriptor fetch,
 * an abort on the device's DMA otherwise), so it is a returned value, never an exception.
 */

/** The bus said no: nothing answers at `addr` (the first byte of the access that failed). */
export interface BusAbort {
  readonly kind: 'externalAbort'
  readonly addr: number
}

export function busAbort(addr: number): BusAbort {
  return { kind: 'externalAbort', addr }
}

export function isBusAbort(x: unknown): x is BusAbort {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'externalAbort'
}

/**
 * Which walk fetches a descriptor: stage 1, stage 2 (the walk of an input IPA, or of a nested
 * walk's final IPA), or stage 2 translating the IPA of a stage-1 descriptor in a nested walk. The
 * walkers name each fetch so; memory does not look at it, a reader that records a walk
 * (model/smmu/explain.ts) labels each fetch with it.
 */
export const FETCH = { S1: 0, S2: 1, S2_FOR_S1_TABLE: 2 } as const

export type FetchKind = (typeof FETCH)[keyof typeof FETCH]

/** What descriptorPage() returns instead of a frame offset when the bus says no. */
export const NO_PAGE = -1

/** A 64-bit value as two unsigned 32-bit halves; `lo` holds bits [31:0], `hi` bits [63:32]. */
export interface Word64 {
  lo: number
  hi: number
}

/** A half-open physical address range [base, base + size). */
export interface PaRange {
  readonly base: number
  readonly size: number
}

/**
 * What the page-table walkers read descriptors through: PhysMemory itself, or a reader in front
 * of it that watches the fetches (a walk trace, a test). A walker reads a descriptor in place: it
 * asks where the 4 KiB page holding the descriptor is in `words` and reads its two halves there.
 */
export interface DescriptorReader {
  /**
   * Index in `words` of the 4 KiB page holding PA hi * 2^32 + lo (hi = bits [63:32], lo = bits
   * [31:0]), or NO_PAGE when the bus says no. `kind` and `level` say which walk fetches a
   * descriptor there, at which table level, for a reader that records it; memory ignores them.
   */
  descriptorPage(hi: number, lo: number, kind: FetchKind, level: number): number
  /** The little-endian words descriptorPage() indexes (valid until the next write to memory). */
  readonly words: Uint32Array
}
