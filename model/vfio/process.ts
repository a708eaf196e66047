/**
 * The VMM process's address space, as far as VFIO cares: anonymous buffers (mmap) whose pages
 * are backed by simulated RAM when pinned, and addresses with nothing mapped (pinning fails).
 * Pages are physically contiguous per buffer (like a huge-page backed guest RAM).
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
  private readonly regions: Region[] = []

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
    const region = this.regions.find((r) => vaddr >= r.start && vaddr + size <= r.start + r.length)
    if (region === undefined) return fail('EFAULT', `vaddr 0x${vaddr.toString(16)} + 0x${size.toString(16)} is not mapped in the process`)
    if (region.pa === undefined) {
      const length = Number(region.length)
      const backing = this.ram.alloc(length, region.length >= HUGE ? Number(HUGE) : Number(PAGE))
      if (!backing.ok) return fail('ENOMEM', `no RAM left to back a ${length}-byte buffer`)
      region.pa = backing.value
    }
    return ok([{ offset: 0n, pa: region.pa + Number(vaddr - region.start), length: size }])
  }
}

function roundUp(x: bigint, to: bigint): bigint {
  return ((x + to - 1n) / to) * to
}
