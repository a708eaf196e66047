/**
 * What a walk returns: a Translation or a Fault. Faults are data (QEMU SMMUPTWEventInfo's shape):
 * the walker fills one in and the caller (an SMMU model) decides how to record it.
 */

export type AccessKind = 'read' | 'write' | 'exec'

/** A transaction's type and privilege (SMMUv3 RnW/InD/PnU; SMMUv2 FSYNR0.WNR/IND/PNU). */
export interface Access {
  readonly kind: AccessKind
  /** Privileged transaction; default false (unprivileged), which is what Linux maps for. */
  readonly privileged?: boolean
}

export interface Perm {
  readonly read: boolean
  readonly write: boolean
  readonly exec: boolean
}

export const PERM_READ = 1
export const PERM_WRITE = 2
export const PERM_EXEC = 4

/** The eight Perm values, indexed by a PERM_* mask; shared and frozen, so walks allocate none. */
export const PERMS: readonly Perm[] = Array.from({ length: 8 }, (_, m) =>
  Object.freeze({ read: (m & PERM_READ) !== 0, write: (m & PERM_WRITE) !== 0, exec: (m & PERM_EXEC) !== 0 }),
)

/** The PERM_* bit an access needs. */
export function permBit(kind: AccessKind): number {
  return kind === 'read' ? PERM_READ : kind === 'write' ? PERM_WRITE : PERM_EXEC
}

export function permMask(p: Perm): number {
  return (p.read ? PERM_READ : 0) | (p.write ? PERM_WRITE : 0) | (p.exec ? PERM_EXEC : 0)
}

/** Fault kinds: SMMUv3 F_TRANSLATION, F_ACCESS, F_PERMISSION, F_ADDR_SIZE, F_WALK_EABT (IHI 0070 7.3). */
export type FaultKind = 'translation' | 'accessFlag' | 'permission' | 'addressSize' | 'externalAbort'

export interface Fault {
  readonly kind: FaultKind
  /** The stage whose walk or check failed. */
  readonly stage: 1 | 2
  /** Level of the descriptor that caused it (0 for input-range and base-address faults). */
  readonly level: number
  /** The faulting stage's input address: the IOVA for stage 1, the IPA for stage 2. */
  readonly addr: number
  /** Stage-2 faults: the IPA that faulted (the descriptor's IPA when onS1TableWalk). */
  readonly ipa?: number
  /** Nested walks: the IOVA of the transaction (SMMUv3 InputAddr). */
  readonly iova?: number
  /**
   * A stage-2 fault taken while translating the address of a stage-1 table descriptor
   * (SMMUv3 CLASS = TT, SMMUv2 FSYNR0.PTWF).
   */
  readonly onS1TableWalk: boolean
  /** externalAbort: the PA of the descriptor fetch that the bus refused (SMMUv3 FetchAddr). */
  readonly fetchAddr?: number
}

export interface S1Attrs {
  /** AttrIndx: index into MAIR (Linux: 0 NC, 1 cacheable, 2 device). */
  readonly attrIndx: number
  /** SH[1:0]. */
  readonly sh: number
  readonly ng: boolean
  readonly contiguous: boolean
  /** Stage-1 permissions for the access's privilege (after APTable/XNTable). */
  readonly perm: Perm
}

export interface S2Attrs {
  /** MemAttr[3:0]. */
  readonly memAttr: number
  readonly sh: number
  readonly contiguous: boolean
  readonly perm: Perm
}

export interface Translation {
  readonly kind: 'ok'
  /** The input address: IOVA (stage 1, nested) or IPA (stage 2). */
  readonly input: number
  /**
   * The output address: the PA for stage 2 and nested walks; for a stage-1-only walk, stage 1's
   * output (an IPA if the caller nests it, the PA when stage 2 is bypassed).
   */
  readonly oa: number
  /** Nested walks: the intermediate address. */
  readonly ipa?: number
  /** Level of the leaf (nested: of the smaller of the two leaves; stage 1's on a tie, as QEMU). */
  readonly level: number
  /** Bytes the leaf maps (nested: the smaller of the two). */
  readonly size: number
  /** Effective permissions for the access's privilege (nested: stage 1 AND stage 2). */
  readonly perm: Perm
  readonly s1?: S1Attrs
  readonly s2?: S2Attrs
}

export type WalkResult = Translation | Fault

export function isFault(r: WalkResult): r is Fault {
  return r.kind !== 'ok'
}

export function makeFault(
  kind: FaultKind,
  stage: 1 | 2,
  level: number,
  addr: number,
  extra?: { fetchAddr?: number; iova?: number },
): Fault {
  const f: Fault = { kind, stage, level, addr, onS1TableWalk: false, ...extra }
  return stage === 2 ? { ...f, ipa: addr } : f
}
