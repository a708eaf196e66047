/**
 * Behaviour profiles: one kernel's behaviour, resolved once into data the layers read.
 *
 * A profile is a kernel; a fixture is a machine. Layers never test a profile's name: each reads
 * the part of the profile object that concerns it (`smmu`, `iommu`, ...).
 *
 * Facts: ../shared/reference/kernel-semantics.md (sections 1, 2, 4 and 6) and the seed.
 */
import type { SmmuArch } from '../hw/features'
import { suggestion } from '../suggest'
import { UAPI_6_1, UAPI_MERGED, UAPI_RFC, type UapiTable } from '../vfio/uapi'

export const PROFILE_NAMES = ['rfc-v2', 'enforcing', 'merged', 'linux-6.1'] as const
export type ProfileName = (typeof PROFILE_NAMES)[number]

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
}

/** How the iommu core exposes nesting to its users. */
export interface IommuCoreBehaviour {
  /**
   * - `domain-attr`: iommu_domain_set_attr/get_attr(DOMAIN_ATTR_NESTING) (3.17-5.12).
   * - `enable-nesting`: iommu_enable_nesting(domain) (5.13 until its removal); no getter.
   */
  readonly nestingApi: 'domain-attr' | 'enable-nesting'
  /**
   * The pgsize_bitmap a domain reports, per driver family: a fixed value from the driver's
   * iommu_ops, or 'io-pgtable' for the page sizes of the domain's page-table format.
   */
  readonly pgsizeBitmap: Readonly<Record<DriverFamily, bigint | 'io-pgtable'>>
  /**
   * intel-iommu second-level entries: WRITE implies READ. Commit eea53c581688 ("iommu/vt-d: Remove
   * WO permissions on second-level paging entries", 5.12, stable trees) made every entry present
   * with bit 0, which is R on second-level tables; observed on Debian's 6.1 (realkernel KD1).
   */
  readonly vtdWriteImpliesRead: boolean
}

/** Which driver serves an architecture (for facts that are per driver, not per SMMU version). */
export type DriverFamily = 'arm-smmu' | 'intel-iommu'

export function driverFamily(arch: SmmuArch): DriverFamily {
  return arch === 'intel-vtd' ? 'intel-iommu' : 'arm-smmu'
}

/**
 * 3.x pgsize bitmaps. arm-smmu (seed, patch 3/3): SECTION_SIZE | ARM_SMMU_PTE_CONT_SIZE | PAGE_SIZE
 * = 2M | 64K | 4K. intel-iommu: INTEL_IOMMU_PGSIZES = ~0xFFF ("any power of two from 4K").
 */
const PGSIZES_3X: Readonly<Record<DriverFamily, bigint>> = {
  'arm-smmu': 0x20_0000n | 0x1_0000n | 0x1000n,
  'intel-iommu': 0xffff_ffff_ffff_f000n,
}

/** VFIO type1 and the VFIO core (kernel-semantics.md sections 1, 2, 5 and 6). */
export interface VfioBehaviour {
  readonly uapi: UapiTable
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
   * - 'always'             merged and later: 1, statically
   */
  readonly nestingExtension: 'all-domains-nested' | 'driver-probe' | 'always'
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
  /** UNMAP_DMA flags this kernel accepts (VFIO_DMA_UNMAP_FLAG_*); 3.x accepts none. */
  readonly unmapFlags: number
  /** MAP_DMA / UNMAP_DMA VADDR flags (UPDATE_VADDR, 5.12+). */
  readonly updateVaddr: boolean
}

export interface Profile {
  readonly name: ProfileName
  readonly title: string
  readonly smmu: SmmuDriverBehaviour
  readonly iommu: IommuCoreBehaviour
  readonly vfio: VfioBehaviour
}

const VFIO_3X = {
  dmaCc: 'iommu-cap',
  mapCache: 'if-coherent',
  iovaList: false,
  infoCaps: false,
  unmapFlags: 0,
  updateVaddr: false,
} as const

const KERNEL_3X_DRIVERS: readonly SmmuArch[] = ['smmuv1', 'smmuv2', 'intel-vtd']

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  'rfc-v2': {
    name: 'rfc-v2',
    title: 'RFC PATCHv2 as posted (2014-07-09)',
    smmu: { drives: KERNEL_3X_DRIVERS, nestedNeedsNestingFeature: true, contextIds: 'per-bank' },
    iommu: { nestingApi: 'domain-attr', pgsizeBitmap: PGSIZES_3X, vtdWriteImpliesRead: false },
    vfio: { ...VFIO_3X, uapi: UAPI_RFC, nestingAttach: 'ignore-failure', nestingExtension: 'all-domains-nested' },
  },
  enforcing: {
    name: 'enforcing',
    title: 'RFC PATCHv2 with the review\'s ask: attach fails when nesting cannot be had',
    smmu: { drives: KERNEL_3X_DRIVERS, nestedNeedsNestingFeature: true, contextIds: 'per-bank' },
    iommu: { nestingApi: 'domain-attr', pgsizeBitmap: PGSIZES_3X, vtdWriteImpliesRead: false },
    vfio: { ...VFIO_3X, uapi: UAPI_RFC, nestingAttach: 'require-nested', nestingExtension: 'driver-probe' },
  },
  merged: {
    name: 'merged',
    title: 'Linux as merged (3.18/3.19)',
    smmu: { drives: KERNEL_3X_DRIVERS, nestedNeedsNestingFeature: false, contextIds: 'per-bank' },
    iommu: { nestingApi: 'domain-attr', pgsizeBitmap: PGSIZES_3X, vtdWriteImpliesRead: false },
    vfio: { ...VFIO_3X, uapi: UAPI_MERGED, nestingAttach: 'propagate-error', nestingExtension: 'always' },
  },
  'linux-6.1': {
    name: 'linux-6.1',
    title: 'Linux 6.1 (iommu_enable_nesting era)',
    smmu: { drives: ['smmuv1', 'smmuv2', 'smmuv3', 'intel-vtd'], nestedNeedsNestingFeature: false, contextIds: 'union-by-stage' },
    iommu: { nestingApi: 'enable-nesting', pgsizeBitmap: { 'arm-smmu': 'io-pgtable', 'intel-iommu': 'io-pgtable' }, vtdWriteImpliesRead: true },
    vfio: {
      uapi: UAPI_6_1,
      nestingAttach: 'propagate-error',
      nestingExtension: 'always',
      dmaCc: 'enforce-op',
      mapCache: 'always',
      dmaEntryLimit: 65535,
      iovaList: true,
      infoCaps: true,
      unmapFlags: 0b111, // GET_DIRTY_BITMAP | ALL | VADDR
      updateVaddr: true,
    },
  },
}

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name)
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
