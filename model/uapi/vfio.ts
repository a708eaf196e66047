/**
 * include/uapi/linux/vfio.h values the contract needs, per kernel. A leaf module: behaviour
 * profiles (model/profiles) name a kernel's table without depending on the VFIO layer.
 *
 * The nesting type was 5 in the RFC; by the time it was merged VFIO_EEH had taken 5, so
 * VFIO_TYPE1_NESTING_IOMMU is 6 in every released kernel (docs/facts/kernel-semantics.md#merged).
 */

export const VFIO_API_VERSION = 0

/** VFIO_GROUP_GET_STATUS flags. */
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1

/** VFIO_IOMMU_GET_INFO flags. */
export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0
export const VFIO_IOMMU_INFO_CAPS = 1 << 1

/**
 * VFIO_IOMMU_GET_INFO's struct and capability chain (include/uapi/linux/vfio.h): the fixed part
 * is struct vfio_iommu_type1_info (argsz, flags, iova_pgsizes, cap_offset: 24 bytes with its
 * padding); the kernel reads the first 16 (offsetofend(iova_pgsizes)) and refuses less. Each
 * capability starts with struct vfio_info_cap_header (u16 id, u16 version, u32 next).
 */
export const VFIO_IOMMU_TYPE1_INFO_SIZE = 24
export const VFIO_IOMMU_TYPE1_INFO_MINSZ = 16
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1
export const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2
export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3
/** struct vfio_iommu_type1_info_cap_migration: header, u32 flags, u64 pgsize_bitmap, u64 max_dirty_bitmap_size. */
export const SIZEOF_CAP_MIGRATION = 32
/** struct vfio_iommu_type1_info_dma_avail: header, u32 avail. */
export const SIZEOF_CAP_DMA_AVAIL = 12
/** struct vfio_iommu_type1_info_cap_iova_range: header, u32 nr_iovas, u32 reserved, then 16 bytes a range. */
export const SIZEOF_CAP_IOVA_RANGE = 16
export const SIZEOF_IOVA_RANGE = 16
/**
 * The migration capability's max_dirty_bitmap_size: DIRTY_BITMAP_SIZE_MAX of
 * drivers/vfio/vfio_iommu_type1.c, DIRTY_BITMAP_BYTES(INT_MAX pages) = ALIGN(2^31 - 1, 64) / 8.
 */
export const DIRTY_BITMAP_SIZE_MAX = 0x1000_0000n

/** VFIO_IOMMU_MAP_DMA flags (READ/WRITE are from the device's point of view). */
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1
export const VFIO_DMA_MAP_FLAG_VADDR = 1 << 2

/** VFIO_IOMMU_UNMAP_DMA flags. */
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1
export const VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2

/** Extension / IOMMU type names, without the VFIO_ prefix, as userspace spells them. */
export const EXTENSION_NAMES = [
  'TYPE1_IOMMU',
  'SPAPR_TCE_IOMMU',
  'TYPE1v2_IOMMU',
  'DMA_CC_IOMMU',
  'EEH',
  'TYPE1_NESTING_IOMMU',
  'SPAPR_TCE_v2_IOMMU',
  'NOIOMMU_IOMMU',
  'UNMAP_ALL',
  'UPDATE_VADDR',
  '__VFIO_RESERVED_TYPE1_NESTING_IOMMU',
] as const
export type ExtensionName = (typeof EXTENSION_NAMES)[number]

/** The uapi of one kernel: which extension names exist and their values. */
export type UapiTable = Readonly<Partial<Record<ExtensionName, number>>>

/** RFC PATCHv2 on 3.16: TYPE1_NESTING right after DMA_CC, as 5. */
export const UAPI_RFC: UapiTable = { TYPE1_IOMMU: 1, SPAPR_TCE_IOMMU: 2, TYPE1v2_IOMMU: 3, DMA_CC_IOMMU: 4, TYPE1_NESTING_IOMMU: 5 }

/** 3.18/3.19: VFIO_EEH took 5, nesting became 6. */
export const UAPI_MERGED: UapiTable = { TYPE1_IOMMU: 1, SPAPR_TCE_IOMMU: 2, TYPE1v2_IOMMU: 3, DMA_CC_IOMMU: 4, EEH: 5, TYPE1_NESTING_IOMMU: 6 }

/** 6.1: everything up to UPDATE_VADDR. */
export const UAPI_6_1: UapiTable = {
  ...UAPI_MERGED,
  SPAPR_TCE_v2_IOMMU: 7,
  NOIOMMU_IOMMU: 8,
  UNMAP_ALL: 9,
  UPDATE_VADDR: 10,
}

/**
 * 6.13 and later (commit 35890f85573c, "vfio: Remove VFIO_TYPE1_NESTING_IOMMU"): the value 6 is
 * kept under the name __VFIO_RESERVED_TYPE1_NESTING_IOMMU so that no later type reuses it; the
 * name VFIO_TYPE1_NESTING_IOMMU no longer exists.
 */
export const UAPI_6_13: UapiTable = (() => {
  const { TYPE1_NESTING_IOMMU: nesting, ...rest } = UAPI_6_1
  return { ...rest, __VFIO_RESERVED_TYPE1_NESTING_IOMMU: nesting as number }
})()

/**
 * Names a later uapi renamed but whose value it kept. A program (or a transcript) written against
 * older headers still sends the old name's value, so the old name keeps meaning that value:
 * VFIO_TYPE1_NESTING_IOMMU is 6 on 6.13 and later too, where 6 is __VFIO_RESERVED_TYPE1_NESTING_IOMMU
 * (commit 35890f85573c). What the kernel then does with 6 is the profile's business.
 */
export const RENAMED: Readonly<Partial<Record<ExtensionName, ExtensionName>>> = {
  TYPE1_NESTING_IOMMU: '__VFIO_RESERVED_TYPE1_NESTING_IOMMU',
}

/**
 * Resolve a name as userspace writes it: with or without `VFIO_`, with or without `_IOMMU`
 * (`TYPE1_NESTING` = `VFIO_TYPE1_NESTING_IOMMU`), or a name this kernel renamed (RENAMED).
 * Undefined when this kernel has no such value.
 */
export function extensionValue(uapi: UapiTable, name: string): number | undefined {
  const bare = name.startsWith('VFIO_') ? name.slice('VFIO_'.length) : name
  const candidates = [bare, `${bare}_IOMMU`]
  for (const c of candidates) {
    const v = uapi[c as ExtensionName]
    if (v !== undefined) return v
  }
  for (const c of candidates) {
    const renamed = RENAMED[c as ExtensionName]
    const v = renamed === undefined ? undefined : uapi[renamed]
    if (v !== undefined) return v
  }
  return undefined
}

/** The name of a value in this kernel's uapi, for messages and reports. */
export function extensionName(uapi: UapiTable, value: number): string | undefined {
  return Object.entries(uapi).find(([, v]) => v === value)?.[0]
}

export function isKnownExtensionName(name: string): boolean {
  const bare = name.startsWith('VFIO_') ? name.slice('VFIO_'.length) : name
  return (EXTENSION_NAMES as readonly string[]).some((n) => n === bare || n === `${bare}_IOMMU`)
}
