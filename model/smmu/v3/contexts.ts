/**
 * The SMMUv3 context model (Arm IHI 0070; QEMU keeps the same split in smmuv3.c). The driver side:
 * a stage-1 domain takes an ASID, a stage-2 or nested one a VMID (with the profile's allocation
 * rules), and each stream's STE (and the host's CD) is written as bytes (stream-table.ts), or
 * written raw (writeSte). The SMMU side: every transaction's configuration is what the STE and CD
 * in memory say, whatever the driver meant (decoded, cached until CMD_CFGI_*); an ILLEGAL one is
 * C_BAD_STE / C_BAD_CD, a stage-1-bypass input beyond the IAS a stage-1 Address size fault (3.4),
 * and faults are event records (events.ts, one encoder) in the event queue, recorded as CD.R and
 * STE.S2R say (3.12).
 */
import { fail, ok, type Result } from '../../errno'
import type { FeatureSet } from '../../hw/features'
import type { PhysMemory } from '../../memory'
import type { Access, Fault, Granule, TranslationContext } from '../../pgtable'
import type { SmmuDriverBehaviour } from '../../profiles'
import type { ContextModel, DriverView, GuestFields, Resolution, Resolved, TlbTags, Transaction } from '../arch'
import { lowestFree, type SmmuContext, type StreamTableContext } from '../context'
import { eventFor, type ContextBankFault, type EventRecord } from '../events'
import { GuestMemory, type GuestStage1 } from '../guest'
import { selectStage, type DomainStage } from '../stage'
import type { StreamFault } from '../translate'
import type { SmmuV3Id } from './config'
import { faultEvent } from './events'
import { leBytes } from './fields'
import { cdWords, StreamTableMemory, type CfgiCommand, type StreamConfig } from './stream-table'

const GRANULE_BYTES: Readonly<Record<string, Granule>> = { '4K': 4096, '16K': 16384, '64K': 65536 }

/**
 * The S2VMID of a stage-1-only STE: Linux leaves it 0 (arm_smmu_make_cdtable_ste writes none) and
 * its stage-1 TLB invalidations carry VMID 0 (arm_smmu_tlb_inv_asid). With stage 2 implemented it
 * tags the stream's TLB entries (IHI 0070 5.2 S2VMID).
 */
const S1_STE_VMID = 0

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

export class StreamTableModel implements ContextModel {
  readonly asidBits: number
  private readonly ids: StreamTableAllocator
  /** The STEs and CDs the driver writes and the SMMU reads back. */
  readonly steMemory: StreamTableMemory
  /** The event queue, oldest first. */
  private readonly queue: EventRecord[] = []

  constructor(
    private readonly features: FeatureSet,
    private readonly driver: SmmuDriverBehaviour,
    private readonly memory: PhysMemory,
    structuresBase: number,
  ) {
    this.asidBits = features.asidBits
    this.ids = new StreamTableAllocator(features, driver.v3Ids)
    this.steMemory = new StreamTableMemory(memory, structuresBase, v3Id(features), features.streamIdBits)
  }

  stageFor(current: DomainStage): DomainStage {
    return selectStage(current, this.features.translation, this.driver)
  }

  bankRange(): undefined {
    return undefined
  }

  allocate(stage: DomainStage): Result<SmmuContext> {
    return this.ids.allocate(stage)
  }

  release(ctx: SmmuContext): void {
    if (ctx.kind === 'stream-table') this.ids.release(ctx)
  }

  banksInUse(): number[] {
    return []
  }

