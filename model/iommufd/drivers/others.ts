/**
 * The iommufd side of the drivers without SMMUv3 nesting:
 * - arm-smmu (v1/v2, drivers/iommu/arm/arm-smmu/arm-smmu.c): only domain_alloc_paging(dev) (it
 *   finalises the domain for the device's SMMU there), so the core refuses any flag or data
 *   (iommufd_hwpt_paging_alloc: EOPNOTSUPP); IOMMU_CAP_CACHE_COHERENCY is the coherent table walk;
 *   no hw_info, no nesting, no vIOMMU.
 * - intel-iommu (VT-d, drivers/iommu/intel/): a nest parent needs nested_supported() = scalable mode
 *   and ECAP.NEST (iommu.h); no fixture and no QEMU VT-d offers ECAP.NEST (QEMU's intel-iommu never
 *   sets it for the guest), so NEST_PARENT and domain_alloc_nested are EOPNOTSUPP wherever the
 *   model runs; no vIOMMU (no get_viommu_size / viommu_init in drivers/iommu/intel/); hw_info is
 *   struct iommu_hw_info_vtd (intel_iommu_hw_info).
 */
import { fail, ok, type Result } from '../../errno'
import type { IommuCore } from '../../iommu/core'
import type { IommuDomain } from '../../iommu/domain'
import type { IommufdDriverFacts } from '../../profiles'
import type { IommufdDevice } from '../device-info'
import type { HwInfo, IommuCap, IommufdDriver, NestedDomain, UserData } from '../driver'
import { IOMMU_HW_INFO_TYPE_DEFAULT, IOMMU_HW_INFO_TYPE_INTEL_VTD, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_ALLOC_PASID, SIZEOF_IOMMU_HW_INFO_VTD } from '../uapi'

/** arm-smmu v1/v2. */
export class ArmSmmuIommufd implements IommufdDriver {
  /** arm-smmu has domain_alloc_paging only. */
  readonly takesPagingFlags = false
  constructor(private readonly core: IommuCore) {}

  capable(dev: IommufdDevice, cap: IommuCap): boolean {
    return cap === 'CACHE_COHERENCY' && dev.smmu.features.coherentWalk
  }

  domainAllocPagingFlags(dev: IommufdDevice, flags: number, data: UserData | undefined): Result<IommuDomain> {
    if (flags !== 0 || data !== undefined) return fail('EOPNOTSUPP', 'arm-smmu has no domain_alloc_paging_flags: no HWPT flags or data')
    return this.core.allocDeviceDomain(dev.smmu, 'S1')
  }

  checkPagingAttach(domain: IommuDomain, dev: IommufdDevice): Result<void> {
    if (domain.smmu !== undefined && domain.smmu !== dev.smmu) return fail('EINVAL', `the domain belongs to SMMU ${domain.smmu.name}`)
    return ok()
  }

  /** A stream with no context bank faults (the model's S2CR with no context). */
  blockDevice(): void {}
}

/** VT-d: ECAP bit 0 (C, coherent walks), 26 (NEST); CAP SAGAW [12:8], MGAW [21:16]. */
const ECAP_C = 1n << 0n
const CAP_SAGAW_SHIFT = 8n
const CAP_MGAW_SHIFT = 16n
/** IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17: intel_iommu_hw_info always sets it. */
const VTD_ERRATA_772415_SPR17 = 1

export class IntelIommuIommufd implements IommufdDriver {
  /** intel_iommu_domain_alloc_paging_flags (6.12: domain_alloc_user). */
  readonly takesPagingFlags = true
  constructor(
    private readonly facts: IommufdDriverFacts,
    private readonly core: IommuCore,
  ) {}

  /** nested_supported(): scalable mode and ECAP.NEST; the model's VT-d units (and QEMU's) have neither. */
  private nestedSupported(dev: IommufdDevice): boolean {
    return dev.smmu.features.translation.nested
  }

