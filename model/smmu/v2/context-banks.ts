/**
 * The SMMUv1/v2 context model: context banks chosen by stage (ContextBankAllocator), a nested
 * guest's stage 1 in a second bank of CBAR type S1_TRANS_S2_TRANS (guest.ts), and each bank's
 * fault registers (events.ts: CB_FSR, CB_FSYNR0, CB_FAR).
 */
import { fail, ok, type Result } from '../../errno'
import type { FeatureSet } from '../../hw/features'
import type { Access, Fault, TranslationContext } from '../../pgtable'
import type { SmmuDriverBehaviour } from '../../profiles'
import { RegisterProgrammedContexts, type BankRange, type ContextModel, type GuestFields, type Resolved } from '../arch'
import type { CbarType, ContextBankContext, HwTranslation, SmmuContext } from '../context'
import { contextBankFaultFor, type ContextBankFault, type EventRecord } from '../events'
import type { GuestStage1 } from '../guest'
import { selectStage, type DomainStage } from '../stage'

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

/** Linux programs 16-bit ASIDs on AArch64 SMMUv1/v2 stage-1 banks (TTBCR2.AS). */
export const V2_ASID_BITS = 16

export class ContextBankModel extends RegisterProgrammedContexts implements ContextModel {
  readonly asidBits = V2_ASID_BITS
  private readonly banks: ContextBankAllocator
  /** Each bank's latest fault. */
  private readonly bankFaults = new Map<number, ContextBankFault>()

  constructor(
    private readonly features: FeatureSet,
    private readonly driver: SmmuDriverBehaviour,
  ) {
    super()
    this.banks = new ContextBankAllocator(features, driver.contextIds)
  }

  stageFor(current: DomainStage): DomainStage {
    return selectStage(current, this.features.translation, this.driver)
  }

  bankRange(stage: DomainStage): BankRange {
    return { first: firstBankFor(stage, this.features), last: this.features.contextBanks - 1 }
  }

  allocate(stage: DomainStage): Result<SmmuContext> {
    return this.banks.allocate(stage)
  }

  release(ctx: SmmuContext): void {
    if (ctx.kind === 'context-bank') this.banks.release(ctx.bank)
  }

  banksInUse(): number[] {
    return this.banks.inUse()
  }

  nestGuest(ctx: SmmuContext, _regime: TranslationContext, previous: GuestStage1 | undefined, f: GuestFields): Result<GuestStage1> {
    if (f.cdIpa !== undefined) return fail('EINVAL', 'a context bank holds the guest stage 1 itself: there is no CD to place at an IPA')
    const fields = { asid: f.asid, vmid: f.vmid, regs: f.regs, context: f.context }
    if (ctx.kind !== 'context-bank') return ok({ kind: 'stream-table', ...fields })
    let bank = previous?.kind === 'context-bank' ? previous.bank : undefined
    if (bank === undefined) {
      const taken = this.banks.allocateNestedStage1()
      if (!taken.ok) return taken
      bank = taken.value
    }
    return ok({ kind: 'context-bank', bank, cbar: 'S1_TRANS_S2_TRANS', s2Bank: ctx.bank, ...fields })
  }

  unnestGuest(guest: GuestStage1): void {
    if (guest.kind === 'context-bank') this.banks.release(guest.bank)
  }

  report(_sid: number, r: Resolved, fault: Fault, iova: number, access: Access): void {
    const bank = r.guest?.kind === 'context-bank' ? r.guest.bank : r.ctx?.kind === 'context-bank' ? r.ctx.bank : undefined
    if (bank !== undefined) this.bankFaults.set(bank, contextBankFaultFor(fault, bank, iova, access))
  }

  events(): readonly EventRecord[] {
    return []
  }

  drainEvents(): EventRecord[] {
    return []
  }

  contextBankFault(bank: number): ContextBankFault | undefined {
    return this.bankFaults.get(bank)
  }
}
