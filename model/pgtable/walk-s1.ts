/**
 * The stage-1 walker, in the shape of QEMU's smmu_ptw_64_s1 (hw/arm/smmu-common.c): from the table
 * TTB0 points at, fetch the descriptor the IOVA indexes at each level, check it, and descend into
 * the next table, until a block or page descriptor gives the output address. Like smmu_ptw_64_s1,
 * which fills an SMMUTLBEntry or an SMMUPTWEventInfo, s1Lookup fills the caller's LeafOut or
 * returns the Fault: faults are data, never thrown.
 *
 * Nested (a stage-2 context given): every descriptor address is an IPA, which stage 2 translates,
 * as a read, before the fetch (QEMU: translate_table_addr_ipa). A stage-2 fault there is the
 * walk's result, with onS1TableWalk and the descriptor's IPA (SMMUv3 events: S2 = 1, CLASS = TT
 * and the IPA field; SMMUv2: FSYNR0.PTWF).
 *
 * What is checked, in the order a walk meets it, and the fault when it fails:
 *   the IOVA is below 2^(64 - T0SZ)       Translation, level 0 (the Arm ARM pseudocode reports an
 *                                         input outside the TTBR0 range at level 0; QEMU: select_tt)
 *   TTB0 is below 2^IPS                   Address size, level 0
 * at each level:
 *   nested: stage 2 translates the descriptor's IPA      that stage-2 fault, onS1TableWalk
 *   the bus answers the fetch             External abort on the walk, with the PA (F_WALK_EABT)
 *   the descriptor is valid, and not a block where the granule has none or 0b01 at level 3
 *                                         Translation
 *   a table's address is below 2^IPS      Address size
 * at the leaf (a block or page):
 *   AF is set                             Access flag (which takes priority over Permission)
 *   AP[2:1], PXN or UXN, and the APTable, PXNTable and UXNTable of the tables above (unless
 *   CD.HAD), allow the access             Permission
 *   the output address is below 2^IPS     Address size
 * Each level fetches one descriptor and the walk only goes down, so it ends, whatever a guest wrote.
 */
import { FETCH, NO_PAGE, type DescriptorReader } from '../memory'
import type { S1Context, S2Context } from './context'
import { DESC, DESC_SHIFT, OA, S1_LEAF } from './descriptor'
import { PAGE_OFFSET_MASK, TWO_POW_32 } from './fetch'
import { MAX_LEVEL } from './geometry'
import { newLeafOut, s1Perm, type LeafOut } from './leaf'
import { makeFault, PERM_READ, permBit, PERMS, type Access, type Fault, type S1Attrs, type WalkResult } from './result'
import { s2Lookup } from './walk-s2'

/**
 * Looks `iova` up in the stage-1 tables of `ctx` for an access needing the PERM_* bit `need`:
 * fills `leaf` and returns undefined, or returns the Fault. With `s2`, descriptor addresses are
 * IPAs translated through it, and `leaf` also receives each of those translations on the way.
 *
 * A table address is kept as two 32-bit words, `tableHi` (bits [51:32]) and `tableLo` (bits
 * [31:0]), as memory takes it; a table is aligned to its size, so adding index * 8 to its low word
 * never carries into the high one.
 */
