/**
 * What VFIO type1 (drivers/vfio/vfio_iommu_type1.c) and iommufd's io_pagetable
 * (drivers/iommu/iommufd/io_pagetable.c) share: a user's mappings kept as disjoint ranges sorted
 * by IOVA (type1's rb-tree of vfio_dma, iopt's interval tree of areas), and pinned user pages
 * written into an iommu domain, all or nothing (vfio_iommu_map / iopt_area_fill_domain: a failed
 * iommu_map unmaps what the call mapped).
 *
 * The rules that decide which mappings may exist differ between the two (type1's v1/v2 unmap,
 * iommufd's alignment and areas) and stay in their own modules.
 */
import { ok, type Result } from '../errno'
import type { IommuProt } from '../pgtable'
import type { IommuDomain } from './domain'

/** A range of IOVA: [iova, iova + size). */
export interface IovaSpan {
  readonly iova: bigint
  readonly size: bigint
}

/** One physically contiguous piece of pinned user memory, at `offset` into the pinned range. */
export interface PinnedPiece {
  readonly offset: bigint
  readonly pa: number
  readonly length: bigint
}

/**
 * The user pages behind a mapping, as the VMM's address space gives them (model/vfio/process.ts
 * implements it): pin a range (EFAULT when nothing is mapped there) and give it back.
 */
export interface UserPages {
  pin(vaddr: bigint, size: bigint): Result<PinnedPiece[]>
  unpin(vaddr: bigint, size: bigint): void
}

/**
 * Disjoint ranges sorted by IOVA. Finding a range is a binary search over their ends (disjoint
 * and sorted, so the ends ascend too).
 */
export class SortedRanges<T extends IovaSpan> {
  private readonly items: T[] = []

  get length(): number {
    return this.items.length
  }

  at(i: number): T | undefined {
    return this.items[i]
  }

  all(): readonly T[] {
    return this.items
  }

  /** Index of the first range that ends above `iova` (length if none). */
  firstEndingAfter(iova: bigint): number {
    let lo = 0
    let hi = this.items.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const d = this.items[mid] as T
      if (d.iova + d.size > iova) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  /** The range holding `iova`, if any. */
  containing(iova: bigint): T | undefined {
    const d = this.items[this.firstEndingAfter(iova)]
    return d !== undefined && d.iova <= iova ? d : undefined
  }

  /** Ranges meeting [iova, iova + size), ascending. */
  overlapping(iova: bigint, size: bigint): T[] {
    const end = iova + size
    const out: T[] = []
    for (let i = this.firstEndingAfter(iova); i < this.items.length && (this.items[i] as T).iova < end; i++) out.push(this.items[i] as T)
    return out
  }

  /** Insert a range that meets no other. */
  insert(item: T): void {
    this.items.splice(this.firstEndingAfter(item.iova), 0, item)
  }

  /** Remove `count` ranges from index `first` on; returns them. */
  removeAt(first: number, count: number): T[] {
    return this.items.splice(first, count)
  }

  /** Remove one range (by identity); false when it is not there. */
  remove(item: T): boolean {
    const i = this.items.indexOf(item)
    if (i < 0) return false
    this.items.splice(i, 1)
    return true
  }
}

/**
 * Write pinned user memory into `domain` at `iova` (one iommu_map per physically contiguous
 * piece); on a failure unmap what this call mapped and return the error.
 */
export function mapPinnedPieces(domain: IommuDomain, iova: bigint, pieces: readonly PinnedPiece[], prot: IommuProt): Result<void> {
  const done: { iova: bigint; length: bigint }[] = []
  for (const piece of pieces) {
    const r = domain.map(iova + piece.offset, piece.pa, piece.length, prot)
    if (!r.ok) {
      for (const d of done) domain.unmap(d.iova, d.length)
      return r
    }
    done.push({ iova: iova + piece.offset, length: piece.length })
  }
  return ok()
}
