/** A DescriptorReader that records the address of every descriptor a walk reads. */
import type { DescriptorReader, PhysMemory } from '../../model/memory'

export class WatchedMemory implements DescriptorReader {
  reads: number[] = []
  constructor(private readonly mem: PhysMemory) {}
  get words(): Uint32Array {
    return this.mem.words
  }
  descriptorPage(hi: number, lo: number): number {
    this.reads.push(hi * 2 ** 32 + (lo >>> 0))
    return this.mem.descriptorPage(hi, lo)
  }
}
