/**
 * VMSAv8-64 long-descriptor fields (Arm ARM D8.3 "Translation table descriptor formats").
 *
 * A descriptor is read as two 32-bit halves: LO = bits [31:0], HI = bits [63:32]. Every field
 * below is written with its architectural bit number: `1 << 10` is bit 10 of LO, `1 << (54 - 32)`
 * is bit 54 of the descriptor, in HI. They are compile-time constants, so the build puts their
 * values where they are read (bin/inline-constants.js). Stage-1 and stage-2 fields are separate
 * blocks: they share bit positions with different meanings (bit 6 is AP[1] at stage 1 and S2AP[0]
 * at stage 2).
 */

/** Bytes per descriptor. */
export const DESC_BYTES = 8
/** log2(DESC_BYTES): a table index shifted left by this is its byte offset. */
export const DESC_SHIFT = 3

/** Bits [1:0], common to every level and both stages. */
export const DESC = {
  /** bit 0: the descriptor is valid; 0 means Translation fault. */
  VALID: 1 << 0,
  /** bits [1:0]. */
  TYPE_MASK: 0b11,
  /** 0b11 at levels 0..2: next-level table. */
  TYPE_TABLE: 0b11,
  /** 0b01 at levels 1..2 (granule permitting): block. */
  TYPE_BLOCK: 1 << 0,
  /** 0b11 at level 3: page (0b01 at level 3 is reserved: Translation fault). */
  TYPE_PAGE: 0b11,
} as const

/**
 * Output / next-table address. Bits [47:12] hold the address for every granule (the low end is
 * masked down to the granule or block size); bits [51:48] are RES0 without FEAT_LPA, and this
 * model treats them as address bits [51:48] so that any set bit there yields an address beyond a
 * 48-bit (or smaller) OAS, i.e. an Address size fault, instead of being silently dropped.
 */
export const OA = {
  /** bits [31:12] of the address, in LO. */
  LO_MASK: 0xffff_f000,
  /** bits [51:32] of the address, in HI bits [19:0]. */
  HI_MASK: (1 << 20) - 1,
} as const

/** Stage-1 block/page descriptor: lower attributes (LO) and upper attributes (HI). */
export const S1_LEAF = {
  /** AttrIndx[2:0], bits [4:2]: index into MAIR. */
  ATTRINDX_SHIFT: 2,
  ATTRINDX_MASK: 0b111 << 2,
  /** NS, bit 5. */
  NS: 1 << 5,
  /** AP[1], bit 6: unprivileged (EL0) access allowed. */
  AP_UNPRIV: 1 << 6,
  /** AP[2], bit 7: read-only. */
  AP_RDONLY: 1 << 7,
  /** SH[1:0], bits [9:8]. */
  SH_SHIFT: 8,
  SH_MASK: 0b11 << 8,
  /** AF, bit 10: access flag. */
  AF: 1 << 10,
  /** nG, bit 11: not global (ASID-tagged). */
  NG: 1 << 11,
  /** DBM, bit 51 (HI). */
  DBM: 1 << (51 - 32),
  /** Contiguous hint, bit 52 (HI). */
  CONTIG: 1 << (52 - 32),
  /** PXN, bit 53 (HI): privileged execute-never. */
  PXN: 1 << (53 - 32),
  /** UXN / XN, bit 54 (HI): unprivileged execute-never. */
  UXN: 1 << (54 - 32),
} as const

/** Stage-1 table descriptor: hierarchical attributes, all in HI (ignored when CD.HAD is set). */
export const S1_TABLE = {
  /** PXNTable, bit 59. */
  PXN_TABLE: 1 << (59 - 32),
  /** UXNTable / XNTable, bit 60. */
  UXN_TABLE: 1 << (60 - 32),
  /** APTable[0], bit 61: no unprivileged access below this table. */
  AP_TABLE_NO_UNPRIV: 1 << (61 - 32),
  /** APTable[1], bit 62: no write access below this table. */
  AP_TABLE_RDONLY: 1 << (62 - 32),
  /** NSTable, bit 63 (non-secure only here: decoded and ignored). */
  NS_TABLE: 1 << (63 - 32),
} as const

/** The table bits that limit the leaves below (APTable[1:0], PXNTable, UXNTable): HI bits [30:27]. */
export const S1_TABLE_LIMITS = S1_TABLE.PXN_TABLE | S1_TABLE.UXN_TABLE | S1_TABLE.AP_TABLE_NO_UNPRIV | S1_TABLE.AP_TABLE_RDONLY

/** Stage-2 block/page descriptor. No nG, no hierarchical table attributes at stage 2. */
export const S2_LEAF = {
  /** MemAttr[3:0], bits [5:2]. */
  MEMATTR_SHIFT: 2,
  MEMATTR_MASK: 0b1111 << 2,
  /** S2AP[0], bit 6: read. */
  S2AP_READ: 1 << 6,
  /** S2AP[1], bit 7: write. */
  S2AP_WRITE: 1 << 7,
  /** SH[1:0], bits [9:8]. */
  SH_SHIFT: 8,
  SH_MASK: 0b11 << 8,
  /** AF, bit 10. */
  AF: 1 << 10,
  /** Contiguous hint, bit 52 (HI). */
  CONTIG: 1 << (52 - 32),
  /** XN[0], bit 53 (HI): only meaningful with FEAT_XNX (SMMUv3 IDR3.XNX). */
  XN0: 1 << (53 - 32),
  /** XN[1], bit 54 (HI): execute-never. */
  XN1: 1 << (54 - 32),
} as const

/** Shareability field values (SH[1:0]). */
export const SH = { NON: 0b00, OUTER: 0b10, INNER: 0b11 } as const

/** Stage-2 MemAttr values used by Linux (without FWB). */
export const MEMATTR = { DEVICE_NGNRE: 0b0001, NORMAL_NC: 0b0101, NORMAL_WB: 0b1111 } as const

/** Linux's MAIR layout for stage 1 (ARM_LPAE_MAIR_ATTR_IDX_*): AttrIndx values. */
export const MAIR_IDX = { NC: 0, CACHE: 1, DEV: 2, INC_OCACHE: 3 } as const

/**
 * Upper attributes a split block hands down to its pieces: the execute-never bits (53, 54) and
 * DBM (51), like the kernel's ARM_LPAE_PTE_ATTR_HI_MASK; the contiguous hint is not inherited.
 */
export const LEAF_ATTR_HI_MASK = (1 << (51 - 32)) | (1 << (53 - 32)) | (1 << (54 - 32))

/** Lower attributes bits [11:2] (everything between the type bits and the address). */
export const LEAF_ATTR_LO_MASK = 0x3ff << 2

/** Splits a 64-bit descriptor into halves. */
export function splitDescriptor(value: bigint): { lo: number; hi: number } {
  return { lo: Number(value & 0xffff_ffffn), hi: Number((value >> 32n) & 0xffff_ffffn) }
}

/** Joins two halves into a 64-bit descriptor. */
export function joinDescriptor(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)
}
