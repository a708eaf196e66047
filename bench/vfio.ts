/**
 * MAP/UNMAP benchmarks through the VFIO model (createModelBackend, profile linux-6.1), on the
 * synthetic-nested SMMUv2 with one group, a TYPE1_NESTING container (a nested domain: MAP writes
 * its stage-2 tables).
 *
 * What "1 GiB in 4 KiB pages" means here: ONE MAP_DMA of 1 GiB whose IOVA is 4 KiB-aligned but
 * not 2 MiB-aligned, so iommu_map can only use 4 KiB leaves: 262,144 page descriptors in 512 leaf
 * tables (checked by walking a sample). 262,144 separate 4 KiB MAP_DMA calls are a different
 * workload: impossible under linux-6.1's dma_entry_limit of 65,535 unless the fixture raises it,
 * and dominated by type1's bookkeeping; `perMapScaling` measures it at a few sizes instead.
 */
import assert from 'node:assert/strict'
import { createModelBackend, loadFixture, walkStage2, type ContainerModel, type FeatureSet, type GroupModel, type ModelBackend } from '../model'
import { collectGarbage, heldBytes, timeIt } from './measure'

const GIB = 1n << 30n
const PAGE = 0x1000
const FLAGS_RW = 3
const UNMAP_ALL = 2
/** 4 KiB-aligned, not 2 MiB-aligned: every leaf is a 4 KiB page. */
export const IOVA_4K_LEAVES = 0x40_0000_1000n
/** 2 MiB-aligned, not 1 GiB-aligned: every leaf is a 2 MiB block. */
export const IOVA_2M_LEAVES = 0x40_0020_0000n

export interface Machine {
  readonly backend: ModelBackend
  readonly container: ContainerModel
  readonly group: GroupModel
}

function fixture(dmaEntryLimit?: number): FeatureSet {
  const hw = loadFixture('synthetic-nested')
  return { ...hw, vfio: { groups: [{ id: 0, streams: [0x10], viable: true }], reservedRegions: [], ...(dmaEntryLimit === undefined ? {} : { dmaEntryLimit }) } }
}

/** A fresh machine with a TYPE1_NESTING container holding group 0 (every round gets its own: the model's RAM pool is 2 GiB). */
export function machine(dmaEntryLimit?: number): Machine {
  const backend = createModelBackend({ profile: 'linux-6.1', fixtures: [fixture(dmaEntryLimit)] })
  const c = backend.openContainer()
  const g = backend.openGroup(0)
  assert.ok(c.ok && g.ok)
  assert.ok(g.value.setContainer(c.value).ok)
  const nesting = backend.extension('TYPE1_NESTING')
  assert.ok(nesting !== undefined)
  assert.ok(c.value.setIommu(nesting).ok)
  return { backend, container: c.value as ContainerModel, group: g.value as GroupModel }
}

/** The stage-2 leaf size the domain uses at `iova` (from its own tables, by a walk). */
function leafSize(m: Machine, iova: bigint): number {
  const domain = m.container.iommu?.liveDomains()[0]
  const table = domain?.pageTable
  assert.ok(table !== undefined && table.context.stage === 2, 'a nested domain has stage-2 tables')
  const t = walkStage2(m.backend.system.memory, table.s2Context, Number(iova), { kind: 'read' })
  assert.equal(t.kind, 'ok', `walk at 0x${iova.toString(16)}`)
  return t.kind === 'ok' ? t.size : 0
}

export interface MapRound {
  readonly mapSeconds: number
  readonly unmapAllSeconds: number
  /** Leaf size seen at a few IOVAs of the mapping. */
  readonly leaf: number
}

