/**
 * Translation contexts: what a domain occupies in an SMMU once attached.
 *
 * SMMUv1/v2 (arm-smmu): a context bank, chosen by stage. Stage-1 banks are searched from
 * IDR1.NUMS2CB up (the low banks can only do stage 2); stage-2 and nested domains from bank 0.
 * SMMUv3 (arm-smmu-v3): no banks; a stage-1 domain takes an ASID (a CD), a stage-2 or nested
 * domain a VMID (an S2 STE).
 * Intel VT-d (for VFIO comparisons): one translation (second level), a domain ID per domain.
 */
import { fail, ok, type Result } from '../errno'
import type { FeatureSet } from '../hw/features'
import type { SmmuDriverBehaviour } from '../profiles'
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

/** First bank a domain of this stage may use (arm_smmu_init_domain_context `start`). */
export function firstBankFor(stage: DomainStage, hw: FeatureSet): number {
  return stage === 'S1' ? hw.s2OnlyContextBanks : 0
}

export function cbarFor(stage: DomainStage): CbarType {
  return stage === 'S1' ? 'S1_TRANS_S2_BYPASS' : 'S2_TRANS'
}

const translationOf = (stage: DomainStage): HwTranslation => (stage === 'S1' ? 'stage 1' : 'stage 2')

/** Context-bank bitmap of one SMMUv1/v2 instance. */
export class ContextBankAllocator {
  private readonly used: boolean[]

  constructor(
    private readonly hw: FeatureSet,
    private readonly ids: SmmuDriverBehaviour['contextIds'],
  ) {
    this.used = new Array<boolean>(hw.contextBanks).fill(false)
  }

  allocate(stage: DomainStage): Result<ContextBankContext> {
    const start = firstBankFor(stage, this.hw)
    const bank = this.used.indexOf(false, start)
    if (bank < 0) {
      return fail('ENOSPC', `no free context bank in ${start}..${this.hw.contextBanks - 1} for a ${stage} domain`)
    }
    this.used[bank] = true
    return ok({ kind: 'context-bank', stage, bank, cbar: cbarFor(stage), translation: translationOf(stage), ...this.idsFor(stage, bank) })
  }

  /**
   * A bank for a guest's stage 1 nested in a stage-2 bank (CBAR type S1_TRANS_S2_TRANS): it
   * translates at stage 1, so it is searched like any stage-1 bank, from IDR1.NUMS2CB up.
   */
  allocateNestedStage1(): Result<number> {
    const start = firstBankFor('S1', this.hw)
    const bank = this.used.indexOf(false, start)
    if (bank < 0) return fail('ENOSPC', `no free context bank in ${start}..${this.hw.contextBanks - 1} for a nested stage 1`)
    this.used[bank] = true
    return ok(bank)
  }

  release(bank: number): void {
    if (!this.used[bank]) throw new Error(`context bank ${bank} released twice`)
    this.used[bank] = false
  }

  inUse(): number[] {
    return this.used.flatMap((u, i) => (u ? [i] : []))
  }

  private idsFor(stage: DomainStage, bank: number): { asid?: number; vmid?: number } {
    if (this.ids === 'per-bank') {
      // ARM_SMMU_CB_ASID(cfg) = cbndx, ARM_SMMU_CB_VMID(cfg) = cbndx + 1; a stage-2 bank has no ASID.
      return stage === 'S1' ? { asid: bank, vmid: bank + 1 } : { vmid: bank + 1 }
    }
    // union { asid; vmid }: S2 writes vmid = cbndx + 1, everything else writes asid = cbndx.
    if (stage === 'S2') return { vmid: bank + 1 }
    if (stage === 'NESTED') return { vmid: bank } // an S2_TRANS bank reads the union as its VMID
    return { asid: bank }
  }
}

/**
 * ASID and VMID spaces of one SMMUv3 instance (arm-smmu-v3): a stage-1 domain takes the lowest free
 * ASID, a stage-2 or nested domain the lowest free VMID, each from the profile's first value up to
 * 2^bits - 1, with the profile's errno when none is left (SmmuDriverBehaviour.v3Ids).
 */
export class StreamTableAllocator {
  private readonly asids = new Set<number>()
  private readonly vmids = new Set<number>()

  constructor(
    private readonly hw: FeatureSet,
    private readonly ids: SmmuDriverBehaviour['v3Ids'],
  ) {}

  allocate(stage: DomainStage): Result<StreamTableContext> {
    if (stage === 'S1') {
      const asid = lowestFree(this.asids, this.ids.asid.first, 2 ** this.hw.asidBits - 1)
      if (asid === undefined) return fail(this.ids.asid.whenFull, `all ${2 ** this.hw.asidBits - this.ids.asid.first} ASIDs are in use`)
      this.asids.add(asid)
      return ok({ kind: 'stream-table', stage, translation: 'stage 1', asid })
    }
    const vmid = lowestFree(this.vmids, this.ids.vmid.first, 2 ** this.hw.vmidBits - 1)
    if (vmid === undefined) return fail(this.ids.vmid.whenFull, `all ${2 ** this.hw.vmidBits - this.ids.vmid.first} VMIDs are in use`)
    this.vmids.add(vmid)
    return ok({ kind: 'stream-table', stage, translation: 'stage 2', vmid })
  }

  release(ctx: StreamTableContext): void {
    if (ctx.asid !== undefined) this.asids.delete(ctx.asid)
    if (ctx.vmid !== undefined) this.vmids.delete(ctx.vmid)
  }
}

/** VT-d domain identifiers (DID 0 is reserved by the architecture when caching mode is set). */
export class DomainIdAllocator {
  private readonly used = new Set<number>()

  allocate(): Result<VtdContext> {
    const domainId = lowestFree(this.used, 1, 0xffff)
    if (domainId === undefined) return fail('ENOSPC', 'all VT-d domain identifiers are in use')
    this.used.add(domainId)
    return ok({ kind: 'vtd-context', stage: 'S2', translation: 'stage 2', domainId })
  }

  release(ctx: VtdContext): void {
    this.used.delete(ctx.domainId)
  }
}

function lowestFree(used: ReadonlySet<number>, first: number, last: number): number | undefined {
  for (let id = first; id <= last; id++) if (!used.has(id)) return id
  return undefined
}
