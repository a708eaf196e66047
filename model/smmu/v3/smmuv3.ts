/**
 * An SMMUv3 that reads its configuration from memory, as the hardware does (Arm IHI 0070):
 *
 *   StreamID -> STE at STRTAB_BASE + sid * 64 (linear stream table)
 *     Config abort: terminated, no event; bypass: the input address is the PA
 *     stage 1: CD at S1ContextPtr (a PA; nested: an IPA translated by stage 2 first, CLASS CD)
 *   -> IOTLB tagged (VMID = STE.S2VMID, ASID = CD.ASID or -1) -> on a miss, a walk:
 *     stage 1 only     walkStage1 over the CD's TTB0
 *     stage 2 only     input >= 2^IAS is a stage-1 Address size fault; else walkStage2
 *     nested           walkNested (every stage-1 table address is an IPA)
 *   -> the output address, or an event record in the event queue.
 *
 * Events (IHI 0070 7.3): C_BAD_STREAMID, F_STE_FETCH, C_BAD_STE, F_CD_FETCH, C_BAD_CD, and the
 * translation faults F_TRANSLATION / F_ADDR_SIZE / F_ACCESS / F_PERMISSION / F_WALK_EABT. A stage-1
 * translation fault is recorded only when CD.R = 1, a stage-2 one only when STE.S2R = 1 (IHI 0070
 * 3.12); the transaction is terminated either way. The stage-1 Address size fault of an input
 * beyond the IAS with stage 1 bypassed has no CD and is always recorded (3.4: "F_ADDR_SIZE is
 * recorded"; STE.S2R governs stage-2 faults only). F_WALK_EABT is always recorded (3.12). CLASS names what was being translated: CD (the CD's IPA),
 * TT (a stage-1 table's IPA, or a stage-1 descriptor fetch that aborted), IN (the input address).
 *
 * No configuration cache: every transaction reads the STE and CD (the architecture allows caching
 * until CMD_CFGI_*, and also allows not caching). Invalidation commands act on the IOTLB.
 */
import { isBusAbort, type PhysMemory } from '../../memory'
import {
  isFault,
  Iotlb,
  walkNested,
  walkStage1,
  walkStage2,
  type Access,
  type Fault,
  type IotlbEntry,
  type S2Context,
  type Translation,
  type WalkResult,
} from '../../pgtable'
import { decodeCd, decodeSte, QEMU_10_SMMUV3_ID, type CdConfig, type SmmuV3Id } from './config'
import { CD_BYTES, STE_BYTES } from './structures'
import { faultEvent, configEvent, fetchEvent, type V3Event } from './events'

export type V3Outcome =
  | { readonly kind: 'translated'; readonly pa: number; readonly translation: Translation }
  | { readonly kind: 'bypass'; readonly pa: number }
  /** Terminated without a record (Config abort, or a fault not recorded: CD.R / STE.S2R = 0). */
  | { readonly kind: 'aborted'; readonly reason: string }
  | { readonly kind: 'fault'; readonly event: V3Event }

/** The invalidation commands the model acts on (IHI 0070 4.4, 4.5). */
export type V3Command =
  | { readonly op: 'CFGI_STE'; readonly sid: number }
  | { readonly op: 'CFGI_ALL' }
  | { readonly op: 'TLBI_NSNH_ALL' }
  | { readonly op: 'TLBI_NH_ASID'; readonly asid: number; readonly vmid: number }
  | { readonly op: 'TLBI_NH_VA'; readonly asid: number; readonly vmid: number; readonly addr: number }
  | { readonly op: 'TLBI_S12_VMALL'; readonly vmid: number }
  | { readonly op: 'TLBI_S2_IPA'; readonly vmid: number; readonly addr: number }
  | { readonly op: 'SYNC' }

const STE_WORDS = STE_BYTES / 8
const CD_WORDS = CD_BYTES / 8
const READ: Access = { kind: 'read' }

export class SmmuV3 {
  private readonly tlb = new Iotlb()
  private readonly queue: V3Event[] = []
  private strtabBase = 0
  private strtabLog2 = 0

  constructor(
    private readonly memory: PhysMemory,
    readonly id: SmmuV3Id = QEMU_10_SMMUV3_ID,
  ) {}

  /** SMMU_STRTAB_BASE and STRTAB_BASE_CFG (linear format, LOG2SIZE). */
  setStreamTable(base: number, log2size: number): void {
    this.strtabBase = base
    this.strtabLog2 = log2size
  }

  steAddress(sid: number): number {
    return this.strtabBase + sid * STE_BYTES
  }

  /** One transaction of stream `sid` at `iova`: a record is queued when the outcome is a fault. */
  translate(sid: number, iova: number, access: Access = READ): V3Outcome {
    const out = this.resolve(sid, iova, access)
    if (out.kind === 'fault') this.queue.push(out.event)
    return out
  }

