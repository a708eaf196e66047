/**
 * Walk benchmarks: page tables built with the model's builder in simulated memory, then the
 * model's walkers and the reference walker (./reference.ts) timed over the same random inputs.
 *
 * Scenes (4K granule everywhere, every leaf a 4 KiB page; "random pages" = a seeded random
 * permutation of the 4 KiB pages of a 1 GiB range, as bench/c/walk.c builds the same scenes):
 * - S1:     a 48-bit stage-1 table (start level 0, four levels) mapping 1 GiB of IOVA to random pages.
 * - S2:     a 40-bit stage-2 table starting at level 1 with two concatenated start tables;
 *           512 MiB mapped in each of them (IPA 0 and IPA 2^39), inputs spread over both.
 * - nested: a 48-bit stage 1 (four levels) over a 48-bit stage 2 (four levels, no
 *           concatenation); stage 1's tables live at IPAs stage 2 maps (identity, 4K pages), its
 *           1 GiB of IOVA maps to random IPA pages, which stage 2 maps to random PA pages. No TLB: every walk is cold, i.e.
 *           4 stage-1 fetches, each after a 4-level stage-2 walk, then the final stage-2 walk.
 * - IOTLB:  4096 translations of random S1 pages inserted; lookups pick among them (all hits).
 */
import assert from 'node:assert/strict'
import { createMemory, createTableAllocator, type PhysMemory, type TableAllocator } from '../model/memory'
import { createPgtable, Iotlb, type Access, type IoPgtable, type S1Context, type S2Context } from '../model/pgtable'
// The walkers from their own modules, as model/smmu/translate.ts takes them (see there).
import { walkNested } from '../model/pgtable/walk-nested'
import { newLeafOut } from '../model/pgtable/leaf'
import { PERM_READ } from '../model/pgtable/result'
import { s1Lookup, walkStage1 } from '../model/pgtable/walk-s1'
import { walkStage2 } from '../model/pgtable/walk-s2'
import { prng } from '../lib/prng'
import { RefIotlb, refWalk, refWalkNested, type RefRegime } from './reference'

const GIB = 2 ** 30
const MIB = 2 ** 20
const PAGE = 0x1000
const READ: Access = { kind: 'read' }
/** Random inputs per scene (a power of two, so `i & mask` picks one). */
const INPUTS = 1 << 20
const INPUT_MASK = INPUTS - 1
const RW = { read: true, write: true } as const

function must<T>(r: { ok: true; value: T } | { ok: false; error: { errno: string; message: string } }, what: string): T {
  if (!r.ok) throw new Error(`${what}: ${r.error.errno} ${r.error.message}`)
  return r.value
}

function memory(): PhysMemory {
  return must(createMemory({ oas: 48 }), 'memory')
}

function pool(mem: PhysMemory, base: number, size: number): TableAllocator {
  return must(createTableAllocator(mem, { base, size }), 'table pool')
}

/** `length` bytes from `iova` to `pa` as 4 KiB pages (one map() per page). */
function mapPages(pt: IoPgtable, iova: number, pa: number, length: number): void {
  for (let off = 0; off < length; off += PAGE) must(pt.map(iova + off, pa + off, PAGE, RW), `map ${iova + off}`)
}

/** The 4 KiB pages of [base, base + count pages) in a seeded random order (Fisher-Yates; bench/c/walk.c does the same). */
export function shuffledPages(seed: number, base: number, count: number): Float64Array {
  const out = new Float64Array(count)
  for (let i = 0; i < count; i++) out[i] = base + i * PAGE
  const rand = prng(seed)
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    const t = out[i] as number
    out[i] = out[j] as number
    out[j] = t
  }
  return out
}

/** 1 GiB from `iova` in 4 KiB pages, page i going to `pages[i]`. */
function mapShuffled(pt: IoPgtable, iova: number, pages: Float64Array): void {
  for (let i = 0; i < pages.length; i++) must(pt.map(iova + i * PAGE, pages[i] as number, PAGE, RW), `map ${iova + i * PAGE}`)
}

