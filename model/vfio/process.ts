/**
 * The VMM process's address space, as far as VFIO cares: anonymous buffers (mmap) whose pages
 * are backed by simulated RAM when pinned, and addresses with nothing mapped (pinning fails).
 * Pages are physically contiguous per buffer (like a huge-page backed guest RAM).
 *
 * The model's VMM mmaps one buffer per MAP_DMA (VaddrSpec 'buffer') and munmaps it when that
 * mapping is gone (unpin), so repeated MAP/UNMAP cycles reuse the same RAM instead of running out.
 * When the MAP_DMA fails, the VMM munmaps the buffer at once (as realkernel/agent/agent.c does):
 * a failed call leaves the process as it found it, including where the next mmap lands (munmap of
 * the topmost buffer lowers the mmap top again, as the kernel's top-down gap search would reuse it).
 * Buffers are kept sorted by address: finding one is a binary search.
 */
import { fail, ok, type Result } from '../errno'
import { isBusAbort, type PhysMemory, type TableAllocator } from '../memory'
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
  /** Where the mmap top was before this buffer was made (restored when it goes away last). */
  readonly before: bigint
  /** Physical base once the region is first pinned (faulted in). */
  pa?: number
  /** munmapped: kept in the list until the next compaction (only the topmost addresses are reused). */
  unmapped?: boolean
  /** A device's MMIO mapped into the process (VM_PFNMAP): no struct page behind it. */
  pfnmap?: boolean
}

/** A buffer the VMM made for one MAP_DMA call: what to munmap if the call fails. */
export interface VmmBuffer {
  /** The vaddr passed to MAP_DMA. */
  readonly vaddr: bigint
  /** The mmap holding it (undefined: the vaddr points at nothing the VMM mapped). */
  readonly start?: bigint
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
  /** Sorted by start (mmap hands out ascending addresses above every live buffer). */
  private regions: Region[] = []
  /** munmapped regions still in `regions`; compacted away once they are half of it. */
  private unmappedCount = 0

  constructor(
    private readonly ram: TableAllocator,
    /** The machine's memory, for the VMM's own reads and writes of its buffers (read/write below). */
    private readonly memory?: PhysMemory,
  ) {}

  /**
   * The VMM's CPU writes `bytes` at `vaddr` (the buffer is faulted in if it was not yet): EFAULT
   * when the range is not inside one buffer. This is how a VMM writes its guest's memory.
   */
  write(vaddr: bigint, bytes: Uint8Array): Result<void> {
    const pa = this.backing(vaddr, BigInt(bytes.length))
    if (!pa.ok) return pa
    const abort = (this.memory as PhysMemory).write(pa.value, bytes)
    return abort === undefined ? ok() : fail('EFAULT', `PA 0x${pa.value.toString(16)} has no memory behind it`)
  }

  /** The VMM's CPU reads `length` bytes at `vaddr`. */
  read(vaddr: bigint, length: number): Result<Uint8Array> {
    const pa = this.backing(vaddr, BigInt(length))
    if (!pa.ok) return pa
    const bytes = (this.memory as PhysMemory).read(pa.value, length)
    return isBusAbort(bytes) ? fail('EFAULT', `PA 0x${pa.value.toString(16)} has no memory behind it`) : ok(bytes)
  }

  private backing(vaddr: bigint, length: bigint): Result<number> {
    if (this.memory === undefined) throw new Error('this process memory was made without the machine memory')
    const pinned = this.pin(vaddr, length)
    return pinned.ok ? ok((pinned.value[0] as PinnedRun).pa) : pinned
  }

  /** mmap(NULL, length, ...): a page-aligned range (2 MiB aligned when at least 2 MiB). */
  mmap(length: bigint): bigint {
    const size = roundUp(length > 0n ? length : PAGE, PAGE)
    const align = size >= HUGE ? HUGE : PAGE
    const start = roundUp(this.next, align)
    this.regions.push({ start, length: size, before: this.next })
    this.next = start + size + PAGE // a guard page between buffers
    return start
  }

  /** munmap of the buffer that mmap returned at `start`: its RAM goes back; nothing else is there. */
  munmap(start: bigint): void {
    const i = this.regionIndex(start)
    const region = this.regions[i]
    if (region === undefined || region.unmapped === true || region.start !== start) return
    this.drop(i)
  }

  /** The buffer a MAP_DMA of `size` bytes is given, per the spec. */
  resolve(spec: VaddrSpec, size: bigint): VmmBuffer {
    switch (spec.kind) {
      case 'buffer': {
        const start = this.mmap(size)
        return { vaddr: start, start }
      }
      case 'misaligned': {
        const start = this.mmap(size + PAGE)
        return { vaddr: start + 1n, start }
      }
      case 'unmapped':
        return { vaddr: UNMAPPED }
      case 'pfnmap': {
        const start = this.mmap(size)
        ;(this.regions[this.regions.length - 1] as Region).pfnmap = true
        return { vaddr: start, start }
      }
    }
  }

  /** Whether [vaddr, vaddr + size) lies in an mmap of device MMIO (VaddrSpec 'pfnmap'). */
  isPfnmap(vaddr: bigint): boolean {
    return this.regionAt(vaddr)?.pfnmap === true
  }

  /**
   * The pages as pin_user_pages sees them (iommufd's iopt_pages): a VM_PFNMAP range has no
   * struct page and is refused with EFAULT; anything else as pin() (type1 follows PFNs instead).
   */
  userPages(): { pin(vaddr: bigint, size: bigint): Result<PinnedRun[]>; unpin(vaddr: bigint, size: bigint): void } {
    return {
      pin: (vaddr, size) => (this.isPfnmap(vaddr) ? fail('EFAULT', `vaddr 0x${vaddr.toString(16)} is device MMIO (VM_PFNMAP): pin_user_pages has no page to pin`) : this.pin(vaddr, size)),
      unpin: (vaddr, size) => this.unpin(vaddr, size),
    }
  }

  /** Gives back a buffer made by `resolve` (the MAP_DMA it was made for failed). */
  discard(buffer: VmmBuffer): void {
    if (buffer.start !== undefined) this.munmap(buffer.start)
  }

  /**
   * What a VMM could observe of its address space: the live buffers (start, length, RAM backing)
   * and where the next mmap lands. Equal before and after any failed VFIO call.
   */
  state(): string {
    const live = this.regions.filter((r) => r.unmapped !== true).map((r) => `${r.start.toString(16)}+${r.length.toString(16)}${r.pa === undefined ? '' : `@${r.pa.toString(16)}`}`)
    return `next=${this.next.toString(16)} ${live.join(',')}`
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
    const i = this.regionIndex(vaddr)
    const region = this.regionAt(vaddr)
    if (region === undefined || vaddr + size > region.start + region.length) return
    this.drop(i)
  }

  /**
   * munmap of regions[i]: its RAM goes back. The topmost buffer (and any munmapped ones below it)
   * leaves the list and lowers the mmap top; others are marked and compacted away later.
   */
  private drop(i: number): void {
    const region = this.regions[i] as Region
    if (region.pa !== undefined) this.ram.release(region.pa, Number(region.length))
    region.pa = undefined
    region.unmapped = true
    this.unmappedCount++
    if (i === this.regions.length - 1) {
      while (this.regions.length > 0 && (this.regions[this.regions.length - 1] as Region).unmapped === true) {
        this.next = (this.regions.pop() as Region).before
        this.unmappedCount--
      }
    }
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
