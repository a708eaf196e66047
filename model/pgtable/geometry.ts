/**
 * Table geometry: derived once from (granule, input size, output size, start level) and then only
 * read. Three ways in:
 * - ioPgtableGeometry(): how Linux io-pgtable-arm sizes a new table (kernel rules, below);
 * - geometryFromS1Regs() / geometryFromS2Regs() (context.ts): how hardware reads T0SZ / SL0.
 *
 * Level arithmetic (Arm ARM D8.2): with stride = pgShift - 3 bits per level,
 *   shift(level) = (4 - level) * stride + 3      4K: 39/30/21/12, 16K: 47/36/25/14, 64K: 55/42/29/16
 * and the start-level table indexes the remaining IS - shift(start) bits (more than `stride` only for
 * a concatenated stage-2 table).
 */
import { fail, ok, type Result } from '../errno'
import { DESC_BYTES, OA } from './descriptor'

export type Granule = 4096 | 16384 | 65536
export const GRANULES: readonly Granule[] = [4096, 16384, 65536]

export const MAX_LEVEL = 3
const LEVELS = 4

/** Arm ARM: at most 16 concatenated start-level tables at stage 2. */
export const MAX_S2_CONCAT = 16
const MAX_S2_CONCAT_BITS = 4

/** Input sizes accepted: T0SZ 16..39 (no FEAT_LVA / TTST). */
export const MIN_IAS = 25
export const MAX_IAS = 48

/** Output sizes accepted: the TCR.IPS / VTCR.PS encodings up to 48 bits (52-bit PA not modelled). */
export const OAS_VALUES: readonly number[] = [32, 36, 40, 42, 44, 48]

/**
 * Levels at which a block descriptor is valid (Arm ARM, without FEAT_LPA/LPA2): 4K L1 (1G) and L2
 * (2M); 16K L2 (32M); 64K L2 (512M). A block anywhere else is a Translation fault. These are also
 * Linux's pgsize_bitmap for oas <= 48: {4K,2M,1G}, {16K,32M}, {64K,512M}.
 */
const BLOCK_LEVELS: Readonly<Record<Granule, readonly number[]>> = {
  4096: [1, 2],
  16384: [2],
  65536: [2],
}

export interface Geometry {
  readonly stage: 1 | 2
  readonly granule: Granule
  /** log2(granule). */
  readonly pgShift: number
  /** Index bits per full table: pgShift - 3. */
  readonly bitsPerLevel: number
  /** Input address size in bits (64 - T0SZ). */
  readonly ias: number
  /** Output address size in bits (IPS / PS). */
  readonly oas: number
  readonly startLevel: number
  /** Entries in the start-level table, all concatenated tables included. */
  readonly startEntries: number
  /** Number of granule-sized tables concatenated at the start level (1 unless stage 2 concatenates). */
  readonly concatenatedTables: number
  /** Bytes of the start-level table: startEntries * 8. */
  readonly pgdBytes: number
  /** Leaf sizes a map can use, ascending (block sizes reachable from the start level, and the page). */
  readonly pgsizes: readonly number[]
  /** Entries in a non-start table: 2^bitsPerLevel. */
  readonly entriesPerTable: number

  // Derived tables, indexed by level 0..3, that the walkers read.
  /** Input address bit shift of each level. */
  readonly levelShift: readonly number[]
  /** Bytes one entry of each level covers: 2^levelShift. */
  readonly blockSize: readonly number[]
  /**
   * 2^-levelShift: `(addr * levelScale[l]) & mask` is the level-l index. JavaScript shifts only
   * 32-bit integers and an address has up to 48 bits; multiplying by an exact power of two is
   * exact, as the division would be.
   */
  readonly levelScale: readonly number[]
  /** Whether a leaf (block at L1/L2, page at L3) is architecturally valid at each level. */
  readonly leafAllowed: readonly boolean[]
  /**
   * Bytes a leaf at each level maps: blockSize where leafAllowed, 0 elsewhere (the largest leaf is
   * 4K's 1 GiB block: every one is below 2^31).
   */
  readonly leafSize: readonly number[]
  /**
   * LO-half mask of a leaf's output address at each level (bits [31:levelShift], within [31:12]),
   * an int32 like the descriptor words it masks (0xfffff000 is -4096).
   */
  readonly leafAddrLoMask: readonly number[]
  /** Mask of the in-block offset at each level (blockSize - 1), usable with `&` (all leaves < 2^31). */
  readonly offsetMask: readonly number[]
  /** LO-half mask of a next-level table address (bits [31:pgShift]), an int32 like leafAddrLoMask. */
  readonly tableAddrLoMask: number
  /** Index mask at the start level / at every other level. */
  readonly startIndexMask: number
  readonly indexMask: number
  /** 2^ias and 2^oas. */
  readonly inputLimit: number
  readonly outputLimit: number
  /** 2^(oas - 32): an address whose upper word (bits [63:32]) reaches this is >= 2^oas. */
  readonly outputLimitHi: number
}

