/**
 * arm-smmu-v3's iommufd side, as drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c and the
 * parts of arm-smmu-v3.c it relies on do it (read in Linux 7.1, torvalds/linux
 * arm-smmu-v3-iommufd.c at 056daec2925d, then checked against Debian's linux-source-7.3 7.3.4).
 * Which kernel's rules apply is the profile's IommufdDriverFacts; the SMMU's features come from its fixture (ID registers, IIDR, IORT).
 *
 * Function by function:
 * - arm_smmu_device_hw_probe / arm_smmu_device_iidr_probe: FEAT_NESTING = S1P && S2P, cleared by
 *   MMU-600 variant < 2 (erratum 1209401) and by MMU-700 (errata 2268618, 2812531, which also set
 *   OPT_CMDQ_FORCE_SYNC): every one in the 7.1 tree, r0 or p0 only in 7.3.4
 *   (IommufdDriverFacts.mmu700NestingErrata); FEAT_S2FWB = IDR3.FWB (only where the kernel detects it).
 * - arm_smmu_domain_alloc_paging_flags: the nest parent (stage 2).
 * - arm_smmu_get_viommu_size / arm_vsmmu_init (6.17+), arm_vsmmu_alloc (6.13, 6.14): the vIOMMU.
 * - arm_vsmmu_alloc_domain_nested / arm_smmu_validate_vste: the vSTE.
 * - arm_smmu_attach_dev_nested / arm_smmu_attach_prepare_vmaster / arm_smmu_make_nested_domain_ste:
 *   the physical STE, written into the stream table in simulated memory.
 * - arm_vsmmu_cache_invalidate / arm_vsmmu_convert_user_cmd: the guest's commands, acting on the
 *   model's IOTLB and configuration cache.
 * - arm_smmu_handle_event / arm_vmaster_report_event: events to the vEVENTQ or the host's log.
 */
import { fail, ok, type Result } from '../../errno'
import type { FeatureSet } from '../../hw/features'
import type { IommuCore } from '../../iommu/core'
import type { IommuDomain } from '../../iommu/domain'
import type { IommufdDriverFacts } from '../../profiles'
import type { EventRecord } from '../../smmu/events'
import { encodeEvent } from '../../smmu/events'
import type { SmmuInstance } from '../../smmu/instance'
import { cmdOpName, CMD_LAYOUTS, CMDQ_OP, withField } from '../../smmu/v3/commands'
import { decodeFields, encodeFields } from '../../smmu/v3/fields'
import { STE_CONFIG, STE_LAYOUT, STE_WORDS, STE_ZERO, steFields } from '../../smmu/v3/structures'
import type { IommufdDevice } from '../device-info'
import { copyArrayFromUser, copyStructFromUser, le64, type HwInfo, type InvalidateResult, type IommuCap, type IommufdDriver, type NestedDomain, type UserData, type UserDataArray, type ViommuCore, type ViommuDriver, type ViommuInit } from '../driver'
import {
  IOMMU_HW_INFO_TYPE_ARM_SMMUV3,
  IOMMU_HW_INFO_TYPE_DEFAULT,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_HWPT_DATA_ARM_SMMUV3,
  IOMMU_VEVENTQ_TYPE_ARM_SMMUV3,
  IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
  IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
  SIZEOF_IOMMU_HW_INFO_ARM_SMMUV3,
  SIZEOF_IOMMU_HWPT_ARM_SMMUV3,
  SIZEOF_IOMMU_VIOMMU_ARM_SMMUV3_INVALIDATE,
} from '../uapi'
import { smmuV3IdWords, SMMU_V3_IDR, fieldValue } from '../../hw/registers'

/** arm-smmu-v3.c arm_smmu_device_iidr_probe: IIDR_IMPLEMENTER_ARM and the product IDs it knows. */
const IIDR_IMPLEMENTER_ARM = 0x43b
const IIDR_PRODUCTID_ARM_MMU_600 = 0x483
const IIDR_PRODUCTID_ARM_MMU_700 = 0x487

/** arm-smmu-v3.h STRTAB_STE_0_NESTING_ALLOWED / STRTAB_STE_1_NESTING_ALLOWED, from the field table. */
const NESTING_ALLOWED: readonly [bigint, bigint] = [
  mask(STE_LAYOUT.valid) | mask(STE_LAYOUT.config) | mask(STE_LAYOUT.s1Fmt) | linuxS1CtxPtrMask() | mask(STE_LAYOUT.s1CdMax),
  mask(STE_LAYOUT.s1Dss) | mask(STE_LAYOUT.s1Cir) | mask(STE_LAYOUT.s1Cor) | mask(STE_LAYOUT.s1Csh) | mask(STE_LAYOUT.s1StallD) | mask(STE_LAYOUT.eats),
]
/** STRTAB_STE_1_EATS values: ABT 0, TRANS 1 (S1CHK 2 is refused). */
const EATS_ABT = 0
const EATS_TRANS = 1
/** CMDQ_BATCH_ENTRIES = BITS_PER_LONG: arm_vsmmu_cache_invalidate issues at most 63 per batch. */
const CMDQ_BATCH_ENTRIES = 64

/** The events arm_smmu_handle_event passes on (iommufd.h iommu_vevent_arm_smmuv3). */
const FORWARDED_EVENTS: ReadonlySet<string> = new Set(['C_BAD_STE', 'F_STREAM_DISABLED', 'C_BAD_SUBSTREAMID', 'C_BAD_CD', 'F_TRANSLATION', 'F_ADDR_SIZE', 'F_ACCESS', 'F_PERMISSION'])

function mask(f: { readonly lo: number; readonly width: number }): bigint {
  return ((1n << BigInt(f.width)) - 1n) << BigInt(f.lo)
}

