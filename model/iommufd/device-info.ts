/**
 * A physical device as iommufd and its IOMMU driver see it (struct device with its iommu fwspec):
 * the IOMMU instance it sits behind, its stream IDs (PCI requester ID -> StreamID), its group's
 * reserved regions, and what the firmware says of its root complex.
 */
import type { ReservedRegion } from '../hw/features'
import type { IommuDriver } from '../profiles'
import type { SmmuInstance } from '../smmu/instance'

export interface IommufdDevice {
  /** For messages: `group 1's device (QEMU edu ...)`. */
  readonly name: string
  /** Its IOMMU group's number (/dev/vfio/N). */
  readonly group: number
  /** The IOMMU instance (dev->iommu->iommu_dev). */
  readonly smmu: SmmuInstance
  /** Its stream IDs; Linux's arm-smmu-v3 uses streams[0] for a vSID's SID. */
  readonly streams: readonly number[]
  /** The group's reserved IOVA (iommu_get_group_resv_regions). */
  readonly reservedRegions: readonly ReservedRegion[]
  /** IORT CANWBS of its root complex (IOMMU_FWSPEC_PCI_RC_CANWBS; arm_smmu_master_canwbs). */
  readonly canwbs: boolean
  /** The kernel driver of its IOMMU. */
  readonly driver: IommuDriver
}