  /**
   * A guest's stage 1 in the stream's STE. With stage 2 enabled STE.S1ContextPtr is an IPA (IHI
   * 0070 5.2), so the guest's CD is in the guest's memory: the guest writes it at `cdIpa` (through
   * the host's stage 2, as its own memory: EFAULT where the host mapped nothing writable) and the
   * STE points there. EINVAL without a CD IPA.
   */
  nestGuest(_ctx: SmmuContext, regime: TranslationContext, _previous: GuestStage1 | undefined, fields: GuestFields): Result<GuestStage1> {
    if (fields.cdIpa === undefined) {
      return fail('EINVAL', "on SMMUv3 a nested STE's S1ContextPtr is an IPA: the guest's CD is in its own memory, at an IPA it must name")
    }
    if (regime.stage !== 2) return fail('EINVAL', 'a guest CD at an IPA needs a stage-2 context')
    const written = new GuestMemory(this.memory, regime).write(fields.cdIpa, leBytes(cdWords(fields)))
    if (!written.ok) return written
    return ok({ kind: 'stream-table', ...fields })
  }

  unnestGuest(): void {}

  /** Write the stream's STE (and the host's CD) for what the driver programmed, then CFGI_STE. */
  syncStream(sid: number, ctx: SmmuContext | undefined, regime: TranslationContext | undefined, guest: GuestStage1 | undefined): void {
    if (ctx === undefined || regime === undefined) {
      this.steMemory.write(sid, undefined)
      return
    }
    let cfg: StreamConfig
    if (regime.stage === 1) cfg = { s1: { regs: regime.regs, asid: ctx.asid ?? 0 }, s1Vmid: S1_STE_VMID }
    else if (guest !== undefined) {
      const cdIpa = guest.kind === 'stream-table' ? guest.cdIpa : undefined
      cfg = { s1: { regs: guest.regs, asid: guest.asid, cdIpa }, s2: { regs: regime.regs, vmid: ctx.vmid ?? 0 } }
    } else cfg = { s2: { regs: regime.regs, vmid: ctx.vmid ?? 0 } }
    this.steMemory.write(sid, cfg)
  }

  /**
   * A context's TLB tags as its STE makes them: a stage-1 domain's entries carry its ASID and, when
   * stage 2 is implemented, the S2VMID of its STE (S1_STE_VMID); a stage-2 or nested one its VMID.
   */
  tags(ctx: SmmuContext): TlbTags {
    if (ctx.translation === 'stage 1') return { vmid: this.features.translation.stage2 ? S1_STE_VMID : -1, asid: ctx.asid ?? -1 }
    return { vmid: ctx.vmid ?? -1, asid: -1 }
  }

  steAddress(sid: number): number {
    return this.steMemory.steAddress(sid)
  }

  configInvalidate(cmd: CfgiCommand): void {
    this.steMemory.invalidate(cmd)
  }

  writeSte(sid: number, words: readonly bigint[]): void {
    this.steMemory.writeSte(sid, words)
  }

  readSte(sid: number): bigint[] {
    return this.steMemory.readSte(sid)
  }

