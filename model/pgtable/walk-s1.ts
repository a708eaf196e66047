/**
 * The stage-1 walker (QEMU smmu_ptw_64_s1's shape): IOVA -> output address by reading
 * descriptors from memory, honouring APTable / PXNTable / UXNTable unless the context has HAD.
 *
 * When given a stage-2 context (nested), every descriptor address is an IPA: the table base
 * plus index is translated by stage 2 as a read before the fetch. A stage-2 fault there is
 * returned as a stage-2 fault with onS1TableWalk = true and addr = ipa = the descriptor's IPA
 * (SMMUv3 CLASS = TT, IPA field; SMMUv2 PTWF).
 *
 * Checks, in order (docs/facts/smmu-translation.md#leaf-checks and #faults; QEMU smmu_ptw_64_s1):
 *   IOVA >= 2^(64 - T0SZ)        -> Translation fault, level 0 (Arm pseudocode reports an input
 *                                   outside the TTBR range as a level 0 Translation fault)
 *   TTB >= 2^IPS                 -> Address size fault, level 0
 *   nested: stage-2 fault translating the descriptor's IPA -> that stage-2 fault, onS1TableWalk
 *   bus error on a fetch         -> External abort on walk, at that level, with the fetch PA
 *   invalid / reserved           -> Translation fault at that level
 *   table address >= 2^IPS       -> Address size fault at the table descriptor's level
 *   AF == 0                      -> Access flag fault (beats Permission)
 *   AP / XN / hierarchical deny  -> Permission fault
 *   output address >= 2^IPS      -> Address size fault
 * One level per descriptor: bounded, whatever a guest wrote.
 */
import { FETCH, NO_PAGE, type DescriptorReader } from '../memory'
import type { S1Context, S2Context } from './context'
import { DESC, DESC_SHIFT, OA, S1_LEAF } from './descriptor'
import { hiWord, PAGE_OFFSET_MASK, TWO_POW_32 } from './fetch'
import { MAX_LEVEL } from './geometry'
import { descAddress, LEAF_KEPT_HI, LEAF_KEPT_LO, s1Perm, type LeafOut } from './leaf'
import { makeFault, PERM_READ, permBit, PERMS, type Access, type Fault, type S1Attrs, type WalkResult } from './result'
import { s2Lookup } from './walk-s2'

/**
 * One stage-1 lookup; with `s2` set, descriptor addresses are IPAs translated through it.
 * With `out` (a nested walk, which goes on to stage 2): fills `out` and returns undefined, or
 * returns the Fault. Without `out` (a stage-1-only walk): returns the finished result, ok or
 * Fault, so that walk allocates nothing but its result (one object fewer per walk than filling a
 * LeafOut and copying it: about 1.1x walks per CPU second).
 *
 * Addresses on the walk's critical path are kept as two 32-bit words (`tableHi`, `tableLo`): a
 * table is aligned to its own size, so adding index * 8 to its low word never carries. The
 * geometry's per-walk values are read into locals once, before the loop. Reentrant: all state is
 * in locals and `out` (which also receives each nested table-address translation, before the leaf).
 */
