/**
 * IOMMU mapping permissions (include/linux/iommu.h IOMMU_READ ... IOMMU_PRIV) and their encoding
 * into leaf attributes (io-pgtable-arm.c arm_lpae_prot_to_pte + __arm_lpae_init_pte's AF).
 */
import { MAIR_IDX, MEMATTR, S1_LEAF, S2_LEAF, SH } from './descriptor'

/**
 * The kernel's prot flags as booleans. `noexec` mirrors IOMMU_NOEXEC: absent means executable,
 * as in the kernel. A mapping needs `read` or `write` (map() returns EINVAL otherwise).
 */
export interface IommuProt {
  readonly read: boolean
  readonly write: boolean
  readonly noexec?: boolean
  /** IOMMU_CACHE: normal write-back memory, inner shareable. */
  readonly cache?: boolean
  /** IOMMU_MMIO: device memory (wins over cache). */
  readonly mmio?: boolean
  /** IOMMU_PRIV: stage 1 only, privileged access only (AP[1] clear). */
  readonly priv?: boolean
}

/** Attribute bits of a leaf, without type bits and address. */
export interface LeafAttrs {
  readonly lo: number
  readonly hi: number
}

/**
 * prot -> leaf attributes, branching on the stage once:
 * stage 1: nG; AP[2] (read-only) iff READ && !WRITE; AP[1] unless PRIV; AttrIndx DEV / CACHE / NC.
 * stage 2: S2AP read / write; MemAttr Device-nGnRE / Normal-WB / Normal-NC.
 * both:    SH inner if CACHE else outer; XN bits 53+54 if NOEXEC; AF.
 * E.g. S1 R|W|NOEXEC|CACHE -> lo 0xF44, hi 0x0060_0000; S2 WRITE only -> lo 0x694, hi 0.
 */
export function protToAttrs(stage: 1 | 2, prot: IommuProt): LeafAttrs {
  let lo: number
  if (stage === 1) {
    lo = S1_LEAF.NG
    if (prot.read && !prot.write) lo |= S1_LEAF.AP_RDONLY
    if (prot.priv !== true) lo |= S1_LEAF.AP_UNPRIV
    const attrIndx = prot.mmio === true ? MAIR_IDX.DEV : prot.cache === true ? MAIR_IDX.CACHE : MAIR_IDX.NC
    lo |= attrIndx << S1_LEAF.ATTRINDX_SHIFT
  } else {
    lo = 0
    if (prot.read) lo |= S2_LEAF.S2AP_READ
    if (prot.write) lo |= S2_LEAF.S2AP_WRITE
    const memAttr = prot.mmio === true ? MEMATTR.DEVICE_NGNRE : prot.cache === true ? MEMATTR.NORMAL_WB : MEMATTR.NORMAL_NC
    lo |= memAttr << S2_LEAF.MEMATTR_SHIFT
  }
  // Shared bit positions: SH [9:8], AF 10, XN 53/54 are the same at both stages.
  lo |= (prot.cache === true ? SH.INNER : SH.OUTER) << S1_LEAF.SH_SHIFT
  lo |= S1_LEAF.AF
  const hi = prot.noexec === true ? S1_LEAF.PXN | S1_LEAF.UXN : 0
  return { lo: lo >>> 0, hi: hi >>> 0 }
}
