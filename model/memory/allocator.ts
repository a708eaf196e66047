/**
 * Page allocator for translation tables: hands out naturally aligned runs of 4 KiB pages from one
 * physical range of a PhysMemory (first fit over a sorted, coalescing free list).
 *
 * Pages are zeroed when handed out and again when given back (their backing store is dropped),
 * so a table that is freed and reallocated starts empty, like the kernel's __GFP_ZERO tables.
 * Running out is ENOMEM, a value; freeing something that was not allocated is a bug in the
 * caller and throws.
 */
import { fail, ok, type Result } from '../errno'
import type { PaRange } from './bus'
import { PAGE_SIZE, type PhysMemory } from './physmem'

interface FreeRun {
  start: number
  end: number
}

/**
 * Checks that the pool is page-aligned and fully backed by `mem`; EINVAL otherwise. The check is one
 * range test against memory's size and holes (O(holes)), not a visit of every page: a machine's
 * 2 GiB RAM pool costs no more to set up than a 4 KiB one.
 */
export function createTableAllocator(mem: PhysMemory, pool: PaRange): Result<TableAllocator> {
  const { base, size } = pool
  if (!Number.isSafeInteger(base) || !Number.isSafeInteger(size) || size <= 0 || base % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) {
    return fail('EINVAL', `allocator pool [${base}, +${size}) is not a page-aligned range`)
  }
  const abort = mem.checkAccess(base, size)
  if (abort !== undefined) return fail('EINVAL', `allocator pool page ${abort.addr} is outside memory or in a hole`)
  return ok(new TableAllocator(mem, pool))
}

export class TableAllocator {
  private readonly free: FreeRun[]
  private readonly live = new Map<number, number>()
  private used = 0

  /** Use createTableAllocator(), which validates the pool. */
  constructor(
    private readonly mem: PhysMemory,
    readonly pool: PaRange,
  ) {
    this.free = [{ start: pool.base, end: pool.base + pool.size }]
  }

  /**
   * A zeroed run of `bytes` (a multiple of 4 KiB) aligned to `align` (a power of two, default:
   * `bytes` rounded up to a power of two). ENOMEM when no free run fits, EINVAL for bad sizes.
   */
  alloc(bytes: number, align?: number): Result<number> {
    const alignment = align ?? nextPowerOfTwo(bytes)
    if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % PAGE_SIZE !== 0) {
      return fail('EINVAL', `allocation of ${bytes} bytes is not a positive multiple of ${PAGE_SIZE}`)
    }
    if (alignment < PAGE_SIZE || nextPowerOfTwo(alignment) !== alignment) {
      return fail('EINVAL', `alignment ${alignment} is not a power of two >= ${PAGE_SIZE}`)
    }
    for (let i = 0; i < this.free.length; i++) {
      const run = this.free[i]
      const start = Math.ceil(run.start / alignment) * alignment
      if (start + bytes > run.end) continue
      const pieces: FreeRun[] = []
      if (start > run.start) pieces.push({ start: run.start, end: start })
      if (start + bytes < run.end) pieces.push({ start: start + bytes, end: run.end })
      this.free.splice(i, 1, ...pieces)
      this.live.set(start, bytes)
      this.used += bytes
      this.mem.zero(start, bytes)
      return ok(start)
    }
    return fail('ENOMEM', `no free run of ${bytes} bytes aligned to ${alignment} in the table pool`)
  }

  /** Gives back a run returned by alloc() (same address and size); its pages are zeroed. */
  release(pa: number, bytes: number): void {
    if (this.live.get(pa) !== bytes) {
      throw new Error(`table allocator: release(${pa}, ${bytes}) does not match a live allocation`)
    }
    this.live.delete(pa)
    this.used -= bytes
    this.mem.zero(pa, bytes)
    let i = 0
    while (i < this.free.length && this.free[i].start < pa) i++
    this.free.splice(i, 0, { start: pa, end: pa + bytes })
    this.coalesce(i)
  }

  /** Bytes currently handed out. */
  get usedBytes(): number {
    return this.used
  }

  /** Bytes still free (possibly fragmented). */
  get freeBytes(): number {
    return this.pool.size - this.used
  }

  /** Number of live allocations. */
  get liveAllocations(): number {
    return this.live.size
  }

  /** Whether `pa` lies in this allocator's pool. */
  owns(pa: number): boolean {
    return pa >= this.pool.base && pa < this.pool.base + this.pool.size
  }

  private coalesce(i: number): void {
    const next = this.free[i + 1]
    if (next !== undefined && this.free[i].end === next.start) {
      this.free[i].end = next.end
      this.free.splice(i + 1, 1)
    }
    const prev = this.free[i - 1]
    if (prev !== undefined && prev.end === this.free[i].start) {
      prev.end = this.free[i].end
      this.free.splice(i, 1)
    }
  }
}

function nextPowerOfTwo(n: number): number {
  let p = 1
  while (p < n) p *= 2
  return p
}
