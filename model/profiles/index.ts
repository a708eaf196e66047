/**
 * Behaviour profiles: one kernel's behaviour, resolved once into data the layers read.
 *
 * A profile is a kernel; a fixture is a machine. Layers never test a profile's name: each reads
 * the part of the profile object that concerns it (`smmu`, `iommu`, ...).
 *
 * Facts: ../shared/reference/kernel-semantics.md (sections 1, 2, 4 and 6) and the seed.
 */
import type { SmmuArch } from '../hw/features'

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
}

export interface Profile {
  readonly name: ProfileName
  readonly title: string
  readonly smmu: SmmuDriverBehaviour
  readonly iommu: IommuCoreBehaviour
}

const KERNEL_3X_DRIVERS: readonly SmmuArch[] = ['smmuv1', 'smmuv2', 'intel-vtd']

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  'rfc-v2': {
    name: 'rfc-v2',
    title: 'RFC PATCHv2 as posted (2014-07-09)',
    smmu: { drives: KERNEL_3X_DRIVERS, nestedNeedsNestingFeature: true, contextIds: 'per-bank' },
    iommu: { nestingApi: 'domain-attr' },
  },
  enforcing: {
    name: 'enforcing',
    title: 'RFC PATCHv2 with the review\'s ask: attach fails when nesting cannot be had',
    smmu: { drives: KERNEL_3X_DRIVERS, nestedNeedsNestingFeature: true, contextIds: 'per-bank' },
    iommu: { nestingApi: 'domain-attr' },
  },
  merged: {
    name: 'merged',
    title: 'Linux as merged (3.18/3.19)',
    smmu: { drives: KERNEL_3X_DRIVERS, nestedNeedsNestingFeature: false, contextIds: 'per-bank' },
    iommu: { nestingApi: 'domain-attr' },
  },
  'linux-6.1': {
    name: 'linux-6.1',
    title: 'Linux 6.1 (iommu_enable_nesting era)',
    smmu: { drives: ['smmuv1', 'smmuv2', 'smmuv3', 'intel-vtd'], nestedNeedsNestingFeature: false, contextIds: 'union-by-stage' },
    iommu: { nestingApi: 'enable-nesting' },
  },
}

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name)
}

export function getProfile(name: string): Profile {
  if (!isProfileName(name)) {
    throw new Error(`unknown behaviour profile "${name}" (known: ${PROFILE_NAMES.join(', ')})`)
  }
  return PROFILES[name]
}
