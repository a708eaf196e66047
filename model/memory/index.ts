/**
 * model/memory — simulated physical memory and a table-page allocator.
 *
 * The lowest layer: imports nothing from the model except errno.ts.
 *
 * - `createMemory({ oas, holes })` → `PhysMemory`: sparse 4 KiB pages, little-endian 64/32-bit and
 *   byte-range access. Out-of-range or hole accesses return a `BusAbort` value; nothing throws.
 * - `createTableAllocator(mem, { base, size })` → `TableAllocator`: zeroed, naturally aligned runs of
 *   pages for translation tables; ENOMEM as a value when the pool is exhausted.
 * - `DescriptorReader` (read64Parts, readDescriptor, optionally descriptorPage + words) is all the
 *   page-table walkers need from memory; each fetch names its FETCH kind and table level, which
 *   picks a cache line so warm walks skip the page lookup, and PhysMemory's descriptorPage gives
 *   the walker an index into its word arena (no copy, no allocation).
 */
export { busAbort, FETCH, FETCH_KINDS, FETCH_LEVELS, isBusAbort, NO_PAGE, type BusAbort, type DescriptorReader, type FetchKind, type PaRange, type Word64 } from './bus'
export { createMemory, PhysMemory, PAGE_SHIFT, PAGE_SIZE, MIN_OAS, MAX_OAS, type MemoryConfig } from './physmem'
export { createTableAllocator, TableAllocator } from './allocator'
