/** A DescriptorReader that records every descriptor address a walk reads (no fast path: every fetch is seen). */
import type { BusAbort, DescriptorReader, FetchKind, PhysMemory, Word64 } from '../../model/memory'

export class WatchedMemory implements DescriptorReader {
  reads: number[] = []
  constructor(private readonly mem: PhysMemory) {}
  read64Parts(pa: number, out: Word64): BusAbort | undefined {
    this.reads.push(pa)
    return this.mem.read64Parts(pa, out)
  }
  readDescriptor(pa: number, kind: FetchKind, level: number, out: Word64): BusAbort | undefined {
    this.reads.push(pa)
    return this.mem.readDescriptor(pa, kind, level, out)
  }
}
