/**
 * The stage-2 walker, in the shape of QEMU's smmu_ptw_64_s2 (hw/arm/smmu-common.c): IPA -> PA by
 * the same fetch, check, descend loop as the stage-1 walker (walk-s1.ts), with what is stage 2's
 * own: the start level from SL0, concatenated start tables (the IPA's bits above the start level's
 * stride index further into up to 16 tables placed back to back), S2AP and XN[1:0] for the
 * permissions, MemAttr for the attributes, and no hierarchical table attributes. Faults carry the
 * input IPA as `ipa`.
 *
 * What is checked, in the order a walk meets it, and the fault when it fails:
 *   the IPA is below 2^(64 - S2T0SZ)      Translation, level 0 (QEMU smmu_ptw_64_s2: an IPA
 *                                         outside the range S2T0SZ configures)
 *   VTTBR is below 2^PS                   Address size, level 0
 * at each level:
 *   the bus answers the fetch             External abort on the walk, with the PA (F_WALK_EABT)
 *   the descriptor is valid, and not a block where the granule has none or 0b01 at level 3
 *                                         Translation
 *   a table's address is below 2^PS       Address size
 * at the leaf (a block or page):
 *   AF is set                             Access flag (which takes priority over Permission)
 *   S2AP and XN allow the access          Permission
 *   the output address is below 2^PS      Address size
 * Each level fetches one descriptor and the walk only goes down, so it ends, whatever a guest wrote.
 * The SMMU's own input check (an S2-only input >= 2^IAS is a stage-1 Address size fault, IHI 0070
 * 3.4) belongs to the SMMU model, not to the table walk.
 */
import { FETCH, NO_PAGE, type DescriptorReader, type FetchKind } from '../memory'
import type { S2Context } from './context'
import { DESC, DESC_SHIFT, OA, S2_LEAF } from './descriptor'
import { PAGE_OFFSET_MASK, TWO_POW_32 } from './fetch'
import { MAX_LEVEL } from './geometry'
import { newLeafOut, s2Perm, type LeafOut } from './leaf'
import { makeFault, permBit, PERMS, type Access, type Fault, type S2Attrs, type WalkResult } from './result'

/**
 * Looks `ipa` up in the stage-2 tables of `ctx` for an access needing the PERM_* bit `need`:
 * fills `leaf` and returns undefined, or returns the Fault. `kind` names the fetches for a reader
 * that records them: FETCH.S2, or FETCH.S2_FOR_S1_TABLE when a nested walk translates the IPA of a
 * stage-1 descriptor. Table addresses are kept as two 32-bit words, as in s1Lookup.
 */
export function s2Lookup(mem: DescriptorReader, ctx: S2Context, ipa: number, need: number, privileged: boolean, leaf: LeafOut, kind: FetchKind = FETCH.S2): Fault | undefined {
  const g = ctx.geometry
  if (!(ipa >= 0 && ipa < g.inputLimit)) return makeFault('translation', 2, 0, ipa)
  if (ctx.regs.vttbr >= g.outputLimit) return makeFault('addressSize', 2, 0, ipa)
  const { levelScale, tableAddrLoMask, leafAllowed, leafAddrLoMask, offsetMask, outputLimitHi } = g
  const words = mem.words
  let tableHi = ctx.ttbHi
  let tableLo = ctx.ttbLo
  let indexMask = g.startIndexMask
  for (let level = g.startLevel; ; level++) {
    // The descriptor's address, then fetch it.
    const descLo = (tableLo + (((ipa * levelScale[level]) & indexMask) << DESC_SHIFT)) | 0
    const page = mem.descriptorPage(tableHi, descLo, kind, level)
    if (page === NO_PAGE) return makeFault('externalAbort', 2, level, ipa, { fetchAddr: tableHi * TWO_POW_32 + (descLo >>> 0) })
    const at = page + ((descLo & PAGE_OFFSET_MASK) >>> 2)
    const lo = words[at] | 0
    const hi = words[at + 1] | 0

    // Check it: a table descriptor sends the walk one level down.
    if ((lo & DESC.VALID) === 0) return makeFault('translation', 2, level, ipa)
    const type = lo & DESC.TYPE_MASK
    if (level < MAX_LEVEL && type === DESC.TYPE_TABLE) {
      tableHi = hi & OA.HI_MASK
      tableLo = lo & tableAddrLoMask
      if (tableHi >= outputLimitHi) return makeFault('addressSize', 2, level, ipa)
      indexMask = g.indexMask
      continue
    }

    // A leaf: a page at level 3, a block where the granule has blocks.
    if (level === MAX_LEVEL ? type !== DESC.TYPE_PAGE : !leafAllowed[level]) return makeFault('translation', 2, level, ipa)
    if ((lo & S2_LEAF.AF) === 0) return makeFault('accessFlag', 2, level, ipa)
    const perm = s2Perm(lo, hi, ctx.xnx, privileged)
    if ((perm & need) === 0) return makeFault('permission', 2, level, ipa)
    // The output address: the leaf's, plus the input's offset in the block (no carry, as in s1Lookup).
    const oaHi = hi & OA.HI_MASK
    if (oaHi >= outputLimitHi) return makeFault('addressSize', 2, level, ipa)
    leaf.oaHi = oaHi
    leaf.oaLo = (lo & leafAddrLoMask[level]) | (ipa & offsetMask[level])
    leaf.level = level
    leaf.lo = lo
    leaf.hi = hi
    leaf.perm = perm
    return undefined
  }
}

/** Interned S2Attrs, indexed by memAttr | sh << 4 | contiguous << 6 | perm << 7. */
const s2AttrsTable: (S2Attrs | undefined)[] = new Array<S2Attrs | undefined>(1 << 10)

/**
 * Stage-2 attributes of a leaf descriptor (its two halves; a LeafOut's lo and hi will do) with
 * the walk's PERM_* mask: frozen objects, one per distinct value, shared by every walk.
 */
export function s2Attrs(lo: number, hi: number, perm: number): S2Attrs {
  const memAttr = (lo & S2_LEAF.MEMATTR_MASK) >>> S2_LEAF.MEMATTR_SHIFT
  const sh = (lo & S2_LEAF.SH_MASK) >>> S2_LEAF.SH_SHIFT
  const key = memAttr | (sh << 4) | ((hi & S2_LEAF.CONTIG) !== 0 ? 1 << 6 : 0) | (perm << 7)
  return (s2AttrsTable[key] ??= Object.freeze({ memAttr, sh, contiguous: (hi & S2_LEAF.CONTIG) !== 0, perm: PERMS[perm] }))
}

/** Translates an IPA through a stage-2 context, reading descriptors from `mem`. */
export function walkStage2(mem: DescriptorReader, ctx: S2Context, ipa: number, access: Access): WalkResult {
  const leaf = newLeafOut()
  const fault = s2Lookup(mem, ctx, ipa, permBit(access.kind), access.privileged === true, leaf)
  if (fault !== undefined) return fault
  return { kind: 'ok', input: ipa, oa: leaf.oaHi * TWO_POW_32 + (leaf.oaLo >>> 0), level: leaf.level, size: ctx.geometry.leafSize[leaf.level], perm: PERMS[leaf.perm], s2: s2Attrs(leaf.lo, leaf.hi, leaf.perm) }
}