/** Linux's STRTAB_STE_0_S1CTXPTR_MASK is GENMASK_ULL(51, 6): bits [55:52] are not a guest's to set. */
function linuxS1CtxPtrMask(): bigint {
  return ((1n << 52n) - 1n) & ~((1n << 6n) - 1n)
}

/** What arm-smmu-v3 probed of one SMMU (smmu->features and smmu->options, the parts nesting reads). */
export interface ArmSmmuV3Probe {
  readonly transS1: boolean
  readonly transS2: boolean
  /** ARM_SMMU_FEAT_NESTING after the IIDR errata. */
  readonly nesting: boolean
  /** ARM_SMMU_OPT_CMDQ_FORCE_SYNC (MMU-700). */
  readonly forceSync: boolean
  /** ARM_SMMU_FEAT_S2FWB (as this kernel detects it). */
  readonly s2fwb: boolean
  /** ARM_SMMU_FEAT_COHERENCY (IDR0.COHACC). */
  readonly coherency: boolean
  /** Why nesting is off, when it is, for messages. */
  readonly nestingNote: string
  /** smmu->asid_bits (IDR0.ASID16: 16, else 8). */
  readonly asidBits: number
  /** smmu->ssid_bits (IDR1.SSIDSIZE). */
  readonly ssidBits: number
  /** ARM_SMMU_FEAT_ATS (IDR0.ATS), ARM_SMMU_FEAT_RANGE_INV (IDR3.RIL), ARM_SMMU_FEAT_DS (IDR5.DS). */
  readonly ats: boolean
  readonly rangeInv: boolean
  readonly ds: boolean
}

/** arm_smmu_device_hw_probe + arm_smmu_device_iidr_probe, for the fields nesting reads. */
export function probeArmSmmuV3(hw: FeatureSet, facts: IommufdDriverFacts): ArmSmmuV3Probe {
  const transS1 = hw.translation.stage1
  const transS2 = hw.translation.stage2
  let nesting = transS1 && transS2
  let nestingNote = nesting ? 'S1P and S2P' : 'no FEAT_NESTING: IDR0 lacks S1P or S2P'
  let forceSync = false
  const regs = hw.idRegisters ?? {}
  if (regs.iidr !== undefined && fieldValue(regs, SMMU_V3_IDR.IIDR_IMPLEMENTER) === IIDR_IMPLEMENTER_ARM) {
    const product = fieldValue(regs, SMMU_V3_IDR.IIDR_PRODUCTID)
    const variant = fieldValue(regs, SMMU_V3_IDR.IIDR_VARIANT) ?? 0
    if (product === IIDR_PRODUCTID_ARM_MMU_600 && variant < 2 && nesting) {
      nesting = false
      nestingNote = `no FEAT_NESTING: MMU-600 r${variant} (Arm erratum 1209401)`
    }
    const revision = fieldValue(regs, SMMU_V3_IDR.IIDR_REVISION) ?? 0
    if (product === IIDR_PRODUCTID_ARM_MMU_700 && (facts.mmu700NestingErrata === 'every' || variant < 1 || revision < 1)) {
      forceSync = true
      if (nesting) {
        nesting = false
        nestingNote = `no FEAT_NESTING: MMU-700 r${variant}p${revision} (Arm errata 2268618, 2812531)`
      }
    }
  }
  const words = smmuV3IdWords(hw.idRegisters, hw)
  const w = { idr1: words.idr[1], idr3: words.idr[3], idr5: words.idr[5] }
  return {
    transS1,
    transS2,
    nesting,
    forceSync,
    s2fwb: facts.detectsS2fwb && hw.s2fwb,
    coherency: hw.coherentWalk,
    nestingNote,
    asidBits: hw.asidBits,
    ssidBits: fieldValue(w, SMMU_V3_IDR.SSIDSIZE) ?? 0,
    ats: hw.ats,
    rangeInv: fieldValue(w, SMMU_V3_IDR.RIL) === 1,
    ds: fieldValue(w, SMMU_V3_IDR.DS) === 1,
  }
}

/** smmu->vmaster of a master attached to a nested domain with a vDEVICE (struct arm_smmu_vmaster). */
interface Vmaster {
  readonly vsmmu: ArmVsmmu
  readonly vsid: bigint
}

/** What the driver keeps per SMMU: masters' vmasters and the events it logged itself. */
interface SmmuState {
  readonly probe: ArmSmmuV3Probe
  /** master->vmaster, by StreamID. */
  readonly vmasters: Map<number, Vmaster>
}

/** The host kernel's own log of events it did not pass to a vEVENTQ (arm_smmu_dump_event). */
export interface HostEvent {
  readonly smmu: string
  readonly event: EventRecord
}

export class ArmSmmuV3Iommufd implements IommufdDriver {
  /** arm_smmu_domain_alloc_paging_flags (6.12: arm_smmu_domain_alloc_user). */
  readonly takesPagingFlags = true
  private readonly smmus = new Map<SmmuInstance, SmmuState>()
  /** Nest-parent domains (smmu_domain->nest_parent) and whether their io-pgtable has the S2FWB quirk. */
  private readonly nestParents = new WeakMap<IommuDomain, { readonly s2fwb: boolean }>()
  /** Events the host logged (not forwarded), oldest first. */
  readonly hostLog: HostEvent[] = []

  constructor(
    private readonly facts: IommufdDriverFacts,
    private readonly core: IommuCore,
  ) {}

  probe(smmu: SmmuInstance): ArmSmmuV3Probe {
    return this.state(smmu).probe
  }

  private state(smmu: SmmuInstance): SmmuState {
    let s = this.smmus.get(smmu)
    if (s === undefined) {
      s = { probe: probeArmSmmuV3(smmu.features, this.facts), vmasters: new Map() }
      this.smmus.set(smmu, s)
    }
    return s
  }

