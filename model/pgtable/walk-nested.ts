/**
 * Nested translation, as QEMU's smmu_ptw does it for SMMU_NESTED (hw/arm/smmu-common.c): the IOVA
 * to an IPA by stage 1, with every stage-1 descriptor address translated by stage 2 before the
 * fetch (s1Lookup), then the IPA to a PA by stage 2 with the access's own permission. Stage 1 is
 * walked and checked completely first, so when both stages would deny, stage 1 is the stage
 * reported. The result keeps the smaller leaf (QEMU combine_tlb; stage 1's on a tie) and both
 * stages' attributes; its permissions are stage 1's AND stage 2's.
 */
import type { DescriptorReader } from '../memory'
import type { S1Context, S2Context } from './context'
import { TWO_POW_32 } from './fetch'
import { newLeafOut } from './leaf'
import { permBit, PERMS, type Access, type WalkResult } from './result'
import { s1Attrs, s1Lookup } from './walk-s1'
import { s2Attrs, s2Lookup } from './walk-s2'

/** Translates an IOVA through stage 1 nested in stage 2. */
export function walkNested(mem: DescriptorReader, s1: S1Context, s2: S2Context, iova: number, access: Access): WalkResult {
  const need = permBit(access.kind)
  const privileged = access.privileged === true
  const s1Leaf = newLeafOut()
  const s2Leaf = newLeafOut()
  const s1Fault = s1Lookup(mem, s1, iova, need, privileged, s2, s1Leaf)
  if (s1Fault !== undefined) return s1Fault
  const ipa = s1Leaf.oaHi * TWO_POW_32 + (s1Leaf.oaLo >>> 0)
  const s2Fault = s2Lookup(mem, s2, ipa, need, privileged, s2Leaf)
  if (s2Fault !== undefined) return { ...s2Fault, iova }
  const s1Size = s1.geometry.leafSize[s1Leaf.level]
  const s2Size = s2.geometry.leafSize[s2Leaf.level]
  const s2Smaller = s2Size < s1Size
  return {
    kind: 'ok',
    input: iova,
    ipa,
    oa: s2Leaf.oaHi * TWO_POW_32 + (s2Leaf.oaLo >>> 0),
    level: s2Smaller ? s2Leaf.level : s1Leaf.level,
    size: s2Smaller ? s2Size : s1Size,
    perm: PERMS[s1Leaf.perm & s2Leaf.perm],
    s1: s1Attrs(s1Leaf.lo, s1Leaf.hi, s1Leaf.perm),
    s2: s2Attrs(s2Leaf.lo, s2Leaf.hi, s2Leaf.perm),
  }
}
