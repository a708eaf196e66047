/**
 * Behaviour profiles: one kernel's behaviour, resolved once into data the layers read.
 *
 * A profile is a kernel; a fixture is a machine. Layers never test a profile's name: each reads
 * the part of the profile object that concerns it (`smmu`, `iommu`, ...).
 *
 * Facts: docs/facts/kernel-semantics.md (#rfc, #merged, #enable_nesting, #removal, #profiles)
 * and the seed.
 */
import type { Errno } from '../errno'
import type { SmmuArch } from '../hw/features'
import { suggestion } from '../suggest'
import { UAPI_6_1, UAPI_6_13, UAPI_MERGED, UAPI_RFC, type UapiTable } from '../uapi/vfio'
import { isProfileName, PROFILE_NAMES, type ProfileName } from './names'

export { isProfileName, PROFILE_NAMES, type ProfileName } from './names'

/** How the arm-smmu driver of this kernel turns a requested stage into a context. */
export interface SmmuDriverBehaviour {
  /** SMMU architectures this kernel has a driver for. */
  readonly drives: readonly SmmuArch[]
  /**
   * RFC fix-up step (3): a NESTED request on hardware without TRANS_NESTED becomes S2.
   * Linux as merged dropped that check: the stage stays NESTED (on an S2 context bank).
   */
  readonly nestedNeedsNestingFeature: boolean
  /**
   * Which identifiers a v1/v2 context bank carries.
   * - `per-bank`: ASID = cbndx and VMID = cbndx + 1 for every bank (3.x ARM_SMMU_CB_ASID/VMID).
   * - `union-by-stage`: asid/vmid share a union; S2 domains set vmid = cbndx + 1, every other
   *   stage (NESTED included) sets asid = cbndx, so a NESTED domain's S2 bank reads VMID = cbndx,
   *   and a stage-1 bank carries no VMID (4.x-6.x).
   */
  readonly contextIds: 'per-bank' | 'union-by-stage'
  /** How arm-smmu-v3 hands out ASIDs (stage-1 domains) and VMIDs (stage-2 and nested domains). */
  readonly v3Ids: { readonly asid: IdAllocation; readonly vmid: IdAllocation }
}

/** An identifier allocator: the lowest free value from `first` to 2^bits - 1; `whenFull` once none is left. */
export interface IdAllocation {
  readonly first: number
  readonly whenFull: Errno
}

/** How the iommu core exposes nesting to its users. */
export interface IommuCoreBehaviour {
  /**
   * - `domain-attr`: iommu_domain_set_attr/get_attr(DOMAIN_ATTR_NESTING) (3.17-5.12).
   * - `enable-nesting`: iommu_enable_nesting(domain) (5.13 to 6.12); no getter.
   * - `none`: 6.13 and later (commit 35890f85573c, "vfio: Remove VFIO_TYPE1_NESTING_IOMMU"
   *   removed iommu_enable_nesting and the enable_nesting op; nesting moved to iommufd's
   *   IOMMU_HWPT_ALLOC_NEST_PARENT): nothing asks an unmanaged domain to nest.
   */
  readonly nestingApi: 'domain-attr' | 'enable-nesting' | 'none'
  /** What each IOMMU driver of this kernel implements (facts per driver, read by the iommu layer). */
  readonly drivers: Readonly<Record<IommuDriver, DriverFacts>>
  /** io-pgtable-arm of this kernel (drivers/iommu/io-pgtable-arm.c). */
  readonly ioPgtable: IoPgtableBehaviour
}

