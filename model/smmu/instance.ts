/**
 * One SMMU instance, built from a hardware feature set and driven by a kernel's arm-smmu driver
 * behaviour. It knows its stages, its contexts and which stream uses which context; it knows
 * nothing of iommu domains or VFIO.
 *
 * What differs between architectures is a ContextModel (arch.ts), one per architecture:
 * v2/context-banks.ts (SMMUv1/v2), v3/contexts.ts (SMMUv3: stream table, STEs and CDs in memory,
 * event queue), vtd/contexts.ts (VT-d). This class holds what they share.
 *
 * Translation (a device's transaction on stream `sid`):
 *   stream -> context (S2CR / STE) -> IOTLB, tagged (VMID, ASID) -> on a miss, a walk over memory:
 *     stage-1 context                     walkStage1 (stage 2 bypassed)
 *     stage-2 context                     walkStage2 (the input is an IPA)
 *     stage-2 context + guest stage 1     walkNested (every stage-1 table address is an IPA)
 *   -> a Translation, cached; or a Fault, reported (SMMUv3 event queue, SMMUv1/v2 bank registers).
 *
 * The SMMUv3 configuration a transaction meets is what its STE and CD in memory say (written by
 * the driver side, or raw with writeSte), not what the driver meant: a stream the driver never
 * wrote reads a zeroed STE (V = 0, C_BAD_STE).
 *
 * IOTLB tags: a context's (VMID, ASID) as the driver programmed them, -1 where there is none
 * (stage-2 contexts without an ASID; SMMUv1/v2 stage-1 contexts without a VMID, while an SMMUv3
 * stage-1 STE tags with its S2VMID 0 when stage 2 is implemented); a guest stage 1 is tagged
 * (VMID of the stage-2 context, the guest's ASID); a VT-d context (DID, -1). Entries are only made
 * by successful walks. A hit whose permissions deny the access is walked again (the architecture
 * also allows a fault from the cached entry), so a stale entry can keep granting what it granted,
 * never deny what the tables now grant. Invalidation is explicit: the driver's flush ops
 * (flushRange on unmap, flushContext when a domain is freed), the guest's TLBIs (guestInvalidate),
 * or the raw commands (invalidateAll / Asid / Vmid / Va / Ipa).
 */
import { fail, ok, type Result } from '../errno'
import type { FeatureSet } from '../hw/features'
import { PAGE_SIZE, type DescriptorReader, type PhysMemory } from '../memory'
import {
  isFault,
  Iotlb,
  stage1Context,
  walkNested,
  walkStage1,
  walkStage2,
  type Access,
  type Fault,
  type IotlbEntry,
  type IotlbStats,
  type Perm,
  type S1Regs,
  type Translation,
  type TranslationContext,
  type WalkResult,
} from '../pgtable'
import type { SmmuDriverBehaviour } from '../profiles'
import { type BankRange, type ContextModel, type Resolution, type Resolved, type TlbTags, type Transaction } from './arch'
import { ContextBankModel } from './v2/context-banks'
import type { SmmuContext } from './context'
import type { ContextBankFault, EventRecord } from './events'
import { TracingReader, type DescriptorRead } from './explain'
import { GuestMemory, type GuestStage1 } from './guest'
import type { DomainStage } from './stage'
import { performDma, type DmaResult, type TranslateResult } from './translate'
import { StreamTableModel } from './v3/contexts'
import type { CfgiCommand } from './v3/stream-table'
import { VtdContextModel } from './vtd/contexts'

export type { BankRange, TlbTags } from './arch'

/** What a guest's TLB invalidation names (TLBIASID / CMD_TLBI_NH_ASID, TLBIVA / CMD_TLBI_NH_VA). */
export interface GuestTlbi {
  readonly asid: number
  /** Invalidate only entries covering [iova, iova + length); absent: the whole ASID. */
  readonly iova?: number
  /** Default 1: the entries that contain `iova`. */
  readonly length?: number
}

/** A walk explained: its result and every descriptor it fetched, in order. */
export interface WalkExplanation {
  readonly result: TranslateResult
  readonly reads: readonly DescriptorRead[]
}

const READ: Access = { kind: 'read' }

export class SmmuInstance {
  /** What this architecture does its own way: contexts, stream configuration, fault reports. */
  private readonly arch: ContextModel
  /** Stream ID -> the context its S2CR/STE points at. */
  private readonly streams = new Map<number, SmmuContext>()
  /** Context -> the translation regime programmed into it (TTBR/VTTBR, TCR/VTCR). */
  private readonly regimes = new Map<SmmuContext, TranslationContext>()
  /** Stream ID -> the guest stage 1 nested in its (stage-2) context. */
  private readonly guests = new Map<number, GuestStage1>()
  private readonly tlb = new Iotlb()

