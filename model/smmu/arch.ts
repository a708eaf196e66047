/**
 * One SMMU architecture's context model behind one interface, the way QEMU keeps smmuv3.c beside
 * smmu-common.c: SmmuInstance (instance.ts) does what every architecture shares (streams bound to
 * contexts, the regimes programmed into them, guest stage 1s, the IOTLB, the walks), and asks its
 * ContextModel for what differs:
 *   - SMMUv1/v2 (v2/context-banks.ts): context banks (CBAR types, bank ranges by stage), a nested
 *     guest's stage 1 in a bank of its own, faults in the banks' CB_FSR/FSYNR0/FAR;
 *   - SMMUv3 (v3/contexts.ts): ASIDs/VMIDs, the stream table with STEs and CDs in memory that the
 *     driver writes and every lookup decodes (the SMMU's configuration is what memory holds, not
 *     what the driver meant), the IAS check of a stage-1-bypass input, and the event queue;
 *   - Intel VT-d (vtd/contexts.ts): a domain ID per domain, second-level translation only.
 */
import type { Result } from '../errno'
import type { Access, Fault, S1Context, S1Regs, TranslationContext } from '../pgtable'
import type { SmmuContext } from './context'
import type { ContextBankFault, EventRecord } from './events'
import type { GuestStage1 } from './guest'
import type { DomainStage } from './stage'
import type { StreamFault } from './translate'
import type { CfgiCommand } from './v3/stream-table'

export interface BankRange {
  readonly first: number
  readonly last: number
}

/** The (VMID, ASID) pair IOTLB entries are tagged with; -1 for "none". */
export interface TlbTags {
  readonly vmid: number
  readonly asid: number
}

/** A stream's configuration as the SMMU sees it on a transaction. */
export interface Resolved {
  readonly kind: 'resolved'
  /** The driver's context for the stream, where there is one (SMMUv3 reads its STE without one). */
  readonly ctx?: SmmuContext
  readonly regime: TranslationContext
  readonly guest?: GuestStage1
  readonly tags: TlbTags
  /** SMMUv3 STE.PRIVCFG: the privilege the transaction is given; undefined: its own. */
  readonly privileged?: boolean
  /** SMMUv3: whether a stage's faults are recorded (CD.R, STE.S2R); undefined: always. */
  readonly record?: { readonly s1: boolean; readonly s2: boolean }
}

/** SMMUv3 STE.Config = bypass: the input address is the output address. */
export interface Bypassed {
  readonly kind: 'bypass'
}

/** What a transaction's configuration lookup gives. */
export type Resolution = Resolved | Bypassed | StreamFault | Fault

/** What the driver programmed for a stream: its context, the regime in it, a guest's stage 1. */
export interface DriverView {
  readonly ctx: SmmuContext
  /** Undefined until the driver writes the context's translation registers. */
  readonly regime?: TranslationContext
  readonly guest?: GuestStage1
}

/** What a guest's stage 1 is, before the architecture gives it a place. */
export interface GuestFields {
  readonly asid: number
  readonly vmid: number
  readonly regs: S1Regs
  readonly context: S1Context
  /** SMMUv3 (required there): the IPA where the guest writes its CD, STE.S1ContextPtr. */
  readonly cdIpa?: number
}

