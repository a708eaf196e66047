/**
 * What the two walkers share: the record a lookup fills (LeafOut), a descriptor's address, and the
 * permission decoders of each stage.
 */
import { OA, S1_LEAF, S1_TABLE, S2_LEAF } from './descriptor'
import { TWO_POW_32 } from './fetch'
import { PERM_EXEC, PERM_READ, PERM_WRITE } from './result'

/**
 * What a successful single-stage lookup found (QEMU's SMMUTLBEntry, for one stage), filled by
 * s1Lookup / s2Lookup.
 */
export interface LeafOut {
  /**
   * The output address of the input address looked up, as the walker holds addresses: two 32-bit
   * words, bits [51:32] (`oaHi`) and bits [31:0] (`oaLo`, as an int32).
   */
  oaHi: number
  oaLo: number
  /** The level of the leaf descriptor. */
  level: number
  /** The leaf descriptor: its low half (bits [31:0]) and high half (bits [63:32]), as int32s. */
  lo: number
  hi: number
  /** PERM_* mask for the access's privilege. */
  perm: number
}

export function newLeafOut(): LeafOut {
  return { oaHi: 0, oaLo: 0, level: 0, lo: 0, hi: 0, perm: 0 }
}

/** Address held by a descriptor: HI bits [19:0] are address bits [51:32]; `loMask` picks the rest. */
export function descAddress(lo: number, hi: number, loMask: number): number {
  return (hi & OA.HI_MASK) * TWO_POW_32 + ((lo & loMask) >>> 0)
}

/**
 * Stage-1 leaf permissions (Arm ARM D8.4, AP[2:1] and S1_LEAF.PXN/S1_LEAF.UXN), after the hierarchical limits
 * collected from table descriptors (`tableHi`: OR of their HI halves; 0 when HAD is set):
 *   AP[1] (EL0 access) is cleared by APTable[0]; AP[2] (read-only) is set by APTable[1];
 *   readable = privileged || AP[1]; writable = readable && !AP[2];
 *   executable = readable && !(privileged ? S1_LEAF.PXN || PXNTable : S1_LEAF.UXN || UXNTable).
 * (The rule that privileged execution of EL0-writable memory faults is not modelled.)
 * SMMUv3 (IHI 0070 13.4.1): under StreamWorld EL1 AP[1] gives the EL0 (PRIV == 0) permissions, and
 * a PCIe request without a PASID is unprivileged (3.9; STE.PRIVCFG 0b00 keeps it, 5.2), so device
 * DMA to an AP[2:1] = 0b00 page faults (F_PERMISSION). QEMU 10 grants it (oracle known difference
 * qemu-ignores-ap1).
 */
export function s1Perm(lo: number, hi: number, tableHi: number, privileged: boolean): number {
  const unpriv = (lo & S1_LEAF.AP_UNPRIV) !== 0 && (tableHi & S1_TABLE.AP_TABLE_NO_UNPRIV) === 0
  const rdonly = (lo & S1_LEAF.AP_RDONLY) !== 0 || (tableHi & S1_TABLE.AP_TABLE_RDONLY) !== 0
  if (!privileged && !unpriv) return 0
  let perm = PERM_READ
  if (!rdonly) perm |= PERM_WRITE
  const xn = privileged
    ? (hi & S1_LEAF.PXN) !== 0 || (tableHi & S1_TABLE.PXN_TABLE) !== 0
    : (hi & S1_LEAF.UXN) !== 0 || (tableHi & S1_TABLE.UXN_TABLE) !== 0
  if (!xn) perm |= PERM_EXEC
  return perm
}

/**
 * Stage-2 leaf permissions: S2AP[0] read, S2AP[1] write; execution needs read and not XN.
 * Without FEAT_XNX only XN[1] counts. With it, XN[1:0]: 00 both may execute, 01 not privileged,
 * 10 neither, 11 not unprivileged — so Linux's NOEXEC (both bits) still lets privileged code run.
 */
export function s2Perm(lo: number, hi: number, xnx: boolean, privileged: boolean): number {
  let perm = 0
  if ((lo & S2_LEAF.S2AP_READ) !== 0) perm |= PERM_READ
  if ((lo & S2_LEAF.S2AP_WRITE) !== 0) perm |= PERM_WRITE
  const xn1 = (hi & S2_LEAF.XN1) !== 0
  const xn = xnx && privileged ? xn1 !== ((hi & S2_LEAF.XN0) !== 0) : xn1
  if ((perm & PERM_READ) !== 0 && !xn) perm |= PERM_EXEC
  return perm
}