/** One IOMMU driver in one kernel. */
export interface DriverFacts {
  /** domain_set_attr / domain_get_attr ops (3.x); without them the core returns EINVAL. */
  readonly attrOps: boolean
  /** The enable_nesting op (5.13 until its removal); without it iommu_enable_nesting returns EINVAL. */
  readonly enableNestingOp: boolean
  /**
   * When a domain is bound to an SMMU (and its stage fixed):
   * - 'first-attach'       at the first attach (arm_smmu_init_domain_context / domain_finalise)
   * - 'alloc-with-device'  already at allocation when the caller names a device
   *                        (domain_alloc_paging(dev) finalises against the device's SMMU)
   */
  readonly finalise: 'first-attach' | 'alloc-with-device'
  /**
   * The pgsize_bitmap a domain reports: a fixed value from the driver's iommu_ops, or 'io-pgtable'
   * for the page sizes of the domain's page-table format.
   */
  readonly pgsizeBitmap: bigint | 'io-pgtable'
  /**
   * Mapping WRITE also grants READ. intel-iommu: commit eea53c581688 ("iommu/vt-d: Remove WO
   * permissions on second-level paging entries", 5.12, stable trees) made every entry present
   * with bit 0, which is R on second-level tables; observed on Debian's 6.1 (realkernel KD1).
   */
  readonly writeImpliesRead: boolean
  /** The enforce_cache_coherency op (5.19+): intel-iommu has it, the arm-smmu drivers do not. */
  readonly enforceCacheCoherency: boolean
  /** What the driver does for iommufd (IOMMU_HWPT_ALLOC, vIOMMU, nesting); see IommufdDriverFacts. */
  readonly iommufd: IommufdDriverFacts
}

/**
 * One driver's iommufd side in one kernel: the facts that changed from kernel to kernel. What a
 * driver does with them is its own code (model/iommufd/drivers/); a fact a driver does not have
 * (VT-d has no vIOMMU) is false for it.
 */
export interface IommufdDriverFacts {
  /**
   * domain_alloc_paging_flags(IOMMU_HWPT_ALLOC_NEST_PARENT) can succeed: arm-smmu-v3 from 6.13
   * (arm_smmu_domain_alloc_paging_flags; 6.12's arm_smmu_domain_alloc_user refuses every flag but
   * DIRTY_TRACKING: EOPNOTSUPP), intel-iommu from 6.7 (on hardware with ECAP.NEST).
   */
  readonly nestParent: boolean
  /**
   * ARM_SMMU_FEAT_S2FWB is set from IDR3.FWB. 6.13 and 6.14.0-6.14.5 use the feature but never set
   * it ("iommu/arm-smmu-v3: Add missing S2FWB feature detection", 6.15-rc, 6.14.6): a vIOMMU then
   * needs CANWBS whatever the SMMU has.
   */
  readonly detectsS2fwb: boolean
  /**
   * The driver has a vIOMMU: arm-smmu-v3 from 6.13 (arm_vsmmu_alloc; from 6.17 get_viommu_size and
   * arm_vsmmu_init). VT-d has none (no get_viommu_size/viommu_init in drivers/iommu/intel/).
   */
  readonly viommu: boolean
  /**
   * Which nested attaches need a vDEVICE of the device in the vIOMMU (ENOENT without one):
   * 'none' (6.13, 6.14: no vmaster), 'all' (6.15-6.18: arm_smmu_attach_prepare_vmaster returns
   * iommufd_viommu_get_vdev_id's ENOENT), 'translating' (6.19+: abort and bypass vSTEs attach
   * without one, "GBPA case").
   */
  readonly nestedAttachNeedsVdevice: 'none' | 'all' | 'translating'
  /** STE.MEV is set in a nested STE (arm_smmu_make_nested_cd_table_ste, da0c56520e88, 6.15). */
  readonly mergeEvents: boolean
  /** Stage-1 events of a vmaster go to its vIOMMU's vEVENTQ (arm_vmaster_report_event, 6.15). */
  readonly reportsVevents: boolean
  /** IOMMU_GET_HW_INFO has the driver's data (arm_smmu_hw_info, 6.13; VT-d's since 6.6). */
  readonly hwInfo: boolean
  /**
   * Each guest command is checked before it is converted (arm_vsmmu_validate_user_cmd: only the
   * opcode's own fields may be set, ATC_INV needs FEAT_ATS, range fields need FEAT_RANGE_INV and
   * no reserved combination; anything else EIO). In Debian's 7.3.4 source; not in the 7.1 tree.
   */
  readonly validatesUserCmds: boolean
  /**
   * IOMMU_VDEVICE_ALLOC for a device with more than one StreamID: EOPNOTSUPP
   * (arm_vsmmu_vdevice_init, as validatesUserCmds).
   */
  readonly vdeviceOneStream: boolean
  /**
   * Which Arm MMU-700s arm_smmu_device_iidr_probe takes FEAT_NESTING from (errata 2268618,
   * 2812531, with OPT_CMDQ_FORCE_SYNC): 'every' (the 7.1 tree), or 'r0-or-p0' (7.3.4: only
   * variant 0 or revision 0, so r1p1 and later keep nesting).
   */
  readonly mmu700NestingErrata: 'every' | 'r0-or-p0'
}

