/**
 * /dev/iommu: one iommufd context and its ioctls (drivers/iommu/iommufd/, Linux 7.1; profile data
 * for the rules that changed). Each method is one ioctl, its checks in the kernel's order, its
 * errno named where the kernel returns it; a failed call leaves every object as it was (the one
 * exception is the kernel's own: an IOMMU_IOAS_UNMAP whose range cuts a mapping after whole ones
 * has removed those before failing, iopt_unmap_iova_range).
 *
 * Objects refer to each other as the kernel's do (objects.ts): the table's `users` counts decide
 * IOMMU_DESTROY's EBUSY. The device side (bind, attach, replace, detach) is called by VFIO's cdev
 * (model/vfio/cdev.ts), as drivers/vfio/iommufd.c calls iommufd_device_bind/attach/replace.
 */
import { fail, ok, type Result } from '../errno'
import type { IommuCore } from '../iommu/core'
import type { UserPages } from '../iommu/user-mappings'
import type { IommufdBehaviour, IommufdIoctl, Profile } from '../profiles'
import type { IommufdDevice } from './device-info'
import type { IommufdDriver, UserData, ViommuCore } from './driver'
import { createIommufdDrivers, type IommufdDrivers } from './drivers'
import { IoPagetable, type IoptArea } from './io-pagetable'
import { HwptNested, HwptPaging, Idev, Ioas, ObjectTable, OBJECT_TYPE_NAMES, Vdevice, Veventq, Viommu, type Hwpt, type IommufdObject, type Vevent } from './objects'
import {
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HW_INFO_FLAG_INPUT_TYPE,
  IOMMU_HW_INFO_TYPE_DEFAULT,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_HWPT_DATA_NONE,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_VEVENTQ_FLAG_LOST_EVENTS,
  IOMMU_VEVENTQ_TYPE_DEFAULT,
  IOMMU_VIOMMU_TYPE_DEFAULT,
  SIZEOF_IOMMUFD_VEVENT_HEADER,
  U64_MAX,
  ULONG_MAX,
} from './uapi'

/** IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED. */
const IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED = 1 << 3
const INT_MAX = 0x7fff_ffff
/** eventq.c VEVENTQ_MAX_DEPTH: "an arbitrary upper bound for veventq_depth that fits all existing HWs". */
const VEVENTQ_MAX_DEPTH = 2 ** 19

/** The machine's iommufd: one per kernel, holding the drivers' iommufd sides. */
export class IommufdKernel {
  readonly drivers: IommufdDrivers

  constructor(
    readonly profile: Profile,
    readonly core: IommuCore,
  ) {
    this.drivers = createIommufdDrivers(profile, core)
  }

  /** open("/dev/iommu"): ENOENT on a kernel without iommufd. `pages` is the opening process's memory. */
  open(pages: UserPages): Result<IommufdCtx> {
    const behaviour = this.profile.iommufd
    if (behaviour === undefined) return fail('ENOENT', '/dev/iommu does not exist: this kernel has no iommufd')
    return ok(new IommufdCtx(this, behaviour, pages))
  }

  driverOf(dev: IommufdDevice): IommufdDriver {
    return this.drivers.byName[dev.driver]
  }

  /** The SMMU's event queue interrupt ran after a transaction (arm-smmu-v3's evtq thread). */
  serviceEvents(dev: IommufdDevice): number {
    return this.drivers.armSmmuV3.serviceEvents(dev.smmu)
  }
}

export interface IoasMapRequest {
  readonly ioasId: number
  readonly flags: number
  readonly reserved?: number
  readonly vaddr: bigint
  readonly length: bigint
  readonly iova: bigint
}

export interface HwptAllocRequest {
  readonly flags: number
  readonly devId: number
  readonly ptId: number
  readonly reserved?: number
  readonly dataType: number
  /** data_len bytes (undefined: data_len 0, data_uptr 0). */
  readonly data?: Uint8Array
  readonly faultId?: number
}

export interface ViommuAllocRequest {
  readonly flags: number
  readonly type: number
  readonly devId: number
  readonly hwptId: number
  readonly data?: Uint8Array
}

export interface InvalidateRequest {
  readonly hwptId: number
  readonly dataType: number
  readonly entryLen: number
  readonly entryNum: number
  /** entry_len * entry_num bytes; null: data_uptr 0. */
  readonly data: Uint8Array | null
  readonly reserved?: number
}

/** IOMMU_IOAS_IOVA_RANGES: what the kernel wrote back, and the ioctl's return. */
export interface IovaRangesOutcome {
  /** 0, EMSGSIZE (more ranges than the caller's num_iovas) or an errno before the walk. */
  readonly result: Result<void>
  /** num_iovas written back: how many ranges there are (0 when the call failed before the walk). */
  readonly numIovas: number
  readonly alignment: bigint
  /** The ranges copied to the caller's array (at most its num_iovas), inclusive. */
  readonly ranges: readonly { readonly start: bigint; readonly last: bigint }[]
}

export interface InvalidateOutcome {
  readonly result: Result<void>
  /** entry_num as the kernel wrote it back (on every path). */
  readonly entryNum: number
}

export interface HwInfoRequest {
  readonly flags: number
  readonly devId: number
  /** The user buffer's length (data_len in). */
  readonly dataLen: number
  readonly inDataType: number
  readonly reserved?: number
}

export interface HwInfoOut {
  readonly type: number
  /** The kernel's data length, written back. */
  readonly dataLen: number
  /** The user buffer as the kernel left it (dataLen-in bytes). */
  readonly data: Uint8Array
  readonly capabilities: number
  readonly maxPasidLog2: number
}

export interface VeventqAllocRequest {
  readonly flags: number
  readonly viommuId: number
  readonly type: number
  readonly depth: number
  readonly reserved?: number
}

