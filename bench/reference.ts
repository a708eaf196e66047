/**
 * The benchmarks' yardstick: a deliberately plain table walker and IOTLB, written from the
 * architecture (Arm ARM D8, VMSAv8-64 long descriptors, 4K granule) without reusing anything of
 * model/pgtable. Every descriptor is read from the same simulated memory the model walks, as a
 * BigInt (`PhysMemory.read64`), every step allocates a record, and every field is extracted with
 * BigInt shifts and masks: the obvious way to write a walker, and what the model's walkers are
 * measured against.
 *
 * It walks what the benchmarks build (4K granule, valid tables, read accesses) and checks what a
 * real walk must check on that path: valid bit, table/block/page type, block levels, AF, read
 * permission (S1 AP / S2 S2AP[0]) and the output size. It is not a specification: the model is.
 */
import { isBusAbort, type PhysMemory } from '../model/memory'

const GRANULE_SHIFT = 12n
const STRIDE = 9n
const ENTRY_BYTES = 8n
/** Output address bits [47:12] of a descriptor. */
const ADDR_MASK = ((1n << 48n) - 1n) & ~((1n << GRANULE_SHIFT) - 1n)
const VALID = 1n
const TYPE_BITS = 3n
const TYPE_TABLE = 3n
const TYPE_BLOCK = 1n
const AF = 1n << 10n
/** Stage 1 AP[1]: EL0 (unprivileged) access; the benchmarks read unprivileged. */
const S1_AP_EL0 = 1n << 6n
/** Stage 2 S2AP[0]: read. */
const S2_READ = 1n << 6n

/** One level of a walk, as a fresh object (the "allocation per step" of a plain walker). */
export interface RefStep {
  readonly level: number
  readonly descAddr: bigint
  readonly desc: bigint
}

export type RefWalk =
  | { readonly ok: true; readonly out: bigint; readonly level: number; readonly steps: readonly RefStep[] }
  | { readonly ok: false; readonly stage: 1 | 2; readonly level: number; readonly why: string }

/** Input bit shift of a 4K-granule level: 39, 30, 21, 12. */
function shiftOf(level: number): bigint {
  return GRANULE_SHIFT + STRIDE * BigInt(3 - level)
}

/** A table-walk regime with a 4K granule. */
export interface RefRegime {
  readonly stage: 1 | 2
  /** Start-level table (TTBR / VTTBR): a PA, or an IPA when nested. */
  readonly base: bigint
  readonly startLevel: number
  /** Input address size (bits). */
  readonly ias: number
  /** Output address size (bits). */
  readonly oas: number
}

/**
 * One stage. `fetch` turns a descriptor address into the PA to read (the identity, or a stage-2
 * translation when nested); it returns undefined when that translation faults.
 */
export function refWalk(mem: PhysMemory, r: RefRegime, input: bigint, fetch?: (ipa: bigint) => bigint | undefined): RefWalk {
  if (input < 0n || input >= 1n << BigInt(r.ias)) return { ok: false, stage: r.stage, level: 0, why: 'input out of range' }
  const steps: RefStep[] = []
  let table = r.base
  for (let level = r.startLevel; level <= 3; level++) {
    const shift = shiftOf(level)
    // The start level indexes every remaining input bit (concatenated stage-2 tables included).
    const bits = level === r.startLevel ? BigInt(r.ias) - shift : STRIDE
    const index = (input >> shift) & ((1n << bits) - 1n)
    let descAddr = table + index * ENTRY_BYTES
    if (fetch !== undefined) {
      const pa = fetch(descAddr)
      if (pa === undefined) return { ok: false, stage: 2, level, why: 'stage 2 faulted on a table fetch' }
      descAddr = pa
    }
    const word = mem.read64(Number(descAddr))
    if (isBusAbort(word)) return { ok: false, stage: r.stage, level, why: 'external abort' }
    const desc = word
    steps.push({ level, descAddr, desc })
    if ((desc & VALID) === 0n) return { ok: false, stage: r.stage, level, why: 'invalid' }
    const type = desc & TYPE_BITS
    if (level < 3 && type === TYPE_TABLE) {
      table = desc & ADDR_MASK
      if (table >= 1n << BigInt(r.oas)) return { ok: false, stage: r.stage, level, why: 'table address size' }
      continue
    }
    const isPage = level === 3 && type === TYPE_TABLE
    const isBlock = (level === 1 || level === 2) && type === TYPE_BLOCK
    if (!isPage && !isBlock) return { ok: false, stage: r.stage, level, why: 'reserved' }
    if ((desc & AF) === 0n) return { ok: false, stage: r.stage, level, why: 'access flag' }
    const readable = r.stage === 1 ? (desc & S1_AP_EL0) !== 0n : (desc & S2_READ) !== 0n
    if (!readable) return { ok: false, stage: r.stage, level, why: 'permission' }
    const outMask = ADDR_MASK & ~((1n << shift) - 1n)
    const out = (desc & outMask) | (input & ((1n << shift) - 1n))
    if (out >= 1n << BigInt(r.oas)) return { ok: false, stage: r.stage, level, why: 'output address size' }
    return { ok: true, out, level, steps }
  }
  return { ok: false, stage: r.stage, level: 3, why: 'unreachable' }
}

/** Stage 1 nested in stage 2: every stage-1 table address is an IPA, and so is the output. */
export function refWalkNested(mem: PhysMemory, s1: RefRegime, s2: RefRegime, iova: bigint): RefWalk {
  const viaS2 = (ipa: bigint): bigint | undefined => {
    const t = refWalk(mem, s2, ipa)
    return t.ok ? t.out : undefined
  }
  const first = refWalk(mem, s1, iova, viaS2)
  if (!first.ok) return first
  const second = refWalk(mem, s2, first.out)
  if (!second.ok) return second
  return { ok: true, out: second.out, level: Math.max(first.level, second.level), steps: [...first.steps, ...second.steps] }
}

/** A plain IOTLB: one Map keyed by a string naming the tags and the page-aligned input. */
export class RefIotlb {
  private readonly entries = new Map<string, { readonly base: bigint; readonly out: bigint; readonly size: bigint }>()

  insert(vmid: number, asid: number, input: bigint, out: bigint, size: bigint): void {
    const base = input - (input % size)
    this.entries.set(`${vmid}:${asid}:${size}:${base}`, { base, out: out - (input - base), size })
  }

  /** The output address of `input`, trying each leaf size, or undefined. */
  lookup(vmid: number, asid: number, input: bigint): bigint | undefined {
    for (const size of [0x1000n, 0x20_0000n, 0x4000_0000n]) {
      const base = input - (input % size)
      const e = this.entries.get(`${vmid}:${asid}:${size}:${base}`)
      if (e !== undefined) return e.out + (input - e.base)
    }
    return undefined
  }
}
