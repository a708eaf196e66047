/**
 * Undo log for one builder operation, so that a map that fails half-way (ENOMEM while
 * allocating a table, EEXIST on the third block of a range) leaves memory byte-for-byte as it
 * was: descriptor writes are undone in reverse, tables allocated by the operation go back to the
 * allocator, and tables the operation meant to free are only freed once it succeeds.
 */
import type { PhysMemory, TableAllocator } from '../memory'

export class Journal {
  /** (pa, oldLo, oldHi) triplets. */
  private readonly writes: number[] = []
  /** (pa, bytes) pairs allocated by this operation. */
  private readonly allocs: number[] = []
  /** (pa, bytes) pairs to free when the operation commits. */
  private readonly frees: number[] = []

  constructor(
    private readonly mem: PhysMemory,
    private readonly alloc: TableAllocator,
  ) {}

  recordWrite(pa: number, oldLo: number, oldHi: number): void {
    this.writes.push(pa, oldLo, oldHi)
  }

  recordAlloc(pa: number, bytes: number): void {
    this.allocs.push(pa, bytes)
  }

  deferFree(pa: number, bytes: number): void {
    this.frees.push(pa, bytes)
  }

  commit(): void {
    for (let i = 0; i < this.frees.length; i += 2) this.alloc.release(this.frees[i], this.frees[i + 1])
    this.clear()
  }

  rollback(): void {
    for (let i = this.writes.length - 3; i >= 0; i -= 3) {
      this.mem.write64Parts(this.writes[i], this.writes[i + 1], this.writes[i + 2])
    }
    for (let i = 0; i < this.allocs.length; i += 2) this.alloc.release(this.allocs[i], this.allocs[i + 1])
    this.clear()
  }

  private clear(): void {
    this.writes.length = 0
    this.allocs.length = 0
    this.frees.length = 0
  }
}