  /**
   * arm_smmu_capable: CACHE_COHERENCY is FEAT_COHERENCY; ENFORCE_CACHE_COHERENCY is CANWBS
   * (6.13+, with the nesting series); no HTTU in any fixture, so no DIRTY_TRACKING.
   */
  capable(dev: IommufdDevice, cap: IommuCap): boolean {
    if (cap === 'CACHE_COHERENCY') return this.probe(dev.smmu).coherency
    if (cap === 'ENFORCE_CACHE_COHERENCY') return this.facts.nestParent && dev.canwbs
    return false
  }

  /**
   * arm_smmu_domain_alloc_paging_flags (6.13+): flags outside DIRTY_TRACKING | PASID | NEST_PARENT,
   * or any user data: EOPNOTSUPP. Then by the flags exactly: none -> stage 1 where the SMMU has
   * it; NEST_PARENT -> needs FEAT_NESTING (EOPNOTSUPP), a stage-2 domain; DIRTY_TRACKING (with or
   * without PASID) -> needs FEAT_HD (no fixture has HTTU: EOPNOTSUPP); PASID -> stage 1; any other
   * combination (NEST_PARENT with DIRTY_TRACKING or PASID) -> EOPNOTSUPP. 6.12's
   * arm_smmu_domain_alloc_user accepts DIRTY_TRACKING only: NEST_PARENT is EOPNOTSUPP there.
   * The nest parent's io-pgtable gets IO_PGTABLE_QUIRK_ARM_S2FWB when the SMMU has FEAT_S2FWB
   * (arm_smmu_domain_finalise).
   */
  domainAllocPagingFlags(dev: IommufdDevice, flags: number, data: UserData | undefined): Result<IommuDomain> {
    const probe = this.probe(dev.smmu)
    const known = this.facts.nestParent ? IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_ALLOC_NEST_PARENT : IOMMU_HWPT_ALLOC_DIRTY_TRACKING
    if ((flags & ~known) !== 0) return fail('EOPNOTSUPP', `arm-smmu-v3 does not take HWPT flags 0x${(flags & ~known).toString(16)} in this kernel`)
    if (data !== undefined) return fail('EOPNOTSUPP', 'arm-smmu-v3 paging domains take no driver data')
    let stage: 'S1' | 'S2'
    switch (flags) {
      case 0:
        stage = probe.transS1 ? 'S1' : 'S2'
        break
      case IOMMU_HWPT_ALLOC_NEST_PARENT:
        if (!probe.nesting) return fail('EOPNOTSUPP', `SMMU ${dev.smmu.name} cannot be a nest parent: ${probe.nestingNote}`)
        stage = 'S2'
        break
      case IOMMU_HWPT_ALLOC_DIRTY_TRACKING:
      case IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID:
        return fail('EOPNOTSUPP', `SMMU ${dev.smmu.name} has no FEAT_HD (IDR0.HTTU): no dirty tracking`)
      case IOMMU_HWPT_ALLOC_PASID:
        if (!probe.transS1) return fail('EOPNOTSUPP', 'a PASID-capable domain needs stage 1')
        stage = 'S1'
        break
      default:
        return fail('EOPNOTSUPP', `arm-smmu-v3 refuses the HWPT flag combination 0x${flags.toString(16)}`)
    }
    const domain = this.core.allocDeviceDomain(dev.smmu, stage)
    if (!domain.ok) return domain
    if (flags === IOMMU_HWPT_ALLOC_NEST_PARENT) this.nestParents.set(domain.value, { s2fwb: probe.s2fwb })
    return domain
  }

  /**
   * arm_smmu_get_viommu_size (6.17+): 0 (the core's EOPNOTSUPP) without FEAT_NESTING, with
   * OPT_CMDQ_FORCE_SYNC, without CANWBS and S2FWB, or for a type other than ARM_SMMUV3 (no
   * tegra241-cmdqv implementation in the model).
   */
  readonly getViommuSize = (dev: IommufdDevice, type: number): { readonly size: number; readonly why: string } => {
    const probe = this.probe(dev.smmu)
    if (!probe.nesting) return { size: 0, why: probe.nestingNote }
    if (probe.forceSync) return { size: 0, why: 'the SMMU needs OPT_CMDQ_FORCE_SYNC' }
    if (!dev.canwbs && !probe.s2fwb) return { size: 0, why: this.noCoherenceNote(dev) }
    if (type !== IOMMU_VIOMMU_TYPE_ARM_SMMUV3) return { size: 0, why: `vIOMMU type ${type} is not ARM_SMMUV3 (and no implementation adds it)` }
    return { size: 1, why: '' }
  }

  private noCoherenceNote(dev: IommufdDevice): string {
    const fwb = dev.smmu.features.s2fwb ? 'IDR3.FWB is set but this kernel never detects it' : 'no S2FWB (IDR3.FWB clear)'
    return `neither CANWBS (the root complex's IORT flag) nor FEAT_S2FWB (${fwb}): the guest could make DMA non-coherent`
  }

  /**
   * arm_vsmmu_init (6.17+): the parent domain on another SMMU is EINVAL; the vIOMMU's VMID is the
   * parent's (vsmmu->vmid = s2_parent->s2_cfg.vmid). ARM_SMMUV3 data is ignored.
   * With `legacy` (6.13, 6.14 arm_vsmmu_alloc) the checks get_viommu_size makes come here too,
   * in that function's order: type, FEAT_NESTING, the parent's SMMU, FORCE_SYNC, CANWBS/S2FWB.
   */
  readonly viommuInit = (init: ViommuInit, legacy: boolean): Result<ViommuDriver> => {
    const probe = this.probe(init.dev.smmu)
    if (legacy) {
      if (init.type !== IOMMU_VIOMMU_TYPE_ARM_SMMUV3) return fail('EOPNOTSUPP', `vIOMMU type ${init.type} is not ARM_SMMUV3`)
      if (!probe.nesting) return fail('EOPNOTSUPP', probe.nestingNote)
    }
    if (init.parent.smmu !== init.dev.smmu) return fail('EINVAL', `the nest parent is on SMMU ${init.parent.smmu?.name ?? '?'}, the device on ${init.dev.smmu.name}`)
    if (legacy) {
      if (probe.forceSync) return fail('EOPNOTSUPP', 'the SMMU needs OPT_CMDQ_FORCE_SYNC')
      if (!init.dev.canwbs && !probe.s2fwb) return fail('EOPNOTSUPP', this.noCoherenceNote(init.dev))
    }
    const vmid = init.parent.context?.vmid
    if (vmid === undefined) throw new Error('a nest parent without a VMID')
    return ok(new ArmVsmmu(this, init.dev.smmu, init.parent, vmid, init.core))
  }

