/**
 * The VFIO type1 IOMMU driver: one instance per container once VFIO_SET_IOMMU picked it.
 * Domains come from the iommu layer; mappings are written through it into each domain's page
 * tables (stage 2 for a nested domain). The vfio_dma list below is type1's own bookkeeping, as in
 * the kernel (its rb-tree of user mappings), not a translation table.
 *
 * Facts: seed patch 2/3; docs/facts/kernel-semantics.md#rfc, #merged, #map_dma and #unmap_dma
 * (the errno order of MAP/UNMAP).
 */
import { fail, ok, type Result } from '../errno'
import type { ReservedRegion } from '../hw/features'
import type { IommuCore } from '../iommu/core'
import type { IommuDomain } from '../iommu/domain'
import { mapPinnedPieces, SortedRanges } from '../iommu/user-mappings'
import type { IommuProt } from '../pgtable'
import { driverFamily, type Profile } from '../profiles'
import type { SmmuInstance } from '../smmu/instance'
import type { DmaMapRequest, DmaUnmapRequest, IommuInfo, IovaRange } from './backend'
import type { ProcessMemory } from './process'
import {
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_MINSZ,
  VFIO_IOMMU_TYPE1_INFO_SIZE,
  SIZEOF_CAP_DMA_AVAIL,
  SIZEOF_CAP_IOVA_RANGE,
  SIZEOF_CAP_MIGRATION,
  SIZEOF_IOVA_RANGE,
  DIRTY_BITMAP_SIZE_MAX,
  extensionValue,
} from './uapi'

const U64_MAX = (1n << 64n) - 1n

/** What type1 needs to know of a group: its streams and the IOMMU they sit behind. */
export interface Type1Group {
  readonly id: number
  readonly smmu: SmmuInstance
  readonly streams: readonly number[]
  readonly reservedRegions: readonly ReservedRegion[]
}

/** What type1 is given by the machine. */
export interface Type1Env {
  readonly profile: Profile
  readonly iommu: IommuCore
  readonly process: ProcessMemory
  /** vfio_iommu_type1.dma_entry_limit on this machine (undefined: the profile's default). */
  readonly dmaEntryLimit?: number
  /** Whether the machine's IOMMU driver accepts a nesting request on a fresh domain. */
  nestingProbe(): boolean
}

interface VfioDma {
  readonly iova: bigint
  readonly size: bigint
  vaddr: bigint
  vaddrInvalid: boolean
  readonly prot: { read: boolean; write: boolean }
}

interface Type1Domain {
  readonly domain: IommuDomain
  readonly groups: Set<Type1Group>
}

export type Type1Mode = { readonly v2: boolean; readonly nesting: boolean }

/**
 * vfio_iommu_type1_open(arg): TYPE1 -> v1; NESTING -> nesting, falling through to TYPE1v2 -> v2
 * (6.13+: __VFIO_RESERVED_TYPE1_NESTING_IOMMU falls through to v2 without nesting); anything
 * else -> EINVAL.
 */
export function type1Open(profile: Profile, type: number): Result<Type1Mode> {
  const uapi = profile.vfio.uapi
  if (type === extensionValue(uapi, 'TYPE1_IOMMU')) return ok({ v2: false, nesting: false })
  if (type === extensionValue(uapi, 'TYPE1v2_IOMMU')) return ok({ v2: true, nesting: false })
  if (type === extensionValue(uapi, 'TYPE1_NESTING_IOMMU')) return ok({ v2: true, nesting: profile.vfio.nestingExtension !== 'removed' })
  return fail('EINVAL', `type1 does not implement IOMMU type ${type}`)
}

export class Type1Iommu {
  private readonly domains: Type1Domain[] = []
  /** Sorted by iova; never overlapping. */
  private readonly dmas = new SortedRanges<VfioDma>()
  private dmaAvail: number

  constructor(
    private readonly env: Type1Env,
    readonly mode: Type1Mode,
  ) {
    this.dmaAvail = env.profile.vfio.dmaEntryLimit === undefined ? Infinity : (env.dmaEntryLimit ?? env.profile.vfio.dmaEntryLimit)
  }

