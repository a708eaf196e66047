/**
 * include/uapi/linux/iommufd.h values (Linux 7.1): flags, data types and the enums the calls
 * take. A leaf module: the transcript grammar and the layers name them from here.
 */

/** enum iommufd_hwpt_alloc_flags. */
export const IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0
export const IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1
export const IOMMU_HWPT_FAULT_ID_VALID = 1 << 2
export const IOMMU_HWPT_ALLOC_PASID = 1 << 3
export const HWPT_ALLOC_FLAGS = {
  NEST_PARENT: IOMMU_HWPT_ALLOC_NEST_PARENT,
  DIRTY_TRACKING: IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  FAULT_ID_VALID: IOMMU_HWPT_FAULT_ID_VALID,
  PASID: IOMMU_HWPT_ALLOC_PASID,
} as const

/** enum iommu_hwpt_data_type. */
export const HWPT_DATA_TYPES = { NONE: 0, VTD_S1: 1, ARM_SMMUV3: 2, AMD_GUEST: 3 } as const
export const IOMMU_HWPT_DATA_NONE = 0
export const IOMMU_HWPT_DATA_VTD_S1 = 1
export const IOMMU_HWPT_DATA_ARM_SMMUV3 = 2

/** enum iommu_hwpt_invalidate_data_type. */
export const HWPT_INVALIDATE_DATA_TYPES = { VTD_S1: 0, ARM_SMMUV3: 1 } as const
export const IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0
export const IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 = 1

/** enum iommu_viommu_type. */
export const VIOMMU_TYPES = { DEFAULT: 0, ARM_SMMUV3: 1, TEGRA241_CMDQV: 2 } as const
export const IOMMU_VIOMMU_TYPE_DEFAULT = 0
export const IOMMU_VIOMMU_TYPE_ARM_SMMUV3 = 1

/** enum iommu_veventq_type. */
export const VEVENTQ_TYPES = { DEFAULT: 0, ARM_SMMUV3: 1, TEGRA241_CMDQV: 2 } as const
export const IOMMU_VEVENTQ_TYPE_DEFAULT = 0
export const IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 = 1
/** struct iommufd_vevent_header flags. */
export const IOMMU_VEVENTQ_FLAG_LOST_EVENTS = 1 << 0

/** enum iommu_hw_info_type. */
export const HW_INFO_TYPES = { NONE: 0, DEFAULT: 0, INTEL_VTD: 1, ARM_SMMUV3: 2, TEGRA241_CMDQV: 3, AMD: 4 } as const
export const IOMMU_HW_INFO_TYPE_DEFAULT = 0
export const IOMMU_HW_INFO_TYPE_INTEL_VTD = 1
export const IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2
/** enum iommufd_hw_info_flags. */
export const IOMMU_HW_INFO_FLAG_INPUT_TYPE = 1 << 0
/** enum iommufd_hw_capabilities. */
export const IOMMU_HW_CAP_DIRTY_TRACKING = 1 << 0

/** enum iommufd_ioas_map_flags. */
export const IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0
export const IOMMU_IOAS_MAP_WRITEABLE = 1 << 1
export const IOMMU_IOAS_MAP_READABLE = 1 << 2

/** struct iommu_hwpt_vtd_s1 flags. */
export const IOMMU_VTD_S1_SRE = 1 << 0
export const IOMMU_VTD_S1_EAFE = 1 << 1
export const IOMMU_VTD_S1_WPE = 1 << 2
/** struct iommu_hwpt_vtd_s1_invalidate flags. */
export const IOMMU_VTD_INV_FLAGS_LEAF = 1 << 0

/** Sizes of the driver data structs (bytes). */
export const SIZEOF_IOMMU_HWPT_ARM_SMMUV3 = 16
export const SIZEOF_IOMMU_HWPT_VTD_S1 = 24
export const SIZEOF_IOMMU_VIOMMU_ARM_SMMUV3_INVALIDATE = 16
export const SIZEOF_IOMMU_HWPT_VTD_S1_INVALIDATE = 24
export const SIZEOF_IOMMU_HW_INFO_ARM_SMMUV3 = 40
export const SIZEOF_IOMMU_HW_INFO_VTD = 24
export const SIZEOF_IOMMUFD_VEVENT_HEADER = 8
export const SIZEOF_IOMMU_VEVENT_ARM_SMMUV3 = 32

export const U64_MAX = (1n << 64n) - 1n
/** ULONG_MAX on a 64-bit kernel. */
export const ULONG_MAX = U64_MAX
