/**
 * A simple IOTLB, separate from the walkers: it caches Translations keyed by (VMID, ASID, input
 * block) and is filled and consulted by the caller (an SMMU model), like QEMU's SMMU IOTLB keyed
 * by (asid, vmid, iova, tg, level). Invalidations are predicates over entries.
 *
 * Simplifications, stated so scenarios do not rely on them:
 * - nG is ignored (every entry is ASID-tagged), as in QEMU; use ASID -1 for stage-2-only contexts.
 * - An entry holds the permissions evaluated for the privilege of the access that filled it, and
 *   only matches lookups of the same privilege (a real TLB re-evaluates AP per access).
 * - Optional capacity with oldest-first eviction; no replacement policy is architectural.
 * - Overlapping entries of different sizes for one context (a TLB conflict) are all kept; a lookup
 *   returns one of them.
 *
 * Lookup cost: the last context looked up is remembered, and each block size of a context has its
 * own open-addressing hash table of block index -> entry (compiled inline, unlike Map.get), so a
 * hit is a multiplication, a hash and one or two probes.
 */
import type { Perm, Translation } from './result'

/** ASIDs and VMIDs: 16-bit values, or -1 for "none" (stage-2-only ASID, stage-1-only VMID). */
const MIN_TAG = -1
const MAX_TAG = 0xffff
const TAG_SPAN = MAX_TAG - MIN_TAG + 1

export interface IotlbEntry {
  readonly vmid: number
  readonly asid: number
  readonly privileged: boolean
  /** Start of the input block the entry covers (aligned to `size`). */
  readonly iova: number
  readonly size: number
  /** Output address of `iova`. */
  readonly oa: number
  /** Start of the intermediate block for nested entries (for IPA-based invalidation). */
  readonly ipa?: number
  readonly level: number
  readonly perm: Perm
  /** Per-stage permissions, to name the denying stage on a hit (QEMU perm / parent_perm). */
  readonly s1Perm?: Perm
  readonly s2Perm?: Perm
  readonly translation: Translation
}

export interface IotlbStats {
  hits: number
  misses: number
  inserts: number
  evictions: number
}

/**
 * One context's entries: per block size (in the order sizes were first inserted), block index ->
 * entry. `scales[i]` is 1 / sizes[i] when that is exact (a power of two), so the block index is a
 * multiplication; 0 otherwise (then it is a division).
 */
interface ContextEntries {
  readonly sizes: number[]
  readonly scales: number[]
  readonly blocks: BlockTable[]
}

const EMPTY = Number.NaN
const MIN_BITS = 4

/**
 * Block index -> entry: an open-addressing hash table (linear probing, backward-shift deletion),
 * small enough for the lookup to be compiled inline. Keys are non-negative integers below 2^53;
 * EMPTY (NaN) marks a free slot and never equals a key.
 */
class BlockTable {
  private bits = MIN_BITS
  private keys = new Float64Array(1 << MIN_BITS).fill(EMPTY)
  private values: (IotlbEntry | undefined)[] = new Array<IotlbEntry | undefined>(1 << MIN_BITS).fill(undefined)
  private count = 0

  get(key: number): IotlbEntry | undefined {
    const keys = this.keys
    const mask = keys.length - 1
    for (let i = slotOf(key, this.bits); ; i = (i + 1) & mask) {
      const k = keys[i] as number
      if (k === key) return this.values[i]
      if (k !== k) return undefined
    }
  }

  set(key: number, value: IotlbEntry): void {
    if ((this.count + 1) * 2 > this.keys.length) this.grow()
    const mask = this.keys.length - 1
    let i = slotOf(key, this.bits)
    while (this.keys[i] === this.keys[i] && this.keys[i] !== key) i = (i + 1) & mask
    if (this.keys[i] !== key) this.count++
    this.keys[i] = key
    this.values[i] = value
  }