/** A driver with no iommufd nesting at all (kernels before iommufd, and arm-smmu v1/v2). */
export const NO_IOMMUFD_DRIVER: IommufdDriverFacts = {
  nestParent: false,
  detectsS2fwb: false,
  viommu: false,
  nestedAttachNeedsVdevice: 'none',
  mergeEvents: false,
  reportsVevents: false,
  hwInfo: false,
  validatesUserCmds: false,
  vdeviceOneStream: false,
  mmu700NestingErrata: 'every',
}

/** The ioctls of /dev/iommu (include/uapi/linux/iommufd.h, IOMMUFD_CMD_*), by name. */
export const IOMMUFD_IOCTLS = [
  'DESTROY',
  'IOAS_ALLOC',
  'IOAS_MAP',
  'IOAS_UNMAP',
  'IOAS_IOVA_RANGES',
  'HWPT_ALLOC',
  'GET_HW_INFO',
  'HWPT_INVALIDATE',
  'VIOMMU_ALLOC',
  'VDEVICE_ALLOC',
  'VEVENTQ_ALLOC',
  /** 6.13+ ("iommufd: Add IOMMU_IOAS_CHANGE_PROCESS"). */
  'IOAS_CHANGE_PROCESS',
] as const
export type IommufdIoctl = (typeof IOMMUFD_IOCTLS)[number]

/**
 * iommufd and the VFIO device cdev of one kernel (drivers/iommu/iommufd/, drivers/vfio/device_cdev.c).
 * Undefined in a profile: the kernel has neither (iommufd came in 6.2, the cdev in 6.6).
 */
export interface IommufdBehaviour {
  /** The ioctls this kernel's iommufd_ioctl_ops has; any other gives ENOTTY. */
  readonly ioctls: readonly IommufdIoctl[]
  /**
   * IOMMU_VIOMMU_ALLOC's order of checks (viommu.c iommufd_viommu_alloc_ioctl):
   * - 'viommu_alloc-op' (6.13, 6.14): flags/type, device, the HWPT (ENOENT), nest_parent (EINVAL),
   *   then the driver's viommu_alloc with its own checks (a missing op: EOPNOTSUPP);
   * - 'size-then-init' (6.17+): flags/type, device, the driver's get_viommu_size (0: EOPNOTSUPP),
   *   then the HWPT (ENOENT), nest_parent (EINVAL) and viommu_init.
   */
  readonly viommuAlloc: 'viommu_alloc-op' | 'size-then-init'
  /**
   * IOMMU_VDEVICE_ALLOC refuses a device that has a vDEVICE already (EEXIST), and a device that
   * goes first leaves its vDEVICE's ID a tombstone (IOMMU_DESTROY then ENOENT): 6.17+.
   */
  readonly oneVdevicePerDevice: boolean
  /** IOMMU_GET_HW_INFO_FLAG_INPUT_TYPE (6.17+); before it every flag is EOPNOTSUPP. */
  readonly hwInfoInputType: boolean
  /**
   * IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED (bit 3) in out_capabilities when the device cannot use ATS
   * (!IOMMU_CAP_PCI_ATS_SUPPORTED; iommufd_get_hw_info, 7.1 and 7.3). No device in the model has ATS.
   */
  readonly hwCapAtsNotSupported: boolean
}

/** io-pgtable-arm behaviour that changed between kernels. */
export interface IoPgtableBehaviour {
  /**
   * Unmapping part of a block: 'split' (<= 6.12, arm_lpae_split_blk_unmap) or 'refuse' (6.13+,
   * commit 33729a5fc0ca "iommu/io-pgtable-arm: Remove split on unmap behavior": 0 bytes unmapped).
   */
  readonly partialUnmap: 'split' | 'refuse'
  /**
   * map_pages with neither IOMMU_READ nor IOMMU_WRITE: 'maps-nothing' ("If no access, then nothing
   * to do": success, no entry written) or 'EINVAL'.
   */
  readonly noAccessMap: 'maps-nothing' | 'EINVAL'
  /**
   * Stage-2 start-level concatenation: 'level-0-fits' (a level-0 start table of at most 16 entries
   * becomes up to 16 concatenated level-1 tables) or 'when-mandatory' (arm_lpae_concat_mandatory:
   * only where DDI0487 R_DXBSH / R_SRKBC require it).
   */
  readonly s2Concatenation: 'level-0-fits' | 'when-mandatory'
}