  private constructor(
    readonly name: string,
    readonly features: FeatureSet,
    driver: SmmuDriverBehaviour,
    private readonly memory: PhysMemory,
    structuresBase: number,
  ) {
    this.arch = contextModelFor(features, driver, memory, structuresBase)
  }

  /** Probe: fails with ENODEV when this kernel has no driver for the architecture. */
  static probe(
    name: string,
    features: FeatureSet,
    driver: SmmuDriverBehaviour,
    memory: PhysMemory,
    structuresBase: number = DEFAULT_STRUCTURES_BASE,
  ): Result<SmmuInstance> {
    if (!driver.drives.includes(features.arch)) {
      return fail('ENODEV', `this kernel has no driver for ${features.arch} (fixture ${features.name})`)
    }
    return ok(new SmmuInstance(name, features, driver, memory, structuresBase))
  }

  /** The stage a domain whose stage field is `current` gets on this instance. */
  stageFor(current: DomainStage): DomainStage {
    return this.arch.stageFor(current)
  }

  /** The banks a domain of `stage` may take (SMMUv1/v2 only). */
  bankRange(stage: DomainStage): BankRange | undefined {
    return this.arch.bankRange(stage)
  }

  /** Take a bank (or an ASID/VMID) for a domain of an already fixed-up `stage`. */
  allocateContext(stage: DomainStage): Result<SmmuContext> {
    return this.arch.allocate(stage)
  }

  /** Gives the context back. Its IOTLB entries are the caller's to flush first (flushContext). */
  releaseContext(ctx: SmmuContext): void {
    for (const [sid, c] of this.streams) {
      if (c === ctx) throw new Error(`context released while stream ${hex(sid)} still uses it`)
    }
    this.regimes.delete(ctx)
    this.arch.release(ctx)
  }

  /** Whether a stream ID exists behind this SMMU. */
  hasStream(sid: number): boolean {
    return Number.isInteger(sid) && sid >= 0 && sid < 2 ** this.features.streamIdBits
  }

  bindStream(sid: number, ctx: SmmuContext): Result<void> {
    if (!this.hasStream(sid)) return fail('ENXIO', `stream ${hex(sid)} is not behind SMMU ${this.name}`)
    if (this.streams.has(sid)) return fail('EEXIST', `stream ${hex(sid)} is already attached`)
    this.streams.set(sid, ctx)
    this.syncStream(sid)
    return ok()
  }

  /** The stream stops using its context; a guest stage 1 on it goes too. */
  unbindStream(sid: number): void {
    if (this.guests.has(sid)) this.removeGuestStage1(sid)
    this.streams.delete(sid)
    this.syncStream(sid)
  }

  /** SMMUv3: where stream `sid`'s STE is (its CD follows at + 64); undefined on other architectures. */
  steAddress(sid: number): number | undefined {
    return this.arch.steAddress(sid)
  }

  /**
   * SMMUv3 configuration-cache invalidation: CMD_CFGI_STE (a number: its StreamID) forgets the
   * cached configuration of the stream, so the next lookup reads the STE (and CD) again; also
   * CMD_CFGI_CD, CMD_CFGI_CD_ALL and CMD_CFGI_ALL. Nothing on other architectures.
   */
  configInvalidate(cmd: CfgiCommand | number): void {
    this.arch.configInvalidate(typeof cmd === 'number' ? { op: 'CFGI_STE', sid: cmd } : cmd)
  }

  /**
   * SMMUv3: the driver writes stream `sid`'s STE as the eight words given (a nested domain's
   * physical STE, an oracle case's), then CMD_CFGI_STE. ENXIO for a stream not behind this SMMU,
   * EOPNOTSUPP on an architecture without stream table entries.
   */
  writeSte(sid: number, words: readonly bigint[]): Result<void> {
    if (!this.hasStream(sid)) return fail('ENXIO', `stream ${hex(sid)} is not behind SMMU ${this.name}`)
    if (this.features.arch !== 'smmuv3') return fail('EOPNOTSUPP', `SMMU ${this.name} (${this.features.arch}) has no stream table entries`)
    if (words.length !== 8) return fail('EINVAL', `an STE is 8 64-bit words, not ${words.length}`)
    this.arch.writeSte(sid, words)
    return ok()
  }

  /** SMMUv3: stream `sid`'s STE words as memory holds them; undefined on other architectures. */
  readSte(sid: number): bigint[] | undefined {
    return this.hasStream(sid) ? this.arch.readSte(sid) : undefined
  }

