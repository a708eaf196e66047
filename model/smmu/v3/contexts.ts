/**
 * The SMMUv3 context model (Arm IHI 0070; QEMU keeps the same split in smmuv3.c): a stage-1 domain
 * takes an ASID, a stage-2 or nested one a VMID (context.ts, with the profile's allocation rules);
 * the driver side writes each stream's STE and CD as bytes (stream-table.ts) and every lookup
 * decodes them; a stage-1-bypass input beyond the IAS is a stage-1 Address size fault (3.4); faults
 * are event records (events.ts, one encoder) in the event queue.
 */
import { fail, ok, type Result } from '../../errno'
import type { FeatureSet } from '../../hw/features'
import type { PhysMemory } from '../../memory'
import type { Access, Fault, Granule, TranslationContext } from '../../pgtable'
import type { SmmuDriverBehaviour } from '../../profiles'
import { type ContextModel, type GuestFields, type Resolved, type Transaction } from '../arch'
import { StreamTableAllocator, type SmmuContext } from '../context'
import { eventFor, type ContextBankFault, type EventRecord } from '../events'
import { GuestMemory, type GuestStage1 } from '../guest'
import { selectStage, type DomainStage } from '../stage'
import type { StreamFault } from '../translate'
import type { SmmuV3Id } from './config'
import { faultEvent } from './events'
import { cdWords, leBytes, StreamTableMemory, type CfgiCommand, type StreamConfig } from './stream-table'

const GRANULE_BYTES: Readonly<Record<string, Granule>> = { '4K': 4096, '16K': 16384, '64K': 65536 }

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
    this.steMemory = new StreamTableMemory(memory, structuresBase, v3Id(features))
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
   * A guest's stage 1 in the stream's STE. With `cdIpa` the guest has written its CD at that IPA
   * (through the host's stage 2, as its own memory: EFAULT where the host mapped nothing writable)
   * and the STE's S1ContextPtr is the IPA; otherwise the host writes a copy beside the STE.
   */
  nestGuest(_ctx: SmmuContext, regime: TranslationContext, _previous: GuestStage1 | undefined, fields: GuestFields): Result<GuestStage1> {
    if (fields.cdIpa !== undefined) {
      if (regime.stage !== 2) return fail('EINVAL', 'a guest CD at an IPA needs a stage-2 context')
      const written = new GuestMemory(this.memory, regime).write(fields.cdIpa, leBytes(cdWords(fields)))
      if (!written.ok) return written
    }
    return ok({ kind: 'stream-table', ...fields })
  }

  unnestGuest(): void {}

  /** Write the stream's STE (and CD) for what the driver programmed, then CFGI_STE. */
  syncStream(sid: number, ctx: SmmuContext | undefined, regime: TranslationContext | undefined, guest: GuestStage1 | undefined): void {
    if (ctx === undefined || regime === undefined) {
      this.steMemory.write(sid, undefined)
      return
    }
    let cfg: StreamConfig
    if (regime.stage === 1) cfg = { s1: { regs: regime.regs, asid: ctx.asid ?? 0 } }
    else if (guest !== undefined) {
      const cdIpa = guest.kind === 'stream-table' ? guest.cdIpa : undefined
      cfg = { s1: { regs: guest.regs, asid: guest.asid, cdIpa }, s2: { regs: regime.regs, vmid: ctx.vmid ?? 0 } }
    }
    else cfg = { s2: { regs: regime.regs, vmid: ctx.vmid ?? 0 } }
    this.steMemory.write(sid, cfg)
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

  /** The stream's configuration as the SMMU reads it, from the STE and CD bytes. */
  resolve(sid: number, ctx: SmmuContext, _regime: TranslationContext, _guest: GuestStage1 | undefined, at?: Transaction): Resolved | StreamFault | Fault {
    const d = this.steMemory.read(sid)
    if (d.kind === 'cdFetchFault') {
      // Stage 2 failed on the guest CD's IPA: the transaction's fault, S2 = 1, CLASS = CD, IPA = the
      // CD's address (IHI 0070 7.3.13), recorded when STE.S2R = 1 (the driver sets it).
      if (at === undefined) return { kind: 'streamNotTranslated', sid, reason: `stage 2 cannot fetch the CD at IPA 0x${d.cdIpa.toString(16)}` }
      this.queue.push(faultEvent(d.fault, sid, at.iova, at.access, d.cdIpa))
      return d.fault
    }
    if (d.kind === 'abort') return { kind: 'streamNotTranslated', sid, reason: 'the STE aborts the stream' }
    if (d.kind !== 'translate') {
      // A configuration error is an event too (IHI 0070 7.3.5 C_BAD_STE, 7.3.11 C_BAD_CD: the
      // StreamID, recorded for every transaction that meets it); STE.Config abort records none (5.2).
      this.queue.push({ name: d.kind, sid })
      return { kind: 'streamNotTranslated', sid, reason: `${d.kind}: ${d.reason}` }
    }
    const { s1, s2 } = d
    if (s1 !== undefined && s2 !== undefined) {
      const guest: GuestStage1 = { kind: 'stream-table', asid: s1.asid, vmid: s2.vmid, regs: s1.regs, context: s1.context }
      return { kind: 'resolved', ctx, regime: s2.context, guest, tags: { vmid: s2.vmid, asid: s1.asid } }
    }
    if (s2 !== undefined) return { kind: 'resolved', ctx, regime: s2.context, tags: { vmid: s2.vmid, asid: -1 } }
    if (s1 === undefined) throw new Error(`stream 0x${sid.toString(16)}: a translating STE without a stage`)
    return { kind: 'resolved', ctx, regime: s1.context, tags: { vmid: ctx.vmid ?? -1, asid: s1.asid } }
  }

  /**
   * Stage 1 bypassed: an input beyond the IAS (= OAS on an AArch64-only SMMUv3, IHI 0070 3.4) is a
   * stage-1 Address size fault before any stage-2 walk; always recorded (3.4), S2 = 0, CLASS = IN
   * (7.3.14).
   */
  stage1BypassFault(iova: number): Fault | undefined {
    if (iova < 2 ** this.features.ias) return undefined
    return { kind: 'addressSize', stage: 1, level: 0, addr: iova, onS1TableWalk: false }
  }

  report(sid: number, _r: Resolved, fault: Fault, iova: number, access: Access): void {
    this.queue.push(eventFor(fault, sid, iova, access))
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
