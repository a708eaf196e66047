/**
 * model/memory — simulated physical memory and a table-page allocator.
 *
 * The lowest layer: imports nothing from the model except errno.ts.
 *
 * - `createMemory({ oas, holes })` → `PhysMemory`: sparse 4 KiB pages, little-endian 64/32-bit and
 *   byte-range access. Out-of-range or hole accesses return a `BusAbort` value; nothing throws.
 * - `createTableAllocator(mem, { base, size })` → `TableAllocator`: zeroed, naturally aligned runs of
 *   pages for translation tables; ENOMEM as a value when the pool is exhausted.
 * - `DescriptorReader` (descriptorPage + words) is what the page-table walkers read through:
 *   PhysMemory's descriptorPage gives the walker an index into its word arena (no copy, no
 *   allocation); a reader in front of memory can record each fetch, which the walker names
 *   (FETCH kind and table level).
 */
export { busAbort, FETCH, isBusAbort, NO_PAGE, type BusAbort, type DescriptorReader, type FetchKind, type PaRange, type Word64 } from './bus'
export { createMemory, PhysMemory, PAGE_SHIFT, PAGE_SIZE, MIN_OAS, MAX_OAS, type MemoryConfig } from './physmem'
export { createTableAllocator, TableAllocator } from './allocator'