  streamContext(sid: number): SmmuContext | undefined {
    return this.streams.get(sid)
  }

  /** Write a context's translation registers (what arm_smmu_write_context_bank does). */
  programContext(ctx: SmmuContext, regime: TranslationContext): void {
    this.regimes.set(ctx, regime)
    for (const [sid, c] of this.streams) if (c === ctx) this.syncStream(sid)
  }

  /** Context banks currently allocated (SMMUv1/v2), guest stage-1 banks included. */
  banksInUse(): number[] {
    return this.arch.banksInUse()
  }

  // ---- nesting: a guest's stage 1 over a NESTED domain's stage 2 ----------------------------

  /**
   * Nest a guest's stage 1 (`regs`: its TTB as an IPA, T0SZ, granule, IPS; `asid`) in the
   * stage-2 context of stream `sid` (see guest.ts). Errors: EINVAL when the stream's context is
   * not a NESTED domain's, or for registers or an ASID the context cannot hold; EOPNOTSUPP when
   * the hardware cannot nest (no IDR0.NTS, or not both S1P and S2P); ENOSPC when no stage-1 bank
   * is free (SMMUv1/v2). Installing again replaces the configuration (same bank).
   * SMMUv3 needs `opts.cdIpa` (EINVAL without): a nested STE's S1ContextPtr is an IPA (IHI 0070
   * 5.2), so the guest writes its CD at that IPA of its memory and the STE points there (the SMMU
   * fetches it through stage 2); EFAULT where the host mapped nothing writable there. Other
   * architectures have no CD: EINVAL with one.
   */
  installGuestStage1(sid: number, regs: S1Regs, asid: number, opts: { readonly cdIpa?: number } = {}): Result<GuestStage1> {
    const ctx = this.streams.get(sid)
    const regime = ctx === undefined ? undefined : this.regimes.get(ctx)
    if (ctx === undefined || regime === undefined || ctx.stage !== 'NESTED' || regime.stage !== 2) {
      return fail('EINVAL', `stream ${hex(sid)} is not attached to a NESTED domain (its context is ${ctx === undefined ? 'none' : ctx.stage})`)
    }
    if (!this.features.translation.nested) return fail('EOPNOTSUPP', `SMMU ${this.name} (${this.features.name}) cannot nest stage 1 in stage 2`)
    const asidBits = this.arch.asidBits
    if (!Number.isInteger(asid) || asid < 0 || asid >= 2 ** asidBits) return fail('EINVAL', `ASID ${asid} does not fit ${asidBits} bits`)
    const s1 = stage1Context(regs)
    if (!s1.ok) return s1
    const vmid = ctx.vmid ?? -1
    const previous = this.guests.get(sid)
    if (previous !== undefined) this.tlb.invalidateAsid(previous.asid, previous.vmid)
    const nested = this.arch.nestGuest(ctx, regime, previous, { asid, vmid, regs, context: s1.value, cdIpa: opts.cdIpa })
    if (!nested.ok) return nested
    const guest = nested.value
    this.guests.set(sid, guest)
    this.syncStream(sid)
    return ok(guest)
  }

  /** Take the guest's stage 1 off stream `sid` (its bank freed, its entries flushed); EINVAL if none. */
  removeGuestStage1(sid: number): Result<void> {
    const guest = this.guests.get(sid)
    if (guest === undefined) return fail('EINVAL', `stream ${hex(sid)} has no guest stage 1`)
    this.guests.delete(sid)
    this.syncStream(sid)
    this.arch.unnestGuest(guest)
    this.tlb.invalidateAsid(guest.asid, guest.vmid)
    return ok()
  }

  guestStage1(sid: number): GuestStage1 | undefined {
    return this.guests.get(sid)
  }

  /** The guest's memory (IPA space) behind the NESTED domain stream `sid` uses; EINVAL otherwise. */
  guestMemory(sid: number): Result<GuestMemory> {
    const ctx = this.streams.get(sid)
    const regime = ctx === undefined ? undefined : this.regimes.get(ctx)
    if (ctx === undefined || regime === undefined || ctx.stage !== 'NESTED' || regime.stage !== 2) {
      return fail('EINVAL', `stream ${hex(sid)} is not attached to a NESTED domain: there is no guest IPA space behind it`)
    }
    return ok(new GuestMemory(this.memory, regime))
  }

  // ---- translation ---------------------------------------------------------------------------

