/**
 * Translation contexts: the register values an SMMU context (v2 context bank, v3 CD / STE) holds
 * for one stage, validated once and turned into a geometry the walkers read.
 *
 * Stage 1 (TCR/CD): the start level follows from T0SZ and the granule:
 *   start = 4 - ceil((IS - pgShift) / stride),  IS = 64 - T0SZ     (Arm ARM D8.2; QEMU's
 *   smmu_ptw_64_s1 computes 4 - (IS - 4) / stride, which is the same)
 * Stage 2 (VTCR/STE): the start level is given by SL0 and must agree with T0SZ:
 *   4K: start = 2 - SL0;  16K/64K: start = 3 - SL0  (16K SL0 = 3 -> level 0)
 * Linux computes SL0 = ~(start + (4K ? 1 : 0)) & 3, which is the same mapping.
 */
import { fail, ok, type Result } from '../errno'
import { S1_TABLE_LIMITS } from './descriptor'
import { geometryAtLevel, granuleShift, type Geometry, type Granule } from './geometry'

const T0SZ_BASE = 64
const LEVELS = 4

/** What a stage-1 context holds: TTBR0 / CD.TTB0, TCR.T0SZ, TCR.TG0, TCR.IPS (as bits). */
export interface S1Regs {
  /** Start-level table address (a PA, or an IPA when the context is nested). */
  readonly ttbr: number
  readonly t0sz: number
  readonly granule: Granule
  /** Output (intermediate, when nested) address size in bits: TCR.IPS / CD.IPS decoded. */
  readonly oas: number
  /** CD.HAD0: hierarchical attributes (APTable, XNTable) disabled. */
  readonly had?: boolean
}

/** What a stage-2 context holds: VTTBR / STE.S2TTB, S2T0SZ, S2SL0, S2TG, S2PS (as bits). */
export interface S2Regs {
  readonly vttbr: number
  readonly t0sz: number
  readonly sl0: number
  readonly granule: Granule
  readonly oas: number
  /** FEAT_XNX (SMMUv3 IDR3.XNX): XN[0] (bit 53) distinguishes privileged execution. */
  readonly xnx?: boolean
}

export interface S1Context {
  readonly stage: 1
  readonly regs: S1Regs
  readonly geometry: Geometry
  /**
   * The hierarchical attributes honoured: the bits of table descriptors' upper halves a leaf
   * inherits, APTable, PXNTable and UXNTable (S1_TABLE_LIMITS), or 0 when HAD is set (CD.HAD0,
   * QEMU tt->had). The walker ANDs the table bits it collected with it.
   */
  readonly tableLimitsMask: number
  /** regs.ttbr as two 32-bit halves, bits [63:32] and [31:0] (int32): where a walk starts. */
  readonly ttbHi: number
  readonly ttbLo: number
}

export interface S2Context {
  readonly stage: 2
  readonly regs: S2Regs
  readonly geometry: Geometry
  readonly xnx: boolean
  /** regs.vttbr as two 32-bit halves, bits [63:32] and [31:0] (int32): where a walk starts. */
  readonly ttbHi: number
  readonly ttbLo: number
}

export type TranslationContext = S1Context | S2Context

/** Stage-1 start level for an input size: 4 - ceil((ias - pgShift) / stride). */
export function s1StartLevel(granule: Granule, ias: number): number {
  const pgShift = granuleShift(granule)
  return LEVELS - Math.ceil((ias - pgShift) / (pgShift - 3))
}

/** The S2SL0 / VTCR.SL0 encoding of a stage-2 start level. */
export function sl0ForStartLevel(granule: Granule, level: number): number {
  return ~(level + (granule === 4096 ? 1 : 0)) & 3
}

/** The start level an SL0 encodes, or undefined for a reserved encoding. */
export function startLevelForSl0(granule: Granule, sl0: number): number | undefined {
  if (!Number.isInteger(sl0) || sl0 < 0 || sl0 > 3) return undefined
  if (granule === 4096) return sl0 === 3 ? undefined : 2 - sl0
  if (granule === 16384) return 3 - sl0
  return sl0 === 3 ? undefined : 3 - sl0
}

/**
 * Validates stage-1 registers: EINVAL for a T0SZ outside 16..39, an unsupported granule or OAS, or
 * a TTB not aligned to the start table's size. A TTB beyond the OAS is accepted here: the walk
 * reports it as an Address size fault, as the architecture does.
 */
export function stage1Context(regs: S1Regs): Result<S1Context> {
  const ias = T0SZ_BASE - regs.t0sz
  const g = geometryAtLevel(1, regs.granule, ias, regs.oas, s1StartLevel(regs.granule, ias))
  if (!g.ok) return g
  const aligned = checkTtb(regs.ttbr, g.value)
  if (!aligned.ok) return aligned
  return ok({ stage: 1, regs, geometry: g.value, tableLimitsMask: regs.had === true ? 0 : S1_TABLE_LIMITS, ...halves(regs.ttbr) })
}

/**
 * Validates stage-2 registers: EINVAL for a reserved SL0, an SL0 inconsistent with T0SZ (more than
 * 16 concatenated tables, or a start level that indexes no bits), or a misaligned VTTBR — what
 * QEMU's s2_pgtable_config_valid rejects as a bad STE.
 */
export function stage2Context(regs: S2Regs): Result<S2Context> {
  const start = startLevelForSl0(regs.granule, regs.sl0)
  if (start === undefined) return fail('EINVAL', `SL0 ${regs.sl0} is reserved for a ${regs.granule}-byte granule`)
  const g = geometryAtLevel(2, regs.granule, T0SZ_BASE - regs.t0sz, regs.oas, start)
  if (!g.ok) return g
  const aligned = checkTtb(regs.vttbr, g.value)
  if (!aligned.ok) return aligned
  return ok({ stage: 2, regs, geometry: g.value, xnx: regs.xnx === true, ...halves(regs.vttbr) })
}

function halves(ttb: number): { ttbHi: number; ttbLo: number } {
  return { ttbHi: Math.floor(ttb / 2 ** 32) | 0, ttbLo: ttb | 0 }
}

function checkTtb(ttb: number, g: Geometry): Result<void> {
  if (!Number.isSafeInteger(ttb) || ttb < 0 || ttb % g.pgdBytes !== 0) {
    return fail('EINVAL', `table base ${ttb} is not aligned to the ${g.pgdBytes}-byte start table`)
  }
  return ok()
}