/** One iommufd file descriptor. */
export class IommufdCtx {
  readonly objects = new ObjectTable()

  constructor(
    readonly kernel: IommufdKernel,
    private readonly behaviour: IommufdBehaviour,
    readonly pages: UserPages,
  ) {}

  /** The op table: an ioctl this kernel does not have is ENOTTY (iommufd_fops_ioctl). */
  private ioctl(name: IommufdIoctl): Result<void> {
    return this.behaviour.ioctls.includes(name) ? ok() : fail('ENOTTY', `this kernel's iommufd has no IOMMU_${name}`)
  }

  has(name: IommufdIoctl): boolean {
    return this.behaviour.ioctls.includes(name)
  }

  // ---- IOMMU_DESTROY ---------------------------------------------------------------------------

  /** IOMMU_DESTROY (iommufd_destroy -> iommufd_object_remove): ENOENT, EBUSY, or gone. */
  destroy(id: number): Result<void> {
    const r = this.ioctl('DESTROY')
    if (!r.ok) return r
    return this.objects.remove(id, (obj) => this.destroyObject(obj))
  }

  /** The type's destroy op: what the object held is let go. */
  private destroyObject(obj: IommufdObject): void {
    switch (obj.type) {
      case 'ioas':
        obj.iopt.unmapAll() // iommufd_ioas_destroy
        return
      case 'hwpt_paging':
        this.destroyHwptPaging(obj)
        return
      case 'hwpt_nested':
        obj.domain.free()
        if (obj.viommu !== undefined) obj.viommu.users--
        else obj.parent.users--
        return
      case 'viommu':
        obj.ops?.destroy()
        obj.hwpt.users--
        return
      case 'vdevice':
        obj.viommu.vdevs.delete(obj.virtId)
        obj.viommu.users--
        obj.idev.vdev = undefined
        return
      case 'veventq': {
        const i = obj.viommu.veventqs.indexOf(obj)
        if (i >= 0) obj.viommu.veventqs.splice(i, 1)
        obj.viommu.users--
        return
      }
      case 'device':
        throw new Error('a device object goes with its VFIO file, not by IOMMU_DESTROY')
    }
  }

  /** iommufd_hwpt_paging_destroy: out of the IOAS (its areas unmapped from the domain), domain freed. */
  private destroyHwptPaging(hwpt: HwptPaging): void {
    const i = hwpt.ioas.hwpts.indexOf(hwpt)
    if (i >= 0) {
      hwpt.ioas.hwpts.splice(i, 1)
      hwpt.ioas.iopt.removeDomain(hwpt.domain)
    }
    this.kernel.core.freeDomain(hwpt.domain)
    hwpt.ioas.users--
  }

  // ---- IOAS ------------------------------------------------------------------------------------

  /** IOMMU_IOAS_ALLOC: flags must be 0 (EOPNOTSUPP). */
  ioasAlloc(flags = 0): Result<number> {
    const r = this.ioctl('IOAS_ALLOC')
    if (!r.ok) return r
    if (flags !== 0) return fail('EOPNOTSUPP', `IOMMU_IOAS_ALLOC flags 0x${flags.toString(16)}`)
    return ok(this.objects.add(new Ioas(new IoPagetable(this.pages))).id)
  }