export function s1Lookup(mem: DescriptorReader, ctx: S1Context, iova: number, need: number, privileged: boolean, s2: S2Context | undefined, out: LeafOut): Fault | undefined
export function s1Lookup(mem: DescriptorReader, ctx: S1Context, iova: number, need: number, privileged: boolean, s2: undefined, out: undefined): WalkResult
export function s1Lookup(
  mem: DescriptorReader,
  ctx: S1Context,
  iova: number,
  need: number,
  privileged: boolean,
  s2: S2Context | undefined,
  out: LeafOut | undefined,
): WalkResult | undefined {
  const g = ctx.geometry
  if (!(iova >= 0 && iova < g.inputLimit)) return makeFault('translation', 1, 0, iova)
  const ttb = ctx.regs.ttbr
  if (ttb >= g.outputLimit) return makeFault('addressSize', 1, 0, iova)
  const levelScale = g.levelScale
  const tableAddrLoMask = g.tableAddrLoMask
  const outputLimitHi = g.outputLimitHi
  const tableLimitsMask = ctx.tableLimitsMask
  const words = mem.words
  let tableHi = ctx.ttbHi
  let tableLo = ctx.ttbLo
  let level = g.startLevel
  let indexMask = g.startIndexMask
  let inheritedHi = 0
  for (;;) {
    let descHi = tableHi
    let descLo = (tableLo + (((iova * levelScale[level]) & indexMask) << DESC_SHIFT)) | 0
    if (s2 !== undefined) {
      if (out === undefined) throw new Error('s1Lookup: a nested lookup fills a LeafOut')
      const ipa = descHi * TWO_POW_32 + (descLo >>> 0)
      const s2Fault = s2Lookup(mem, s2, ipa, PERM_READ, privileged, out, FETCH.S2_FOR_S1_TABLE)
      if (s2Fault !== undefined) return { ...s2Fault, onS1TableWalk: true, iova }
      descHi = hiWord(out.oa) | 0
      descLo = out.oa | 0
    }
    const page = mem.descriptorPage(descHi, descLo, FETCH.S1, level)
    if (page === NO_PAGE) return makeFault('externalAbort', 1, level, iova, { fetchAddr: descHi * TWO_POW_32 + (descLo >>> 0) })
    const w = page + ((descLo & PAGE_OFFSET_MASK) >>> 2)
    const lo = words[w] | 0
    const hi = words[w + 1] | 0
    if ((lo & DESC.VALID) === 0) return makeFault('translation', 1, level, iova)
    const type = lo & DESC.TYPE_MASK
    if (level < MAX_LEVEL && type === DESC.TYPE_TABLE) {
      tableHi = hi & OA.HI_MASK
      tableLo = lo & tableAddrLoMask
      if (tableHi >= outputLimitHi) return makeFault('addressSize', 1, level, iova)
      inheritedHi |= hi
      level++
      indexMask = g.indexMask
      continue
    }
    if (level === MAX_LEVEL ? type !== DESC.TYPE_PAGE : !g.leafAllowed[level]) return makeFault('translation', 1, level, iova)
    if ((lo & S1_LEAF.AF) === 0) return makeFault('accessFlag', 1, level, iova)
    const perm = s1Perm(lo, hi, inheritedHi & tableLimitsMask, privileged)
    if ((perm & need) === 0) return makeFault('permission', 1, level, iova)
    const leaf = descAddress(lo, hi, g.leafAddrLoMask[level])
    if (leaf >= g.outputLimit) return makeFault('addressSize', 1, level, iova)
    const oa = leaf + (iova & g.offsetMask[level])
    if (out === undefined) return { kind: 'ok', input: iova, oa, level, size: g.leafSize[level], perm: PERMS[perm], s1: s1Attrs(lo, hi, perm) }
    out.oa = oa
    out.level = level
    out.lo = lo & LEAF_KEPT_LO
    out.hi = hi & LEAF_KEPT_HI
    out.perm = perm
    return undefined
  }
}

/** Interned S1Attrs, indexed by attrIndx | sh << 3 | nG << 5 | contiguous << 6 | perm << 7. */
const s1AttrsTable: (S1Attrs | undefined)[] = new Array<S1Attrs | undefined>(1 << 10)

/**
 * Stage-1 attributes of a leaf descriptor (its two halves; a LeafOut's lo and hi will do) with
 * the walk's PERM_* mask: shared frozen objects, so a walk allocates only its result.
 */
export function s1Attrs(lo: number, hi: number, perm: number): S1Attrs {
  const attrIndx = (lo & S1_LEAF.ATTRINDX_MASK) >>> S1_LEAF.ATTRINDX_SHIFT
  const sh = (lo & S1_LEAF.SH_MASK) >>> S1_LEAF.SH_SHIFT
  const key = attrIndx | (sh << 3) | ((lo & S1_LEAF.NG) !== 0 ? 1 << 5 : 0) | ((hi & S1_LEAF.CONTIG) !== 0 ? 1 << 6 : 0) | (perm << 7)
  return (s1AttrsTable[key] ??= Object.freeze({ attrIndx, sh, ng: (lo & S1_LEAF.NG) !== 0, contiguous: (hi & S1_LEAF.CONTIG) !== 0, perm: PERMS[perm] }))
}

/** Translates an IOVA through a stage-1 context alone; `oa` is stage 1's output address. */
export function walkStage1(mem: DescriptorReader, ctx: S1Context, iova: number, access: Access): WalkResult {
  return s1Lookup(mem, ctx, iova, permBit(access.kind), access.privileged === true, undefined, undefined)
}
