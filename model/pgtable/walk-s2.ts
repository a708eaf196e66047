/**
 * The stage-2 walker (QEMU smmu_ptw_64_s2's shape): IPA -> PA by reading descriptors from memory.
 * It owns the stage-2 specifics: start level from SL0, concatenated start tables (the extra high
 * IPA bits simply index further into the contiguous start tables), S2AP/XN permissions, MemAttr.
 *
 * Checks, in order (docs/facts/smmu-translation.md#leaf-checks; QEMU smmu_ptw_64_s2):
 *   IPA >= 2^(64 - S2T0SZ)       -> stage-2 Translation fault, level 0 (QEMU smmu_ptw_64_s2 reports
 *                                   Translation; level 0 as in the Arm pseudocode for an input
 *                                   outside the configured range)
 *   VTTBR >= 2^PS                -> Address size fault, level 0
 *   bus error on a fetch         -> External abort on walk, at that level, with the fetch PA
 *   invalid / reserved leaf      -> Translation fault at that level
 *   table address >= 2^PS        -> Address size fault at the table descriptor's level
 *   AF == 0                      -> Access flag fault (beats Permission)
 *   S2AP / XN denies             -> Permission fault
 *   output address >= 2^PS       -> Address size fault
 * The walk advances one level per descriptor, so a guest-written loop cannot run forever.
 * The SMMU's own input check (QEMU: S2-only input >= 2^OAS is a stage-1 Address size fault)
 * belongs to the SMMU model, not to the table walk.
 */
import { FETCH, NO_PAGE, type DescriptorReader, type FetchKind } from '../memory'
import type { S2Context } from './context'
import { DESC, DESC_SHIFT, OA, S2_LEAF } from './descriptor'
import { PAGE_OFFSET_MASK, TWO_POW_32 } from './fetch'
import { MAX_LEVEL } from './geometry'
import { descAddress, LEAF_KEPT_HI, LEAF_KEPT_LO, s2Perm, type LeafOut } from './leaf'
import { makeFault, permBit, PERMS, type Access, type Fault, type S2Attrs, type WalkResult } from './result'

/**
 * One stage-2 lookup. `need` is the PERM_* bit the access requires. With `out`: fills it and
 * returns undefined on success, the Fault otherwise (with `addr` = `ipa` = the input IPA).
 * Without `out` (a stage-2-only walk): returns the finished result, ok or Fault (see s1Lookup).
 * `kind` names the descriptor fetches: FETCH.S2, or FETCH.S2_FOR_S1_TABLE when a nested walk
 * translates the IPA of a stage-1 descriptor. Reentrant: all state is in locals and `out`.
 */
export function s2Lookup(mem: DescriptorReader, ctx: S2Context, ipa: number, need: number, privileged: boolean, out: LeafOut, kind?: FetchKind): Fault | undefined
export function s2Lookup(mem: DescriptorReader, ctx: S2Context, ipa: number, need: number, privileged: boolean, out: undefined): WalkResult
export function s2Lookup(
  mem: DescriptorReader,
  ctx: S2Context,
  ipa: number,
  need: number,
  privileged: boolean,
  out: LeafOut | undefined,
  kind: FetchKind = FETCH.S2,
): WalkResult | undefined {
  const g = ctx.geometry
  if (!(ipa >= 0 && ipa < g.inputLimit)) return makeFault('translation', 2, 0, ipa)
  const vttb = ctx.regs.vttbr
  if (vttb >= g.outputLimit) return makeFault('addressSize', 2, 0, ipa)
  const levelScale = g.levelScale
  const tableAddrLoMask = g.tableAddrLoMask
  const outputLimitHi = g.outputLimitHi
  const words = mem.words
  let tableHi = ctx.ttbHi
  let tableLo = ctx.ttbLo
  let level = g.startLevel
  let indexMask = g.startIndexMask
  for (;;) {
    const descLo = (tableLo + (((ipa * levelScale[level]) & indexMask) << DESC_SHIFT)) | 0
    const page = mem.descriptorPage(tableHi, descLo, kind, level)
    if (page === NO_PAGE) return makeFault('externalAbort', 2, level, ipa, { fetchAddr: tableHi * TWO_POW_32 + (descLo >>> 0) })
    const w = page + ((descLo & PAGE_OFFSET_MASK) >>> 2)
    const lo = words[w] | 0
    const hi = words[w + 1] | 0
    if ((lo & DESC.VALID) === 0) return makeFault('translation', 2, level, ipa)
    const type = lo & DESC.TYPE_MASK
    if (level < MAX_LEVEL && type === DESC.TYPE_TABLE) {
      tableHi = hi & OA.HI_MASK
      tableLo = lo & tableAddrLoMask
      if (tableHi >= outputLimitHi) return makeFault('addressSize', 2, level, ipa)
      level++
      indexMask = g.indexMask
      continue
    }
    if (level === MAX_LEVEL ? type !== DESC.TYPE_PAGE : !g.leafAllowed[level]) return makeFault('translation', 2, level, ipa)
    if ((lo & S2_LEAF.AF) === 0) return makeFault('accessFlag', 2, level, ipa)
    const perm = s2Perm(lo, hi, ctx.xnx, privileged)
    if ((perm & need) === 0) return makeFault('permission', 2, level, ipa)
    const leaf = descAddress(lo, hi, g.leafAddrLoMask[level])
    if (leaf >= g.outputLimit) return makeFault('addressSize', 2, level, ipa)
    const oa = leaf + (ipa & g.offsetMask[level])
    if (out === undefined) return { kind: 'ok', input: ipa, oa, level, size: g.leafSize[level], perm: PERMS[perm], s2: s2Attrs(lo, hi, perm) }
    out.oa = oa
    out.level = level
    out.lo = lo & LEAF_KEPT_LO
    out.hi = hi & LEAF_KEPT_HI
    out.perm = perm
    return undefined
  }
}

/** Interned S2Attrs, indexed by memAttr | sh << 4 | contiguous << 6 | perm << 7. */
const s2AttrsTable: (S2Attrs | undefined)[] = new Array<S2Attrs | undefined>(1 << 10)

/**
 * Stage-2 attributes of a leaf descriptor (its two halves; a LeafOut's lo and hi will do) with
 * the walk's PERM_* mask: shared frozen objects, so a walk allocates only its result.
 */
export function s2Attrs(lo: number, hi: number, perm: number): S2Attrs {
  const memAttr = (lo & S2_LEAF.MEMATTR_MASK) >>> S2_LEAF.MEMATTR_SHIFT
  const sh = (lo & S2_LEAF.SH_MASK) >>> S2_LEAF.SH_SHIFT
  const key = memAttr | (sh << 4) | ((hi & S2_LEAF.CONTIG) !== 0 ? 1 << 6 : 0) | (perm << 7)
  return (s2AttrsTable[key] ??= Object.freeze({ memAttr, sh, contiguous: (hi & S2_LEAF.CONTIG) !== 0, perm: PERMS[perm] }))
}

/** Translates an IPA through a stage-2 context, reading descriptors from `mem`. */
export function walkStage2(mem: DescriptorReader, ctx: S2Context, ipa: number, access: Access): WalkResult {
  return s2Lookup(mem, ctx, ipa, permBit(access.kind), access.privileged === true, undefined)
}
