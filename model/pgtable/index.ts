/**
 * model/pgtable — VMSAv8-64 long-descriptor translation tables (4K, 16K and 64K granules, OAS up
 * to 48 bits): a builder shaped like Linux io-pgtable-arm, one walker per stage plus nested, and an
 * IOTLB. Imports model/memory and model/errno only.
 *
 * Build:   createPgtable(mem, alloc, { stage, granule, ias, oas, partialUnmap? }) -> IoPgtable with
 *          map / mapRange / unmap / unmapRange / iovaToPhys / destroy, and `.regs` / `.context`.
 * Contexts: stage1Context({ ttbr, t0sz, granule, oas, had? }), stage2Context({ vttbr, t0sz, sl0,
 *          granule, oas, xnx? }) validate register values (EINVAL) for the walkers.
 * Walk:    walkStage1 / walkStage2 / walkNested(mem, ..., addr, access) -> Translation | Fault.
 *          Descriptors are always read from memory; faults are returned, never thrown.
 * Cache:   Iotlb, filled and consulted by the caller.
 */
export {
  DESC,
  DESC_BYTES,
  LEAF_ATTR_HI_MASK,
  LEAF_ATTR_LO_MASK,
  MAIR_IDX,
  MEMATTR,
  OA,
  S1_LEAF,
  S1_TABLE,
  S2_LEAF,
  SH,
  joinDescriptor,
  splitDescriptor,
} from './descriptor'
export {
  GRANULES,
  MAX_IAS,
  MAX_LEVEL,
  MAX_S2_CONCAT,
  MIN_IAS,
  OAS_VALUES,
  formatGeometry,
  formatSize,
  geometryAtLevel,
  ioPgtableGeometry,
  isGranule,
  levelShiftOf,
  type Geometry,
  type Granule,
  type S2Concatenation,
} from './geometry'
export {
  s1StartLevel,
  sl0ForStartLevel,
  stage1Context,
  stage2Context,
  startLevelForSl0,
  type S1Context,
  type S1Regs,
  type S2Context,
  type S2Regs,
  type TranslationContext,
} from './context'
export { protToAttrs, type IommuProt, type LeafAttrs } from './prot'
export { createPgtable, IoPgtable, type NoAccessMapPolicy, type PartialUnmapPolicy, type PgtableConfig } from './builder'
export {
  isFault,
  PERMS,
  type Access,
  type AccessKind,
  type Fault,
  type FaultKind,
  type Perm,
  type S1Attrs,
  type S2Attrs,
  type Translation,
  type WalkResult,
} from './result'
export { walkStage1 } from './walk-s1'
export { walkStage2 } from './walk-s2'
export { walkNested } from './walk-nested'
export { Iotlb, type IotlbEntry, type IotlbStats } from './iotlb'
