/**
 * One SMMU instance, built from a hardware feature set and driven by a kernel's arm-smmu driver
 * behaviour. It knows its stages, its contexts and which stream uses which context; it knows
 * nothing of iommu domains or VFIO.
 *
 * Translation (a device's transaction on stream `sid`):
 *   stream -> context (S2CR / STE) -> IOTLB, tagged (VMID, ASID) -> on a miss, a walk over memory:
 *     stage-1 context                     walkStage1 (stage 2 bypassed)
 *     stage-2 context                     walkStage2 (the input is an IPA)
 *     stage-2 context + guest stage 1     walkNested (every stage-1 table address is an IPA)
 *   -> a Translation, cached; or a Fault, reported (SMMUv3 event queue, SMMUv1/v2 bank registers).
 *
 * IOTLB tags: a context's (VMID, ASID) as the driver programmed them, -1 where there is none
 * (stage-1 contexts without a VMID, stage-2 contexts without an ASID); a guest stage 1 is tagged
 * (VMID of the stage-2 context, the guest's ASID); a VT-d context (DID, -1). Entries are only made
 * by successful walks. A hit whose permissions deny the access is walked again (the architecture
 * also allows a fault from the cached entry), so a stale entry can keep granting what it granted,
 * never deny what the tables now grant. Invalidation is explicit: the driver's flush ops
 * (flushRange on unmap, flushContext when a domain is freed), the guest's TLBIs (guestInvalidate),
 * or the raw commands (invalidateAll / Asid / Vmid / Va / Ipa).
 */
import { fail, ok, type Result } from '../errno'
import type { FeatureSet } from '../hw/features'
import type { DescriptorReader, PhysMemory } from '../memory'
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
  type S1Regs,
  type Translation,
  type TranslationContext,
  type WalkResult,
} from '../pgtable'
import type { SmmuDriverBehaviour } from '../profiles'
import { ContextBankAllocator, DomainIdAllocator, firstBankFor, StreamTableAllocator, type SmmuContext } from './context'
import { contextBankFaultFor, eventFor, type ContextBankFault, type EventRecord } from './events'
import { TracingReader, type DescriptorRead } from './explain'
import { GuestMemory, type GuestStage1 } from './guest'
import { selectStage, type DomainStage } from './stage'
import { performDma, type DmaResult, type StreamFault, type TranslateResult } from './translate'
import { StreamTableMemory, type StreamConfig } from './v3/stream-table'
import type { SmmuV3Id } from './v3/config'
import type { Granule } from '../pgtable'

export interface BankRange {
  readonly first: number
  readonly last: number
}

/** The (VMID, ASID) pair IOTLB entries are tagged with; -1 for "none". */
export interface TlbTags {
  readonly vmid: number
  readonly asid: number
}

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
/** Linux programs 16-bit ASIDs on AArch64 SMMUv1/v2 stage-1 banks (TTBCR2.AS). */
const V2_ASID_BITS = 16

interface Resolved {
  readonly kind: 'resolved'
  readonly ctx: SmmuContext
  readonly regime: TranslationContext
  readonly guest?: GuestStage1
  readonly tags: TlbTags
}

export class SmmuInstance {
  private readonly banks?: ContextBankAllocator
  private readonly streamTable?: StreamTableAllocator
  private readonly domainIds?: DomainIdAllocator
  /** SMMUv3: the STEs and CDs the driver writes and the SMMU reads back (v3/stream-table.ts). */
  private readonly steMemory?: StreamTableMemory
  /** Stream ID -> the context its S2CR/STE points at. */
  private readonly streams = new Map<number, SmmuContext>()
  /** Context -> the translation regime programmed into it (TTBR/VTTBR, TCR/VTCR). */
  private readonly regimes = new Map<SmmuContext, TranslationContext>()
  /** Stream ID -> the guest stage 1 nested in its (stage-2) context. */
  private readonly guests = new Map<number, GuestStage1>()
  private readonly tlb = new Iotlb()
  /** SMMUv3: the event queue, oldest first. */
  private readonly eventQueue: EventRecord[] = []
  /** SMMUv1/v2: each bank's latest fault. */
  private readonly bankFaults = new Map<number, ContextBankFault>()