  /**
   * IOMMU_IOAS_MAP (iommufd_ioas_map): unknown flags or __reserved: EOPNOTSUPP; iova or length
   * at least ULONG_MAX: EOVERFLOW; neither READABLE nor WRITEABLE: EINVAL; the IOAS: ENOENT; then
   * iopt_map_user_pages (io-pagetable.ts). Every mapping is IOMMU_CACHE (conv_iommu_prot).
   */
  ioasMap(req: IoasMapRequest): Result<void> {
    const r = this.ioctl('IOAS_MAP')
    if (!r.ok) return r
    const known = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE
    if ((req.flags & ~known) !== 0 || (req.reserved ?? 0) !== 0) return fail('EOPNOTSUPP', `IOMMU_IOAS_MAP flags 0x${req.flags.toString(16)}`)
    if (req.iova >= ULONG_MAX || req.length >= ULONG_MAX) return fail('EOVERFLOW', 'iova or length is ULONG_MAX or more')
    if ((req.flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)) === 0) return fail('EINVAL', 'neither READABLE nor WRITEABLE')
    const ioas = this.getIoas(req.ioasId)
    if (!ioas.ok) return ioas
    if ((req.flags & IOMMU_IOAS_MAP_FIXED_IOVA) === 0) throw new Error('the model does not choose IOVAs: give IOMMU_IOAS_MAP_FIXED_IOVA')
    const prot = { read: (req.flags & IOMMU_IOAS_MAP_READABLE) !== 0, write: (req.flags & IOMMU_IOAS_MAP_WRITEABLE) !== 0, cache: true }
    return ioas.value.iopt.mapFixed(req.iova, req.vaddr, req.length, prot)
  }

  /**
   * IOMMU_IOAS_UNMAP (iommufd_ioas_unmap): the IOAS (ENOENT); iova 0 with length U64_MAX unmaps
   * everything; otherwise iova or length at least ULONG_MAX is EOVERFLOW, then iopt_unmap_iova.
   * Success carries the bytes unmapped (cmd->length written back). `removed` gets the areas that
   * went, also on the ENOENT after some.
   */
  ioasUnmap(ioasId: number, iova: bigint, length: bigint, removed: IoptArea[] = []): Result<bigint> {
    const r = this.ioctl('IOAS_UNMAP')
    if (!r.ok) return r
    const ioas = this.getIoas(ioasId)
    if (!ioas.ok) return ioas
    if (iova === 0n && length === U64_MAX) return ioas.value.iopt.unmapAll(removed)
    if (iova >= ULONG_MAX || length >= ULONG_MAX) return fail('EOVERFLOW', 'iova or length is ULONG_MAX or more')
    return ioas.value.iopt.unmap(iova, length, removed)
  }

  /**
   * IOMMU_IOAS_IOVA_RANGES (ioas.c iommufd_ioas_iova_ranges): __reserved: EOPNOTSUPP; the IOAS
   * (ENOENT); then every hole of the reserved IOVA in [0, ULONG_MAX] is counted into num_iovas and
   * copied while the caller's array (num_iovas in) has room; the struct is written back (num_iovas,
   * out_iova_alignment) and, when there were more ranges than room, the call returns EMSGSIZE - the
   * caller learns the count and asks again (as a VMM does).
   */
  ioasIovaRanges(ioasId: number, maxIovas: number, reserved = 0): IovaRangesOutcome {
    const none = (result: Result<void>): IovaRangesOutcome => ({ result, numIovas: 0, alignment: 0n, ranges: [] })
    const r = this.ioctl('IOAS_IOVA_RANGES')
    if (!r.ok) return none(r)
    if (reserved !== 0) return none(fail('EOPNOTSUPP', '__reserved is not 0'))
    const ioas = this.getIoas(ioasId)
    if (!ioas.ok) return none(ioas)
    const all = ioas.value.iopt.allowedRanges()
    const result: Result<void> = all.length > maxIovas ? fail('EMSGSIZE', `${all.length} ranges, room for ${maxIovas}`) : ok()
    return { result, numIovas: all.length, alignment: ioas.value.iopt.iovaAlignment, ranges: all.slice(0, maxIovas) }
  }

  /**
   * IOMMU_IOAS_CHANGE_PROCESS (ioas.c iommufd_ioas_change_process, 6.13+): __reserved:
   * EOPNOTSUPP; any area of any IOAS that is not file-backed (IOPT_ADDRESS_FILE; every mapping the
   * model makes is a user VA) is EINVAL; otherwise the pinned pages are charged to the caller: 0.
   * A VMM calls it once on a fresh context to learn whether the kernel has it (QEMU 11).
   */
  ioasChangeProcess(reserved = 0): Result<void> {
    const r = this.ioctl('IOAS_CHANGE_PROCESS')
    if (!r.ok) return r
    if (reserved !== 0) return fail('EOPNOTSUPP', '__reserved is not 0')
    const mapped = this.objects.live().some((o) => o instanceof Ioas && o.iopt.mappings().length > 0)
    return mapped ? fail('EINVAL', 'an IOAS maps user memory (not a file): its pages cannot change process') : ok()
  }

  // ---- IOMMU_HWPT_ALLOC ------------------------------------------------------------------------

  /**
   * IOMMU_HWPT_ALLOC (hw_pagetable.c iommufd_hwpt_alloc): __reserved: EOPNOTSUPP; a data type
   * without data or data without a type: EINVAL; the device: ENOENT; pt_id names nothing: EINVAL.
   * Then by pt_id's type: an IOAS -> a paging HWPT (iommufd_hwpt_paging_alloc); a paging HWPT -> a
   * nested HWPT on it (iommufd_hwpt_nested_alloc, VT-d's way); a vIOMMU -> a nested HWPT on it
   * (iommufd_viommu_alloc_hwpt_nested, SMMUv3's way), but first, in iommufd_hwpt_alloc itself, a
   * device whose iommu_dev is not the vIOMMU's (another SMMU instance) is EINVAL (7.3.4); anything
   * else: EINVAL. FAULT_ID_VALID then needs a fault queue: the model has none, so
   * the lookup is ENOENT and the new HWPT goes again.
   */
  hwptAlloc(req: HwptAllocRequest): Result<number> {
    const r = this.ioctl('HWPT_ALLOC')
    if (!r.ok) return r
    if ((req.reserved ?? 0) !== 0) return fail('EOPNOTSUPP', '__reserved is not 0')
    const dataLen = req.data?.length ?? 0
    if ((req.dataType === IOMMU_HWPT_DATA_NONE && dataLen !== 0) || (req.dataType !== IOMMU_HWPT_DATA_NONE && dataLen === 0)) {
      return fail('EINVAL', `data_type ${req.dataType} with data_len ${dataLen}`)
    }
    const idev = this.getIdev(req.devId)
    if (!idev.ok) return idev
    const pt = this.objects.get(req.ptId)
    if (!pt.ok) return fail('EINVAL', `pt_id ${req.ptId} names no object`)
    const data: UserData | undefined = dataLen === 0 ? undefined : { type: req.dataType, bytes: req.data as Uint8Array }
    let hwpt: Result<Hwpt>
    const obj = pt.value
    if (obj.type === 'ioas') hwpt = this.hwptPagingAlloc(obj, idev.value, req.flags, false, false, data)
    else if (obj.type === 'hwpt_paging') hwpt = this.hwptNestedAlloc(obj, idev.value, req.flags, data ?? { type: req.dataType, bytes: new Uint8Array(0) })
    else if (obj.type === 'viommu') {
      if (obj.iommuDev !== idev.value.dev.smmu) return fail('EINVAL', `the vIOMMU is on ${describeIommu(obj.iommuDev)}, the device on ${idev.value.dev.smmu.name}`)
      hwpt = this.viommuAllocHwptNested(obj, req.flags, data ?? { type: req.dataType, bytes: new Uint8Array(0) })
    } else return fail('EINVAL', `pt_id ${req.ptId} is a ${OBJECT_TYPE_NAMES[obj.type]}: not an IOAS, a paging HWPT or a vIOMMU`)
    if (!hwpt.ok) return hwpt
    if ((req.flags & IOMMU_HWPT_FAULT_ID_VALID) !== 0) {
      this.abortHwpt(hwpt.value)
      return fail('ENOENT', `fault_id ${req.faultId ?? 0}: the model has no fault queues (IOMMU_FAULT_QUEUE_ALLOC)`)
    }
    return ok(hwpt.value.id)
  }

  /**
   * iommufd_hwpt_paging_alloc: any flag or data for a driver without domain_alloc_paging_flags:
   * EOPNOTSUPP; flags beyond NEST_PARENT | DIRTY_TRACKING | FAULT_ID_VALID | PASID: EOPNOTSUPP; DIRTY_TRACKING without IOMMU_CAP_DIRTY_TRACKING: EOPNOTSUPP; FAULT_ID_VALID with
   * NEST_PARENT: EOPNOTSUPP; then the driver's domain_alloc_paging_flags (without FAULT_ID_VALID);
   * `immediate` (an auto domain) attaches the device first; then iopt_table_add_domain fills it
   * from the IOAS (its errors undo everything).
   */
  private hwptPagingAlloc(ioas: Ioas, idev: Idev, flags: number, immediate: boolean, auto: boolean, data: UserData | undefined): Result<HwptPaging> {
    const valid = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID
    const driver = this.kernel.driverOf(idev.dev)
    if ((flags !== 0 || data !== undefined) && !driver.takesPagingFlags) return fail('EOPNOTSUPP', `${idev.dev.driver} has no domain_alloc_paging_flags: no HWPT flags or data`)
    if ((flags & ~valid) !== 0) return fail('EOPNOTSUPP', `unknown HWPT flags 0x${(flags & ~valid).toString(16)}`)
    if ((flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0 && !driver.capable(idev.dev, 'DIRTY_TRACKING')) return fail('EOPNOTSUPP', `${idev.dev.name} has no dirty tracking`)
    if ((flags & IOMMU_HWPT_FAULT_ID_VALID) !== 0 && (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0) return fail('EOPNOTSUPP', 'a nest parent takes no fault queue')
    const domain = driver.domainAllocPagingFlags(idev.dev, flags & ~IOMMU_HWPT_FAULT_ID_VALID, data)
    if (!domain.ok) return domain
    const hwpt = new HwptPaging(domain.value, ioas, (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0, auto, idev.dev.driver)
    if (immediate) {
      const attached = this.hwptAttach(hwpt, idev)
      if (!attached.ok) {
        this.kernel.core.freeDomain(domain.value)
        return attached
      }
    }
    const added = ioas.iopt.addDomain(domain.value)
    if (!added.ok) {
      if (immediate) this.hwptDetach(hwpt, idev)
      this.kernel.core.freeDomain(domain.value)
      return added
    }
    ioas.hwpts.push(hwpt)
    ioas.users++
    if (immediate) hwpt.users++ // the device attached at once holds it
    return ok(this.objects.add(hwpt))
  }

  /**
   * iommufd_hwpt_nested_alloc (pt_id a paging HWPT): flags beyond FAULT_ID_VALID | PASID, no data,
   * or a driver without domain_alloc_nested: EOPNOTSUPP; a parent that is an auto domain, not a
   * nest parent, or another driver's: EINVAL; then the driver's domain_alloc_nested.
   */
  private hwptNestedAlloc(parent: HwptPaging, idev: Idev, flags: number, data: UserData): Result<HwptNested> {
    const driver = this.kernel.driverOf(idev.dev)
    if ((flags & ~(IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID)) !== 0 || data.bytes.length === 0 || driver.domainAllocNested === undefined) {
      return fail('EOPNOTSUPP', driver.domainAllocNested === undefined ? `${idev.dev.driver} has no domain_alloc_nested (nest through a vIOMMU instead)` : 'flags or no data')
    }
    if (parent.autoDomain || !parent.nestParent || parent.owner !== idev.dev.driver) return fail('EINVAL', `HWPT ${parent.id} is not a nest parent of ${idev.dev.driver}`)
    const domain = driver.domainAllocNested(idev.dev, parent.domain, flags & ~IOMMU_HWPT_FAULT_ID_VALID, data)
    if (!domain.ok) return domain
    parent.users++
    return ok(this.objects.add(new HwptNested(domain.value, parent, undefined)))
  }

  /**
   * iommufd_viommu_alloc_hwpt_nested: flags beyond FAULT_ID_VALID | PASID: EOPNOTSUPP; no data:
   * EOPNOTSUPP; no alloc_domain_nested: EOPNOTSUPP; then the vIOMMU's alloc_domain_nested. The
   * nested HWPT holds the vIOMMU; its parent is the vIOMMU's HWPT.
   */
  private viommuAllocHwptNested(viommu: Viommu, flags: number, data: UserData): Result<HwptNested> {
    if ((flags & ~(IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID)) !== 0) return fail('EOPNOTSUPP', `HWPT flags 0x${flags.toString(16)} on a vIOMMU`)
    if (data.bytes.length === 0) return fail('EOPNOTSUPP', 'a nested HWPT on a vIOMMU needs driver data')
    if (viommu.ops === undefined) return fail('EOPNOTSUPP', 'the vIOMMU has no alloc_domain_nested')
    const domain = viommu.ops.allocDomainNested(flags & ~IOMMU_HWPT_FAULT_ID_VALID, data)
    if (!domain.ok) return domain
    viommu.users++
    return ok(this.objects.add(new HwptNested(domain.value, viommu.hwpt, viommu)))
  }

  /** iommufd_object_abort_and_destroy of a HWPT made by this call. */
  private abortHwpt(hwpt: Hwpt): void {
    this.objects.drop(hwpt, false)
    this.destroyObject(hwpt)
  }

  // ---- vIOMMU, vDEVICE -------------------------------------------------------------------------

  /**
   * IOMMU_VIOMMU_ALLOC (viommu.c iommufd_viommu_alloc_ioctl). 6.17+ ('size-then-init'): flags or
   * type DEFAULT: EOPNOTSUPP; the device: ENOENT; no get_viommu_size/viommu_init: EOPNOTSUPP;
   * get_viommu_size 0: EOPNOTSUPP; the HWPT (a paging one): ENOENT; not a nest parent: EINVAL;
   * viommu_init's error. 6.13/6.14 ('viommu_alloc-op'): flags/type, device, HWPT, nest parent,
   * then the driver's viommu_alloc with its own checks (no op: EOPNOTSUPP).
   */
  viommuAlloc(req: ViommuAllocRequest): Result<number> {
    const r = this.ioctl('VIOMMU_ALLOC')
    if (!r.ok) return r
    if (req.flags !== 0 || req.type === IOMMU_VIOMMU_TYPE_DEFAULT) return fail('EOPNOTSUPP', req.flags !== 0 ? 'flags must be 0' : 'type DEFAULT is reserved')
    const idev = this.getIdev(req.devId)
    if (!idev.ok) return idev
    const dev = idev.value.dev
    const driver = this.kernel.driverOf(dev)
    const facts = this.kernel.profile.iommu.drivers[dev.driver].iommufd
    const hasOps = facts.viommu && driver.viommuInit !== undefined
    const legacy = this.behaviour.viommuAlloc === 'viommu_alloc-op'
    if (!legacy) {
      if (!hasOps || driver.getViommuSize === undefined) return fail('EOPNOTSUPP', `${dev.driver} has no vIOMMU`)
      const size = driver.getViommuSize(dev, req.type)
      if (size.size === 0) return fail('EOPNOTSUPP', `no vIOMMU on SMMU ${dev.smmu.name}: ${size.why}`)
    }
    const hwpt = this.objects.get(req.hwptId, 'hwpt_paging')
    if (!hwpt.ok) return hwpt
    const parent = hwpt.value as HwptPaging
    if (!parent.nestParent) return fail('EINVAL', `HWPT ${parent.id} is not a nest parent`)
    if (legacy && !hasOps) return fail('EOPNOTSUPP', `${dev.driver} has no viommu_alloc`)
    const viommu = new Viommu(req.type, parent, dev.smmu)
    const core: ViommuCore = {
      findDev: (virtId) => viommu.findDev(virtId),
      vdevIdOf: (d) => viommu.vdevIdOf(d),
      reportEvent: (type, data) => this.reportEvent(viommu, type, data),
    }
    const init = (driver.viommuInit as NonNullable<IommufdDriver['viommuInit']>)({ type: req.type, dev, parent: parent.domain, core }, legacy)
    if (!init.ok) return init
    viommu.ops = init.value
    parent.users++
    return ok(this.objects.add(viommu).id)
  }

  /**
   * IOMMU_VDEVICE_ALLOC (iommufd_vdevice_alloc_ioctl): virt_id beyond ULONG_MAX: EINVAL; the
   * vIOMMU: ENOENT; the device: ENOENT; a device of another IOMMU instance: EINVAL; a device
   * being destroyed: ENOENT; 6.17+: a device with a vDEVICE already: EEXIST; virt_id taken in this
   * vIOMMU: EEXIST; then the driver's vdevice_init (7.3's arm-smmu-v3: a device with more than one
   * StreamID, EOPNOTSUPP).
   */
  vdeviceAlloc(viommuId: number, devId: number, virtId: bigint): Result<number> {
    const r = this.ioctl('VDEVICE_ALLOC')
    if (!r.ok) return r
    if (virtId > ULONG_MAX) return fail('EINVAL', 'virt_id beyond ULONG_MAX')
    const v = this.objects.get(viommuId, 'viommu')
    if (!v.ok) return v
    const viommu = v.value as Viommu
    const idev = this.getIdev(devId)
    if (!idev.ok) return idev
    if (viommu.iommuDev !== idev.value.dev.smmu) return fail('EINVAL', `${idev.value.dev.name} is behind ${idev.value.dev.smmu.name}, not the vIOMMU's IOMMU`)
    if (idev.value.destroying) return fail('ENOENT', 'the device is being destroyed')
    if (this.behaviour.oneVdevicePerDevice && idev.value.vdev !== undefined) return fail('EEXIST', `${idev.value.dev.name} has a vDEVICE already (ID ${idev.value.vdev.id})`)
    if (viommu.vdevs.has(virtId)) return fail('EEXIST', `virt_id 0x${virtId.toString(16)} is taken in this vIOMMU`)
    const init = viommu.ops?.vdeviceInit?.(idev.value.dev)
    if (init !== undefined && !init.ok) return init
    const vdev = new Vdevice(viommu, idev.value, virtId)
    viommu.users++
    idev.value.vdev = vdev
    viommu.vdevs.set(virtId, vdev)
    return ok(this.objects.add(vdev).id)
  }

  // ---- IOMMU_HWPT_INVALIDATE -------------------------------------------------------------------

  /**
   * IOMMU_HWPT_INVALIDATE (iommufd_hwpt_invalidate): entry_num is written back on every path, 0
   * unless the driver ran. __reserved: EOPNOTSUPP; entries without a pointer or length: EINVAL;
   * the object: ENOENT; a nested HWPT -> its domain's cache_invalidate_user (none: EOPNOTSUPP); a
   * vIOMMU -> its cache_invalidate (none: EOPNOTSUPP); anything else: EINVAL.
   */
  hwptInvalidate(req: InvalidateRequest): InvalidateOutcome {
    const r = this.ioctl('HWPT_INVALIDATE')
    if (!r.ok) return { result: r, entryNum: req.entryNum }
    const done = (result: Result<void>, entryNum = 0): InvalidateOutcome => ({ result, entryNum })
    if ((req.reserved ?? 0) !== 0) return done(fail('EOPNOTSUPP', '__reserved is not 0'))
    if (req.entryNum !== 0 && (req.data === null || req.entryLen === 0)) return done(fail('EINVAL', 'entries without data_uptr or entry_len'))
    const obj = this.objects.get(req.hwptId)
    if (!obj.ok) return done(obj)
    const array = { type: req.dataType, entryLen: req.entryLen, entryNum: req.entryNum, bytes: req.data ?? new Uint8Array(0) }
    const target = obj.value
    if (target.type === 'hwpt_nested') {
      if (target.domain.cacheInvalidateUser === undefined) return done(fail('EOPNOTSUPP', `${target.domain.description} has no cache_invalidate_user`))
      const out = target.domain.cacheInvalidateUser(array)
      return done(out.result, out.done)
    }
    if (target.type === 'viommu') {
      if (target.ops?.cacheInvalidate === undefined) return done(fail('EOPNOTSUPP', 'the vIOMMU has no cache_invalidate'))
      const out = target.ops.cacheInvalidate(array)
      return done(out.result, out.done)
    }
    return done(fail('EINVAL', `ID ${req.hwptId} is a ${OBJECT_TYPE_NAMES[target.type]}: invalidate a nested HWPT or a vIOMMU`))
  }

  // ---- IOMMU_GET_HW_INFO -----------------------------------------------------------------------

  /**
   * IOMMU_GET_HW_INFO (device.c iommufd_get_hw_info): unknown flags (INPUT_TYPE from 6.17) or
   * __reserved: EOPNOTSUPP; without INPUT_TYPE the type asked is DEFAULT; the device: ENOENT; a
   * driver without hw_info gives type NONE and no data; the driver's error passes up. The kernel
   * copies min(its length, data_len) bytes, zero-fills the rest of the user buffer and writes its
   * own length back.
   */
  getHwInfo(req: HwInfoRequest): Result<HwInfoOut> {
    const r = this.ioctl('GET_HW_INFO')
    if (!r.ok) return r
    const knownFlags = this.behaviour.hwInfoInputType ? IOMMU_HW_INFO_FLAG_INPUT_TYPE : 0
    if ((req.flags & ~knownFlags) !== 0 || (req.reserved ?? 0) !== 0) return fail('EOPNOTSUPP', `hw_info flags 0x${req.flags.toString(16)}`)
    const type = (req.flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE) !== 0 ? req.inDataType : IOMMU_HW_INFO_TYPE_DEFAULT
    const idev = this.getIdev(req.devId)
    if (!idev.ok) return idev
    const dev = idev.value.dev
    const driver = this.kernel.driverOf(dev)
    const facts = this.kernel.profile.iommu.drivers[dev.driver].iommufd
    let info: { readonly type: number; readonly data: Uint8Array } = { type: 0, data: new Uint8Array(0) }
    if (facts.hwInfo && driver.hwInfo !== undefined) {
      const got = driver.hwInfo(dev, type)
      if (!got.ok) return got
      info = got.value
    }
    const data = new Uint8Array(req.dataLen)
    data.set(info.data.subarray(0, Math.min(req.dataLen, info.data.length)))
    let caps = 0
    if (driver.capable(dev, 'DIRTY_TRACKING')) caps |= IOMMU_HW_CAP_DIRTY_TRACKING
    if (this.behaviour.hwCapAtsNotSupported) caps |= IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED
    return ok({ type: info.type, dataLen: info.data.length, data, capabilities: caps, maxPasidLog2: 0 })
  }

  // ---- vEVENTQ ---------------------------------------------------------------------------------

  /**
   * IOMMU_VEVENTQ_ALLOC (eventq.c iommufd_veventq_alloc): flags, __reserved or type DEFAULT:
   * EOPNOTSUPP; depth 0 or above VEVENTQ_MAX_DEPTH (2^19): EINVAL; the vIOMMU: ENOENT; a queue of
   * that type on the vIOMMU already: EEXIST. The type is not checked against the driver: an
   * unknown one is a queue that never gets an event. The queue holds its vIOMMU, and its fd holds
   * the queue (iommufd_eventq_init: refcount_inc(&eventq->obj.users)) until it is closed, so
   * IOMMU_DESTROY of the queue is EBUSY while the fd is open.
   */
  veventqAlloc(req: VeventqAllocRequest): Result<Veventq> {
    const r = this.ioctl('VEVENTQ_ALLOC')
    if (!r.ok) return r
    if (req.flags !== 0 || (req.reserved ?? 0) !== 0 || req.type === IOMMU_VEVENTQ_TYPE_DEFAULT) return fail('EOPNOTSUPP', 'flags, __reserved or type DEFAULT')
    if (req.depth === 0 || req.depth > VEVENTQ_MAX_DEPTH) return fail('EINVAL', `veventq_depth ${req.depth} is not 1..${VEVENTQ_MAX_DEPTH}`)
    const v = this.objects.get(req.viommuId, 'viommu')
    if (!v.ok) return v
    const viommu = v.value as Viommu
    if (viommu.veventqs.some((q) => q.veventqType === req.type)) return fail('EEXIST', `the vIOMMU has a vEVENTQ of type ${req.type} already`)
    const q = new Veventq(viommu, req.type, req.depth)
    viommu.veventqs.push(q)
    viommu.users++
    this.objects.add(q)
    q.users++
    q.fdOpen = true
    return ok(q)
  }

  /** close() of a vEVENTQ's fd (iommufd_eventq_fops_release): the fd's reference goes. */
  veventqClose(q: Veventq): void {
    if (!q.fdOpen) throw new Error(`vEVENTQ ${q.id}'s fd is closed already`)
    q.fdOpen = false
    q.users--
  }

  /**
   * iommufd_viommu_report_event: no vEVENTQ of the type: EOPNOTSUPP (the driver logs the event
   * itself). A full queue (num_events == depth) drops the event and queues the lost-events
   * header instead; iommufd_vevent_handler takes the header off the tail first, so it is queued
   * once, with the latest sequence number. Every queued record takes the next sequence number
   * (0..INT_MAX, wrapping).
   */
  private reportEvent(viommu: Viommu, type: number, data: Uint8Array): Result<void> {
    const q = viommu.veventqs.find((x) => x.veventqType === type)
    if (q === undefined) return fail('EOPNOTSUPP', `no vEVENTQ of type ${type}`)
    let vevent: Vevent
    if (q.numEvents === q.depth) vevent = q.lostEventsHeader
    else {
      vevent = { flags: 0, sequence: 0, data }
      q.numEvents++
    }
    if (q.deliver[q.deliver.length - 1] === q.lostEventsHeader) q.deliver.pop()
    vevent.sequence = q.sequence
    q.sequence = (q.sequence + 1) & INT_MAX
    q.deliver.push(vevent)
    return ok()
  }

  /**
   * read() of a vEVENTQ's fd (iommufd_veventq_fops_read): count below a header: EINVAL; then whole
   * records in order, each an 8-byte header {flags, sequence} and its data (none for the
   * lost-events header). A record that does not fit in what is left stays queued; when it is the
   * first, EINVAL. The lost-events header is taken off as a copy (iommufd_veventq_deliver_fetch)
   * and, when no room is left for it, put back only if the queue is otherwise empty
   * (iommufd_veventq_deliver_restore): followed by other records, it is dropped. Returns the bytes.
   */
  veventqRead(q: Veventq, count: number): Result<Uint8Array> {
    if (count < SIZEOF_IOMMUFD_VEVENT_HEADER) return fail('EINVAL', `a read of ${count} bytes is shorter than a vEVENT header`)
    const out: number[] = []
    while (q.deliver.length > 0) {
      const cur = q.deliver.shift() as Vevent
      const left = count - out.length
      const lost = cur === q.lostEventsHeader
      if (left < SIZEOF_IOMMUFD_VEVENT_HEADER) {
        if (!lost || q.deliver.length === 0) q.deliver.unshift(cur)
        break
      }
      if (!lost && SIZEOF_IOMMUFD_VEVENT_HEADER + cur.data.length > left) {
        q.deliver.unshift(cur)
        if (out.length === 0) return fail('EINVAL', `a read of ${count} bytes cannot hold a ${SIZEOF_IOMMUFD_VEVENT_HEADER + cur.data.length}-byte vEVENT`)
        break
      }
      const header = new Uint8Array(SIZEOF_IOMMUFD_VEVENT_HEADER)
      const view = new DataView(header.buffer)
      view.setUint32(0, lost ? IOMMU_VEVENTQ_FLAG_LOST_EVENTS : cur.flags, true)
      view.setUint32(4, cur.sequence, true)
      out.push(...header, ...cur.data)
      if (!lost) q.numEvents--
    }
    return ok(Uint8Array.from(out))
  }

  // ---- devices (called by VFIO's cdev) ---------------------------------------------------------

  /**
   * iommufd_device_bind: a device whose IOMMU cannot do cache-coherent DMA (no
   * IOMMU_CAP_CACHE_COHERENCY): EINVAL. VFIO holds the device object (users 2) until unbind.
   */
  bindDevice(dev: IommufdDevice): Result<Idev> {
    const driver = this.kernel.driverOf(dev)
    if (!driver.capable(dev, 'CACHE_COHERENCY')) return fail('EINVAL', `${dev.name}'s IOMMU ${dev.smmu.name} is not cache coherent (IOMMU_CAP_CACHE_COHERENCY)`)
    const idev = this.objects.add(new Idev(dev))
    idev.users++ // the VFIO device's reference
    driver.blockDevice(dev) // iommu_device_claim_dma_owner: the blocking domain
    return ok(idev)
  }

  /**
   * iommufd_device_unbind: the device is detached first (VFIO does it), then its vDEVICE is
   * destroyed by the kernel, its ID left a tombstone (iommufd_device_remove_vdev, 6.17+), and the
   * device object goes.
   */
  unbindDevice(idev: Idev): void {
    if (idev.attached !== undefined) this.detachDevice(idev)
    idev.destroying = true
    const vdev = idev.vdev
    if (vdev !== undefined) {
      this.objects.drop(vdev, true)
      this.destroyObject(vdev)
    }
    idev.users--
    this.objects.drop(idev, false)
  }

  /**
   * VFIO_DEVICE_ATTACH_IOMMUFD_PT -> iommufd_device_attach (not attached yet) or
   * iommufd_device_replace (iommufd_device_change_pt): pt_id names nothing: ENOENT; a paging or
   * nested HWPT is attached as it is; an IOAS gets an automatic paging HWPT (an existing one of
   * that IOAS the device can use, else a new one); anything else: EINVAL. Returns the HWPT's ID
   * (written back to pt_id).
   */
  attachDevice(idev: Idev, ptId: number): Result<number> {
    const pt = this.objects.get(ptId)
    if (!pt.ok) return pt
    const obj = pt.value
    if (obj.type === 'hwpt_paging' || obj.type === 'hwpt_nested') {
      if (idev.attached === obj) return ok(obj.id)
      const r = this.changeHwpt(idev, obj)
      return r.ok ? ok(obj.id) : r
    }
    if (obj.type === 'ioas') return this.autoGetDomain(idev, obj)
    return fail('EINVAL', `pt_id ${ptId} is a ${OBJECT_TYPE_NAMES[obj.type]}: not an IOAS or a HWPT`)
  }

  /**
   * iommufd_device_auto_get_domain: an automatic HWPT of the IOAS is tried first (one the device's
   * IOMMU refuses with EINVAL is skipped); otherwise a new automatic paging HWPT is made with the
   * device attached at once (immediate_attach).
   */
  private autoGetDomain(idev: Idev, ioas: Ioas): Result<number> {
    for (const hwpt of ioas.hwpts) {
      if (!hwpt.autoDomain) continue
      if (idev.attached === hwpt) return ok(hwpt.id)
      const r = this.changeHwpt(idev, hwpt)
      if (r.ok) return ok(hwpt.id)
      if (r.error.errno !== 'EINVAL') return r
    }
    const old = idev.attached
    if (old !== undefined) this.hwptDetach(old, idev)
    const hwpt = this.hwptPagingAlloc(ioas, idev, 0, true, true, undefined)
    if (!hwpt.ok) {
      if (old !== undefined) this.reattach(old, idev)
      return hwpt
    }
    if (old !== undefined) this.putHwpt(old)
    return ok(hwpt.value.id)
  }

  /** Attach or replace: the new HWPT's checks first; the old one is let go only once the new one holds. */
  private changeHwpt(idev: Idev, hwpt: Hwpt): Result<void> {
    const old = idev.attached
    if (old !== undefined) this.hwptDetach(old, idev)
    const r = this.hwptAttach(hwpt, idev)
    if (!r.ok) {
      if (old !== undefined) this.reattach(old, idev)
      return r
    }
    hwpt.users++ // the device holds its HWPT
    if (old !== undefined) this.putHwpt(old)
    return ok()
  }

  private reattach(old: Hwpt, idev: Idev): void {
    const back = this.hwptAttach(old, idev)
    if (!back.ok) throw new Error(`re-attaching the previous HWPT failed: ${back.error.message}`)
  }

  /**
   * iommufd_hw_pagetable_attach: the group's reserved regions are reserved in the IOAS the HWPT
   * translates through (the parent's for a nested HWPT; a mapping there: EADDRINUSE), then the
   * driver attaches the domain (iommu_attach_group). The caller takes the device's reference.
   */
  private hwptAttach(hwpt: Hwpt, idev: Idev): Result<void> {
    const dev = idev.dev
    const paging = hwpt.type === 'hwpt_paging' ? hwpt : hwpt.parent
    for (const region of dev.reservedRegions) {
      const r = paging.ioas.iopt.reserve(region.start, region.end, idev)
      if (!r.ok) {
        paging.ioas.iopt.removeReserved(idev)
        return r
      }
    }
    let attached: Result<void>
    if (hwpt.type === 'hwpt_paging') {
      const driver = this.kernel.driverOf(dev)
      attached = driver.checkPagingAttach(hwpt.domain, dev)
      if (attached.ok) attached = attachStreams(hwpt, dev)
      if (attached.ok) this.kernel.drivers.armSmmuV3.clearVmaster(dev)
    } else {
      attached = hwpt.domain.attachDev(dev)
    }
    if (!attached.ok) {
      paging.ioas.iopt.removeReserved(idev)
      return attached
    }
    idev.attached = hwpt
    hwpt.devices.add(idev)
    return ok()
  }

  /** The device leaves `hwpt` (its streams blocked until the next attach); its reservations go. */
  private hwptDetach(hwpt: Hwpt, idev: Idev): void {
    const dev = idev.dev
    if (hwpt.type === 'hwpt_paging') {
      for (const sid of dev.streams) if (hwpt.domain.streams.has(sid)) hwpt.domain.detach(sid)
    } else hwpt.domain.detachDev(dev)
    const paging = hwpt.type === 'hwpt_paging' ? hwpt : hwpt.parent
    paging.ioas.iopt.removeReserved(idev)
    hwpt.devices.delete(idev)
    idev.attached = undefined
    this.kernel.driverOf(dev).blockDevice(dev)
  }

  /** The device's reference on a HWPT it left goes; an automatic HWPT no one uses is destroyed. */
  private putHwpt(hwpt: Hwpt): void {
    hwpt.users--
    if (hwpt.type === 'hwpt_paging' && hwpt.autoDomain && hwpt.devices.size === 0 && hwpt.users === 1) {
      this.objects.drop(hwpt, false)
      this.destroyHwptPaging(hwpt)
    }
  }

  /** VFIO_DEVICE_DETACH_IOMMUFD_PT -> iommufd_device_detach: the device is blocked. */
  detachDevice(idev: Idev): void {
    const hwpt = idev.attached
    if (hwpt === undefined) return
    this.hwptDetach(hwpt, idev)
    this.putHwpt(hwpt)
  }

  // ---- lookups ---------------------------------------------------------------------------------

  private getIoas(id: number): Result<Ioas> {
    const o = this.objects.get(id, 'ioas')
    return o.ok ? ok(o.value as Ioas) : o
  }

  private getIdev(id: number): Result<Idev> {
    const o = this.objects.get(id, 'device')
    return o.ok ? ok(o.value as Idev) : o
  }
}

/** A paging domain takes the device's streams (the iommu layer's attach writes each STE). */
function attachStreams(hwpt: HwptPaging, dev: IommufdDevice): Result<void> {
  const done: number[] = []
  for (const sid of dev.streams) {
    const r = hwpt.domain.attach(dev.smmu, sid)
    if (!r.ok) {
      for (const s of done) hwpt.domain.detach(s)
      return r
    }
    done.push(sid)
  }
  return ok()
}

function describeIommu(iommu: object): string {
  const name = (iommu as { readonly name?: unknown }).name
  return typeof name === 'string' ? `SMMU ${name}` : 'another IOMMU'
}