  /** arm_smmu_hw_info: raw IDR0-5, IIDR, AIDR for DEFAULT and ARM_SMMUV3; EOPNOTSUPP for other types. */
  readonly hwInfo = (dev: IommufdDevice, type: number): Result<HwInfo> => {
    if (type !== IOMMU_HW_INFO_TYPE_DEFAULT && type !== IOMMU_HW_INFO_TYPE_ARM_SMMUV3) return fail('EOPNOTSUPP', `hw_info type ${type}: arm-smmu-v3 has no such implementation data`)
    const hw = dev.smmu.features
    const w = smmuV3IdWords(hw.idRegisters, hw)
    const data = new Uint8Array(SIZEOF_IOMMU_HW_INFO_ARM_SMMUV3)
    const view = new DataView(data.buffer)
    w.idr.forEach((v, i) => view.setUint32(8 + 4 * i, v, true))
    view.setUint32(32, w.iidr, true)
    view.setUint32(36, w.aidr, true)
    return ok({ type: IOMMU_HW_INFO_TYPE_ARM_SMMUV3, data })
  }

  /**
   * arm_smmu_attach_dev (7.3.4), before arm_smmu_attach_prepare: a paging domain of another SMMU
   * instance (smmu_domain->smmu != master->smmu) is EINVAL; 7.3.4 shares no domain across SMMUs.
   */
  checkPagingAttach(domain: IommuDomain, dev: IommufdDevice): Result<void> {
    if (domain.smmu !== undefined && domain.smmu !== dev.smmu) return fail('EINVAL', `the domain belongs to SMMU ${domain.smmu.name}, the device to ${dev.smmu.name}`)
    return ok()
  }

  /** arm_smmu_attach_dev_blocked: every stream of the device gets the abort STE, and no vmaster. */
  blockDevice(dev: IommufdDevice): void {
    for (const sid of dev.streams) {
      if (dev.smmu.streamContext(sid) !== undefined) throw new Error(`stream 0x${sid.toString(16)} is still attached`)
      const r = dev.smmu.writeSte(sid, abortSte())
      if (!r.ok) throw new Error(r.error.message)
      this.setVmaster(dev.smmu, sid, undefined)
    }
  }

  /** Whether `domain` is a nest parent, and its S2FWB quirk. */
  nestParentOf(domain: IommuDomain): { readonly s2fwb: boolean } | undefined {
    return this.nestParents.get(domain)
  }

  setVmaster(smmu: SmmuInstance, sid: number, vmaster: Vmaster | undefined): void {
    const vm = this.state(smmu).vmasters
    if (vmaster === undefined) vm.delete(sid)
    else vm.set(sid, vmaster)
  }

  /** A paging domain (or blocking) replaces whatever the device had: no vmaster any more (arm_smmu_attach_commit). */
  clearVmaster(dev: IommufdDevice): void {
    for (const sid of dev.streams) this.setVmaster(dev.smmu, sid, undefined)
  }

  get reportsVevents(): boolean {
    return this.facts.reportsVevents
  }

  get mergeEvents(): boolean {
    return this.facts.mergeEvents
  }

  get vdeviceOneStream(): boolean {
    return this.facts.vdeviceOneStream
  }

  get validatesUserCmds(): boolean {
    return this.facts.validatesUserCmds
  }

  get nestedAttachNeedsVdevice(): IommufdDriverFacts['nestedAttachNeedsVdevice'] {
    return this.facts.nestedAttachNeedsVdevice
  }

  /**
   * The event queue thread (arm_smmu_evtq_thread -> arm_smmu_handle_event): each event the SMMU
   * recorded goes to its master's vIOMMU when it is one of the eight forwarded events, the master
   * has a vmaster and the fault is not at stage 2 (arm_vmaster_report_event: the record with
   * StreamID replaced by the vSID); otherwise, or when the vIOMMU has no ARM_SMMUV3 vEVENTQ
   * (iommufd_viommu_report_event: EOPNOTSUPP), the host logs it. Returns how many there were.
   */
  serviceEvents(smmu: SmmuInstance): number {
    const state = this.state(smmu)
    const events = smmu.drainEvents()
    for (const event of events) {
      const vmaster = state.vmasters.get(event.sid)
      const forward = this.facts.reportsVevents && vmaster !== undefined && FORWARDED_EVENTS.has(event.name) && event.s2 !== true
      if (forward && vmaster.vsmmu.reportEvent(event, vmaster.vsid).ok) continue
      this.hostLog.push({ smmu: smmu.name, event })
    }
    return events.length
  }
}

/** arm_smmu_make_abort_ste: V = 1, Config = abort, every other bit 0. */
function abortSte(): bigint[] {
  return encodeFields(STE_LAYOUT, STE_WORDS, { ...STE_ZERO, valid: true, config: STE_CONFIG.ABORT })
}

/** struct arm_vsmmu: a vIOMMU on one SMMU over one S2 parent, with the parent's VMID. */
export class ArmVsmmu implements ViommuDriver {
  constructor(
    readonly driver: ArmSmmuV3Iommufd,
    readonly smmu: SmmuInstance,
    readonly s2Parent: IommuDomain,
    readonly vmid: number,
    readonly core: ViommuCore,
  ) {}

