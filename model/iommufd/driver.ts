/**
 * What iommufd asks of an IOMMU driver (the iommufd-facing part of struct iommu_ops,
 * iommu_domain_ops and iommufd_viommu_ops, Linux 7.1), and the user-data copies every driver
 * uses (include/linux/iommu.h).
 *
 * Each driver's behaviour is its own module (./drivers/); which kernel a driver is in is the
 * profile's IommufdDriverFacts it is given.
 */
import { fail, ok, type Result } from '../errno'
import type { IommuDomain } from '../iommu/domain'
import type { IommufdDevice } from './device-info'

/** struct iommu_user_data: the driver data of IOMMU_HWPT_ALLOC / IOMMU_VIOMMU_ALLOC. */
export interface UserData {
  readonly type: number
  /** data_len bytes as userspace gave them. */
  readonly bytes: Uint8Array
}

/** struct iommu_user_data_array: the entries of IOMMU_HWPT_INVALIDATE. */
export interface UserDataArray {
  readonly type: number
  readonly entryLen: number
  readonly entryNum: number
  /** entry_len * entry_num bytes. */
  readonly bytes: Uint8Array
}

/** A driver's cache_invalidate(_user): its result and how many entries it handled (written back). */
export interface InvalidateResult {
  readonly result: Result<void>
  readonly done: number
}

/**
 * __iommu_copy_struct_from_user: the driver's struct from user data. A type other than the
 * driver's: EINVAL; fewer bytes than the struct's mandatory part (`minLen`): EINVAL; more bytes
 * than the struct: the tail must be zero (copy_struct_from_user, E2BIG otherwise). Shorter data
 * is zero-extended.
 */
export function copyStructFromUser(data: UserData, type: number, minLen: number, size: number): Result<Uint8Array> {
  if (data.type !== type) return fail('EINVAL', `data type ${data.type} is not the driver's ${type}`)
  if (data.bytes.length < minLen) return fail('EINVAL', `data_len ${data.bytes.length} is shorter than ${minLen}`)
  return zeroExtended(data.bytes, size)
}

/**
 * iommu_copy_struct_from_full_user_array: every entry of the array. A type other than the
 * driver's: EINVAL; entry_num 0: EINVAL; entries shorter than the struct are zero-extended,
 * longer ones must have a zero tail (E2BIG).
 */
export function copyArrayFromUser(array: UserDataArray, type: number, size: number): Result<Uint8Array[]> {
  if (array.type !== type) return fail('EINVAL', `data type ${array.type} is not the driver's ${type}`)
  if (array.entryNum === 0) return fail('EINVAL', 'entry_num is 0')
  const out: Uint8Array[] = []
  for (let i = 0; i < array.entryNum; i++) {
    const entry = array.bytes.subarray(i * array.entryLen, (i + 1) * array.entryLen)
    const r = zeroExtended(entry, size)
    if (!r.ok) return r
    out.push(r.value)
  }
  return ok(out)
}

function zeroExtended(bytes: Uint8Array, size: number): Result<Uint8Array> {
  if (bytes.length > size && bytes.subarray(size).some((b) => b !== 0)) return fail('E2BIG', `bytes beyond the ${size}-byte struct are not zero`)
  const out = new Uint8Array(size)
  out.set(bytes.subarray(0, size))
  return ok(out)
}

/** Little-endian u64 at `offset`. */
export function le64(bytes: Uint8Array, offset: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, true)
}

/** A nested domain (IOMMU_DOMAIN_NESTED) as its driver made it. */
export interface NestedDomain {
  /** For messages. */
  readonly description: string
  /** domain->ops->attach_dev for `dev` (its streams). `replacing`: the HWPT it replaces, if any. */
  attachDev(dev: IommufdDevice): Result<void>
  /** The device leaves this domain (its next domain is attached, or it is blocked). */
  detachDev(dev: IommufdDevice): void
  /** domain->ops->cache_invalidate_user (VT-d); undefined: the core answers EOPNOTSUPP. */
  cacheInvalidateUser?(array: UserDataArray): InvalidateResult
  /** domain->ops->free. */
  free(): void
}

