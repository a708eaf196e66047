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

export class Iotlb {
  /** context key -> block size -> block start -> entry */
  private readonly contexts = new Map<number, Map<number, Map<number, IotlbEntry>>>()
  /** every entry, oldest first (for eviction) */
  private readonly order = new Set<IotlbEntry>()
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
    let bySize = this.contexts.get(key)
    if (bySize === undefined) {
      bySize = new Map()
      this.contexts.set(key, bySize)
    }
    let blocks = bySize.get(t.size)
    if (blocks === undefined) {
      blocks = new Map()
      bySize.set(t.size, blocks)
    }
    const old = blocks.get(iova)
    if (old !== undefined) this.order.delete(old)
    blocks.set(iova, entry)
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
    const bySize = this.contexts.get(contextKey(vmid, asid, privileged))
    if (bySize !== undefined) {
      for (const [size, blocks] of bySize) {
        const entry = blocks.get(iova - (iova % size))
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
    const blocks = this.contexts.get(contextKey(e.vmid, e.asid, e.privileged))?.get(e.size)
    if (blocks !== undefined && blocks.get(e.iova) === e) blocks.delete(e.iova)
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
