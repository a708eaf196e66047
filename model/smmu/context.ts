/**
 * Translation contexts: what a domain occupies in an SMMU once attached.
 *
 * SMMUv1/v2 (arm-smmu): a context bank, chosen by stage. Stage-1 banks are searched from
 * IDR1.NUMS2CB up (the low banks can only do stage 2); stage-2 and nested domains from bank 0.
 * SMMUv3 (arm-smmu-v3): no banks; a stage-1 domain takes an ASID (a CD), a stage-2 or nested
 * domain a VMID (an S2 STE).
 * Intel VT-d (for VFIO comparisons): one translation (second level), a domain ID per domain.
 * The allocators live with their architecture's context model (v2/context-banks.ts, v3/contexts.ts,
 * vtd/contexts.ts); this module holds the context shapes they share.
 */
import type { DomainStage } from './stage'

/** SMMU_CBARn.TYPE encodings (SMMUv1/v2 architecture). */
export const CBAR_TYPE = {
  S2_TRANS: 0,
  S1_TRANS_S2_BYPASS: 1,
  S1_TRANS_S2_FAULT: 2,
  S1_TRANS_S2_TRANS: 3,
} as const
export type CbarType = keyof typeof CBAR_TYPE

/** Which translation regime the hardware context performs. */
export type HwTranslation = 'stage 1' | 'stage 2'

export interface ContextBankContext {
  readonly kind: 'context-bank'
  readonly stage: DomainStage
  readonly bank: number
  readonly cbar: CbarType
  readonly translation: HwTranslation
  /** Present where the driver programs one. */
  readonly asid?: number
  readonly vmid?: number
}

export interface StreamTableContext {
  readonly kind: 'stream-table'
  readonly stage: DomainStage
  readonly translation: HwTranslation
  readonly asid?: number
  readonly vmid?: number
}

/** An Intel VT-d context entry pointing at a domain's second-level table. */
export interface VtdContext {
  readonly kind: 'vtd-context'
  readonly stage: DomainStage
  readonly translation: HwTranslation
  /** VT-d domain identifier (DID). */
  readonly domainId: number
  readonly asid?: undefined
  readonly vmid?: undefined
}

export type SmmuContext = ContextBankContext | StreamTableContext | VtdContext

/** The lowest integer in [first, last] not in `used`. */
export function lowestFree(used: ReadonlySet<number>, first: number, last: number): number | undefined {
  for (let id = first; id <= last; id++) if (!used.has(id)) return id
  return undefined
}