  /**
   * One transaction of stream `sid` at `iova`: the stream's configuration (SMMUv3: its STE and CD
   * in memory), then the IOTLB, else a walk; faults are reported. SMMUv3 STE.PRIVCFG overrides the
   * access's privilege for the lookup and the walk; the report keeps the transaction's access.
   */
  translate(sid: number, iova: number, access: Access = READ): TranslateResult {
    const r = this.resolve(sid, { iova, access })
    if (r.kind === 'bypass') return bypassed(iova)
    if (r.kind !== 'resolved') return r
    const effective = effectiveAccess(r, access)
    const privileged = effective.privileged === true
    const hit = this.tlb.lookup(r.tags.vmid, r.tags.asid, privileged, iova)
    if (hit !== undefined && hit.perm[access.kind]) return fromEntry(hit, iova)
    const t = this.walkFor(this.memory, r, iova, effective)
    if (isFault(t)) {
      this.report(sid, r, t, iova, access)
      return t
    }
    this.tlb.insert(r.tags.vmid, r.tags.asid, privileged, t)
    return t
  }

  /** The walk `translate` would do on a miss, with every descriptor it fetched; no IOTLB, no report. */
  explainWalk(sid: number, iova: number, access: Access = READ): WalkExplanation {
    const r = this.resolve(sid)
    if (r.kind === 'bypass') return { result: bypassed(iova), reads: [] }
    if (r.kind !== 'resolved') return { result: r, reads: [] }
    const reader = new TracingReader(this.memory)
    return { result: this.walkFor(reader, r, iova, effectiveAccess(r, access)), reads: reader.reads }
  }

  /** The stream's device performs DMA: `length` bytes read, or `data` (a pattern if absent) written. */
  dma(sid: number, op: 'read' | 'write', iova: number, length: number, data?: Uint8Array): DmaResult {
    const access: Access = { kind: op }
    return performDma(this.memory, (addr) => this.translate(sid, addr, access), op, iova, length, data)
  }

  // ---- IOTLB ---------------------------------------------------------------------------------

  /** The tags entries of stream `sid`'s translations carry, or undefined for a stream with no context. */
  tlbTags(sid: number): TlbTags | undefined {
    const r = this.resolve(sid)
    return r.kind === 'resolved' ? r.tags : undefined
  }

  get tlbSize(): number {
    return this.tlb.size
  }

  get tlbStats(): Readonly<IotlbStats> {
    return this.tlb.stats
  }

  /** CMD_TLBI_NSNH_ALL / TLBIALLNSNH. Each invalidation returns the number of entries removed. */
  invalidateAll(): number {
    return this.tlb.invalidateAll()
  }

  /** CMD_TLBI_NH_ASID / TLBIASID (within one VMID when given). */
  invalidateAsid(asid: number, vmid?: number): number {
    return this.tlb.invalidateAsid(asid, vmid)
  }

  /** CMD_TLBI_S12_VMALL / TLBIVMID: every entry of the VMID, stage 1 and combined included. */
  invalidateVmid(vmid: number): number {
    return this.tlb.invalidateVmid(vmid)
  }

  /** CMD_TLBI_NH_VA / TLBIVA: entries whose input block meets [iova, iova + length). */
  invalidateVa(iova: number, length: number, tags: Partial<TlbTags> = {}): number {
    return this.tlb.invalidateVa(iova, length, tags)
  }

  /**
   * CMD_TLBI_S2_IPA / TLBIIPAS2: the VMID's entries whose IPA block meets [ipa, ipa + length).
   * Combined stage-1 + stage-2 entries are matched by their intermediate block (the architecture
   * allows this and does not require it).
   */
  invalidateIpa(vmid: number, ipa: number, length: number): number {
    return this.tlb.invalidateIpa(vmid, ipa, length)
  }

  /**
   * The driver's tlb_flush_walk / tlb_add_page for [iova, iova + length) of a domain's context
   * (arm_smmu_tlb_inv_range_s1/_s2, arm_smmu_tlb_inv_range_domain): by ASID and VA for a
   * stage-1 context, by IPA within the VMID for a stage-2 (S2 or NESTED) context.
   */
  flushRange(ctx: SmmuContext, iova: number, length: number): number {
    const tags = this.arch.tags(ctx)
    if (ctx.translation === 'stage 1') return this.tlb.invalidateVa(iova, length, tags)
    return this.tlb.invalidateIpa(tags.vmid, iova, length)
  }

  /** The driver's tlb_flush_all for a context (io-pgtable free): its ASID, or its whole VMID. */
  flushContext(ctx: SmmuContext): number {
    const tags = this.arch.tags(ctx)
    if (ctx.translation === 'stage 1') return this.tlb.invalidateAsid(tags.asid, tags.vmid)
    return this.tlb.invalidateVmid(tags.vmid)
  }