/** The kernel drivers the model knows, by the name the kernel gives them. */
export const IOMMU_DRIVERS = ['arm-smmu', 'arm-smmu-v3', 'intel-iommu'] as const
export type IommuDriver = (typeof IOMMU_DRIVERS)[number]

export function iommuDriver(arch: SmmuArch): IommuDriver {
  return arch === 'intel-vtd' ? 'intel-iommu' : arch === 'smmuv3' ? 'arm-smmu-v3' : 'arm-smmu'
}

/**
 * Which bus a domain is allocated for (iommu_domain_alloc(bus)): a domain of one family can be
 * attached to any SMMU of that family, never to another family's.
 */
export type DriverFamily = 'arm-smmu' | 'intel-iommu'

export function driverFamily(arch: SmmuArch): DriverFamily {
  return arch === 'intel-vtd' ? 'intel-iommu' : 'arm-smmu'
}


/** VFIO type1 and the VFIO core (docs/facts/kernel-semantics.md #rfc, #merged, #map_dma, #unmap_dma, #container-and-set_iommu). */
export interface VfioBehaviour {
  readonly uapi: UapiTable
  /**
   * How type1 allocates a group's domain: 'bus' (iommu_domain_alloc(bus)) or 'device'
   * (iommu_paging_domain_alloc(dev), the domain allocated for the group's first device).
   */
  readonly domainAlloc: 'bus' | 'device'
  /**
   * What attach_group does with the nesting request on a nesting container:
   * - 'ignore-failure'   RFC: the set_attr result is ignored; the domain may silently not nest
   * - 'require-nested'   the review's ask: attach fails with EOPNOTSUPP unless the attached
   *                      domain reads back as nested (set_attr failing counts as not nested)
   * - 'propagate-error'  merged and later: a failing set_attr/enable_nesting fails the attach
   *                      with its errno; a driver that accepts the request but falls back at
   *                      attach goes unnoticed
   */
  readonly nestingAttach: 'ignore-failure' | 'require-nested' | 'propagate-error'
  /**
   * CHECK_EXTENSION(nesting type):
   * - 'all-domains-nested' RFC: 1 without an iommu; else 1 iff every domain's get_attr reads 1
   * - 'driver-probe'       the review's ask: 1 iff the machine's IOMMU driver accepts the nesting
   *                        request on a fresh domain (Will: probe the PCI bus's driver)
   * - 'always'             merged to 6.12: 1, statically
   * - 'removed'            6.13 and later: type1 no longer lists the value (0), so the VFIO core
   *                        finds no driver for SET_IOMMU(6): ENODEV (commit 35890f85573c)
   */
  readonly nestingExtension: 'all-domains-nested' | 'driver-probe' | 'always' | 'removed'
  /**
   * CHECK_EXTENSION(DMA_CC) with an iommu: 'iommu-cap' (3.x: every domain's IOMMU has
   * IOMMU_CAP_CACHE_COHERENCY) or 'enforce-op' (5.19+: enforce_cache_coherency, which arm-smmu
   * lacks and intel-iommu has when the unit snoops).
   */
  readonly dmaCc: 'iommu-cap' | 'enforce-op'
  /** Map prot gets IOMMU_CACHE when the domain is coherent (3.x) or always (6.x). */
  readonly mapCache: 'if-coherent' | 'always'
  /** Default of vfio_iommu_type1.dma_entry_limit; undefined: no limit in this kernel. */
  readonly dmaEntryLimit?: number
  /** 5.4+: MAP must lie in the IOVA list (apertures minus reserved regions); attach checks it. */
  readonly iovaList: boolean
  /** GET_INFO carries a capability chain (IOVA_RANGE, MIGRATION, DMA_AVAIL). */
  readonly infoCaps: boolean
  /**
   * What each capability's size is rounded up to in an info chain: 1 (packed, up to 6.5) or 8
   * (6.6+, "vfio: align capability structures": vfio_info_cap_add does ALIGN(size, sizeof(u64)),
   * so the 12-byte DMA_AVAIL capability takes 16). Seen in GET_INFO's argsz: 0x74 on 6.1, 0x78 on
   * 7.3 for the same chain (transcripts/recorded/vmm-*).
   */
  readonly infoCapAlign: 1 | 8
  /** UNMAP_DMA flags this kernel accepts (VFIO_DMA_UNMAP_FLAG_*); 3.x accepts none. */
  readonly unmapFlags: number
  /** MAP_DMA / UNMAP_DMA VADDR flags (UPDATE_VADDR, 5.12+). */
  readonly updateVaddr: boolean
  /**
   * What type1 answers when a range passes 2^64 - 1 (iova + size - 1 wraps; for MAP also vaddr + size - 1):
   * - map: 'EINVAL' (3.x to 6.17, vfio_dma_do_map "Don't allow IOVA or virtual address wrap") or
   *   'EOVERFLOW' (6.18+, commit 6012379ede6a "vfio/type1: sanitize for overflow using
   *   check_*_overflow()": checked right after size != 0, before READ/WRITE and alignment).
   * - unmap: 'unchecked' (3.x vfio_dma_do_unmap checks only alignment and size != 0), 'EINVAL'
   *   (4.x to 6.17, `iova + size - 1 < iova || size > SIZE_MAX`) or 'EOVERFLOW' (6.18+, same commit).
   */
  readonly rangeWrap: { readonly map: 'EINVAL' | 'EOVERFLOW'; readonly unmap: 'unchecked' | 'EINVAL' | 'EOVERFLOW' }
  /**
   * Where type1 takes an UNMAP range to end:
   * - 'wrapping-exclusive' (3.x to 6.17): at iova + size computed in 64 bits, so a range that ends
   *   at 2^64 ends at 0 and the search for its first mapping (vfio_find_dma_first_node, 3.x
   *   vfio_find_dma) finds none: ok, unmapped=0, nothing removed (3.x: the same for any wrapping range).
   * - 'inclusive' (6.18+, commit ef270ec44637 "vfio/type1: handle DMA map/unmap up to the
   *   addressable limit"): at iova + size - 1; such a range removes the mappings it covers.
   */
  readonly unmapEnd: 'wrapping-exclusive' | 'inclusive'
}