/** A vIOMMU's driver side (struct iommufd_viommu_ops and the driver's vIOMMU state). */
export interface ViommuDriver {
  /** alloc_domain_nested(viommu, flags, user_data). */
  allocDomainNested(flags: number, data: UserData): Result<NestedDomain>
  /** cache_invalidate(viommu, array); undefined: EOPNOTSUPP. */
  cacheInvalidate?(array: UserDataArray): InvalidateResult
  /** vdevice_init(vdev) for the device getting a vDEVICE; undefined: none (accepted). */
  vdeviceInit?(dev: IommufdDevice): Result<void>
  /** ops->destroy. */
  destroy(): void
}

/** What the core tells a driver about the vIOMMU being made. */
export interface ViommuInit {
  readonly type: number
  readonly dev: IommufdDevice
  /** The nest parent's domain. */
  readonly parent: IommuDomain
  /** The core's vIOMMU, for the driver's lookups (vSID -> device, device -> vSID, events). */
  readonly core: ViommuCore
}

/** What a driver may ask of the core about its vIOMMU (iommufd/driver.c). */
export interface ViommuCore {
  /** iommufd_viommu_find_dev. */
  findDev(virtId: bigint): IommufdDevice | undefined
  /** iommufd_viommu_get_vdev_id. */
  vdevIdOf(dev: IommufdDevice): bigint | undefined
  /** iommufd_viommu_report_event: EOPNOTSUPP when no vEVENTQ of that type exists. */
  reportEvent(type: number, data: Uint8Array): Result<void>
}

/** IOMMU_CAP_* a core check asks about. */
export type IommuCap = 'CACHE_COHERENCY' | 'ENFORCE_CACHE_COHERENCY' | 'DIRTY_TRACKING'

/** IOMMU_GET_HW_INFO's driver part. */
export interface HwInfo {
  readonly type: number
  readonly data: Uint8Array
}

/** One IOMMU driver's iommufd side in one kernel. */
export interface IommufdDriver {
  /** device_iommu_capable. */
  capable(dev: IommufdDevice, cap: IommuCap): boolean
  /**
   * ops->domain_alloc_paging_flags(dev, flags, user_data), FAULT_ID_VALID already taken out by the
   * core. The domain comes back bound to the device's IOMMU.
   */
  domainAllocPagingFlags(dev: IommufdDevice, flags: number, data: UserData | undefined): Result<IommuDomain>
  /**
   * The driver has ops->domain_alloc_paging_flags; without it (arm-smmu v1/v2: domain_alloc_paging
   * only) the core refuses any flag or data before it looks at them (EOPNOTSUPP).
   */
  readonly takesPagingFlags: boolean
  /** ops->domain_alloc_nested (VT-d); undefined: the core answers EOPNOTSUPP. */
  readonly domainAllocNested?: (dev: IommufdDevice, parent: IommuDomain, flags: number, data: UserData) => Result<NestedDomain>
  /**
   * 6.17+: ops->get_viommu_size(dev, type); 0 refuses the vIOMMU (the core's EOPNOTSUPP).
   * undefined: no vIOMMU ops at all.
   */
  readonly getViommuSize?: (dev: IommufdDevice, type: number) => { readonly size: number; readonly why: string }
  /**
   * 6.17+: ops->viommu_init; with `legacy`, 6.13/6.14's ops->viommu_alloc (which also makes the
   * checks get_viommu_size makes, in its own order).
   */
  readonly viommuInit?: (init: ViommuInit, legacy: boolean) => Result<ViommuDriver>
  /** ops->hw_info(dev, type); undefined: type NONE, no data. */
  readonly hwInfo?: (dev: IommufdDevice, type: number) => Result<HwInfo>
  /** A paging domain of this driver is about to be attached to `dev`: driver checks beyond the iommu layer's. */
  checkPagingAttach(domain: IommuDomain, dev: IommufdDevice): Result<void>
  /**
   * The device is blocked (the blocking domain: at bind, iommu_device_claim_dma_owner, and after a
   * detach): its DMA is refused. arm-smmu-v3 writes arm_smmu_make_abort_ste's STE.
   */
  blockDevice(dev: IommufdDevice): void
}