  /**
   * The stream's configuration as the SMMU reads it, from the STE and CD bytes (the driver's view
   * plays no part). With `at` (a transaction under way) what the lookup meets is recorded: the
   * configuration errors (C_BAD_STREAMID, C_BAD_STE, C_BAD_CD, 7.3.3/7.3.5/7.3.11, the StreamID
   * only), fetch aborts (F_STE_FETCH, F_CD_FETCH), a stage-2 fault on the CD's IPA (CLASS = CD,
   * IPA = the CD's address, 7.3.13, under STE.S2R), and CD.EPD0 = 1 (a stage-1 Translation fault of
   * the input, under CD.R). STE.Config abort records nothing (5.2).
   */
  resolve(sid: number, view: DriverView | undefined, at?: Transaction): Resolution {
    const notTranslated = (reason: string): StreamFault => ({ kind: 'streamNotTranslated', sid, reason })
    if (!(Number.isInteger(sid) && sid >= 0 && sid < 2 ** this.features.streamIdBits)) {
      if (at !== undefined) this.queue.push({ name: 'C_BAD_STREAMID', sid })
      return notTranslated(`C_BAD_STREAMID: beyond the stream table's 2^${this.features.streamIdBits} entries`)
    }
    const d = this.steMemory.read(sid)
    switch (d.kind) {
      case 'abort':
        return notTranslated('the STE aborts the stream')
      case 'bypass':
        return { kind: 'bypass' }
      case 'C_BAD_STE':
      case 'C_BAD_CD':
        if (at !== undefined) this.queue.push({ name: d.kind, sid })
        return notTranslated(`${d.kind} by ${d.rule}: ${d.reason}`)
      case 'F_STE_FETCH':
      case 'F_CD_FETCH':
        if (at !== undefined) this.queue.push({ name: d.kind, sid, fetchAddr: d.fetchAddr })
        return notTranslated(`${d.kind}: the bus aborted the read at 0x${d.fetchAddr.toString(16)}`)
      case 'cdFetchFault':
        if (at === undefined) return notTranslated(`stage 2 cannot fetch the CD at IPA 0x${d.cdIpa.toString(16)}`)
        if (d.recordS2) this.queue.push(faultEvent(d.fault, sid, at.iova, at.access, d.cdIpa))
        return d.fault
    }
    const { s1, s2 } = d
    const record = { s1: s1?.record ?? true, s2: d.recordS2 }
    if (s1 !== undefined && s1.context === undefined) {
      // CD.EPD0 = 1: no TTB0 walk, every input address is a stage-1 Translation fault (5.4 EPD0).
      if (at === undefined) return notTranslated('CD.EPD0 = 1: no TTB0 walk')
      const fault: Fault = { kind: 'translation', stage: 1, level: 0, addr: at.iova, onS1TableWalk: false }
      if (record.s1) this.queue.push(eventFor(fault, sid, at.iova, at.access))
      return fault
    }
    const common = { kind: 'resolved', ctx: view?.ctx, privileged: d.privileged, record } as const
    if (s1?.context !== undefined && s2 !== undefined) {
      const guest: GuestStage1 = { kind: 'stream-table', asid: s1.asid, vmid: d.vmid, regs: s1.context.regs, context: s1.context }
      return { ...common, regime: s2, guest, tags: { vmid: d.vmid, asid: s1.asid } }
    }
    if (s2 !== undefined) return { ...common, regime: s2, tags: { vmid: d.vmid, asid: -1 } }
    if (s1?.context === undefined) throw new Error(`stream 0x${sid.toString(16)}: a translating STE without a stage`)
    return { ...common, regime: s1.context, tags: { vmid: d.vmid, asid: s1.asid } }
  }

  /**
   * Stage 1 bypassed: an input beyond the IAS (= OAS on an AArch64-only SMMUv3, IHI 0070 3.4) is a
   * stage-1 Address size fault before any stage-2 walk; always recorded (3.4: there is no CD), S2 =
   * 0, CLASS = IN (7.3.14).
   */
  stage1BypassFault(iova: number): Fault | undefined {
    if (iova < 2 ** this.features.ias) return undefined
    return { kind: 'addressSize', stage: 1, level: 0, addr: iova, onS1TableWalk: false }
  }

  /**
   * A translation fault is recorded when the stage's record bit says so (CD.R for stage 1, STE.S2R
   * for stage 2, 3.12); an external abort on a walk always is. The transaction is terminated either way.
   */
  report(sid: number, r: Resolved, fault: Fault, iova: number, access: Access): void {
    const record = r.record === undefined || fault.kind === 'externalAbort' || (fault.stage === 1 ? r.record.s1 : r.record.s2)
    if (record) this.queue.push(eventFor(fault, sid, iova, access))
  }

  events(): readonly EventRecord[] {
    return this.queue
  }

  drainEvents(): EventRecord[] {
    return this.queue.splice(0)
  }

  contextBankFault(): ContextBankFault | undefined {
    return undefined
  }
}

/** The SMMUv3 ID-register facts configuration decoding needs, from a fixture. */
export function v3Id(f: FeatureSet): SmmuV3Id {
  return {
    stage1: f.translation.stage1,
    stage2: f.translation.stage2,
    oas: f.oas,
    granules: f.granules.map((g) => GRANULE_BYTES[g]),
    ssidBits: 0,
    stt: false,
  }
}