export interface Profile {
  readonly name: ProfileName
  readonly title: string
  readonly smmu: SmmuDriverBehaviour
  readonly iommu: IommuCoreBehaviour
  readonly vfio: VfioBehaviour
  /** Undefined: the kernel has no iommufd and no VFIO device cdev. */
  readonly iommufd?: IommufdBehaviour
}

/**
 * 6.12's iommufd: IOAS, HWPT_ALLOC (NEST_PARENT since 6.7), GET_HW_INFO (6.6), HWPT_INVALIDATE
 * (6.8); no vIOMMU, vDEVICE or vEVENTQ (6.13, 6.13, 6.15): those numbers are ENOTTY.
 */
const IOMMUFD_6_12: IommufdBehaviour = {
  ioctls: ['DESTROY', 'IOAS_ALLOC', 'IOAS_MAP', 'IOAS_UNMAP', 'IOAS_IOVA_RANGES', 'HWPT_ALLOC', 'GET_HW_INFO', 'HWPT_INVALIDATE'],
  viommuAlloc: 'viommu_alloc-op',
  oneVdevicePerDevice: false,
  hwInfoInputType: false,
  hwCapAtsNotSupported: false,
}

/**
 * 7.3's iommufd (Debian's linux-source-7.3 7.3.4; first read from the 7.1 tree): every ioctl
 * modelled, the 6.17 vIOMMU order, one vDEVICE per device.
 */
const IOMMUFD_7_3: IommufdBehaviour = {
  ioctls: IOMMUFD_IOCTLS,
  viommuAlloc: 'size-then-init',
  oneVdevicePerDevice: true,
  hwInfoInputType: true,
  hwCapAtsNotSupported: true,
}

const VFIO_3X = {
  domainAlloc: 'bus',
  dmaCc: 'iommu-cap',
  mapCache: 'if-coherent',
  iovaList: false,
  infoCaps: false,
  infoCapAlign: 1,
  unmapFlags: 0,
  updateVaddr: false,
  rangeWrap: { map: 'EINVAL', unmap: 'unchecked' },
  unmapEnd: 'wrapping-exclusive',
} as const