  private constructor(
    readonly name: string,
    readonly features: FeatureSet,
    private readonly driver: SmmuDriverBehaviour,
    private readonly memory: PhysMemory,
    structuresBase: number,
  ) {
    if (features.arch === 'smmuv3') {
      this.streamTable = new StreamTableAllocator(features, driver.v3Ids)
      this.steMemory = new StreamTableMemory(memory, structuresBase, v3Id(features))
    }
    else if (features.arch === 'intel-vtd') this.domainIds = new DomainIdAllocator()
    else this.banks = new ContextBankAllocator(features, driver.contextIds)
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
    if (this.domainIds !== undefined) return 'S2' // VT-d: second-level translation, whatever was asked
    return selectStage(current, this.features.translation, this.driver)
  }

  /** The banks a domain of `stage` may take (SMMUv1/v2 only). */
  bankRange(stage: DomainStage): BankRange | undefined {
    if (this.banks === undefined) return undefined
    return { first: firstBankFor(stage, this.features), last: this.features.contextBanks - 1 }
  }

  /** Take a bank (or an ASID/VMID) for a domain of an already fixed-up `stage`. */
  allocateContext(stage: DomainStage): Result<SmmuContext> {
    if (this.banks !== undefined) return this.banks.allocate(stage)
    if (this.streamTable !== undefined) return this.streamTable.allocate(stage)
    if (this.domainIds !== undefined) return this.domainIds.allocate()
    throw new Error('SMMU instance without a context allocator')
  }

  /** Gives the context back. Its IOTLB entries are the caller's to flush first (flushContext). */
  releaseContext(ctx: SmmuContext): void {
    for (const [sid, c] of this.streams) {
      if (c === ctx) throw new Error(`context released while stream ${hex(sid)} still uses it`)
    }
    this.regimes.delete(ctx)
    if (ctx.kind === 'context-bank') this.banks?.release(ctx.bank)
    else if (ctx.kind === 'stream-table') this.streamTable?.release(ctx)
    else this.domainIds?.release(ctx)
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
    return this.steMemory?.steAddress(sid)
  }

  /** SMMUv3 CMD_CFGI_STE: forget the cached configuration of `sid`; the next lookup reads the STE again. */
  configInvalidate(sid: number): void {
    this.steMemory?.invalidate(sid)
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
    return this.banks?.inUse() ?? []
  }

  // ---- nesting: a guest's stage 1 over a NESTED domain's stage 2 ----------------------------

