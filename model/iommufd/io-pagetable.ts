/**
 * An IOAS's io_pagetable (drivers/iommu/iommufd/io_pagetable.c, Linux 7.1): the user's areas
 * (IOVA -> user VA, sorted and disjoint), the reserved IOVA (domain apertures, the devices'
 * reserved regions), the domains the areas are written into, and the IOVA alignment those
 * domains impose.
 *
 * Pages are pinned only when an area is written into a domain (iopt_area_fill_domain): an IOAS
 * with no domain maps lazily, so a user VA with nothing behind it is found only when a domain is
 * added (EFAULT then).
 */
import { fail, ok, type Result } from '../errno'
import type { IommuDomain } from '../iommu/domain'
import { mapPinnedPieces, SortedRanges, type UserPages } from '../iommu/user-mappings'
import type { IommuProt } from '../pgtable'
import { U64_MAX } from './uapi'

/** The kernel's PAGE_SIZE (a 4K arm64 host). */
export const PAGE_SIZE = 0x1000n
/** SIZE_MAX on a 64-bit kernel. */
const SIZE_MAX = U64_MAX

/** struct iopt_area: IOVA [iova, iova + size) -> user VA, with the prot it was mapped with. */
export interface IoptArea {
  readonly iova: bigint
  readonly size: bigint
  readonly vaddr: bigint
  readonly prot: IommuProt
}

/** A reserved IOVA range [start, last] and who reserved it (a domain's aperture, a device). */
interface Reserved {
  readonly start: bigint
  readonly last: bigint
  readonly owner: object
}

export class IoPagetable {
  private readonly areas = new SortedRanges<IoptArea>()
  private readonly reserved: Reserved[] = []
  private readonly domains: IommuDomain[] = []
  /** iopt->iova_alignment: 1 until a domain is added (iopt_init_table). */
  private alignment = 1n

  constructor(private readonly pages: UserPages) {}

  get iovaAlignment(): bigint {
    return this.alignment
  }

  /** The areas, ascending. */
  mappings(): readonly IoptArea[] {
    return this.areas.all()
  }

  /** The area holding `iova`, if any. */
  areaAt(iova: bigint): IoptArea | undefined {
    return this.areas.containing(iova)
  }

  get domainCount(): number {
    return this.domains.length
  }

  /**
   * iopt_map_user_pages with a fixed IOVA (IOMMU_IOAS_MAP_FIXED_IOVA), after iommufd_ioas_map's own
   * checks: iopt_alloc_user_pages (uptr + length overflows: EOVERFLOW; length 0 or beyond
   * SIZE_MAX - PAGE_SIZE: EINVAL), iopt_alloc_area_pages (length not aligned: EINVAL),
   * iopt_check_iova (IOVA not aligned: EINVAL; range wraps: EOVERFLOW; meets reserved IOVA:
   * EINVAL; meets an area: EEXIST), iopt_insert_area (the user VA's page offset not aligned:
   * EINVAL), then every domain is filled (pinning: EFAULT; iommu_map errors), all or nothing.
   */
  mapFixed(iova: bigint, vaddr: bigint, length: bigint, prot: IommuProt): Result<void> {
    if (vaddr + length > U64_MAX) return fail('EOVERFLOW', 'user_va + length overflows')
    if (length === 0n || length > SIZE_MAX - PAGE_SIZE) return fail('EINVAL', 'length is 0 or too large (iopt_alloc_pages)')
    const mask = this.alignment - 1n
    if ((length & mask) !== 0n) return fail('EINVAL', `length 0x${length.toString(16)} is not a multiple of the IOVA alignment 0x${this.alignment.toString(16)}`)
    if ((iova & mask) !== 0n) return fail('EINVAL', `IOVA 0x${iova.toString(16)} is not aligned to 0x${this.alignment.toString(16)}`)
    const last = iova + length - 1n
    if (last > U64_MAX) return fail('EOVERFLOW', 'iova + length - 1 overflows')
    if (this.reservedMeets(iova, last)) return fail('EINVAL', `[0x${iova.toString(16)}, 0x${last.toString(16)}] meets reserved IOVA (a domain's aperture or a device's reserved region)`)
    if (this.areas.overlapping(iova, length).length > 0) return fail('EEXIST', `[0x${iova.toString(16)}, 0x${last.toString(16)}] meets an existing mapping`)
    if (((vaddr % PAGE_SIZE) & mask) !== 0n) return fail('EINVAL', `user_va 0x${vaddr.toString(16)} is not aligned to 0x${this.alignment.toString(16)} within its page`)
    const area: IoptArea = { iova, size: length, vaddr, prot }
    const filled: IommuDomain[] = []
    for (const d of this.domains) {
      const r = this.fillArea(d, area)
      if (!r.ok) {
        for (const f of filled) f.unmap(area.iova, area.size)
        return r
      }
      filled.push(d)
    }
    this.areas.insert(area)
    return ok()
  }