const KERNEL_3X_DRIVERS: readonly SmmuArch[] = ['smmuv1', 'smmuv2', 'intel-vtd']

/**
 * arm-smmu-v3 identifiers (docs/facts/kernel-semantics.md#arm-smmu-v3): ASIDs from xa_alloc over
 * 1 .. 2^asid_bits - 1 (-EBUSY when full); VMIDs from 1 (VMID 0 is kept for bypass STEs),
 * a bitmap in 6.1 and ida_alloc_range later, -ENOSPC when full either way.
 */
const V3_IDS = { asid: { first: 1, whenFull: 'EBUSY' }, vmid: { first: 1, whenFull: 'ENOSPC' } } as const

/** io-pgtable-arm up to 6.12: split on partial unmap, nothing mapped without access, old concatenation. */
const IO_PGTABLE_TO_6_12: IoPgtableBehaviour = { partialUnmap: 'split', noAccessMap: 'maps-nothing', s2Concatenation: 'level-0-fits' }

/**
 * 3.x drivers. arm-smmu: set_attr/get_attr ops; pgsize_bitmap (seed, patch 3/3) SECTION_SIZE |
 * ARM_SMMU_PTE_CONT_SIZE | PAGE_SIZE = 2M | 64K | 4K. intel-iommu: no attr ops;
 * INTEL_IOMMU_PGSIZES = ~0xFFF ("any power of two from 4K"). No arm-smmu-v3 driver yet.
 */
const ARM_SMMU_3X: DriverFacts = {
  attrOps: true,
  enableNestingOp: false,
  finalise: 'first-attach',
  pgsizeBitmap: 0x20_0000n | 0x1_0000n | 0x1000n,
  writeImpliesRead: false,
  enforceCacheCoherency: false,
  iommufd: NO_IOMMUFD_DRIVER,
}
const DRIVERS_3X: Readonly<Record<IommuDriver, DriverFacts>> = {
  'arm-smmu': ARM_SMMU_3X,
  'arm-smmu-v3': ARM_SMMU_3X,
  'intel-iommu': { ...ARM_SMMU_3X, attrOps: false, pgsizeBitmap: 0xffff_ffff_ffff_f000n },
}

/** 6.1: enable_nesting in both arm-smmu drivers, not in intel-iommu; page sizes from io-pgtable. */
const ARM_SMMU_6_1: DriverFacts = {
  attrOps: false,
  enableNestingOp: true,
  finalise: 'first-attach',
  pgsizeBitmap: 'io-pgtable',
  writeImpliesRead: false,
  enforceCacheCoherency: false,
  iommufd: NO_IOMMUFD_DRIVER,
}
const DRIVERS_6_1: Readonly<Record<IommuDriver, DriverFacts>> = {
  'arm-smmu': ARM_SMMU_6_1,
  'arm-smmu-v3': ARM_SMMU_6_1,
  'intel-iommu': { ...ARM_SMMU_6_1, enableNestingOp: false, writeImpliesRead: true, enforceCacheCoherency: true },
}

/**
 * 6.12: arm-smmu-v3's domain_alloc_paging(dev) finalises the domain against the device's SMMU
 * (arm_smmu_domain_finalise sets smmu_domain->smmu), and since 6.11 type1 allocates with
 * iommu_paging_domain_alloc(dev) (commit 60ffc4501722, "vfio/type1: Use
 * iommu_paging_domain_alloc()"), so arm_smmu_enable_nesting finds smmu_domain->smmu set and returns
 * -EPERM before any attach. arm-smmu (v1/v2) still allocates bare and binds at the first attach.
 */
const DRIVERS_6_12: Readonly<Record<IommuDriver, DriverFacts>> = {
  ...DRIVERS_6_1,
  'arm-smmu-v3': { ...ARM_SMMU_6_1, finalise: 'alloc-with-device' },
  // intel_iommu_domain_alloc_user (6.7+): NEST_PARENT on a unit with ECAP.NEST; hw_info since 6.6.
  'intel-iommu': { ...DRIVERS_6_1['intel-iommu'], iommufd: { ...NO_IOMMUFD_DRIVER, nestParent: true, hwInfo: true } },
}

