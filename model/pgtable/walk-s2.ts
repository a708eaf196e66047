/**
 * The stage-2 walker (QEMU smmu_ptw_64_s2's shape): IPA -> PA by reading descriptors from memory.
 * It owns the stage-2 specifics: start level from SL0, concatenated start tables (the extra high
 * IPA bits simply index further into the contiguous start tables), S2AP/XN permissions, MemAttr.
 *
 * Checks, in order (facts §3, QEMU):
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
import { FETCH, NO_PAGE as MEMORY_NO_PAGE, type DescriptorReader, type FetchKind } from '../memory'
import type { S2Context } from './context'
import { DESC, DESC_SHIFT, OA, S2_LEAF } from './descriptor'
import { PAGE_OFFSET_MASK as FETCH_PAGE_OFFSET_MASK, pageReader, TWO_POW_32, type TablePageReader } from './fetch'
import { MAX_LEVEL as GEOMETRY_MAX_LEVEL } from './geometry'
import { descAddress, LEAF_KEPT_HI, LEAF_KEPT_LO, s2Perm, type LeafOut } from './leaf'
import { makeFault, permBit, PERMS, type Access, type Fault, type S2Attrs, type WalkResult } from './result'

// Imported constants as local ones: the walk loop reads them without a property load (or, for
// what model/memory re-exports, a getter call: measured 0.7x walks without this).
const VALID = DESC.VALID
const TYPE_MASK = DESC.TYPE_MASK
const TYPE_TABLE = DESC.TYPE_TABLE
const TYPE_PAGE = DESC.TYPE_PAGE
const OA_HI_MASK = OA.HI_MASK
const AF = S2_LEAF.AF
const INDEX_SHIFT = DESC_SHIFT
const MAX_LEVEL = GEOMETRY_MAX_LEVEL
const PAGE_OFFSET_MASK = FETCH_PAGE_OFFSET_MASK
const NO_PAGE = MEMORY_NO_PAGE
const LEAF_ATTR_LO = LEAF_KEPT_LO
const LEAF_ATTR_HI = LEAF_KEPT_HI
const FETCH_S2 = FETCH.S2

/**
 * One stage-2 lookup. `need` is the PERM_* bit the access requires. With `out`: fills it and
 * returns undefined on success, the Fault otherwise (with `addr` = `ipa` = the input IPA).
 * Without `out` (a stage-2-only walk): returns the finished result, ok or Fault (see s1Lookup).
 * `kind` names the descriptor fetches: FETCH.S2, or FETCH.S2_FOR_S1_TABLE when a nested walk
 * translates the IPA of a stage-1 descriptor. Reentrant: all state is in locals and `out`.
 */
export function s2Lookup(mem: TablePageReader, ctx: S2Context, ipa: number, need: number, privileged: boolean, out: LeafOut, kind?: FetchKind): Fault | undefined
export function s2Lookup(mem: TablePageReader, ctx: S2Context, ipa: number, need: number, privileged: boolean, out: undefined): WalkResult
export function s2Lookup(
  mem: TablePageReader,
  ctx: S2Context,
  ipa: number,
  need: number,
  privileged: boolean,
  out: LeafOut | undefined,
  kind: FetchKind = FETCH_S2,
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
    const descLo = (tableLo + (((ipa * levelScale[level]) & indexMask) << INDEX_SHIFT)) | 0
    const page = mem.descriptorPage(tableHi, descLo, kind, level)
    if (page === NO_PAGE) return makeFault('externalAbort', 2, level, ipa, { fetchAddr: tableHi * TWO_POW_32 + (descLo >>> 0) })
    const w = page + ((descLo & PAGE_OFFSET_MASK) >>> 2)
    const lo = words[w] | 0
    const hi = words[w + 1] | 0
    if ((lo & VALID) === 0) return makeFault('translation', 2, level, ipa)
    const type = lo & TYPE_MASK
    if (level < MAX_LEVEL && type === TYPE_TABLE) {
      tableHi = hi & OA_HI_MASK
      tableLo = lo & tableAddrLoMask
      if (tableHi >= outputLimitHi) return makeFault('addressSize', 2, level, ipa)
      level++
      indexMask = g.indexMask
      continue
    }
    if (level === MAX_LEVEL ? type !== TYPE_PAGE : !g.leafAllowed[level]) return makeFault('translation', 2, level, ipa)
    if ((lo & AF) === 0) return makeFault('accessFlag', 2, level, ipa)
    const perm = s2Perm(lo, hi, ctx.xnx, privileged)
    if ((perm & need) === 0) return makeFault('permission', 2, level, ipa)
    const leaf = descAddress(lo, hi, g.leafAddrLoMask[level])
    if (leaf >= g.outputLimit) return makeFault('addressSize', 2, level, ipa)
    const oa = leaf + (ipa & g.offsetMask[level])
    if (out === undefined) return { kind: 'ok', input: ipa, oa, level, size: g.leafSize[level], perm: PERMS[perm], s2: s2Attrs(lo, hi, perm) }
    out.oa = oa
    out.level = level
    out.lo = lo & LEAF_ATTR_LO
    out.hi = hi & LEAF_ATTR_HI
    out.perm = perm
    return undefined
  }
}

/** Interned S2Attrs, indexed by memAttr | sh << 4 | contiguous << 6 | perm << 7. */
const s2AttrsTable: (S2Attrs | undefined)[] = new Array<S2Attrs | undefined>(1 << 10)

const MEMATTR_MASK = S2_LEAF.MEMATTR_MASK
const MEMATTR_SHIFT = S2_LEAF.MEMATTR_SHIFT
const SH_MASK = S2_LEAF.SH_MASK
const SH_SHIFT = S2_LEAF.SH_SHIFT
const CONTIG = S2_LEAF.CONTIG

/**
 * Stage-2 attributes of a leaf descriptor (its two halves; a LeafOut's lo and hi will do) with
 * the walk's PERM_* mask: shared frozen objects, so a walk allocates only its result.
 */
export function s2Attrs(lo: number, hi: number, perm: number): S2Attrs {
  const memAttr = (lo & MEMATTR_MASK) >>> MEMATTR_SHIFT
  const sh = (lo & SH_MASK) >>> SH_SHIFT
  const key = memAttr | (sh << 4) | ((hi & CONTIG) !== 0 ? 1 << 6 : 0) | (perm << 7)
  return (s2AttrsTable[key] ??= Object.freeze({ memAttr, sh, contiguous: (hi & CONTIG) !== 0, perm: PERMS[perm] }))
}

/** Translates an IPA through a stage-2 context, reading descriptors from `mem`. */
export function walkStage2(mem: DescriptorReader, ctx: S2Context, ipa: number, access: Access): WalkResult {
  return s2Lookup(pageReader(mem), ctx, ipa, permBit(access.kind), access.privileged === true, undefined)
}