  command(cmd: V3Command): void {
    switch (cmd.op) {
      case 'TLBI_NSNH_ALL':
        this.tlb.invalidateAll()
        return
      case 'TLBI_NH_ASID':
        this.tlb.invalidateAsid(cmd.asid, cmd.vmid)
        return
      case 'TLBI_NH_VA':
        this.tlb.invalidateVa(cmd.addr, 1, { asid: cmd.asid, vmid: cmd.vmid })
        return
      case 'TLBI_S12_VMALL':
        this.tlb.invalidateVmid(cmd.vmid)
        return
      case 'TLBI_S2_IPA':
        this.tlb.invalidateIpa(cmd.vmid, cmd.addr, 1)
        return
      default:
        return // no configuration cache; SYNC completes at once
    }
  }

  /** Read and consume the event queue. */
  drainEvents(): V3Event[] {
    return this.queue.splice(0)
  }

  private resolve(sid: number, iova: number, access: Access): V3Outcome {
    if (!(sid >= 0 && sid < 2 ** this.strtabLog2)) return configEvent('C_BAD_STREAMID', sid)
    const steAddr = this.steAddress(sid)
    const steWords = this.readWords(steAddr, STE_WORDS)
    if (steWords === undefined) return fetchEvent('F_STE_FETCH', sid, steAddr)
    const ste = decodeSte(steWords, this.id)
    if (ste.kind === 'abort') return { kind: 'aborted', reason: 'STE.Config = abort' }
    if (ste.kind === 'bypass') return { kind: 'bypass', pa: iova }
    if (ste.kind !== 'translate') return configEvent('C_BAD_STE', sid)
    const effective: Access = ste.privileged === undefined ? access : { ...access, privileged: ste.privileged }
    let cd: CdConfig | undefined
    if (ste.stage1) {
      let cdAddr = ste.ste.s1ContextPtr
      if (ste.stage2 !== undefined) {
        const t = walkStage2(this.memory, ste.stage2, cdAddr, { kind: 'read', privileged: effective.privileged })
        if (isFault(t)) return this.faultOutcome(t, sid, iova, access, { cdIpa: cdAddr, recordS1: true, recordS2: ste.recordS2 })
        cdAddr = t.oa
      }
      const cdWords = this.readWords(cdAddr, CD_WORDS)
      if (cdWords === undefined) return fetchEvent('F_CD_FETCH', sid, cdAddr)
      const decoded = decodeCd(cdWords, this.id)
      if ('kind' in decoded) return configEvent('C_BAD_CD', sid)
      cd = decoded
    }
    const asid = cd?.asid ?? -1
    const privileged = effective.privileged === true
    const hit = this.tlb.lookup(ste.vmid, asid, privileged, iova)
    if (hit !== undefined && hit.perm[access.kind]) return translated(fromEntry(hit, iova))
    const walk = this.walk(ste.stage2, cd, iova, effective)
    if (isFault(walk)) return this.faultOutcome(walk, sid, iova, access, { recordS1: cd?.record ?? true, recordS2: ste.recordS2 })
    this.tlb.insert(ste.vmid, asid, privileged, walk)
    return translated(walk)
  }

  private walk(s2: S2Context | undefined, cd: CdConfig | undefined, iova: number, access: Access): WalkResult {
    if (cd !== undefined) {
      if (cd.context === undefined) return { kind: 'translation', stage: 1, level: 0, addr: iova, onS1TableWalk: false }
      return s2 === undefined ? walkStage1(this.memory, cd.context, iova, access) : walkNested(this.memory, cd.context, s2, iova, access)
    }
    if (s2 === undefined) throw new Error('a translating STE without a stage')
    // Stage 1 bypassed: an input beyond the IAS (= OAS on an AArch64-only SMMUv3, IHI 0070 3.4) is
    // a stage-1 Address size fault before any stage-2 walk, recorded with S2 = 0, CLASS = IN (7.3.14)
    // whatever STE.S2R says (faultOutcome: no CD, so recordS1 defaults to true).
    if (!(iova < 2 ** this.id.oas)) return { kind: 'addressSize', stage: 1, level: 0, addr: iova, onS1TableWalk: false }
    return walkStage2(this.memory, s2, iova, access)
  }

  private faultOutcome(
    fault: Fault,
    sid: number,
    iova: number,
    access: Access,
    opts: { cdIpa?: number; recordS1: boolean; recordS2: boolean },
  ): V3Outcome {
    const recorded = fault.kind === 'externalAbort' || (fault.stage === 1 ? opts.recordS1 : opts.recordS2)
    if (!recorded) return { kind: 'aborted', reason: `${fault.kind} fault at stage ${fault.stage}, not recorded (${fault.stage === 1 ? 'CD.R' : 'STE.S2R'} = 0)` }
    return { kind: 'fault', event: faultEvent(fault, sid, iova, access, opts.cdIpa) }
  }

  private readWords(pa: number, count: number): bigint[] | undefined {
    const bytes = this.memory.read(pa, count * 8)
    if (isBusAbort(bytes)) return undefined
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return Array.from({ length: count }, (_, i) => view.getBigUint64(i * 8, true))
  }
}

function translated(t: Translation): V3Outcome {
  return { kind: 'translated', pa: t.oa, translation: t }
}

function fromEntry(e: IotlbEntry, iova: number): Translation {
  const offset = iova - e.iova
  const t: Translation = { ...e.translation, input: iova, oa: e.oa + offset }
  return e.ipa === undefined ? t : { ...t, ipa: e.ipa + offset }
}