export interface ContextModel {
  /** The stage a domain whose stage field is `current` gets. */
  stageFor(current: DomainStage): DomainStage
  /** The banks a domain of `stage` may take (SMMUv1/v2 only). */
  bankRange(stage: DomainStage): BankRange | undefined
  /** Take a bank, an ASID/VMID or a domain ID for a domain of an already fixed-up `stage`. */
  allocate(stage: DomainStage): Result<SmmuContext>
  release(ctx: SmmuContext): void
  /** Context banks in use (SMMUv1/v2), guest stage-1 banks included. */
  banksInUse(): number[]
  /** The width of the ASIDs a guest stage 1 may use. */
  readonly asidBits: number
  /** Give a guest's stage 1 its place beside stream context `ctx` (`previous`: the one it replaces). */
  nestGuest(ctx: SmmuContext, regime: TranslationContext, previous: GuestStage1 | undefined, fields: GuestFields): Result<GuestStage1>
  /** The guest's stage 1 is gone: free what nestGuest took. */
  unnestGuest(guest: GuestStage1): void
  /** The driver rewrites what it keeps for stream `sid` (SMMUv3: STE and CD bytes, then CFGI_STE). */
  syncStream(sid: number, ctx: SmmuContext | undefined, regime: TranslationContext | undefined, guest: GuestStage1 | undefined): void
  /** The tags the IOTLB entries of a context's translations carry (what the driver's flushes name). */
  tags(ctx: SmmuContext): TlbTags
  /** SMMUv3: where stream `sid`'s STE is. */
  steAddress(sid: number): number | undefined
  /** SMMUv3 configuration-cache invalidation (CMD_CFGI_STE / _CD / _CD_ALL / _ALL). */
  configInvalidate(cmd: CfgiCommand): void
  /** SMMUv3: write stream `sid`'s STE words as given, then CMD_CFGI_STE; undefined elsewhere (no STE). */
  writeSte(sid: number, words: readonly bigint[]): void
  /** SMMUv3: stream `sid`'s STE words as memory holds them; undefined on other architectures. */
  readSte(sid: number): bigint[] | undefined
  /**
   * The configuration a transaction of stream `sid` meets: what the driver programmed (`view`,
   * undefined for a stream it never attached) on register-programmed SMMUs, the STE and CD in
   * memory on SMMUv3. `at`: the transaction, when one is under way: what the lookup meets (SMMUv3:
   * configuration errors, fetch aborts, stage 2 on the CD's IPA) is then recorded.
   */
  resolve(sid: number, view: DriverView | undefined, at?: Transaction): Resolution
  /** With stage 1 bypassed: the fault the input address meets before stage 2, if any. */
  stage1BypassFault(iova: number): Fault | undefined
  /** Report a fault the way the architecture does. */
  report(sid: number, r: Resolved, fault: Fault, iova: number, access: Access): void
  /** SMMUv3: the event queue, oldest first (empty on other architectures). */
  events(): readonly EventRecord[]
  drainEvents(): EventRecord[]
  /** SMMUv1/v2: the latest fault of context bank `bank`. */
  contextBankFault(bank: number): ContextBankFault | undefined
}

/** A transaction under way: its input address and access. */
export interface Transaction {
  readonly iova: number
  readonly access: Access
}

/** A register-programmed context's IOTLB tags as the driver programmed it. */
function tagsOf(ctx: SmmuContext): TlbTags {
  if (ctx.kind === 'vtd-context') return { vmid: ctx.domainId, asid: -1 }
  return { vmid: ctx.vmid ?? -1, asid: ctx.asid ?? -1 }
}

/**
 * What every register-programmed context model shares (SMMUv1/v2 context banks, VT-d context
 * entries): no configuration structures in memory, so nothing to sync, fetch or invalidate, and the
 * driver's view of a context is the hardware's.
 */
export abstract class RegisterProgrammedContexts {
  syncStream(): void {}

  tags(ctx: SmmuContext): TlbTags {
    return tagsOf(ctx)
  }

  steAddress(): undefined {
    return undefined
  }

  configInvalidate(): void {}

  writeSte(): void {
    throw new Error('this architecture has no stream table entries')
  }

  readSte(): undefined {
    return undefined
  }

  resolve(sid: number, view: DriverView | undefined): Resolved | StreamFault {
    if (view?.regime === undefined) {
      const reason = view === undefined ? 'no context for the stream (transactions abort)' : 'context has no translation programmed'
      return { kind: 'streamNotTranslated', sid, reason }
    }
    return resolveProgrammed(view.ctx, view.regime, view.guest)
  }

  stage1BypassFault(): undefined {
    return undefined
  }
}

/** Resolution where the driver's view is the SMMU's (SMMUv1/v2 registers, VT-d context entries). */
function resolveProgrammed(ctx: SmmuContext, regime: TranslationContext, guest: GuestStage1 | undefined): Resolved {
  if (guest !== undefined) return { kind: 'resolved', ctx, regime, guest, tags: { vmid: guest.vmid, asid: guest.asid } }
  return { kind: 'resolved', ctx, regime, tags: tagsOf(ctx) }
}