  /**
   * Nest a guest's stage 1 (`regs`: its TTB as an IPA, T0SZ, granule, IPS; `asid`) in the
   * stage-2 context of stream `sid` (see guest.ts). Errors: EINVAL when the stream's context is
   * not a NESTED domain's, or for registers or an ASID the context cannot hold; EOPNOTSUPP when
   * the hardware cannot nest (no IDR0.NTS, or not both S1P and S2P); ENOSPC when no stage-1 bank
   * is free (SMMUv1/v2). Installing again replaces the configuration (same bank).
   */
  installGuestStage1(sid: number, regs: S1Regs, asid: number): Result<GuestStage1> {
    const ctx = this.streams.get(sid)
    const regime = ctx === undefined ? undefined : this.regimes.get(ctx)
    if (ctx === undefined || regime === undefined || ctx.stage !== 'NESTED' || regime.stage !== 2) {
      return fail('EINVAL', `stream ${hex(sid)} is not attached to a NESTED domain (its context is ${ctx === undefined ? 'none' : ctx.stage})`)
    }
    if (!this.features.translation.nested) return fail('EOPNOTSUPP', `SMMU ${this.name} (${this.features.name}) cannot nest stage 1 in stage 2`)
    const asidBits = this.features.arch === 'smmuv3' ? this.features.asidBits : V2_ASID_BITS
    if (!Number.isInteger(asid) || asid < 0 || asid >= 2 ** asidBits) return fail('EINVAL', `ASID ${asid} does not fit ${asidBits} bits`)
    const s1 = stage1Context(regs)
    if (!s1.ok) return s1
    const vmid = ctx.vmid ?? -1
    const previous = this.guests.get(sid)
    if (previous !== undefined) this.tlb.invalidateAsid(previous.asid, previous.vmid)
    let guest: GuestStage1
    if (ctx.kind === 'context-bank' && this.banks !== undefined) {
      let bank = previous?.kind === 'context-bank' ? previous.bank : undefined
      if (bank === undefined) {
        const taken = this.banks.allocateNestedStage1()
        if (!taken.ok) return taken
        bank = taken.value
      }
      guest = { kind: 'context-bank', bank, cbar: 'S1_TRANS_S2_TRANS', s2Bank: ctx.bank, asid, vmid, regs, context: s1.value }
    } else {
      guest = { kind: 'stream-table', asid, vmid, regs, context: s1.value }
    }
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
    if (guest.kind === 'context-bank') this.banks?.release(guest.bank)
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

  /** One transaction of stream `sid` at `iova`: IOTLB, else a walk; faults are reported. */
  translate(sid: number, iova: number, access: Access = READ): TranslateResult {
    const r = this.resolve(sid)
    if (r.kind === 'streamNotTranslated') return r
    const privileged = access.privileged === true
    const hit = this.tlb.lookup(r.tags.vmid, r.tags.asid, privileged, iova)
    if (hit !== undefined && hit.perm[access.kind]) return fromEntry(hit, iova)
    const t = this.walkFor(this.memory, r, iova, access)
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
    if (r.kind === 'streamNotTranslated') return { result: r, reads: [] }
    const reader = new TracingReader(this.memory)
    return { result: this.walkFor(reader, r, iova, access), reads: reader.reads }
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
    return r.kind === 'streamNotTranslated' ? undefined : r.tags
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
    const tags = tagsOf(ctx)
    if (ctx.translation === 'stage 1') return this.tlb.invalidateVa(iova, length, tags)
    return this.tlb.invalidateIpa(tags.vmid, iova, length)
  }

  /** The driver's tlb_flush_all for a context (io-pgtable free): its ASID, or its whole VMID. */
  flushContext(ctx: SmmuContext): number {
    const tags = tagsOf(ctx)
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
    return this.eventQueue
  }

  /** SMMUv3: read and consume every queued event. */
  drainEvents(): EventRecord[] {
    return this.eventQueue.splice(0)
  }

  /** SMMUv1/v2: the fault registers of context bank `bank` (its latest fault), if it faulted. */
  contextBankFault(bank: number): ContextBankFault | undefined {
    return this.bankFaults.get(bank)
  }

  // ---- internals -----------------------------------------------------------------------------

  private resolve(sid: number): Resolved | StreamFault {
    const ctx = this.streams.get(sid)
    const regime = ctx === undefined ? undefined : this.regimes.get(ctx)
    if (ctx === undefined || regime === undefined) {
      const reason = ctx === undefined ? 'no context for the stream (transactions abort)' : 'context has no translation programmed'
      return { kind: 'streamNotTranslated', sid, reason }
    }
    if (this.steMemory !== undefined) return this.resolveFromStreamTable(sid, ctx, this.steMemory)
    const guest = this.guests.get(sid)
    if (guest !== undefined) return { kind: 'resolved', ctx, regime, guest, tags: { vmid: guest.vmid, asid: guest.asid } }
    return { kind: 'resolved', ctx, regime, tags: tagsOf(ctx) }
  }

  /** SMMUv3: the stream's configuration as the SMMU reads it, from the STE and CD bytes. */
  private resolveFromStreamTable(sid: number, ctx: SmmuContext, st: StreamTableMemory): Resolved | StreamFault {
    const d = st.read(sid)
    if (d.kind === 'abort') return { kind: 'streamNotTranslated', sid, reason: 'the STE aborts the stream' }
    if (d.kind !== 'translate') return { kind: 'streamNotTranslated', sid, reason: `${d.kind}: ${d.reason}` }
    const { s1, s2 } = d
    if (s1 !== undefined && s2 !== undefined) {
      const guest: GuestStage1 = { kind: 'stream-table', asid: s1.asid, vmid: s2.vmid, regs: s1.regs, context: s1.context }
      return { kind: 'resolved', ctx, regime: s2.context, guest, tags: { vmid: s2.vmid, asid: s1.asid } }
    }
    if (s2 !== undefined) return { kind: 'resolved', ctx, regime: s2.context, tags: { vmid: s2.vmid, asid: -1 } }
    if (s1 === undefined) throw new Error(`stream ${hex(sid)}: a translating STE without a stage`)
    return { kind: 'resolved', ctx, regime: s1.context, tags: { vmid: ctx.vmid ?? -1, asid: s1.asid } }
  }

  /** SMMUv3: write the stream's STE (and CD) for what the driver programmed, then CFGI_STE. */
  private syncStream(sid: number): void {
    if (this.steMemory === undefined) return
    const ctx = this.streams.get(sid)
    const regime = ctx === undefined ? undefined : this.regimes.get(ctx)
    if (ctx === undefined || regime === undefined) {
      this.steMemory.write(sid, undefined)
      return
    }
    const guest = this.guests.get(sid)
    let cfg: StreamConfig
    if (regime.stage === 1) cfg = { s1: { regs: regime.regs, asid: ctx.asid ?? 0 } }
    else if (guest !== undefined) cfg = { s1: { regs: guest.regs, asid: guest.asid }, s2: { regs: regime.regs, vmid: ctx.vmid ?? 0 } }
    else cfg = { s2: { regs: regime.regs, vmid: ctx.vmid ?? 0 } }
    this.steMemory.write(sid, cfg)
  }

  private walkFor(mem: DescriptorReader, r: Resolved, iova: number, access: Access): WalkResult {
    if (r.guest !== undefined && r.regime.stage === 2) return walkNested(mem, r.guest.context, r.regime, iova, access)
    if (r.regime.stage === 1) return walkStage1(mem, r.regime, iova, access)
    // SMMUv3 with stage 1 bypassed: an input beyond the IAS (= OAS on an AArch64-only SMMUv3) is a
    // stage-1 Address size fault before any stage-2 walk (QEMU smmu_ptw, facts §3).
    if (this.features.arch === 'smmuv3' && !(iova < 2 ** this.features.ias)) {
      return { kind: 'addressSize', stage: 1, level: 0, addr: iova, onS1TableWalk: false }
    }
    return walkStage2(mem, r.regime, iova, access)
  }

  private report(sid: number, r: Resolved, fault: Fault, iova: number, access: Access): void {
    if (this.features.arch === 'smmuv3') {
      this.eventQueue.push(eventFor(fault, sid, iova, access))
      return
    }
    const bank = r.guest?.kind === 'context-bank' ? r.guest.bank : r.ctx.kind === 'context-bank' ? r.ctx.bank : undefined
    if (bank !== undefined) this.bankFaults.set(bank, contextBankFaultFor(fault, bank, iova, access))
  }
}

/**
 * Where an SMMUv3 instance's stream table and CDs live when the caller names no place: high in
 * the 48-bit PA space, away from RAM and the table pool (System gives each instance its own).
 */
export const DEFAULT_STRUCTURES_BASE = 0xc000_0000_0000
/** Bytes of PA space each instance's structures may span (2^32 streams x 128 bytes < 2^40). */
export const STRUCTURES_SPAN = 2 ** 40

const GRANULE_BYTES: Readonly<Record<string, Granule>> = { '4K': 4096, '16K': 16384, '64K': 65536 }

/** The SMMUv3 ID-register facts configuration decoding needs, from a fixture. */
function v3Id(f: FeatureSet): SmmuV3Id {
  return {
    stage1: f.translation.stage1,
    stage2: f.translation.stage2,
    oas: f.oas,
    granules: f.granules.map((g) => GRANULE_BYTES[g]),
    ssidBits: 0,
    stt: false,
  }
}

/** A context's IOTLB tags as the driver programmed it. */
export function tagsOf(ctx: SmmuContext): TlbTags {
  if (ctx.kind === 'vtd-context') return { vmid: ctx.domainId, asid: -1 }
  return { vmid: ctx.vmid ?? -1, asid: ctx.asid ?? -1 }
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