/** One MAP_DMA of 1 GiB at `iova` on a fresh machine, then UNMAP_ALL. */
export function mapRound(iova: bigint): MapRound {
  const m = machine()
  const map = timeIt(() => m.container.mapDma({ iova, size: GIB, flags: FLAGS_RW, vaddr: { kind: 'buffer' } }))
  assert.ok(map.value.ok, 'MAP_DMA of 1 GiB')
  const leaves = [0n, 0x1234_5000n, GIB - 0x1000n].map((off) => leafSize(m, iova + off))
  assert.ok(leaves.every((l) => l === leaves[0]))
  const unmap = timeIt(() => m.container.unmapDma({ iova: 0n, size: 0n, flags: UNMAP_ALL }))
  assert.ok(unmap.value.ok && unmap.value.value.unmapped === GIB, 'UNMAP_ALL removes the gigabyte')
  return { mapSeconds: map.seconds, unmapAllSeconds: unmap.seconds, leaf: leaves[0] as number }
}

export interface MapFigure {
  /** The first round in this process (cold JIT). */
  readonly cold: MapRound
  /** Median of the warm rounds (MAP + UNMAP_ALL). */
  readonly warmTotalSeconds: number
  readonly warmMapSeconds: number
  readonly warmUnmapAllSeconds: number
  readonly leaf: number
}

export function mapFigure(iova: bigint, warmRounds: number): MapFigure {
  const cold = mapRound(iova)
  const rounds: MapRound[] = []
  for (let i = 0; i < warmRounds; i++) rounds.push(mapRound(iova))
  const byTotal = [...rounds].sort((a, b) => a.mapSeconds + a.unmapAllSeconds - (b.mapSeconds + b.unmapAllSeconds))
  const mid = byTotal[Math.floor(byTotal.length / 2)] as MapRound
  return { cold, warmTotalSeconds: mid.mapSeconds + mid.unmapAllSeconds, warmMapSeconds: mid.mapSeconds, warmUnmapAllSeconds: mid.unmapAllSeconds, leaf: cold.leaf }
}

export interface MemoryFigure {
  /** JS heap + ArrayBuffer bytes the 1 GiB mapping added, per 4 KiB page mapped. */
  readonly bytesPer4kPage: number
  /** Page-table bytes (the table pool's use), per 4 KiB page mapped. */
  readonly tableBytesPer4kPage: number
}

/** Memory a 1 GiB MAP with 4 KiB leaves costs: page tables plus the model's bookkeeping. */
export function memoryFigure(): MemoryFigure {
  const m = machine()
  const pool = m.backend.system.tablePool
  collectGarbage()
  const heapBefore = heldBytes()
  const tablesBefore = pool.usedBytes
  assert.ok(m.container.mapDma({ iova: IOVA_4K_LEAVES, size: GIB, flags: FLAGS_RW, vaddr: { kind: 'buffer' } }).ok)
  collectGarbage()
  const pages = Number(GIB) / PAGE
  const figure = { bytesPer4kPage: (heldBytes() - heapBefore) / pages, tableBytesPer4kPage: (pool.usedBytes - tablesBefore) / pages }
  assert.ok(m.container.unmapDma({ iova: 0n, size: 0n, flags: UNMAP_ALL }).ok)
  return figure
}

export interface PerMapPoint {
  readonly maps: number
  readonly seconds: number
  readonly microsPerMap: number
  readonly unmapAllSeconds: number
}

/** `n` separate 4 KiB MAP_DMA calls (dma_entry_limit raised), then UNMAP_ALL. */
export function perMapPoint(n: number): PerMapPoint {
  const m = machine(n + 1)
  const map = timeIt(() => {
    for (let i = 0; i < n; i++) {
      const r = m.container.mapDma({ iova: 0x40_0000_0000n + BigInt(i * PAGE), size: BigInt(PAGE), flags: FLAGS_RW, vaddr: { kind: 'buffer' } })
      if (!r.ok) throw new Error(`MAP #${i}: ${r.error.errno} ${r.error.message}`)
    }
  })
  const unmap = timeIt(() => m.container.unmapDma({ iova: 0n, size: 0n, flags: UNMAP_ALL }))
  assert.ok(unmap.value.ok)
  return { maps: n, seconds: map.seconds, microsPerMap: (map.seconds / n) * 1e6, unmapAllSeconds: unmap.seconds }
}