  /** intel_iommu_capable: CACHE_COHERENCY always; ENFORCE_CACHE_COHERENCY with snoop control (the coherent walk here). */
  capable(dev: IommufdDevice, cap: IommuCap): boolean {
    if (cap === 'CACHE_COHERENCY') return true
    if (cap === 'ENFORCE_CACHE_COHERENCY') return dev.smmu.features.coherentWalk
    return false
  }

  /**
   * intel_iommu_domain_alloc_paging_flags -> intel_iommu_domain_alloc_second_stage: user data:
   * EOPNOTSUPP; flags beyond NEST_PARENT | DIRTY_TRACKING | PASID: EOPNOTSUPP; NEST_PARENT without
   * nested_supported(): EOPNOTSUPP; DIRTY_TRACKING without SSADS: EOPNOTSUPP.
   */
  domainAllocPagingFlags(dev: IommufdDevice, flags: number, data: UserData | undefined): Result<IommuDomain> {
    if (data !== undefined) return fail('EOPNOTSUPP', 'VT-d paging domains take no driver data')
    const known = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID
    if ((flags & ~known) !== 0) return fail('EOPNOTSUPP', `VT-d does not take HWPT flags 0x${(flags & ~known).toString(16)}`)
    if ((flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0 && !(this.facts.nestParent && this.nestedSupported(dev))) {
      return fail('EOPNOTSUPP', `${dev.smmu.name} cannot nest: no scalable mode with ECAP.NEST`)
    }
    if ((flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0) return fail('EOPNOTSUPP', `${dev.smmu.name} has no second-stage dirty tracking (ECAP.SSADS)`)
    return this.core.allocDeviceDomain(dev.smmu, 'S1')
  }

  /** intel_iommu_domain_alloc_nested: without nested_supported(): EOPNOTSUPP. */
  readonly domainAllocNested = (dev: IommufdDevice, _parent: IommuDomain, _flags: number, _data: UserData): Result<NestedDomain> => {
    return fail('EOPNOTSUPP', `${dev.smmu.name} cannot nest: no scalable mode with ECAP.NEST`)
  }

  /** intel_iommu_hw_info: struct iommu_hw_info_vtd {flags, __reserved, cap_reg, ecap_reg}. */
  readonly hwInfo = (dev: IommufdDevice, type: number): Result<HwInfo> => {
    if (type !== IOMMU_HW_INFO_TYPE_DEFAULT && type !== IOMMU_HW_INFO_TYPE_INTEL_VTD) return fail('EOPNOTSUPP', `hw_info type ${type} is not VT-d's`)
    const hw = dev.smmu.features
    // The fixture has no CAP/ECAP registers: what it knows is composed (SAGAW for its width, MGAW,
    // ECAP.C); every other bit is 0.
    const sagaw = hw.ias <= 39 ? 1n << 1n : hw.ias <= 48 ? 1n << 2n : 1n << 3n
    const cap = (sagaw << CAP_SAGAW_SHIFT) | (BigInt(hw.ias - 1) << CAP_MGAW_SHIFT)
    const ecap = hw.coherentWalk ? ECAP_C : 0n
    const data = new Uint8Array(SIZEOF_IOMMU_HW_INFO_VTD)
    const view = new DataView(data.buffer)
    view.setUint32(0, VTD_ERRATA_772415_SPR17, true)
    view.setBigUint64(8, cap, true)
    view.setBigUint64(16, ecap, true)
    return ok({ type: IOMMU_HW_INFO_TYPE_INTEL_VTD, data })
  }

  checkPagingAttach(domain: IommuDomain, dev: IommufdDevice): Result<void> {
    if (domain.smmu !== undefined && domain.smmu !== dev.smmu) return fail('EINVAL', `the domain belongs to ${domain.smmu.name}`)
    return ok()
  }

  /** A device with no context entry faults. */
  blockDevice(): void {}
}
