/**
 * The Intel VT-d context model (for VFIO comparisons): a domain ID per domain, second-level
 * translation whatever stage was asked, no fault records the features read.
 */
import { fail, ok, type Result } from '../../errno'
import type { TranslationContext } from '../../pgtable'
import { RegisterProgrammedContexts, type ContextModel, type GuestFields } from '../arch'
import { V2_ASID_BITS } from '../v2/context-banks'
import { lowestFree, type SmmuContext, type VtdContext } from '../context'
import type { ContextBankFault, EventRecord } from '../events'
import type { GuestStage1 } from '../guest'
import type { DomainStage } from '../stage'

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

export class VtdContextModel extends RegisterProgrammedContexts implements ContextModel {
  readonly asidBits = V2_ASID_BITS
  private readonly domainIds = new DomainIdAllocator()

  stageFor(): DomainStage {
    return 'S2' // second-level translation, whatever was asked
  }

  bankRange(): undefined {
    return undefined
  }

  allocate(): Result<SmmuContext> {
    return this.domainIds.allocate()
  }

  release(ctx: SmmuContext): void {
    if (ctx.kind === 'vtd-context') this.domainIds.release(ctx)
  }

  banksInUse(): number[] {
    return []
  }

  nestGuest(_ctx: SmmuContext, _regime: TranslationContext, _previous: GuestStage1 | undefined, f: GuestFields): Result<GuestStage1> {
    if (f.cdIpa !== undefined) return fail('EINVAL', 'VT-d has no CD to place at an IPA')
    return ok({ kind: 'stream-table', asid: f.asid, vmid: f.vmid, regs: f.regs, context: f.context })
  }

  unnestGuest(): void {}

  report(): void {}

  events(): readonly EventRecord[] {
    return []
  }

  drainEvents(): EventRecord[] {
    return []
  }

  contextBankFault(): ContextBankFault | undefined {
    return undefined
  }
}