/** Random addresses (page and in-page offset) in `ranges`, chosen uniformly over their bytes. */
function randomInputs(seed: number, ranges: readonly { base: number; size: number }[]): Float64Array {
  const rand = prng(seed)
  const total = ranges.reduce((n, r) => n + r.size, 0)
  const out = new Float64Array(INPUTS)
  for (let i = 0; i < INPUTS; i++) {
    let at = Math.floor(rand() * total / 8) * 8
    for (const r of ranges) {
      if (at < r.size) {
        out[i] = r.base + at
        break
      }
      at -= r.size
    }
  }
  return out
}

export interface S1Scene {
  readonly mem: PhysMemory
  readonly ctx: S1Context
  readonly ref: RefRegime
  readonly inputs: Float64Array
  readonly bigInputs: BigInt64Array
  readonly tables: IoPgtable
}

const S1_IOVA = 0x40_0000_0000
const S1_PA = 0x2_0000_0000
/** Seeds of the page permutations (bench/c/walk.c uses the same). */
const SEEDS = { s1Pages: 11, nestedS1Pages: 12, nestedS2Pages: 13 } as const

export function s1Scene(): S1Scene {
  const mem = memory()
  const alloc = pool(mem, 0x1_0000_0000, 64 * MIB)
  const pt = must(createPgtable(mem, alloc, { stage: 1, granule: 4096, ias: 48, oas: 48 }), 's1 table')
  mapShuffled(pt, S1_IOVA, shuffledPages(SEEDS.s1Pages, S1_PA, GIB / PAGE))
  const ctx = pt.s1Context
  assert.equal(ctx.geometry.startLevel, 0)
  const inputs = randomInputs(1, [{ base: S1_IOVA, size: GIB }])
  return { mem, ctx, tables: pt, ref: { stage: 1, base: BigInt(ctx.regs.ttbr), startLevel: 0, ias: 48, oas: 48 }, inputs, bigInputs: toBig(inputs) }
}

export interface S2Scene {
  readonly mem: PhysMemory
  readonly ctx: S2Context
  readonly ref: RefRegime
  readonly inputs: Float64Array
  readonly bigInputs: BigInt64Array
}

export function s2Scene(): S2Scene {
  const mem = memory()
  const alloc = pool(mem, 0x1_0000_0000, 64 * MIB)
  const pt = must(createPgtable(mem, alloc, { stage: 2, granule: 4096, ias: 40, oas: 48 }), 's2 table')
  const ctx = pt.s2Context
  assert.equal(ctx.geometry.startLevel, 1)
  assert.equal(ctx.geometry.concatenatedTables, 2)
  const second = 2 ** 39
  mapPages(pt, 0, S1_PA, 512 * MIB)
  mapPages(pt, second, S1_PA + 512 * MIB, 512 * MIB)
  const inputs = randomInputs(2, [
    { base: 0, size: 512 * MIB },
    { base: second, size: 512 * MIB },
  ])
  return { mem, ctx, ref: { stage: 2, base: BigInt(ctx.regs.vttbr), startLevel: 1, ias: 40, oas: 48 }, inputs, bigInputs: toBig(inputs) }
}

export interface NestedScene {
  readonly mem: PhysMemory
  readonly s1: S1Context
  readonly s2: S2Context
  readonly refS1: RefRegime
  readonly refS2: RefRegime
  readonly inputs: Float64Array
  readonly bigInputs: BigInt64Array
}

export function nestedScene(): NestedScene {
  const mem = memory()
  // Stage 1's tables: at IPAs stage 2 maps one to one (so the builder can write them by PA).
  const guestTables = { base: 0x3_0000_0000, size: 8 * MIB }
  const s1Alloc = pool(mem, guestTables.base, guestTables.size)
  const s2Alloc = pool(mem, 0x1_0000_0000, 64 * MIB)
  const s2 = must(createPgtable(mem, s2Alloc, { stage: 2, granule: 4096, ias: 48, oas: 48 }), 's2 table')
  assert.equal(s2.geometry.startLevel, 0)
  assert.equal(s2.geometry.concatenatedTables, 1)
  mapPages(s2, guestTables.base, guestTables.base, guestTables.size)
  const s1 = must(createPgtable(mem, s1Alloc, { stage: 1, granule: 4096, ias: 48, oas: 48 }), 's1 table')
  const ipa = 0x80_0000_0000
  mapShuffled(s1, S1_IOVA, shuffledPages(SEEDS.nestedS1Pages, ipa, GIB / PAGE))
  mapShuffled(s2, ipa, shuffledPages(SEEDS.nestedS2Pages, S1_PA + PAGE, GIB / PAGE))
  const inputs = randomInputs(3, [{ base: S1_IOVA, size: GIB }])
  return {
    mem,
    s1: s1.s1Context,
    s2: s2.s2Context,
    refS1: { stage: 1, base: BigInt(s1.s1Context.regs.ttbr), startLevel: 0, ias: 48, oas: 48 },
    refS2: { stage: 2, base: BigInt(s2.s2Context.regs.vttbr), startLevel: 0, ias: 48, oas: 48 },
    inputs,
    bigInputs: toBig(inputs),
  }
}