  delete(key: number): void {
    const keys = this.keys
    const mask = keys.length - 1
    let i = slotOf(key, this.bits)
    for (; keys[i] !== key; i = (i + 1) & mask) if (keys[i] !== keys[i]) return
    // Backward shift: pull later members of the probe run into the hole, so no tombstones are needed.
    for (let j = (i + 1) & mask; keys[j] === keys[j]; j = (j + 1) & mask) {
      const home = slotOf(keys[j] as number, this.bits)
      const stays = i <= j ? i < home && home <= j : i < home || home <= j
      if (stays) continue
      keys[i] = keys[j] as number
      this.values[i] = this.values[j]
      i = j
    }
    keys[i] = EMPTY
    this.values[i] = undefined
    this.count--
  }

  private grow(): void {
    const oldKeys = this.keys
    const oldValues = this.values
    this.bits++
    this.keys = new Float64Array(1 << this.bits).fill(EMPTY)
    this.values = new Array<IotlbEntry | undefined>(1 << this.bits).fill(undefined)
    this.count = 0
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i] as number
      if (k === k) this.set(k, oldValues[i] as IotlbEntry)
    }
  }
}

/** Fibonacci hashing of both 32-bit halves of a key into `bits` bits. */
function slotOf(key: number, bits: number): number {
  return Math.imul((key | 0) ^ Math.imul((key / 4294967296) | 0, 0x85eb_ca6b), 0x9e37_79b1) >>> (32 - bits)
}

export class Iotlb {
  /** context key -> its entries */
  private readonly contexts = new Map<number, ContextEntries>()
  /** every entry, oldest first (for eviction) */
  private readonly order = new Set<IotlbEntry>()
  /** The context of the last lookup or insert (a lookup usually follows one of the same context). */
  private lastKey = Number.NaN
  private lastContext: ContextEntries | undefined
  readonly stats: IotlbStats = { hits: 0, misses: 0, inserts: 0, evictions: 0 }

  constructor(readonly capacity = Infinity) {}

  get size(): number {
    return this.order.size
  }

  /** Caches `t` for (vmid, asid, privileged); returns the entry. */
  insert(vmid: number, asid: number, privileged: boolean, t: Translation): IotlbEntry {
    const key = contextKey(vmid, asid, privileged)
    const iova = t.input - (t.input % t.size)
    const entry: IotlbEntry = {
      vmid,
      asid,
      privileged,
      iova,
      size: t.size,
      oa: t.oa - (t.input - iova),
      ipa: t.ipa === undefined ? undefined : t.ipa - (t.input - iova),
      level: t.level,
      perm: t.perm,
      s1Perm: t.s1?.perm,
      s2Perm: t.s2?.perm,
      translation: t,
    }
    let ctx = this.contexts.get(key)
    if (ctx === undefined) {
      ctx = { sizes: [], scales: [], blocks: [] }
      this.contexts.set(key, ctx)
      // A lookup that missed for this key may have cached "no context": refresh that cache.
      if (key === this.lastKey) this.lastContext = ctx
    }
    let i = ctx.sizes.indexOf(t.size)
    if (i < 0) {
      i = ctx.sizes.length
      ctx.sizes.push(t.size)
      ctx.scales.push(Number.isInteger(Math.log2(t.size)) ? 1 / t.size : 0)
      ctx.blocks.push(new BlockTable())
    }
    const blocks = ctx.blocks[i] as BlockTable
    const index = iova / t.size
    const old = blocks.get(index)
    if (old !== undefined) this.order.delete(old)
    blocks.set(index, entry)
    this.order.add(entry)
    this.stats.inserts++
    while (this.order.size > this.capacity) {
      const oldest = this.order.values().next().value as IotlbEntry
      this.remove(oldest)
      this.stats.evictions++
    }
    return entry
  }