/**
 * arm-smmu-v3's iommufd side in 7.3 (Debian's linux-source-7.3 7.3.4, drivers/iommu/arm/
 * arm-smmu-v3/arm-smmu-v3-iommufd.c and arm-smmu-v3.c): nest parent, S2FWB detection, the vIOMMU,
 * vDEVICE needed only for a translating vSTE (6.19), MEV, vEVENTQ, hw_info, and the guest's
 * commands checked field by field, a vDEVICE only for a one-stream device, MMU-700 r1p1 and later
 * nesting.
 */
const ARM_SMMU_V3_IOMMUFD_7_3: IommufdDriverFacts = {
  nestParent: true,
  detectsS2fwb: true,
  viommu: true,
  nestedAttachNeedsVdevice: 'translating',
  mergeEvents: true,
  reportsVevents: true,
  hwInfo: true,
  validatesUserCmds: true,
  vdeviceOneStream: true,
  mmu700NestingErrata: 'r0-or-p0',
}

/**
 * 7.3: no enable_nesting op in any driver (commit 35890f85573c, 6.13). intel-iommu no longer
 * makes WRITE imply READ: a write-only mapping faults on a device read, observed on Debian's 7.3
 * under QEMU's intel-iommu (transcripts/recorded/qemu-q35-intel-iommu-linux-7.3.vfio; 6.12 still
 * set R, as 6.1 did). The commit that changed it is not pinned down here.
 */
const DRIVERS_7_3: Readonly<Record<IommuDriver, DriverFacts>> = {
  'arm-smmu': { ...DRIVERS_6_12['arm-smmu'], enableNestingOp: false },
  'arm-smmu-v3': { ...DRIVERS_6_12['arm-smmu-v3'], enableNestingOp: false, iommufd: ARM_SMMU_V3_IOMMUFD_7_3 },
  'intel-iommu': { ...DRIVERS_6_12['intel-iommu'], enableNestingOp: false, writeImpliesRead: false },
}

/**
 * io-pgtable-arm from 6.14: no split on partial unmap (33729a5fc0ca, 6.13), -EINVAL for a map
 * without access (docs/facts/smmu-translation.md#io-pgtable, current mainline), concatenation only where mandatory
 * (arm_lpae_concat_mandatory; its fix b7b8a63055 is in the 6.14 iommu pull).
 */
const IO_PGTABLE_FROM_6_14: IoPgtableBehaviour = { partialUnmap: 'refuse', noAccessMap: 'EINVAL', s2Concatenation: 'when-mandatory' }

/** The SMMU drivers of 6.x kernels (arm-smmu v1/v2 with the asid/vmid union, arm-smmu-v3, intel-iommu). */
const SMMU_6X: SmmuDriverBehaviour = { drives: ['smmuv1', 'smmuv2', 'smmuv3', 'intel-vtd'], nestedNeedsNestingFeature: false, contextIds: 'union-by-stage', v3Ids: V3_IDS }

/** VFIO type1 of 6.1 (docs/facts/kernel-semantics.md#map_dma and #unmap_dma). */
const VFIO_6_1: VfioBehaviour = {
  uapi: UAPI_6_1,
  domainAlloc: 'bus',
  nestingAttach: 'propagate-error',
  nestingExtension: 'always',
  dmaCc: 'enforce-op',
  mapCache: 'always',
  dmaEntryLimit: 65535,
  iovaList: true,
  infoCaps: true,
  infoCapAlign: 1,
  unmapFlags: 0b111, // GET_DIRTY_BITMAP | ALL | VADDR
  updateVaddr: true,
  rangeWrap: { map: 'EINVAL', unmap: 'EINVAL' },
  unmapEnd: 'wrapping-exclusive',
}

/**
 * VFIO type1 of 6.12: 6.1's, with the domain allocated for the group's device (60ffc4501722,
 * 6.11) and info capabilities 8-byte aligned (6.6).
 */