export function granuleShift(granule: Granule): number {
  return Math.log2(granule)
}

export function isGranule(x: number): x is Granule {
  return (GRANULES as readonly number[]).includes(x)
}

/** shift(level) = (4 - level) * (pgShift - 3) + 3. */
export function levelShiftOf(pgShift: number, level: number): number {
  return (LEVELS - level) * (pgShift - 3) + 3
}

/** Validates granule, ias, oas; EINVAL with a reason otherwise. */
export function checkSizes(granule: number, ias: number, oas: number): Result<void> {
  if (!isGranule(granule)) return fail('EINVAL', `granule ${granule} is not 4K, 16K or 64K`)
  if (!Number.isInteger(ias) || ias < MIN_IAS || ias > MAX_IAS) {
    return fail('EINVAL', `input size ${ias} bits is outside [${MIN_IAS}, ${MAX_IAS}]`)
  }
  if (!OAS_VALUES.includes(oas)) return fail('EINVAL', `output size ${oas} bits is not one of ${OAS_VALUES.join(', ')}`)
  return ok()
}

/**
 * The geometry Linux io-pgtable-arm gives a new table (arm_lpae_alloc_pgtable), with the older
 * kernels' stage-2 concatenation rule (arm_64_lpae_alloc_pgtable_s2: "Concatenate PGDs at level 1
 * if possible", ARM_LPAE_S2_MAX_CONCAT_PAGES = 16): a stage-2 table that would start
 * at level 0 with at most 16 entries starts one level lower instead, its start table being
 * 2^(pgd_bits + stride) entries, i.e. 2^pgd_bits concatenated tables.
 *   va_bits = ias - pgShift; levels = ceil(va_bits / stride); start = 4 - levels
 *   pgd_bits = va_bits - stride * (levels - 1)
 * 4K examples: S2 ias 40 -> L1, 2 tables; 42 -> L1, 8 tables; 44 -> L0, 32 entries; 48 -> L0, 512.
 *
 * `concat` 'when-mandatory' is the later rule (arm_lpae_concat_mandatory, after DDI0487 K.a
 * R_DXBSH and R_SRKBC): a level-0 start becomes level 1 only for 4K with oas 40 or 42, or 16K
 * with ias or oas 48; a 16K level-1 start with oas 40 becomes level 2. Otherwise stage 2 starts
 * where stage 1 would.
 */
export type S2Concatenation = 'level-0-fits' | 'when-mandatory'

export function ioPgtableGeometry(stage: 1 | 2, granule: Granule, ias: number, oas: number, concat: S2Concatenation = 'level-0-fits'): Result<Geometry> {
  const sizes = checkSizes(granule, ias, oas)
  if (!sizes.ok) return sizes
  const pgShift = granuleShift(granule)
  const stride = pgShift - 3
  const vaBits = ias - pgShift
  const levels = Math.ceil(vaBits / stride)
  let startLevel = LEVELS - levels
  let pgdBits = vaBits - stride * (levels - 1)
  if (stage === 2 && (concat === 'level-0-fits' ? startLevel === 0 && 2 ** pgdBits <= MAX_S2_CONCAT : concatMandatory(granule, startLevel, ias, oas))) {
    startLevel += 1
    pgdBits += stride
  }
  return ok(buildGeometry(stage, granule, ias, oas, startLevel, pgdBits))
}

function concatMandatory(granule: Granule, startLevel: number, ias: number, oas: number): boolean {
  if (granule === 16384 && startLevel === 0) return oas === 48 || ias === 48
  if (granule === 4096 && startLevel === 0) return oas === 40 || oas === 42
  return granule === 16384 && startLevel === 1 && oas === 40
}