  /**
   * iopt_unmap_iova: length 0 is EINVAL, a wrapping range EOVERFLOW. Then every area meeting
   * [iova, last], lowest first (iopt_unmap_iova_range): an area reaching outside the range stops
   * the walk with ENOENT - after the areas before it are already gone; no area at all is ENOENT.
   * Success carries the bytes unmapped. `removed` (for the caller's bookkeeping) gets every area
   * removed, also on the ENOENT that follows some.
   */
  unmap(iova: bigint, length: bigint, removed: IoptArea[] = []): Result<bigint> {
    if (length === 0n) return fail('EINVAL', 'length is 0')
    const last = iova + length - 1n
    if (last > U64_MAX) return fail('EOVERFLOW', 'iova + length - 1 overflows')
    return this.unmapRange(iova, last, removed)
  }

  /** iopt_unmap_all: everything; an empty IOAS is success (0 bytes). */
  unmapAll(removed: IoptArea[] = []): Result<bigint> {
    const r = this.unmapRange(0n, U64_MAX, removed)
    if (!r.ok && r.error.errno === 'ENOENT' && removed.length === 0) return ok(0n)
    return r
  }

  private unmapRange(start: bigint, last: bigint, removed: IoptArea[]): Result<bigint> {
    let unmapped = 0n
    for (;;) {
      const area = this.areas.overlapping(start, last - start + 1n)[0]
      if (area === undefined) break
      const areaLast = area.iova + area.size - 1n
      if (area.iova < start || areaLast > last) {
        return fail('ENOENT', `the mapping [0x${area.iova.toString(16)}, 0x${areaLast.toString(16)}] reaches outside the range: an unmap must cover whole mappings`)
      }
      this.areas.remove(area)
      for (const d of this.domains) d.unmap(area.iova, area.size)
      this.pages.unpin(area.vaddr, area.size)
      removed.push(area)
      unmapped += area.size
    }
    if (unmapped === 0n) return fail('ENOENT', 'no mapping in the range')
    return ok(unmapped)
  }