  /**
   * arm_vsmmu_alloc_domain_nested: any flag (PASID; FAULT_ID_VALID is taken out by the core):
   * EOPNOTSUPP; the data copied as struct iommu_hwpt_arm_smmuv3 (type or length: EINVAL); then
   * arm_smmu_validate_vste.
   */
  allocDomainNested(flags: number, data: UserData): Result<NestedDomain> {
    if (flags !== 0) return fail('EOPNOTSUPP', `a nested domain on arm-smmu-v3 takes no flags (0x${flags.toString(16)})`)
    const copied = copyStructFromUser(data, IOMMU_HWPT_DATA_ARM_SMMUV3, SIZEOF_IOMMU_HWPT_ARM_SMMUV3, SIZEOF_IOMMU_HWPT_ARM_SMMUV3)
    if (!copied.ok) return copied
    const ste: [bigint, bigint] = [le64(copied.value, 0), le64(copied.value, 8)]
    const valid = validateVste(ste)
    if (!valid.ok) return valid
    return ok(new ArmNestedDomain(this, valid.value.ste, valid.value.enableAts))
  }

  /**
   * arm_vsmmu_cache_invalidate: the array copied (type, entry_num 0: EINVAL, entry_num 0 written
   * back), then each command converted in order (arm_vsmmu_convert_user_cmd) and issued in batches
   * of CMDQ_BATCH_ENTRIES - 1. A command that does not convert (EIO) stops the loop: entry_num is
   * its index, and the commands before it in the batch not yet issued are not issued.
   */
  cacheInvalidate(array: UserDataArray): InvalidateResult {
    const copied = copyArrayFromUser(array, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, SIZEOF_IOMMU_VIOMMU_ARM_SMMUV3_INVALIDATE)
    if (!copied.ok) return { result: copied, done: 0 }
    const cmds = copied.value.map((e): bigint[] => [le64(e, 0), le64(e, 8)])
    let last = 0
    let cur = 0
    while (cur !== cmds.length) {
      const converted = this.convertUserCmd(cmds[cur] as bigint[])
      if (!converted.ok) return { result: converted, done: cur }
      cmds[cur] = converted.value
      cur++
      if (cur !== cmds.length && cur - last !== CMDQ_BATCH_ENTRIES - 1) continue
      for (const cmd of cmds.slice(last, cur)) this.issue(cmd)
      last = cur
    }
    return { result: ok(), done: cur }
  }

  /**
   * arm_vsmmu_convert_user_cmd: first (7.3) arm_vsmmu_validate_user_cmd; then TLBI_NSNH_ALL becomes TLBI_NH_ALL of the vIOMMU's VMID (word 1
   * cleared); TLBI_NH_VA/VAA/ALL/ASID get the vIOMMU's VMID; ATC_INV, CFGI_CD and CFGI_CD_ALL get the
   * SID of the device whose vDEVICE has the command's vSID (streams[0]; no such vDEVICE: EIO);
   * every other opcode is EIO.
   */
  convertUserCmd(cmd: readonly bigint[]): Result<bigint[]> {
    if (this.driver.validatesUserCmds) {
      const valid = validateUserCmd(this.driver.probe(this.smmu), cmd)
      if (!valid.ok) return valid
    }
    const op = Number((cmd[0] ?? 0n) & 0xffn)
    switch (op) {
      case CMDQ_OP.TLBI_NSNH_ALL:
        return ok([BigInt(CMDQ_OP.TLBI_NH_ALL) | (BigInt(this.vmid) << BigInt(CMD_LAYOUTS.TLBI_NH_ALL.vmid?.lo ?? 32)), 0n])
      case CMDQ_OP.TLBI_NH_VA:
      case CMDQ_OP.TLBI_NH_VAA:
      case CMDQ_OP.TLBI_NH_ALL:
      case CMDQ_OP.TLBI_NH_ASID:
        return ok(withField(cmd, CMD_LAYOUTS.TLBI_NH_VA.vmid as NonNullable<typeof CMD_LAYOUTS.TLBI_NH_VA.vmid>, this.vmid))
      case CMDQ_OP.ATC_INV:
      case CMDQ_OP.CFGI_CD:
      case CMDQ_OP.CFGI_CD_ALL: {
        const sidField = CMD_LAYOUTS.CFGI_CD.sid as NonNullable<typeof CMD_LAYOUTS.CFGI_CD.sid>
        const vsid = BigInt(decodeFields({ sid: sidField }, cmd).sid)
        const dev = this.core.findDev(vsid)
        if (dev === undefined) return fail('EIO', `no vDEVICE has vSID 0x${vsid.toString(16)}`)
        return ok(withField(cmd, sidField, dev.streams[0] as number))
      }
      default:
        return fail('EIO', `opcode 0x${op.toString(16)} is not one a guest may issue`)
    }
  }

  /** The SMMU executes one converted command: IOTLB or configuration-cache invalidation. */
  private issue(cmd: readonly bigint[]): void {
    const op = Number((cmd[0] ?? 0n) & 0xffn)
    const name = (Object.keys(CMDQ_OP) as (keyof typeof CMDQ_OP)[]).find((n) => CMDQ_OP[n] === op)
    if (name === undefined) throw new Error(`issuing unknown opcode 0x${op.toString(16)}`)
    const f = decodeFields(CMD_LAYOUTS[name], cmd) as Readonly<Record<string, number | boolean>>
    const num = (k: string): number => (f[k] as number | undefined) ?? 0
    switch (name) {
      case 'TLBI_NH_ALL':
        // All stage-1 entries of the VMID; the model drops the VMID's stage-2 entries too (an
        // invalidation may remove more than it must, IHI 0070 4.4).
        this.smmu.invalidateVmid(num('vmid'))
        return
      case 'TLBI_NH_ASID':
        this.smmu.invalidateAsid(num('asid'), num('vmid'))
        return
      case 'TLBI_NH_VA':
        this.smmu.invalidateVa(num('addr'), tlbiLength(num('tg'), num('num'), num('scale')), { asid: num('asid'), vmid: num('vmid') })
        return
      case 'TLBI_NH_VAA':
        this.smmu.invalidateVa(num('addr'), tlbiLength(num('tg'), num('num'), num('scale')), { vmid: num('vmid') })
        return
      case 'CFGI_CD':
        this.smmu.configInvalidate({ op: 'CFGI_CD', sid: num('sid'), ssid: num('ssid') })
        return
      case 'CFGI_CD_ALL':
        this.smmu.configInvalidate({ op: 'CFGI_CD_ALL', sid: num('sid') })
        return
      case 'ATC_INV':
        return // no device in the model has an ATC
      default:
        throw new Error(`a converted command cannot be ${name}`)
    }
  }

