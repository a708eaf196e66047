/**
 * The typed hardware feature set an SMMU instance is built from.
 * Produced from a YAML fixture by ./fixture.ts; nothing else constructs one by hand except tests.
 */
import type { IdRegisters } from './registers'

export const SMMU_ARCHS = ['smmuv1', 'smmuv2', 'smmuv3', 'intel-vtd'] as const
export type SmmuArch = (typeof SMMU_ARCHS)[number]

/** Translation granule sizes in bytes, and the page/block sizes each gives (Linux pgsize_bitmap). */
export const GRANULE_PAGE_SIZES: Readonly<Record<string, readonly number[]>> = {
  '4K': [0x1000, 0x20_0000, 0x4000_0000], // L3 page, L2 2M block, L1 1G block
  '16K': [0x4000, 0x200_0000], // L3 page, L2 32M block
  '64K': [0x1_0000, 0x2000_0000], // L3 page, L2 512M block
}
export type GranuleName = keyof typeof GRANULE_PAGE_SIZES

export interface TranslationSupport {
  /** SMMU_IDR0.S1TS (v1/v2) or S1P (v3). */
  readonly stage1: boolean
  /** SMMU_IDR0.S2TS (v1/v2) or S2P (v3). */
  readonly stage2: boolean
  /** SMMU_IDR0.NTS (v1/v2); on v3 both S1P and S2P. */
  readonly nested: boolean
}

export interface VfioGroupSpec {
  readonly id: number
  /** Stream IDs (PCI requester IDs on VT-d) of the group's devices. */
  readonly streams: readonly number[]
  /** All devices bound to vfio drivers. */
  readonly viable: boolean
  readonly device?: string
}

export interface ReservedRegion {
  readonly start: bigint
  /** Inclusive. */
  readonly end: bigint
  readonly type: 'msi' | 'sw-msi' | 'reserved' | 'direct'
}

/** What VFIO sees of the machine beyond the IOMMU itself. */
export interface VfioMachine {
  readonly groups: readonly VfioGroupSpec[]
  readonly reservedRegions: readonly ReservedRegion[]
  /** vfio_iommu_type1.dma_entry_limit set on this machine; undefined: the kernel's default. */
  readonly dmaEntryLimit?: number
}

/** Firmware-table facts (not in any ID register). */
export interface FirmwareFacts {
  /**
   * ACPI IORT: the PCI root complex node's Memory Access Flags bit 2, CANWBS (Linux
   * ACPI_IORT_MF_CANWBS -> IOMMU_FWSPEC_PCI_RC_CANWBS, drivers/acpi/arm64/iort.c). A device-tree
   * boot has no equivalent: false.
   */
  readonly iortCanwbs: boolean
}

export interface FeatureSet {
  /** Fixture name (file name without extension). */
  readonly name: string
  /** Path the fixture was loaded from. */
  readonly file: string
  readonly description: string
  /** Where the facts come from (document and section); absent for synthetic fixtures. */
  readonly source?: string
  /** Caveats: configuration-dependent or unverified facts. */
  readonly notes?: string
  /** The raw ID registers the fixture gave, when it gave any (`idr0`, `idr1`, `idr2`, `idr5`). */
  readonly idRegisters?: IdRegisters
  /** Fields that only the registers gave (YAML paths, e.g. `translation.stage2`, `ias`). */
  readonly decodedFields?: readonly string[]
  readonly kind: 'real' | 'synthetic'
  readonly arch: SmmuArch
  /** Device-tree compatible string, when the part has one. */
  readonly compatible?: string
  readonly translation: TranslationSupport
  /** SMMUv1/v2: SMMU_IDR1.NUMCB. 0 on SMMUv3 (no context banks). */
  readonly contextBanks: number
  /** SMMUv1/v2: SMMU_IDR1.NUMS2CB, the low banks that can only do stage 2. */
  readonly s2OnlyContextBanks: number
  /** SMMUv3: ASID width (8 or 16). */
  readonly asidBits: number
  /** SMMUv3: VMID width (8 or 16); v1/v2 VMID16. */
  readonly vmidBits: number
  /** Input (IPA) address size in bits. */
  readonly ias: number
  /** Output (PA) address size in bits. */
  readonly oas: number
  readonly granules: readonly GranuleName[]
  /** All page and block sizes the granules give, ascending (bytes). */
  readonly pageSizes: readonly number[]
  readonly streamIdBits: number
  /** Table walks are cache coherent (IOMMU_CAP_CACHE_COHERENCY). */
  readonly coherentWalk: boolean
  /** SMMUv3 IDR3.FWB: stage 2 can force write-back attributes (Linux ARM_SMMU_FEAT_S2FWB). */
  readonly s2fwb: boolean
  /** SMMUv3 IDR0.ATS: the SMMU takes PCIe ATS translation requests (Linux ARM_SMMU_FEAT_ATS). */
  readonly ats: boolean
  /** What the firmware says of the machine beyond the SMMU's ID registers. */
  readonly firmware: FirmwareFacts
  readonly vfio: VfioMachine
}

/**
 * The seed's "Supported" column: N (both stages and nesting), S1+S2, S1, S2; and VT-d, whose
 * single (second-level) translation VFIO type1 uses, whatever the request.
 */
export const STAGE_SUPPORT = ['N', 'S1+S2', 'S1', 'S2', 'VT-d'] as const
export type StageSupport = (typeof STAGE_SUPPORT)[number]

export function stageSupport(hw: Pick<FeatureSet, 'arch' | 'translation'>): StageSupport {
  const t = hw.translation
  if (hw.arch === 'intel-vtd') return 'VT-d'
  if (t.nested) return 'N'
  if (t.stage1 && t.stage2) return 'S1+S2'
  return t.stage1 ? 'S1' : 'S2'
}

export function describeStages(t: TranslationSupport): string {
  if (t.nested) return 'S1+S2 with nesting'
  if (t.stage1 && t.stage2) return 'S1+S2 without nesting'
  if (t.stage2) return 'S2 only'
  if (t.stage1) return 'S1 only'
  return 'none'
}