  /**
   * A guest's TLB invalidation for the stage 1 it runs over stream `sid`'s NESTED domain, as the
   * host forwards it (with the stage-2 context's VMID): by ASID and VA, or the whole ASID.
   */
  guestInvalidate(sid: number, tlbi: GuestTlbi): Result<number> {
    const ctx = this.streams.get(sid)
    if (ctx === undefined || ctx.stage !== 'NESTED') return fail('EINVAL', `stream ${hex(sid)} is not attached to a NESTED domain`)
    const tags = { asid: tlbi.asid, vmid: ctx.vmid ?? -1 }
    if (tlbi.iova === undefined) return ok(this.tlb.invalidateAsid(tags.asid, tags.vmid))
    return ok(this.tlb.invalidateVa(tlbi.iova, tlbi.length ?? 1, tags))
  }

  // ---- fault reporting -----------------------------------------------------------------------

  /** SMMUv3: the event queue, oldest first (empty on other architectures). */
  events(): readonly EventRecord[] {
    return this.arch.events()
  }

  /** SMMUv3: read and consume every queued event. */
  drainEvents(): EventRecord[] {
    return this.arch.drainEvents()
  }

  /** SMMUv1/v2: the fault registers of context bank `bank` (its latest fault), if it faulted. */
  contextBankFault(bank: number): ContextBankFault | undefined {
    return this.arch.contextBankFault(bank)
  }

  // ---- internals -----------------------------------------------------------------------------

  private resolve(sid: number, at?: Transaction): Resolution {
    const ctx = this.streams.get(sid)
    const view = ctx === undefined ? undefined : { ctx, regime: this.regimes.get(ctx), guest: this.guests.get(sid) }
    return this.arch.resolve(sid, view, at)
  }

  /** The driver rewrites what it keeps for the stream (SMMUv3: its STE and CD, then CFGI_STE). */
  private syncStream(sid: number): void {
    const ctx = this.streams.get(sid)
    const regime = ctx === undefined ? undefined : this.regimes.get(ctx)
    this.arch.syncStream(sid, ctx, regime, ctx === undefined || regime === undefined ? undefined : this.guests.get(sid))
  }

  private walkFor(mem: DescriptorReader, r: Resolved, iova: number, access: Access): WalkResult {
    if (r.guest !== undefined && r.regime.stage === 2) return walkNested(mem, r.guest.context, r.regime, iova, access)
    if (r.regime.stage === 1) return walkStage1(mem, r.regime, iova, access)
    // Stage 1 bypassed: the architecture's check of the input before stage 2 (SMMUv3: the IAS).
    return this.arch.stage1BypassFault(iova) ?? walkStage2(mem, r.regime, iova, access)
  }

  private report(sid: number, r: Resolved, fault: Fault, iova: number, access: Access): void {
    this.arch.report(sid, r, fault, iova, access)
  }
}

/**
 * Where an SMMUv3 instance's stream table and CDs live when the caller names no place: high in
 * the 48-bit PA space, away from RAM and the table pool (System gives each instance its own).
 */
export const DEFAULT_STRUCTURES_BASE = 0xc000_0000_0000
/** Bytes of PA space each instance's structures may span (2^32 streams x 128 bytes < 2^40). */
export const STRUCTURES_SPAN = 2 ** 40

/** The context model of the fixture's architecture. */
function contextModelFor(features: FeatureSet, driver: SmmuDriverBehaviour, memory: PhysMemory, structuresBase: number): ContextModel {
  switch (features.arch) {
    case 'smmuv3':
      return new StreamTableModel(features, driver, memory, structuresBase)
    case 'intel-vtd':
      return new VtdContextModel()
    default:
      return new ContextBankModel(features, driver)
  }
}

const ALL: Perm = { read: true, write: true, exec: true }

/** The access as the walk sees it: SMMUv3 STE.PRIVCFG may override its privilege. */
function effectiveAccess(r: Resolved, access: Access): Access {
  return r.privileged === undefined ? access : { ...access, privileged: r.privileged }
}

/** SMMUv3 STE.Config = bypass: the input address is the PA, with every permission (page by page). */
function bypassed(iova: number): Translation {
  return { kind: 'ok', input: iova, oa: iova, level: 3, size: PAGE_SIZE, perm: ALL }
}

/** The translation a cached entry gives for `iova` (inside its block). */
function fromEntry(e: IotlbEntry, iova: number): Translation {
  const offset = iova - e.iova
  const t: Translation = { ...e.translation, input: iova, oa: e.oa + offset }
  return e.ipa === undefined ? t : { ...t, ipa: e.ipa + offset }
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`
}