function toBig(a: Float64Array): BigInt64Array {
  const out = new BigInt64Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = BigInt(a[i] as number)
  return out
}

// ---- bodies: `count` operations, returning a checksum --------------------------------------

export function modelS1(s: S1Scene): (count: number) => number {
  return (count) => {
    let sum = 0
    for (let i = 0; i < count; i++) {
      const r = walkStage1(s.mem, s.ctx, s.inputs[i & INPUT_MASK] as number, READ)
      if (r.kind !== 'ok') throw new Error(`S1 walk faulted: ${r.kind}`)
      sum += r.oa
    }
    return sum
  }
}

/**
 * The same stage-1 walks as modelS1, through the walker that walkStage1 wraps (s1Lookup) filling
 * one record of the caller's (a LeafOut: output address, level, leaf attributes, permissions), as
 * bench/c/walk.c's walker fills `*out`, reusing it from walk to walk. What walkStage1 adds is a
 * LeafOut and a result per walk, fresh objects, with the input and output addresses each a heap
 * number of their own (V8 boxes a number field that is not a small integer). Timing both says
 * what that costs.
 */
export function modelS1Lookup(s: S1Scene): (count: number) => number {
  const out = newLeafOut()
  return (count) => {
    let sum = 0
    for (let i = 0; i < count; i++) {
      const fault = s1Lookup(s.mem, s.ctx, s.inputs[i & INPUT_MASK] as number, PERM_READ, false, undefined, out)
      if (fault !== undefined) throw new Error(`S1 lookup faulted: ${fault.kind}`)
      sum += out.oaHi * 2 ** 32 + (out.oaLo >>> 0) // the output address from its two words
    }
    return sum
  }
}

export function refS1(s: S1Scene): (count: number) => number {
  return (count) => {
    let sum = 0
    for (let i = 0; i < count; i++) {
      const r = refWalk(s.mem, s.ref, s.bigInputs[i & INPUT_MASK] as bigint)
      if (!r.ok) throw new Error(`reference S1 walk faulted: ${r.why}`)
      sum += Number(r.out)
    }
    return sum
  }
}

export function modelS2(s: S2Scene): (count: number) => number {
  return (count) => {
    let sum = 0
    for (let i = 0; i < count; i++) {
      const r = walkStage2(s.mem, s.ctx, s.inputs[i & INPUT_MASK] as number, READ)
      if (r.kind !== 'ok') throw new Error(`S2 walk faulted: ${r.kind}`)
      sum += r.oa
    }
    return sum
  }
}

export function refS2(s: S2Scene): (count: number) => number {
  return (count) => {
    let sum = 0
    for (let i = 0; i < count; i++) {
      const r = refWalk(s.mem, s.ref, s.bigInputs[i & INPUT_MASK] as bigint)
      if (!r.ok) throw new Error(`reference S2 walk faulted: ${r.why}`)
      sum += Number(r.out)
    }
    return sum
  }
}

export function modelNested(s: NestedScene): (count: number) => number {
  return (count) => {
    let sum = 0
    for (let i = 0; i < count; i++) {
      const r = walkNested(s.mem, s.s1, s.s2, s.inputs[i & INPUT_MASK] as number, READ)
      if (r.kind !== 'ok') throw new Error(`nested walk faulted: ${r.kind} stage ${r.stage}`)
      sum += r.oa
    }
    return sum
  }
}

export function refNested(s: NestedScene): (count: number) => number {
  return (count) => {
    let sum = 0
    for (let i = 0; i < count; i++) {
      const r = refWalkNested(s.mem, s.refS1, s.refS2, s.bigInputs[i & INPUT_MASK] as bigint)
      if (!r.ok) throw new Error(`reference nested walk faulted: ${r.why}`)
      sum += Number(r.out)
    }
    return sum
  }
}