  /**
   * arm_vsmmu_vdevice_init (7.3): arm_vsmmu_vsid_to_sid maps a vSID to the device's first stream
   * only, so a device with more than one StreamID gets no vDEVICE (EOPNOTSUPP).
   */
  vdeviceInit(dev: IommufdDevice): Result<void> {
    if (this.driver.vdeviceOneStream && dev.streams.length !== 1) return fail('EOPNOTSUPP', `${dev.name} has ${dev.streams.length} StreamIDs; a vDEVICE maps its vSID to one`)
    return ok()
  }

  /** arm_vmaster_report_event: the record with its StreamID replaced by the vSID. */
  reportEvent(event: EventRecord, vsid: bigint): Result<void> {
    const words = [...encodeEvent(event)]
    words[0] = ((words[0] as bigint) & 0xffff_ffffn) | (vsid << 32n)
    const data = new Uint8Array(32)
    const view = new DataView(data.buffer)
    words.forEach((w, i) => view.setBigUint64(i * 8, w, true))
    return this.core.reportEvent(IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, data)
  }

  destroy(): void {}
}

/**
 * arm_vsmmu_validate_user_cmd (7.3): the fields a guest may set, by opcode, every other bit EIO
 * (a RES0 or Secure bit would make the shared queue raise CERROR_ILL):
 * - TLBI_NSNH_ALL: the opcode only;
 * - TLBI_NH_VA: ASID (its low asid_bits), then as TLBI_NH_VAA: VMID, Leaf, Address, and with
 *   FEAT_RANGE_INV NUM, SCALE (bit 5 of SCALE only with FEAT_DS), TG, TTL, after
 *   arm_vsmmu_validate_range refuses the reserved values;
 * - TLBI_NH_ASID: ASID, then as TLBI_NH_ALL: VMID;
 * - ATC_INV: EIO without FEAT_ATS, or with Size above 52; SID, Size, Address, and SSV, SSID, Global
 *   with substreams (ssid_bits);
 * - CFGI_CD: SSID with substreams, Leaf, then as CFGI_CD_ALL: SID (never SSV);
 * - any other opcode: EIO.
 */
export function validateUserCmd(smmu: Pick<ArmSmmuV3Probe, 'asidBits' | 'ssidBits' | 'ats' | 'rangeInv' | 'ds'>, cmd: readonly bigint[]): Result<void> {
  const w0 = cmd[0] ?? 0n
  const w1 = cmd[1] ?? 0n
  const L = CMD_LAYOUTS
  const field = (f: { readonly lo: number; readonly width: number } | undefined): bigint => (f === undefined ? 0n : mask(f))
  const asid = (mask(L.TLBI_NH_VA.asid) >> BigInt(L.TLBI_NH_VA.asid.lo)) & ((1n << BigInt(smmu.asidBits)) - 1n)
  const allowed: [bigint, bigint] = [field(L.TLBI_NH_ALL.opcode), 0n]
  const op = Number(w0 & 0xffn)
  const name = cmdOpName(op)
  switch (name) {
    case 'TLBI_NSNH_ALL':
      break
    case 'TLBI_NH_VA':
    case 'TLBI_NH_VAA': {
      if (name === 'TLBI_NH_VA') allowed[0] |= asid << BigInt(L.TLBI_NH_VA.asid.lo)
      if (smmu.rangeInv) {
        const range = validateRange(smmu, cmd)
        if (!range.ok) return range
        allowed[0] |= field(L.TLBI_NH_VA.num) | field(L.TLBI_NH_VA.scale)
        allowed[1] |= field(L.TLBI_NH_VA.tg) | field(L.TLBI_NH_VA.ttl)
        if (!smmu.ds) allowed[0] &= ~(1n << BigInt(L.TLBI_NH_VA.scale.lo + 5))
      }
      allowed[0] |= field(L.TLBI_NH_VA.vmid)
      allowed[1] |= field(L.TLBI_NH_VA.leaf) | field(L.TLBI_NH_VA.addr)
      break
    }
    case 'TLBI_NH_ASID':
    case 'TLBI_NH_ALL':
      if (name === 'TLBI_NH_ASID') allowed[0] |= asid << BigInt(L.TLBI_NH_ASID.asid.lo)
      allowed[0] |= field(L.TLBI_NH_ALL.vmid)
      break
    case 'ATC_INV': {
      if (!smmu.ats) return fail('EIO', 'ATC_INV from a guest needs an SMMU with ATS (IDR0.ATS)')
      const size = decodeFields({ size: L.ATC_INV.size }, cmd).size
      if (size > ATC_INV_SIZE_ALL) return fail('EIO', `ATC_INV Size ${size} is above 52 (invalidate all)`)
      if (smmu.ssidBits > 0) allowed[0] |= field(L.ATC_INV.ssv) | field(L.ATC_INV.ssid) | field(L.ATC_INV.global)
      allowed[0] |= field(L.ATC_INV.sid)
      allowed[1] |= field(L.ATC_INV.size) | field(L.ATC_INV.addr)
      break
    }
    case 'CFGI_CD':
    case 'CFGI_CD_ALL':
      if (name === 'CFGI_CD') {
        if (smmu.ssidBits > 0) allowed[0] |= field(L.CFGI_CD.ssid)
        allowed[1] |= field(L.CFGI_CD.leaf)
      }
      allowed[0] |= field(L.CFGI_CD_ALL.sid)
      break
    default:
      return fail('EIO', `opcode 0x${op.toString(16)} is not one a guest may issue`)
  }
  const extra0 = w0 & ~allowed[0]
  const extra1 = w1 & ~allowed[1]
  if (extra0 !== 0n || extra1 !== 0n) {
    const bits = extra0 !== 0n ? `word 0 bits 0x${extra0.toString(16)}` : `word 1 bits 0x${extra1.toString(16)}`
    return fail('EIO', `${name} sets ${bits}, outside the fields a guest may set`)
  }
  return ok()
}