export function s1Lookup(mem: DescriptorReader, ctx: S1Context, iova: number, need: number, privileged: boolean, s2: S2Context | undefined, leaf: LeafOut): Fault | undefined {
  const g = ctx.geometry
  if (!(iova >= 0 && iova < g.inputLimit)) return makeFault('translation', 1, 0, iova)
  if (ctx.regs.ttbr >= g.outputLimit) return makeFault('addressSize', 1, 0, iova)
  const { levelScale, tableAddrLoMask, leafAllowed, leafAddrLoMask, offsetMask, outputLimitHi } = g
  const words = mem.words
  let tableHi = ctx.ttbHi
  let tableLo = ctx.ttbLo
  let indexMask = g.startIndexMask
  /** The upper halves of the table descriptors passed, OR-ed: what a leaf inherits of them. */
  let inherited = 0
  for (let level = g.startLevel; ; level++) {
    // The descriptor's address: the table's, plus 8 bytes per index.
    let descHi = tableHi
    let descLo = (tableLo + (((iova * levelScale[level]) & indexMask) << DESC_SHIFT)) | 0
    if (s2 !== undefined) {
      const fault = s2Lookup(mem, s2, descHi * TWO_POW_32 + (descLo >>> 0), PERM_READ, privileged, leaf, FETCH.S2_FOR_S1_TABLE)
      if (fault !== undefined) return { ...fault, onS1TableWalk: true, iova }
      descHi = leaf.oaHi
      descLo = leaf.oaLo
    }

    // Fetch it.
    const page = mem.descriptorPage(descHi, descLo, FETCH.S1, level)
    if (page === NO_PAGE) return makeFault('externalAbort', 1, level, iova, { fetchAddr: descHi * TWO_POW_32 + (descLo >>> 0) })
    const at = page + ((descLo & PAGE_OFFSET_MASK) >>> 2)
    const lo = words[at] | 0
    const hi = words[at + 1] | 0

    // Check it: a table descriptor sends the walk one level down.
    if ((lo & DESC.VALID) === 0) return makeFault('translation', 1, level, iova)
    const type = lo & DESC.TYPE_MASK
    if (level < MAX_LEVEL && type === DESC.TYPE_TABLE) {
      tableHi = hi & OA.HI_MASK
      tableLo = lo & tableAddrLoMask
      if (tableHi >= outputLimitHi) return makeFault('addressSize', 1, level, iova)
      inherited |= hi
      indexMask = g.indexMask
      continue
    }

    // A leaf: a page at level 3, a block where the granule has blocks.
    if (level === MAX_LEVEL ? type !== DESC.TYPE_PAGE : !leafAllowed[level]) return makeFault('translation', 1, level, iova)
    if ((lo & S1_LEAF.AF) === 0) return makeFault('accessFlag', 1, level, iova)
    const perm = s1Perm(lo, hi, inherited & ctx.tableLimitsMask, privileged)
    if ((perm & need) === 0) return makeFault('permission', 1, level, iova)
    // The output address: the leaf's, plus the input's offset in the block (the leaf's address is
    // aligned to the block size, so the offset does not carry into the high word).
    const oaHi = hi & OA.HI_MASK
    if (oaHi >= outputLimitHi) return makeFault('addressSize', 1, level, iova)
    leaf.oaHi = oaHi
    leaf.oaLo = (lo & leafAddrLoMask[level]) | (iova & offsetMask[level])
    leaf.level = level
    leaf.lo = lo
    leaf.hi = hi
    leaf.perm = perm
    return undefined
  }
}

/** Interned S1Attrs, indexed by attrIndx | sh << 3 | nG << 5 | contiguous << 6 | perm << 7. */
const s1AttrsTable: (S1Attrs | undefined)[] = new Array<S1Attrs | undefined>(1 << 10)

/**
 * Stage-1 attributes of a leaf descriptor (its two halves; a LeafOut's lo and hi will do) with
 * the walk's PERM_* mask: frozen objects, one per distinct value, shared by every walk.
 */
export function s1Attrs(lo: number, hi: number, perm: number): S1Attrs {
  const attrIndx = (lo & S1_LEAF.ATTRINDX_MASK) >>> S1_LEAF.ATTRINDX_SHIFT
  const sh = (lo & S1_LEAF.SH_MASK) >>> S1_LEAF.SH_SHIFT
  const key = attrIndx | (sh << 3) | ((lo & S1_LEAF.NG) !== 0 ? 1 << 5 : 0) | ((hi & S1_LEAF.CONTIG) !== 0 ? 1 << 6 : 0) | (perm << 7)
  return (s1AttrsTable[key] ??= Object.freeze({ attrIndx, sh, ng: (lo & S1_LEAF.NG) !== 0, contiguous: (hi & S1_LEAF.CONTIG) !== 0, perm: PERMS[perm] }))
}

/** Translates an IOVA through a stage-1 context alone; `oa` is stage 1's output address. */
export function walkStage1(mem: DescriptorReader, ctx: S1Context, iova: number, access: Access): WalkResult {
  const leaf = newLeafOut()
  const fault = s1Lookup(mem, ctx, iova, permBit(access.kind), access.privileged === true, undefined, leaf)
  if (fault !== undefined) return fault
  return { kind: 'ok', input: iova, oa: leaf.oaHi * TWO_POW_32 + (leaf.oaLo >>> 0), level: leaf.level, size: ctx.geometry.leafSize[leaf.level], perm: PERMS[leaf.perm], s1: s1Attrs(leaf.lo, leaf.hi, leaf.perm) }
}