/** Entries the IOTLB benchmark inserts (and then hits). */
export const IOTLB_ENTRIES = 4096

export interface IotlbScene {
  readonly tlb: Iotlb
  readonly ref: RefIotlb
  readonly inputs: Float64Array
  readonly bigInputs: BigInt64Array
}

/** Fills both TLBs with the stage-1 translations of IOTLB_ENTRIES random pages of the S1 scene. */
export function iotlbScene(s: S1Scene): IotlbScene {
  const tlb = new Iotlb()
  const ref = new RefIotlb()
  const rand = prng(4)
  const pages: number[] = []
  while (pages.length < IOTLB_ENTRIES) {
    const iova = S1_IOVA + Math.floor(rand() * (GIB / PAGE)) * PAGE
    const t = walkStage1(s.mem, s.ctx, iova, READ)
    if (t.kind !== 'ok') throw new Error('S1 walk faulted while filling the IOTLB')
    tlb.insert(1, 1, false, t)
    ref.insert(1, 1, BigInt(iova), BigInt(t.oa), BigInt(t.size))
    pages.push(iova)
  }
  const inputs = new Float64Array(INPUTS)
  for (let i = 0; i < INPUTS; i++) inputs[i] = (pages[Math.floor(rand() * pages.length)] as number) + Math.floor(rand() * PAGE)
  return { tlb, ref, inputs, bigInputs: toBig(inputs) }
}

export function modelIotlb(s: IotlbScene): (count: number) => number {
  return (count) => {
    let sum = 0
    for (let i = 0; i < count; i++) {
      const iova = s.inputs[i & INPUT_MASK] as number
      const e = s.tlb.lookup(1, 1, false, iova)
      if (e === undefined) throw new Error('IOTLB missed')
      sum += e.oa + (iova - e.iova)
    }
    return sum
  }
}

export function refIotlb(s: IotlbScene): (count: number) => number {
  return (count) => {
    let sum = 0
    for (let i = 0; i < count; i++) {
      const out = s.ref.lookup(1, 1, s.bigInputs[i & INPUT_MASK] as bigint)
      if (out === undefined) throw new Error('reference IOTLB missed')
      sum += Number(out)
    }
    return sum
  }
}

/** The model and the reference agree on `n` inputs of a scene (a sanity check, not a test). */
export function crossCheck(model: (i: number) => number, ref: (i: number) => bigint, n: number, what: string): void {
  for (let i = 0; i < n; i++) {
    const a = model(i)
    const b = ref(i)
    if (BigInt(a) !== b) throw new Error(`${what}: model and reference disagree on input #${i}: 0x${a.toString(16)} vs 0x${b.toString(16)}`)
  }
}

function oaOf(r: { kind: string; oa?: number }, what: string): number {
  if (r.kind !== 'ok' || r.oa === undefined) throw new Error(`${what}: the model faulted (${r.kind})`)
  return r.oa
}

function outOf(r: { ok: boolean; out?: bigint; why?: string }, what: string): bigint {
  if (!r.ok || r.out === undefined) throw new Error(`${what}: the reference faulted (${r.why ?? ''})`)
  return r.out
}

export const walkOa1 = (s: S1Scene, i: number): number => oaOf(walkStage1(s.mem, s.ctx, s.inputs[i] as number, READ), 'S1')
export const refOa1 = (s: S1Scene, i: number): bigint => outOf(refWalk(s.mem, s.ref, s.bigInputs[i] as bigint), 'S1')
export const walkOa2 = (s: S2Scene, i: number): number => oaOf(walkStage2(s.mem, s.ctx, s.inputs[i] as number, READ), 'S2')
export const refOa2 = (s: S2Scene, i: number): bigint => outOf(refWalk(s.mem, s.ref, s.bigInputs[i] as bigint), 'S2')
export const walkOaN = (s: NestedScene, i: number): number => oaOf(walkNested(s.mem, s.s1, s.s2, s.inputs[i] as number, READ), 'nested')
export const refOaN = (s: NestedScene, i: number): bigint => outOf(refWalkNested(s.mem, s.refS1, s.refS2, s.bigInputs[i] as bigint), 'nested')

export { INPUT_MASK, READ }