/** ATC_INV_SIZE_ALL: Size 52 invalidates every address. */
const ATC_INV_SIZE_ALL = 52

/**
 * arm_vsmmu_validate_range (7.3): with TG 0, NUM, SCALE and TTL must be 0; TTL 1 with a 16K TG
 * needs FEAT_DS; NUM = SCALE = 0 with TTL 0 is reserved. Each refusal is EIO.
 */
function validateRange(smmu: Pick<ArmSmmuV3Probe, 'ds'>, cmd: readonly bigint[]): Result<void> {
  const f = decodeFields({ num: CMD_LAYOUTS.TLBI_NH_VA.num, scale: CMD_LAYOUTS.TLBI_NH_VA.scale, tg: CMD_LAYOUTS.TLBI_NH_VA.tg, ttl: CMD_LAYOUTS.TLBI_NH_VA.ttl }, cmd)
  const range = f.num !== 0 || f.scale !== 0
  if (f.tg === 0) return range || f.ttl !== 0 ? fail('EIO', 'NUM, SCALE and TTL are RES0 when TG is 0') : ok()
  if (f.tg === 2 && f.ttl === 1 && !smmu.ds) return fail('EIO', 'TTL 1 with a 16K TG needs IDR5.DS')
  if (!range && f.ttl === 0) return fail('EIO', 'NUM = SCALE = 0 with TTL 0 is a reserved combination')
  return ok()
}

/**
 * The range a TLBI_NH_VA(A) covers: one entry's worth (any size containing the address) when
 * TG = 0; with TG (range invalidation, IDR3.RIL) (NUM + 1) * 2^SCALE pages of that granule.
 */
function tlbiLength(tg: number, num: number, scale: number): number {
  if (tg === 0) return 1
  const granule = tg === 1 ? 4096 : tg === 2 ? 16384 : 65536
  return (num + 1) * 2 ** scale * granule
}

/**
 * arm_smmu_validate_vste: V = 0 -> the vSTE is zeroed and accepted; a bit outside
 * STRTAB_STE_0/1_NESTING_ALLOWED -> EIO; Config other than abort, bypass, S1 translate -> EIO;
 * EATS other than ABT or TRANS -> EIO; EATS is then cleared, and ATS enabled for a translating
 * vSTE with EATS = TRANS.
 */
export function validateVste(ste: readonly [bigint, bigint]): Result<{ readonly ste: readonly [bigint, bigint]; readonly enableAts: boolean }> {
  const f = steFields([ste[0], ste[1]])
  if (!f.valid) return ok({ ste: [0n, 0n], enableAts: false })
  const extra0 = ste[0] & ~NESTING_ALLOWED[0]
  const extra1 = ste[1] & ~NESTING_ALLOWED[1]
  if (extra0 !== 0n || extra1 !== 0n) {
    const bad = extra0 !== 0n ? `word 0 bits 0x${extra0.toString(16)}` : `word 1 bits 0x${extra1.toString(16)}`
    return fail('EIO', `the vSTE sets ${bad}, outside what a guest may set`)
  }
  if (f.config !== STE_CONFIG.ABORT && f.config !== STE_CONFIG.BYPASS && f.config !== STE_CONFIG.S1_TRANS) {
    return fail('EIO', `vSTE Config 0b${f.config.toString(2).padStart(3, '0')} is not abort, bypass or stage-1 translate`)
  }
  if (f.eats !== EATS_ABT && f.eats !== EATS_TRANS) return fail('EIO', `vSTE EATS ${f.eats} is not ABT or TRANS`)
  const enableAts = f.config === STE_CONFIG.S1_TRANS && f.eats === EATS_TRANS
  return ok({ ste: [ste[0], ste[1] & ~mask(STE_LAYOUT.eats)], enableAts })
}

/**
 * arm_smmu_make_s2_domain_ste for a stage-2 domain, the model's device having no ATS (EATS 0):
 * word 0 V | Config S2 translate; word 1 S2FWB when the io-pgtable has the S2FWB quirk (SHCFG is
 * set only with IDR1.ATTR_TYPES_OVR, which no fixture gives); word 2 S2VMID, the VTCR fields from
 * the io-pgtable (T0SZ, SL0, TG, PS; IR0 = OR0 = write-back write-allocate and SH0 = inner
 * shareable for a coherent walk, which iommufd requires of every device it binds), S2AA64, S2PTW,
 * S2R; word 3 S2TTB.
 */