  /** The entry covering `iova` for (vmid, asid, privileged), or undefined. */
  lookup(vmid: number, asid: number, privileged: boolean, iova: number): IotlbEntry | undefined {
    const key = contextKey(vmid, asid, privileged)
    let ctx = this.lastContext
    if (key !== this.lastKey) {
      ctx = this.contexts.get(key)
      this.lastKey = key
      this.lastContext = ctx
    }
    if (ctx !== undefined) {
      const { sizes, scales } = ctx
      for (let i = 0; i < sizes.length; i++) {
        const scale = scales[i] as number
        const index = scale !== 0 ? Math.floor(iova * scale) : Math.floor(iova / (sizes[i] as number))
        const entry = (ctx.blocks[i] as BlockTable).get(index)
        if (entry !== undefined) {
          this.stats.hits++
          return entry
        }
      }
    }
    this.stats.misses++
    return undefined
  }

  /** Removes every entry `pred` selects; returns how many. */
  invalidate(pred: (e: IotlbEntry) => boolean): number {
    let n = 0
    for (const e of [...this.order]) {
      if (pred(e)) {
        this.remove(e)
        n++
      }
    }
    return n
  }

  /** CMD_TLBI_NSNH_ALL / TLBIALL. */
  invalidateAll(): number {
    const n = this.order.size
    this.contexts.clear()
    this.order.clear()
    this.lastKey = Number.NaN
    this.lastContext = undefined
    return n
  }

  /** CMD_TLBI_NH_ASID / TLBIASID: one ASID (within one VMID when given). */
  invalidateAsid(asid: number, vmid?: number): number {
    return this.invalidate((e) => e.asid === asid && (vmid === undefined || e.vmid === vmid))
  }

  /** CMD_TLBI_S12_VMALL / TLBIVMID: everything tagged with the VMID. */
  invalidateVmid(vmid: number): number {
    return this.invalidate((e) => e.vmid === vmid)
  }

  /** CMD_TLBI_NH_VA / TLBIVA: entries whose input block meets [iova, iova + length). */
  invalidateVa(iova: number, length: number, tags: { asid?: number; vmid?: number } = {}): number {
    return this.invalidate(
      (e) =>
        overlaps(e.iova, e.size, iova, length) &&
        (tags.asid === undefined || e.asid === tags.asid) &&
        (tags.vmid === undefined || e.vmid === tags.vmid),
    )
  }

  /**
   * CMD_TLBI_S2_IPA / TLBIIPAS2: entries of the VMID whose intermediate block (nested entries) or
   * input block (stage-2-only entries, ASID -1) meets [ipa, ipa + length).
   */
  invalidateIpa(vmid: number, ipa: number, length: number): number {
    return this.invalidate((e) => {
      if (e.vmid !== vmid) return false
      const start = e.ipa ?? (e.asid === MIN_TAG ? e.iova : undefined)
      return start !== undefined && overlaps(start, e.size, ipa, length)
    })
  }

  private remove(e: IotlbEntry): void {
    const ctx = this.contexts.get(contextKey(e.vmid, e.asid, e.privileged))
    const i = ctx === undefined ? -1 : ctx.sizes.indexOf(e.size)
    const blocks = ctx?.blocks[i]
    if (blocks !== undefined && blocks.get(e.iova / e.size) === e) blocks.delete(e.iova / e.size)
    this.order.delete(e)
  }
}

function contextKey(vmid: number, asid: number, privileged: boolean): number {
  if (!isTag(vmid) || !isTag(asid)) throw new RangeError(`IOTLB tags vmid ${vmid} / asid ${asid} are not in [-1, 0xffff]`)
  return ((vmid - MIN_TAG) * TAG_SPAN + (asid - MIN_TAG)) * 2 + (privileged ? 1 : 0)
}

function isTag(v: number): boolean {
  return Number.isInteger(v) && v >= MIN_TAG && v <= MAX_TAG
}

function overlaps(start: number, size: number, from: number, length: number): boolean {
  return start < from + length && from < start + size
}