  /**
   * CHECK_EXTENSION as type1 answers it; `iommu` is undefined when the container has no driver
   * yet (the VFIO core then asks every registered driver with a NULL iommu).
   */
  static checkExtension(env: Type1Env, iommu: Type1Iommu | undefined, ext: number): number {
    const v = env.profile.vfio
    const is = (name: string): boolean => extensionValue(v.uapi, name) === ext
    if (is('TYPE1_IOMMU') || is('TYPE1v2_IOMMU')) return 1
    if (is('TYPE1_NESTING_IOMMU')) {
      if (v.nestingExtension === 'removed') return 0
      if (v.nestingExtension === 'always') return 1
      if (v.nestingExtension === 'driver-probe') return env.nestingProbe() ? 1 : 0
      return iommu === undefined ? 1 : iommu.allDomainsNested() ? 1 : 0
    }
    if (is('UNMAP_ALL')) return (v.unmapFlags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0 ? 1 : 0
    if (is('UPDATE_VADDR')) return v.updateVaddr && iommu !== undefined ? 1 : 0
    if (is('DMA_CC_IOMMU')) return iommu === undefined ? 0 : iommu.allDomainsCoherent() ? 1 : 0
    return 0
  }

  /** vfio_iommu_type1_attach_group. */
  attachGroup(group: Type1Group): Result<void> {
    if (this.domains.some((d) => d.groups.has(group))) return fail('EINVAL', `group ${group.id} is already attached`)
    const allocated = this.allocDomain(group)
    if (!allocated.ok) return allocated
    const domain = allocated.value
    const r = this.attachNewDomain(domain, group)
    if (!r.ok || r.value === 'joined') this.env.iommu.freeDomain(domain)
    return r.ok ? ok() : r
  }

  /** The group's domain as this kernel's type1 allocates it (VfioBehaviour.domainAlloc). */
  private allocDomain(group: Type1Group): Result<IommuDomain> {
    if (this.env.profile.vfio.domainAlloc === 'device') return this.env.iommu.allocDomainFor(group.smmu)
    return ok(this.env.iommu.allocDomain(driverFamily(group.smmu.features.arch)))
  }

  /**
   * The body of attach_group for a freshly allocated `domain`: 'own' when the group keeps it,
   * 'joined' when the group went to an existing domain (the caller frees `domain` then, and on error).
   */
  private attachNewDomain(domain: IommuDomain, group: Type1Group): Result<'own' | 'joined'> {
    const policy = this.env.profile.vfio.nestingAttach
    if (this.mode.nesting) {
      const asked = domain.requestNesting()
      if (!asked.ok && policy === 'propagate-error') return asked
      if (!asked.ok && policy === 'require-nested') return fail('EOPNOTSUPP', `the IOMMU cannot nest: ${asked.error.message}`)
      // 'ignore-failure': the RFC carries on with a domain that may not nest.
    }

    const attached = attachStreams(domain, group)
    if (!attached.ok) return attached

    if (this.mode.nesting && policy === 'require-nested') {
      const nested = domain.getAttr('NESTING')
      if (!nested.ok || nested.value !== 1) return fail('EOPNOTSUPP', `SMMU ${group.smmu.name} gave the domain stage ${domain.stage}, not nested`)
    }

    if (this.env.profile.vfio.iovaList) {
      const conflict = this.iovaConflict(domain, group)
      if (conflict !== undefined) return fail('EINVAL', conflict)
    }

    // Try an existing domain of the same driver and coherency first (one domain per IOMMU).
    for (const d of this.domains) {
      if (d.domain.family !== domain.family || this.coherent(d.domain) !== this.coherent(domain)) continue
      detachStreams(domain, group)
      if (attachStreams(d.domain, group).ok) {
        d.groups.add(group)
        return ok('joined')
      }
      const again = attachStreams(domain, group)
      if (!again.ok) return again
    }

    // A new domain: replay every existing mapping into it (vfio_iommu_replay).
    for (const dma of this.dmas.all()) {
      const r = this.mapInto(domain, dma)
      if (!r.ok) return r
    }
    this.domains.push({ domain, groups: new Set([group]) })
    return ok('own')
  }

  /** vfio_iommu_type1_detach_group: the last group of a domain frees it; the last domain takes the mappings. */
  detachGroup(group: Type1Group): void {
    const i = this.domains.findIndex((d) => d.groups.has(group))
    const d = this.domains[i]
    if (d === undefined) throw new Error(`group ${group.id} is not attached to this container`)
    detachStreams(d.domain, group)
    d.groups.delete(group)
    if (d.groups.size > 0) return
    if (this.domains.length === 1) this.removeAllDmas()
    this.env.iommu.freeDomain(d.domain)
    this.domains.splice(i, 1)
  }

  /** vfio_iommu_type1_release. */
  release(): void {
    this.removeAllDmas()
    for (const d of this.domains.splice(0)) {
      for (const g of d.groups) detachStreams(d.domain, g)
      this.env.iommu.freeDomain(d.domain)
    }
  }

  /** The IOMMU domain a group's devices use. */
  domainOf(groupId: number): IommuDomain | undefined {
    return this.domains.find((d) => [...d.groups].some((g) => g.id === groupId))?.domain
  }

  liveDomains(): IommuDomain[] {
    return this.domains.map((d) => d.domain)
  }

  /** Mappings as (iova, size) pairs, ascending. */
  mappings(): { iova: bigint; size: bigint }[] {
    return this.dmas.all().map((d) => ({ iova: d.iova, size: d.size }))
  }

  get availableMappings(): number {
    return this.dmaAvail
  }

  /** pgsize_bitmap of the container: what every domain supports. */
  pgsizeBitmap(): bigint {
    return this.domains.reduce((bits, d) => bits & (d.domain.pgsizeBitmap ?? 0n), U64_MAX)
  }

  /** The IOVA ranges MAP accepts (5.4+): the apertures' intersection minus reserved regions. */
  iovaRanges(): IovaRange[] {
    let ranges: IovaRange[] = []
    this.domains.forEach((d, i) => {
      const ap = d.domain.aperture
      if (ap === undefined) return
      ranges = i === 0 ? [ap] : intersect(ranges, ap)
    })
    for (const r of this.reservedRegions()) ranges = subtract(ranges, r)
    return ranges
  }

  /**
   * VFIO_IOMMU_GET_INFO (vfio_iommu_type1_get_info). The capability chain is built in the order
   * migration (5.8+), dma_avail (5.10+), iova_range (5.4+; left out when the IOVA list is empty),
   * each capability's size rounded up to profile.vfio.infoCapAlign (8 from 6.6, "vfio: align
   * capability structures"), after the 24-byte struct. A caller's argsz below 16 is EINVAL; when
   * the chain does not fit the kernel copies none of it, sets VFIO_IOMMU_INFO_CAPS all the same and
   * writes the size it needs into argsz (a VMM then calls again with that size).
   */
  getInfo(argsz?: number): Result<IommuInfo> {
    const v = this.env.profile.vfio
    if (argsz !== undefined && argsz < VFIO_IOMMU_TYPE1_INFO_MINSZ) return fail('EINVAL', `argsz ${argsz} is below the ${VFIO_IOMMU_TYPE1_INFO_MINSZ} bytes GET_INFO reads`)
    const pgsizes = this.pgsizeBitmap()
    const info: IommuInfo = { flags: VFIO_IOMMU_INFO_PGSIZES, iovaPgsizes: pgsizes }
    if (!v.infoCaps) return ok(argsz === undefined ? info : { ...info, argsz, capsCopied: false })
    const ranges = this.iovaRanges()
    const hasDmaAvail = Number.isFinite(this.dmaAvail)
    const chain: [string, number][] = [
      ['migration', SIZEOF_CAP_MIGRATION],
      ...(hasDmaAvail ? [['dma_avail', SIZEOF_CAP_DMA_AVAIL] as [string, number]] : []),
      ...(ranges.length > 0 ? [['iova_range', SIZEOF_CAP_IOVA_RANGE + ranges.length * SIZEOF_IOVA_RANGE] as [string, number]] : []),
    ]
    const need = chain.reduce((sum, [, size]) => sum + Math.ceil(size / v.infoCapAlign) * v.infoCapAlign, VFIO_IOMMU_TYPE1_INFO_SIZE)
    const copied = argsz === undefined || argsz >= need
    return ok({
      flags: VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS,
      iovaPgsizes: pgsizes,
      migration: { flags: 0, pgsizeBitmap: lowestBit(pgsizes), maxDirtyBitmapSize: DIRTY_BITMAP_SIZE_MAX },
      ...(hasDmaAvail ? { dmaAvail: this.dmaAvail } : {}),
      ...(ranges.length > 0 ? { iovaRanges: ranges } : {}),
      caps: chain.map(([name]) => name),
      ...(argsz === undefined ? {} : { argsz: copied ? argsz : need, capsCopied: copied }),
    })
  }

  /**
   * VFIO_IOMMU_MAP_DMA, checks in the kernel's order. `vaddr` is what the VMM passes (it made the
   * buffer for req.vaddr and gives it back when the call fails: see ContainerModel.mapDma).
   */
  map(req: DmaMapRequest, vaddr: bigint): Result<void> {
    const v = this.env.profile.vfio
    const known = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | (v.updateVaddr ? VFIO_DMA_MAP_FLAG_VADDR : 0)
    if ((req.flags & ~known) !== 0) return fail('EINVAL', `unknown MAP_DMA flags 0x${(req.flags & ~known).toString(16)}`)
    const wraps = req.size !== 0n && (req.iova + req.size - 1n > U64_MAX || vaddr + req.size - 1n > U64_MAX)
    if (v.rangeWrap.map === 'EOVERFLOW' && wraps) return fail('EOVERFLOW', 'iova + size - 1 or vaddr + size - 1 overflows 64 bits')
    const prot = { read: (req.flags & VFIO_DMA_MAP_FLAG_READ) !== 0, write: (req.flags & VFIO_DMA_MAP_FLAG_WRITE) !== 0 }
    const setVaddr = (req.flags & VFIO_DMA_MAP_FLAG_VADDR) !== 0
    const anyProt = prot.read || prot.write
    if (anyProt === setVaddr) return fail('EINVAL', setVaddr ? 'VADDR cannot be combined with READ/WRITE' : 'neither READ nor WRITE')
    const { iova, size } = req
    if (!isU64(iova) || !isU64(size)) return fail('EINVAL', 'iova and size are __u64')
    const pgsize = lowestBit(this.pgsizeBitmap())
    if (size === 0n || ((size | iova | vaddr) & (pgsize - 1n)) !== 0n) {
      return fail('EINVAL', `size 0x${size.toString(16)}, iova 0x${iova.toString(16)} and vaddr must be non-zero multiples of 0x${pgsize.toString(16)}`)
    }
    if (iova + size - 1n > U64_MAX || vaddr + size - 1n > U64_MAX) return fail('EINVAL', 'iova or vaddr range wraps')
    const existing = this.dmas.overlapping(iova, size)
    if (setVaddr) return this.updateVaddr(existing[0], iova, size, vaddr)
    if (existing.length > 0) return fail('EEXIST', `[0x${iova.toString(16)}, +0x${size.toString(16)}) overlaps an existing mapping`)
    if (this.dmaAvail <= 0) return fail('ENOSPC', 'dma_entry_limit mappings already exist')
    if (v.iovaList && !this.inOneIovaRange(iova, iova + size - 1n)) {
      return fail('EINVAL', `[0x${iova.toString(16)}, +0x${size.toString(16)}) is not inside one valid IOVA range (aperture or reserved region)`)
    }
    const dma: VfioDma = { iova, size, vaddr, vaddrInvalid: false, prot }
    const mapped: IommuDomain[] = []
    for (const d of this.domains) {
      const r = this.mapInto(d.domain, dma)
      if (!r.ok) {
        for (const m of mapped) m.unmap(iova, size)
        return r
      }
      mapped.push(d.domain)
    }
    this.dmas.insert(dma)
    this.dmaAvail--
    return ok()
  }

  /** VFIO_IOMMU_UNMAP_DMA, checks in the kernel's order; success carries the size removed. */
  unmap(req: DmaUnmapRequest): Result<{ unmapped: bigint }> {
    const v = this.env.profile.vfio
    if ((req.flags & ~v.unmapFlags) !== 0) return fail('EINVAL', `unknown UNMAP_DMA flags 0x${(req.flags & ~v.unmapFlags).toString(16)}`)
    const all = (req.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0
    const invalidateVaddr = (req.flags & VFIO_DMA_UNMAP_FLAG_VADDR) !== 0
    if ((req.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0) {
      if (all || invalidateVaddr) return fail('EINVAL', 'GET_DIRTY_BITMAP cannot be combined with ALL or VADDR')
      return fail('EINVAL', 'dirty page tracking is not enabled')
    }
    const pgsize = lowestBit(this.pgsizeBitmap())
    const { iova } = req
    let size = req.size
    if (!isU64(iova) || !isU64(size)) return fail('EINVAL', 'iova and size are __u64')
    if ((iova & (pgsize - 1n)) !== 0n) return fail('EINVAL', `iova is not a multiple of 0x${pgsize.toString(16)}`)
    if (all) {
      if (iova !== 0n || size !== 0n) return fail('EINVAL', 'UNMAP_ALL wants iova and size 0')
      size = U64_MAX
    } else if (size === 0n || (size & (pgsize - 1n)) !== 0n) {
      return fail('EINVAL', `size must be a non-zero multiple of 0x${pgsize.toString(16)}`)
    } else if (iova + size - 1n > U64_MAX && v.rangeWrap.unmap !== 'unchecked') {
      return fail(v.rangeWrap.unmap, `iova + size - 1 passes 2^64 - 1`)
    }
    // Up to 6.17 the range ends at iova + size computed in 64 bits: past 2^64 it wraps below iova.
    const wrapped = !all && v.unmapEnd === 'wrapping-exclusive' && iova + size > U64_MAX
    const last = all ? U64_MAX : (iova + size - 1n) & U64_MAX
    if (this.mode.v2 && !all) {
      const head = this.dmas.containing(iova)
      if (head !== undefined && head.iova < iova) return fail('EINVAL', `the range starts inside the mapping at 0x${head.iova.toString(16)}`)
      const tail = this.dmas.containing(last)
      // The kernel compares the mapping's end with the range's end, both computed in 64 bits.
      if (tail !== undefined && ((tail.iova + tail.size) & U64_MAX) !== ((last + 1n) & U64_MAX)) {
        return fail('EINVAL', `the range ends inside the mapping at 0x${tail.iova.toString(16)}`)
      }
    }
    // A wrapped end lies below iova: the search for the first mapping of [iova, end) finds none.
    if (wrapped) return ok({ unmapped: 0n })
    let unmapped = 0n
    const first = this.dmas.firstEndingAfter(iova)
    let count = 0
    for (let i = first; i < this.dmas.length; i++) {
      const dma = this.dmas.at(i) as VfioDma
      if (dma.iova > last) break
      if (!this.mode.v2 && iova > dma.iova) break
      if (invalidateVaddr && dma.vaddrInvalid) {
        // vfio_dma_do_unmap (5.12+): a vaddr invalidated twice is an error; the mappings this call
        // invalidated get their vaddr back.
        for (let j = first; j < i; j++) (this.dmas.at(j) as VfioDma).vaddrInvalid = false
        return fail('EINVAL', `the vaddr of the mapping at 0x${dma.iova.toString(16)} is already invalid`)
      }
      if (invalidateVaddr) dma.vaddrInvalid = true
      count++
      unmapped += dma.size
    }
    if (!invalidateVaddr) this.removeDmas(first, count)
    return ok({ unmapped })
  }

  private updateVaddr(dma: VfioDma | undefined, iova: bigint, size: bigint, vaddr: bigint): Result<void> {
    if (dma === undefined) return fail('ENOENT', 'no mapping to give a new vaddr')
    if (!dma.vaddrInvalid || dma.iova !== iova || dma.size !== size) return fail('EINVAL', 'VADDR must name exactly one mapping whose vaddr was invalidated')
    dma.vaddr = vaddr
    dma.vaddrInvalid = false
    return ok()
  }

  private mapInto(domain: IommuDomain, dma: VfioDma): Result<void> {
    const pinned = this.env.process.pin(dma.vaddr, dma.size)
    if (!pinned.ok) return pinned
    const prot: IommuProt = { ...dma.prot, cache: this.env.profile.vfio.mapCache === 'always' || this.coherent(domain) }
    return mapPinnedPieces(domain, dma.iova, pinned.value, prot)
  }

  /**
   * Removes `count` mappings from index `first` on (adjacent in iova order): unmapped from every
   * domain, unpinned (the model's VMM then frees the buffer it made for the mapping), and dropped
   * from the list in one splice.
   */
  private removeDmas(first: number, count: number): void {
    const gone = this.dmas.removeAt(first, count)
    for (const dma of gone) {
      for (const d of this.domains) d.domain.unmap(dma.iova, dma.size)
      this.env.process.unpin(dma.vaddr, dma.size)
    }
    this.dmaAvail += gone.length
  }

  private removeAllDmas(): void {
    this.removeDmas(0, this.dmas.length)
  }

  private inOneIovaRange(first: bigint, last: bigint): boolean {
    const ranges = this.iovaRanges()
    return ranges.length === 0 || ranges.some((r) => r.start <= first && last <= r.end)
  }

  private reservedRegions(): ReservedRegion[] {
    return this.domains.flatMap((d) => [...d.groups].flatMap((g) => [...g.reservedRegions]))
  }

  /** Attach-time checks (5.4+): existing mappings must fit the new aperture and avoid the group's reserved regions. */
  private iovaConflict(domain: IommuDomain, group: Type1Group): string | undefined {
    const ap = domain.aperture
    if (ap !== undefined && this.dmas.all().some((d) => d.iova < ap.start || d.iova + d.size - 1n > ap.end)) {
      return `an existing mapping lies outside group ${group.id}'s aperture`
    }
    if (group.reservedRegions.some((r) => this.dmas.all().some((d) => d.iova <= r.end && d.iova + d.size - 1n >= r.start))) {
      return `an existing mapping overlaps a reserved region of group ${group.id}`
    }
    return undefined
  }

  private allDomainsNested(): boolean {
    return this.domains.every((d) => {
      const r = d.domain.getAttr('NESTING')
      return r.ok && r.value === 1
    })
  }

  private allDomainsCoherent(): boolean {
    return this.domains.every((d) => this.coherent(d.domain))
  }

  /**
   * Whether the domain enforces cache coherency: 3.x asks IOMMU_CAP_CACHE_COHERENCY (arm-smmu:
   * coherent table walk); 5.19+ asks enforce_cache_coherency, which only some drivers implement.
   */
  private coherent(domain: IommuDomain): boolean {
    const hw = domain.smmu?.features
    if (hw === undefined) return false
    if (this.env.profile.vfio.dmaCc === 'enforce-op' && !domain.driver.enforceCacheCoherency) return false
    return hw.coherentWalk
  }
}

function attachStreams(domain: IommuDomain, group: Type1Group): Result<void> {
  const done: number[] = []
  for (const sid of group.streams) {
    const r = domain.attach(group.smmu, sid)
    if (!r.ok) {
      for (const s of done) domain.detach(s)
      return r
    }
    done.push(sid)
  }
  return ok()
}

function detachStreams(domain: IommuDomain, group: Type1Group): void {
  for (const sid of group.streams) if (domain.streams.has(sid)) domain.detach(sid)
}

function isU64(x: bigint): boolean {
  return x >= 0n && x <= U64_MAX
}

function lowestBit(bits: bigint): bigint {
  if (bits === 0n) return 1n
  return bits & -bits
}

function intersect(ranges: readonly IovaRange[], with_: IovaRange): IovaRange[] {
  return ranges.flatMap((r) => {
    const start = r.start > with_.start ? r.start : with_.start
    const end = r.end < with_.end ? r.end : with_.end
    return start <= end ? [{ start, end }] : []
  })
}

function subtract(ranges: readonly IovaRange[], hole: ReservedRegion): IovaRange[] {
  return ranges.flatMap((r) => {
    if (hole.end < r.start || hole.start > r.end) return [r]
    const out: IovaRange[] = []
    if (hole.start > r.start) out.push({ start: r.start, end: hole.start - 1n })
    if (hole.end < r.end) out.push({ start: hole.end + 1n, end: r.end })
    return out
  })
}