export function makeS2DomainSte(domain: IommuDomain, s2fwb: boolean): bigint[] {
  const regime = domain.pageTable?.context
  const vmid = domain.context?.vmid
  if (regime === undefined || regime.stage !== 2 || vmid === undefined) throw new Error(`domain ${domain.id} is not a stage-2 domain with a VMID`)
  const r = regime.regs
  const ps = [32, 36, 40, 42, 44, 48, 52].indexOf(r.oas)
  return encodeFields(STE_LAYOUT, STE_WORDS, {
    ...STE_ZERO,
    valid: true,
    config: STE_CONFIG.S2_TRANS,
    s2Fwb: s2fwb,
    s2Vmid: vmid,
    s2T0sz: r.t0sz,
    s2Sl0: r.sl0,
    s2Ir0: 1,
    s2Or0: 1,
    s2Sh0: 3,
    s2Tg: r.granule === 4096 ? 0 : r.granule === 65536 ? 1 : 2,
    s2Ps: ps < 0 ? 0 : ps,
    s2Aa64: true,
    s2Ptw: true,
    s2R: true,
    s2Ttb: r.vttbr,
  })
}

/** struct arm_smmu_nested_domain: the validated vSTE on a vIOMMU. */
export class ArmNestedDomain implements NestedDomain {
  constructor(
    readonly vsmmu: ArmVsmmu,
    readonly ste: readonly [bigint, bigint],
    readonly enableAts: boolean,
  ) {}

  get config(): number {
    return steFields([this.ste[0], this.ste[1]]).config
  }

  get description(): string {
    const names: Record<number, string> = { [STE_CONFIG.ABORT]: 'abort', [STE_CONFIG.BYPASS]: 'bypass', [STE_CONFIG.S1_TRANS]: 'stage-1 translate' }
    return `arm-smmu-v3 nested domain (vSTE ${names[this.config] ?? 'abort'})`
  }

  /**
   * arm_smmu_attach_dev_nested: the vIOMMU's SMMU must be the device's (EINVAL); no PASID is ever
   * attached in the model (EBUSY cannot happen); arm_smmu_attach_prepare_vmaster: the device's
   * vDEVICE in this vIOMMU gives the vmaster; without one, which attaches fail with ENOENT is the
   * kernel's (IommufdDriverFacts.nestedAttachNeedsVdevice). Then the physical STE
   * (arm_smmu_make_nested_domain_ste) is installed for every stream of the device.
   */
  attachDev(dev: IommufdDevice): Result<void> {
    const driver = this.vsmmu.driver
    if (this.vsmmu.smmu !== dev.smmu) return fail('EINVAL', `the vIOMMU is on SMMU ${this.vsmmu.smmu.name}, the device on ${dev.smmu.name}`)
    const vsid = this.vsmmu.core.vdevIdOf(dev)
    const need = driver.nestedAttachNeedsVdevice
    if (vsid === undefined && (need === 'all' || (need === 'translating' && this.config === STE_CONFIG.S1_TRANS))) {
      return fail('ENOENT', `${dev.name} has no vDEVICE in the vIOMMU (iommufd_viommu_get_vdev_id)`)
    }
    // The model's device has no ATS capability: state.ats_enabled is false whatever EATS says.
    for (const sid of dev.streams) {
      const r = this.installSte(sid)
      if (!r.ok) return r
      driver.setVmaster(dev.smmu, sid, need !== 'none' && vsid !== undefined ? { vsmmu: this.vsmmu, vsid } : undefined)
    }
    return ok()
  }

  /**
   * arm_smmu_make_nested_domain_ste for one stream: V = 0 or Config abort -> the abort STE;
   * bypass -> the parent's stage-2 STE (arm_smmu_make_s2_domain_ste); stage-1 translate -> that
   * STE with word 0 = V | Config nested | the vSTE's word 0 (S1Fmt, S1ContextPtr - an IPA -,
   * S1CDMax), word 1 |= the vSTE's word 1 (S1DSS, S1CIR/COR/CSH, S1STALLD) | MEV (6.15+).
   * The parent's stage-2 STE is the one the SMMU model writes when the parent is attached to the
   * stream; the composed words then replace it (a raw STE write followed by CMD_CFGI_STE).
   */
  private installSte(sid: number): Result<void> {
    const smmu = this.vsmmu.smmu
    const parent = this.vsmmu.s2Parent
    const cfg = this.config
    if (smmu.streamContext(sid) !== undefined && !parent.streams.has(sid)) throw new Error(`stream 0x${sid.toString(16)} is still attached to another domain`)
    if (cfg !== STE_CONFIG.S1_TRANS && cfg !== STE_CONFIG.BYPASS) {
      // arm_smmu_make_abort_ste: V = 1, Config = abort; the stream keeps no context.
      if (parent.streams.has(sid)) parent.detach(sid)
      return smmu.writeSte(sid, abortSte())
    }
    // The SMMU model keeps the parent's context for the stream (its VMID, its stage-2 tables); the
    // STE's words are the driver's, written raw over the model's own.
    if (!parent.streams.has(sid)) {
      const attached = parent.attach(smmu, sid)
      if (!attached.ok) return attached
    }
    const words = makeS2DomainSte(parent, this.vsmmu.driver.nestParentOf(parent)?.s2fwb === true)
    if (cfg === STE_CONFIG.S1_TRANS) {
      // arm_smmu_make_nested_cd_table_ste.
      words[0] = mask(STE_LAYOUT.valid) | (BigInt(STE_CONFIG.NESTED) << BigInt(STE_LAYOUT.config.lo)) | (this.ste[0] & ~mask(STE_LAYOUT.config))
      words[1] = (words[1] as bigint) | this.ste[1] | (this.vsmmu.driver.mergeEvents ? mask(STE_LAYOUT.mev) : 0n)
    }
    return smmu.writeSte(sid, words)
  }

  /** The device leaves the nested domain: its streams lose the parent's context and the vmaster. */
  detachDev(dev: IommufdDevice): void {
    for (const sid of dev.streams) {
      if (this.vsmmu.s2Parent.streams.has(sid)) this.vsmmu.s2Parent.detach(sid)
      this.vsmmu.driver.setVmaster(dev.smmu, sid, undefined)
    }
  }

  free(): void {}
}