  /**
   * iopt_table_add_domain: the domain's smallest page becomes the alignment (more than PAGE_SIZE:
   * EINVAL; an existing area not aligned to it: EADDRINUSE), the IOVA outside its aperture is
   * reserved (an area there: EADDRINUSE), then every area is written into it (iopt_fill_domain),
   * all or nothing.
   */
  addDomain(domain: IommuDomain): Result<void> {
    if (this.domains.includes(domain)) return fail('EEXIST', 'the domain is already in this IOAS')
    const bitmap = domain.pgsizeBitmap ?? 0n
    const smallest = bitmap === 0n ? 1n : bitmap & -bitmap
    const newAlignment = smallest > this.alignment ? smallest : this.alignment
    if (newAlignment > PAGE_SIZE) return fail('EINVAL', `the domain's smallest page 0x${smallest.toString(16)} is larger than PAGE_SIZE`)
    if (newAlignment !== this.alignment) {
      const m = newAlignment - 1n
      const bad = this.areas.all().find((a) => (a.iova & m) !== 0n || (a.size & m) !== 0n || ((a.vaddr % PAGE_SIZE) & m) !== 0n)
      if (bad !== undefined) return fail('EADDRINUSE', `the mapping at 0x${bad.iova.toString(16)} is not aligned to the domain's page size 0x${newAlignment.toString(16)}`)
    }
    const aperture = domain.aperture
    if (aperture !== undefined) {
      if (aperture.start !== 0n) {
        const r = this.reserve(0n, aperture.start - 1n, domain)
        if (!r.ok) return r
      }
      if (aperture.end !== U64_MAX) {
        const r = this.reserve(aperture.end + 1n, U64_MAX, domain)
        if (!r.ok) {
          this.removeReserved(domain)
          return r
        }
      }
    }
    const filled: IoptArea[] = []
    for (const area of this.areas.all()) {
      const r = this.fillArea(domain, area)
      if (!r.ok) {
        for (const a of filled) domain.unmap(a.iova, a.size)
        this.removeReserved(domain)
        return r
      }
      filled.push(area)
    }
    this.alignment = newAlignment
    this.domains.push(domain)
    return ok()
  }

  /** iopt_table_remove_domain: unmap every area from it, drop its reservations, recompute the alignment. */
  removeDomain(domain: IommuDomain): void {
    const i = this.domains.indexOf(domain)
    if (i < 0) throw new Error('iopt_table_remove_domain of a domain the IOAS does not have')
    this.domains.splice(i, 1)
    for (const area of this.areas.all()) domain.unmap(area.iova, area.size)
    this.removeReserved(domain)
    // iopt_calculate_iova_alignment: what the remaining domains need.
    let a = 1n
    for (const d of this.domains) {
      const b = d.pgsizeBitmap ?? 0n
      const s = b === 0n ? 1n : b & -b
      if (s > a) a = s
    }
    this.alignment = a
  }

  /**
   * The IOVA not reserved, as IOMMU_IOAS_IOVA_RANGES reports it: the holes of the reserved
   * intervals within [0, ULONG_MAX] (interval_tree_for_each_span over reserved_itree), ascending.
   */
  allowedRanges(): { start: bigint; last: bigint }[] {
    const taken = [...this.reserved].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
    const holes: { start: bigint; last: bigint }[] = []
    let next = 0n
    for (const r of taken) {
      if (r.start > next) holes.push({ start: next, last: r.start - 1n })
      if (r.last >= next) next = r.last + 1n
      if (next > U64_MAX) return holes
    }
    holes.push({ start: next, last: U64_MAX })
    return holes
  }

  /** iopt_reserve_iova: EADDRINUSE when an area meets [start, last]. */
  reserve(start: bigint, last: bigint, owner: object): Result<void> {
    if (this.areas.overlapping(start, last - start + 1n).length > 0) {
      return fail('EADDRINUSE', `[0x${start.toString(16)}, 0x${last.toString(16)}] is mapped and cannot be reserved`)
    }
    this.reserved.push({ start, last, owner })
    return ok()
  }

  /** iopt_remove_reserved_iova: every range `owner` reserved. */
  removeReserved(owner: object): void {
    for (let i = this.reserved.length - 1; i >= 0; i--) if ((this.reserved[i] as Reserved).owner === owner) this.reserved.splice(i, 1)
  }

  private reservedMeets(start: bigint, last: bigint): boolean {
    return this.reserved.some((r) => r.start <= last && start <= r.last)
  }

  /** iopt_area_fill_domain: pin the area's pages and map them. */
  private fillArea(domain: IommuDomain, area: IoptArea): Result<void> {
    const pinned = this.pages.pin(area.vaddr, area.size)
    if (!pinned.ok) return pinned
    return mapPinnedPieces(domain, area.iova, pinned.value, area.prot)
  }
}
