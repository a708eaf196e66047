/**
 * Undo log for one builder operation, so that a map that fails half-way (ENOMEM while
 * allocating a table, EEXIST on the third block of a range) leaves memory byte-for-byte as it
 * was: descriptor writes are undone in reverse, tables allocated by the operation go back to the
 * allocator, and tables the operation meant to free are only freed once it succeeds.
 *
 * Records are numbers in growable Float64Arrays (addresses exceed 2^31), so logging a write is a
 * few stores with no allocation, and clearing is resetting a count.
 */
import type { PhysMemory, TableAllocator } from '../memory'

/** An append-only list of numbers, cleared by resetting its length. */
class NumberLog {
  private data = new Float64Array(64)
  length = 0

  push3(a: number, b: number, c: number): void {
    if (this.length + 3 > this.data.length) this.grow()
    this.data[this.length] = a
    this.data[this.length + 1] = b
    this.data[this.length + 2] = c
    this.length += 3
  }

  push2(a: number, b: number): void {
    if (this.length + 2 > this.data.length) this.grow()
    this.data[this.length] = a
    this.data[this.length + 1] = b
    this.length += 2
  }

  at(i: number): number {
    return this.data[i] as number
  }

  private grow(): void {
    const bigger = new Float64Array(this.data.length * 2)
    bigger.set(this.data)
    this.data = bigger
  }
}

export class Journal {
  /** (pa, oldLo, oldHi) triplets. */
  private readonly writes = new NumberLog()
  /** (pa, bytes) pairs allocated by this operation. */
  private readonly allocs = new NumberLog()
  /** (pa, bytes) pairs to free when the operation commits. */
  private readonly frees = new NumberLog()

  constructor(
    private readonly mem: PhysMemory,
    private readonly alloc: TableAllocator,
  ) {}

  recordWrite(pa: number, oldLo: number, oldHi: number): void {
    this.writes.push3(pa, oldLo, oldHi)
  }

  recordAlloc(pa: number, bytes: number): void {
    this.allocs.push2(pa, bytes)
  }

  deferFree(pa: number, bytes: number): void {
    this.frees.push2(pa, bytes)
  }

  commit(): void {
    const f = this.frees
    for (let i = 0; i < f.length; i += 2) this.alloc.release(f.at(i), f.at(i + 1))
    this.clear()
  }

  rollback(): void {
    const w = this.writes
    for (let i = w.length - 3; i >= 0; i -= 3) this.mem.write64Parts(w.at(i), w.at(i + 1), w.at(i + 2))
    const a = this.allocs
    for (let i = 0; i < a.length; i += 2) this.alloc.release(a.at(i), a.at(i + 1))
    this.clear()
  }

  private clear(): void {
    this.writes.length = 0
    this.allocs.length = 0
    this.frees.length = 0
  }
}
