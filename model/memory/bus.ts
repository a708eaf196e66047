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
 * What a descriptor fetch is for. Every fetch a walker or the table builder makes names its kind
 * and table level: memory keeps one cache line per (kind, level), so a warm walk finds each table
 * page with two compares, and a walk trace labels each fetch by its kind (model/smmu/explain.ts).
 */
export const FETCH = {
  /** A stage-1 descriptor. */
  S1: 0,
  /** A stage-2 descriptor: the walk of an input IPA, or of a nested walk's final IPA. */
  S2: 1,
  /** A stage-2 descriptor fetched while translating the IPA of a stage-1 descriptor (nested). */
  S2_FOR_S1_TABLE: 2,
  /** io-pgtable reading the tables it builds (map, unmap, iova_to_phys). */
  TABLE_BUILDER: 3,
} as const

export type FetchKind = (typeof FETCH)[keyof typeof FETCH]

/** Fetch kinds (FETCH's values are 0 .. FETCH_KINDS - 1). */
export const FETCH_KINDS = 4
/** Table levels a fetch can be at (0 .. FETCH_LEVELS - 1). */
export const FETCH_LEVELS = 4

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
 * The read side the page-table walkers need. `PhysMemory` implements it; a test may wrap it to
 * watch which addresses a walk touches.
 */
export interface DescriptorReader {
  /** Little-endian 64-bit load into `out`; returns an abort instead when the bus says no. */
  read64Parts(pa: number, out: Word64): BusAbort | undefined
  /** The same load, as the descriptor a walk of `kind` fetches at table level `level` (0..3). */
  readDescriptor(pa: number, kind: FetchKind, level: number, out: Word64): BusAbort | undefined
  /**
   * Optional fast path (PhysMemory has it, with `words`): where the 4 KiB page holding PA
   * hi * 2^32 + lo starts in `words` (1024 little-endian 32-bit words, read-only), or NO_PAGE when
   * the bus says no. A reader without it is served through readDescriptor(), one descriptor at a time.
   */
  descriptorPage?(hi: number, lo: number, kind: FetchKind, level: number): number
  /** The word array descriptorPage() indexes (valid until the next write to this memory). */
  readonly words?: Uint32Array
}