const VFIO_6_12: VfioBehaviour = { ...VFIO_6_1, domainAlloc: 'device', infoCapAlign: 8 }

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  'rfc-v2': {
    name: 'rfc-v2',
    title: 'RFC PATCHv2 as posted (2014-07-09)',
    smmu: { drives: KERNEL_3X_DRIVERS, nestedNeedsNestingFeature: true, contextIds: 'per-bank', v3Ids: V3_IDS },
    iommu: { nestingApi: 'domain-attr', drivers: DRIVERS_3X, ioPgtable: IO_PGTABLE_TO_6_12 },
    vfio: { ...VFIO_3X, uapi: UAPI_RFC, nestingAttach: 'ignore-failure', nestingExtension: 'all-domains-nested' },
  },
  enforcing: {
    name: 'enforcing',
    title: 'RFC PATCHv2 with the review\'s ask: attach fails when nesting cannot be had',
    smmu: { drives: KERNEL_3X_DRIVERS, nestedNeedsNestingFeature: true, contextIds: 'per-bank', v3Ids: V3_IDS },
    iommu: { nestingApi: 'domain-attr', drivers: DRIVERS_3X, ioPgtable: IO_PGTABLE_TO_6_12 },
    vfio: { ...VFIO_3X, uapi: UAPI_RFC, nestingAttach: 'require-nested', nestingExtension: 'driver-probe' },
  },
  merged: {
    name: 'merged',
    title: 'Linux as merged (3.18/3.19)',
    smmu: { drives: KERNEL_3X_DRIVERS, nestedNeedsNestingFeature: false, contextIds: 'per-bank', v3Ids: V3_IDS },
    iommu: { nestingApi: 'domain-attr', drivers: DRIVERS_3X, ioPgtable: IO_PGTABLE_TO_6_12 },
    vfio: { ...VFIO_3X, uapi: UAPI_MERGED, nestingAttach: 'propagate-error', nestingExtension: 'always' },
  },
  'linux-6.1': {
    name: 'linux-6.1',
    title: 'Linux 6.1 (iommu_enable_nesting era)',
    smmu: SMMU_6X,
    iommu: { nestingApi: 'enable-nesting', drivers: DRIVERS_6_1, ioPgtable: IO_PGTABLE_TO_6_12 },
    vfio: VFIO_6_1,
  },
  'linux-6.12': {
    name: 'linux-6.12',
    title: 'Linux 6.12 (type1 allocates domains for a device; arm-smmu-v3 finalises them there)',
    smmu: SMMU_6X,
    iommu: { nestingApi: 'enable-nesting', drivers: DRIVERS_6_12, ioPgtable: IO_PGTABLE_TO_6_12 },
    vfio: VFIO_6_12,
    iommufd: IOMMUFD_6_12,
  },
  'linux-7.3': {
    name: 'linux-7.3',
    title: 'Linux 7.3 (VFIO_TYPE1_NESTING_IOMMU removed in 6.13: type 6 reserved, nesting only through iommufd)',
    smmu: SMMU_6X,
    iommu: { nestingApi: 'none', drivers: DRIVERS_7_3, ioPgtable: IO_PGTABLE_FROM_6_14 },
    // 6.18+ (ef270ec44637): wrapping ranges are EOVERFLOW, an UNMAP range ends inclusively; seen in
    // every transcripts/recorded/*-type1-container-rules-linux-7.3.vfio (MAP EOVERFLOW).
    vfio: { ...VFIO_6_12, uapi: UAPI_6_13, nestingExtension: 'removed', rangeWrap: { map: 'EOVERFLOW', unmap: 'EOVERFLOW' }, unmapEnd: 'inclusive' },
    iommufd: IOMMUFD_7_3,
  },
}

/** `unknown behaviour profile "mereged" (did you mean "merged"? profiles: rfc-v2, ...)`. */
export function unknownProfileMessage(name: string): string {
  return `unknown behaviour profile "${name}"${suggestion(name, PROFILE_NAMES, 'profiles')}`
}

export function getProfile(name: string): Profile {
  if (!isProfileName(name)) throw new Error(unknownProfileMessage(name))
  return PROFILES[name]
}

/** Profile names given on a command line: all of them when none is given; an error naming the unknown ones. */
export function profilesFromArgs(args: readonly string[]): { profiles: ProfileName[] } | { error: string } {
  const unknown = args.filter((p) => !isProfileName(p))
  if (unknown.length > 0) return { error: unknown.map(unknownProfileMessage).join('\n') }
  return { profiles: args.length > 0 ? (args as ProfileName[]) : [...PROFILE_NAMES] }
}

export { anyProfileTagExpression, kernelsOfCell, profilesOfTags, rowForKernel, tagExpressionFor, type TagProfiles } from './tags'