/**
 * Geometry for a start level the hardware was told (stage 1: derived from T0SZ; stage 2: SL0).
 * EINVAL unless the start table indexes between 1 and stride (+4 at stage 2: up to 16
 * concatenated tables) input bits — the T0SZ/SL0 consistency rule of Arm ARM D8.2 (VTCR_EL2.SL0).
 */
export function geometryAtLevel(stage: 1 | 2, granule: Granule, ias: number, oas: number, startLevel: number): Result<Geometry> {
  const sizes = checkSizes(granule, ias, oas)
  if (!sizes.ok) return sizes
  const pgShift = granuleShift(granule)
  const stride = pgShift - 3
  const pgdBits = ias - levelShiftOf(pgShift, startLevel)
  const maxBits = stage === 2 ? stride + MAX_S2_CONCAT_BITS : stride
  if (!Number.isInteger(startLevel) || startLevel < 0 || startLevel > MAX_LEVEL || pgdBits < 1 || pgdBits > maxBits) {
    return fail('EINVAL', `start level ${startLevel} is inconsistent with a ${ias}-bit input and a ${granule}-byte granule`)
  }
  return ok(buildGeometry(stage, granule, ias, oas, startLevel, pgdBits))
}

function buildGeometry(stage: 1 | 2, granule: Granule, ias: number, oas: number, startLevel: number, pgdBits: number): Geometry {
  const pgShift = granuleShift(granule)
  const stride = pgShift - 3
  const levelShift = [0, 1, 2, 3].map((l) => levelShiftOf(pgShift, l))
  const blockSize = levelShift.map((s) => 2 ** s)
  const levelScale = levelShift.map((s) => 2 ** -s)
  const leafAllowed = [0, 1, 2, 3].map((l) => l === MAX_LEVEL || BLOCK_LEVELS[granule].includes(l))
  // Masks and sizes as int32s (`| 0`), like the descriptor words the walkers use them with.
  const leafAddrLoMask = levelShift.map((s) => (s >= 32 ? 0 : OA.LO_MASK & ~((1 << s) - 1)) | 0)
  const offsetMask = blockSize.map((b) => (b <= 2 ** 30 ? b - 1 : 0) | 0)
  const leafSize = blockSize.map((b, l) => (leafAllowed[l] ? b : 0) | 0)
  const pgsizes = [0, 1, 2, 3].filter((l) => l >= startLevel && leafAllowed[l]).map((l) => blockSize[l]).reverse()
  const startEntries = 2 ** pgdBits
  return {
    stage,
    granule,
    pgShift,
    bitsPerLevel: stride,
    ias,
    oas,
    startLevel,
    startEntries,
    concatenatedTables: Math.max(1, 2 ** (pgdBits - stride)),
    pgdBytes: startEntries * DESC_BYTES,
    pgsizes,
    entriesPerTable: 2 ** stride,
    levelShift,
    blockSize,
    levelScale,
    leafAllowed,
    leafSize,
    leafAddrLoMask,
    offsetMask,
    tableAddrLoMask: OA.LO_MASK & ~(granule - 1),
    startIndexMask: (startEntries - 1) | 0,
    indexMask: (2 ** stride - 1) | 0,
    inputLimit: 2 ** ias,
    outputLimit: 2 ** oas,
    outputLimitHi: 2 ** (oas - 32) | 0,
  }
}

/** One line for failure messages: "S2 4K ias 40 oas 40: L1 x2 tables (1024 entries, 8192 B), sizes 4K/2M/1G". */
export function formatGeometry(g: Geometry): string {
  const sizes = g.pgsizes.map(formatSize).join('/')
  return (
    `S${g.stage} ${formatSize(g.granule)} ias ${g.ias} oas ${g.oas}: L${g.startLevel} x${g.concatenatedTables} ` +
    `table${g.concatenatedTables > 1 ? 's' : ''} (${g.startEntries} entries, ${g.pgdBytes} B), sizes ${sizes}`
  )
}

export function formatSize(bytes: number): string {
  const units: [number, string][] = [
    [2 ** 40, 'T'],
    [2 ** 30, 'G'],
    [2 ** 20, 'M'],
    [2 ** 10, 'K'],
  ]
  for (const [scale, unit] of units) if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`
  return `${bytes}`
}
