/**
 * The VMM process's address space, as far as VFIO cares: anonymous buffers (mmap) whose pages
 * are backed by simulated RAM when pinned, and addresses with nothing mapped (pinning fails).
 * Pages are physically contiguous per buffer (like a huge-page backed guest RAM).
 *
 * The model's VMM mmaps one buffer per MAP_DMA (VaddrSpec 'buffer') and munmaps it when that
 * mapping is gone (unpin), so repeated MAP/UNMAP cycles reuse the same RAM instead of running out.
 * Buffers are kept sorted by address: finding one is a binary search.
 */
import { fail, ok, type Result } from '../errno'
import type { TableAllocator } from '../memory'
import type { VaddrSpec } from './backend'

const PAGE = 0x1000n
const HUGE = 0x20_0000n
/** Where the model's mmap hands out addresses (a typical x86-64/arm64 mmap base). */
const MMAP_BASE = 0x7f00_0000_0000n
/** Never mapped: the NULL page's neighbour. */
const UNMAPPED = 0x1000n

interface Region {
  readonly start: bigint
  readonly length: bigint
  /** Physical base once the region is first pinned (faulted in). */
  pa?: number
  /** munmapped: kept in the list until the next compaction (addresses are never reused). */
  unmapped?: boolean
}

/** One physically contiguous piece of a pinned range. */
export interface PinnedRun {
  /** Offset from the start of the pinned range. */
  readonly offset: bigint
  readonly pa: number
  readonly length: bigint
}

export class ProcessMemory {
  private next = MMAP_BASE
  /** Sorted by start (mmap hands out ascending addresses and never reuses one). */
  private regions: Region[] = []
  /** munmapped regions still in `regions`; compacted away once they are half of it. */
  private unmappedCount = 0

  constructor(private readonly ram: TableAllocator) {}

  /** mmap(NULL, length, ...): a page-aligned range (2 MiB aligned when at least 2 MiB). */
  mmap(length: bigint): bigint {
    const size = roundUp(length > 0n ? length : PAGE, PAGE)
    const align = size >= HUGE ? HUGE : PAGE
    const start = roundUp(this.next, align)
    this.regions.push({ start, length: size })
    this.next = start + size + PAGE // a guard page between buffers
    return start
  }

  /** The vaddr a MAP_DMA of `size` bytes passes, per the spec. */
  resolve(spec: VaddrSpec, size: bigint): bigint {
    switch (spec.kind) {
      case 'buffer':
        return this.mmap(size)
      case 'misaligned':
        return this.mmap(size + PAGE) + 1n
      case 'unmapped':
        return UNMAPPED
    }
  }

  /**
   * Pin [vaddr, vaddr + size): EFAULT unless the whole range lies in one mapped buffer;
   * ENOMEM when RAM runs out while faulting the buffer in.
   */
  pin(vaddr: bigint, size: bigint): Result<PinnedRun[]> {
    const region = this.regionAt(vaddr)
    if (region === undefined || vaddr + size > region.start + region.length) {
      return fail('EFAULT', `vaddr 0x${vaddr.toString(16)} + 0x${size.toString(16)} is not mapped in the process`)
    }
    if (region.pa === undefined) {
      const length = Number(region.length)
      const backing = this.ram.alloc(length, region.length >= HUGE ? Number(HUGE) : Number(PAGE))
      if (!backing.ok) return fail('ENOMEM', `no RAM left to back a ${length}-byte buffer`)
      region.pa = backing.value
    }
    return ok([{ offset: 0n, pa: region.pa + Number(vaddr - region.start), length: size }])
  }

  /**
   * The mapping that pinned [vaddr, vaddr + size) is gone: the VMM munmaps the buffer holding it,
   * giving its RAM back. Nothing happens for an address outside every buffer.
   */
  unpin(vaddr: bigint, size: bigint): void {
    const region = this.regionAt(vaddr)
    if (region === undefined || vaddr + size > region.start + region.length) return
    if (region.pa !== undefined) this.ram.release(region.pa, Number(region.length))
    region.pa = undefined
    region.unmapped = true
    this.unmappedCount++
    if (this.unmappedCount * 2 > this.regions.length) {
      this.regions = this.regions.filter((r) => r.unmapped !== true)
      this.unmappedCount = 0
    }
  }

  /** The mapped buffer holding `vaddr`, if any. */
  private regionAt(vaddr: bigint): Region | undefined {
    const region = this.regions[this.regionIndex(vaddr)]
    if (region === undefined || region.unmapped === true) return undefined
    return region.start <= vaddr && vaddr < region.start + region.length ? region : undefined
  }

  /** Index of the last buffer starting at or below `vaddr` (0 when none: callers check the bounds). */
  private regionIndex(vaddr: bigint): number {
    let lo = 0
    let hi = this.regions.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.regions[mid] as Region).start <= vaddr) lo = mid + 1
      else hi = mid
    }
    return Math.max(0, lo - 1)
  }
}

function roundUp(x: bigint, to: bigint): bigint {
  return ((x + to - 1n) / to) * to
}
