/**
 * The io-pgtable-arm selftest (arm_lpae_run_tests, docs/facts/smmu-translation.md#selftest) as one matrix-driven
 * script: granule x (oas, ias <= oas) from {32, 36, 40, 42, 44, 48} x {S1, S2} x partial-unmap
 * policy. Every expected address is the identity (pa = iova) plus 42, as in the kernel; a walk
 * checks each translation from the bytes in memory as well as iovaToPhys.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createMemory, createTableAllocator, type PhysMemory } from '../../model/memory'
import { createPgtable, walkStage1, walkStage2, type Granule, type IoPgtable, type IommuProt, type PartialUnmapPolicy, type WalkResult } from '../../model/pgtable'

const SIZES = [32, 36, 40, 42, 44, 48]
/** pgsize_bitmap per granule, smallest first (hand-written, not read from the model). */
const PAGE_SIZES: Record<Granule, number[]> = {
  4096: [0x1000, 0x20_0000, 0x4000_0000],
  16384: [0x4000, 0x200_0000],
  65536: [0x1_0000, 0x2000_0000],
}
const SZ_1G = 0x4000_0000
const POOL = { base: 0xf000_0000, size: 0x100_0000 }
const RW_NOEXEC_CACHE: IommuProt = { read: true, write: true, noexec: true, cache: true }
const R_NOEXEC: IommuProt = { read: true, write: false, noexec: true }
const WRITE_ONLY: IommuProt = { read: false, write: true }

interface Config {
  granule: Granule
  ias: number
  oas: number
  stage: 1 | 2
  policy: PartialUnmapPolicy
}

function configs(): Config[] {
  const out: Config[] = []
  for (const granule of [4096, 16384, 65536] as Granule[])
    for (let j = 0; j < SIZES.length; j++)
      for (let k = 0; k <= j; k++)
        for (const stage of [1, 2] as const)
          for (const policy of ['refuse', 'split'] as const) out.push({ granule, ias: SIZES[k], oas: SIZES[j], stage, policy })
  return out
}

function walk(mem: PhysMemory, pt: IoPgtable, iova: number): WalkResult {
  const ctx = pt.context
  return ctx.stage === 1 ? walkStage1(mem, ctx, iova, { kind: 'read' }) : walkStage2(mem, ctx, iova, { kind: 'read' })
}

function runSelftest(cfg: Config): void {
  const mem = createMemory({ oas: cfg.oas })
  assert.ok(mem.ok)
  const alloc = createTableAllocator(mem.value, POOL)
  assert.ok(alloc.ok)
  const made = createPgtable(mem.value, alloc.value, { stage: cfg.stage, granule: cfg.granule, ias: cfg.ias, oas: cfg.oas, partialUnmap: cfg.policy })
  assert.ok(made.ok, `createPgtable ${JSON.stringify(cfg)}`)
  const pt = made.value
  const where = (step: string) => `${step} [${pt.describe()}]`
  const sizes = PAGE_SIZES[cfg.granule]
  const phys = (iova: number) => pt.iovaToPhys(iova)
  const walksTo = (iova: number, pa: number, step: string) => {
    const r = walk(mem.value, pt, iova)
    assert.equal(r.kind, 'ok', where(`${step}: walk ${iova} gave ${JSON.stringify(r)}`))
    assert.equal(r.kind === 'ok' && r.oa, pa, where(`${step}: walk ${iova}`))
  }
  const faults = (iova: number, step: string) => {
    const r = walk(mem.value, pt, iova)
    assert.equal(r.kind, 'translation', where(`${step}: walk ${iova} gave ${JSON.stringify(r)}`))
  }

  // 1. An empty table maps nothing.
  for (const iova of [42, SZ_1G + 42, 2 * SZ_1G + 42]) {
    assert.equal(phys(iova), undefined, where('empty'))
    faults(iova, 'empty')
  }

  // 2. Map each size at iova += 1G (identity), an overlapping map fails, iova+42 translates.
  let iova = 0
  for (const size of sizes) {
    assert.deepEqual(pt.map(iova, iova, size, RW_NOEXEC_CACHE), { ok: true, value: undefined }, where(`map ${size} at ${iova}`))
    const again = pt.map(iova, iova + size, size, R_NOEXEC)
    assert.equal(again.ok, false, where(`overlapping map ${size} at ${iova}`))
    if (!again.ok) assert.equal(again.error.errno, 'EEXIST', where('overlap errno'))
    assert.equal(phys(iova + 42), iova + 42, where(`iova_to_phys ${iova + 42}`))
    walksTo(iova + 42, iova + 42, 'map')
    iova += SZ_1G
  }

  // 3. Partial unmap of the block at 1G.
  const small = sizes[0]
  const unmapped = pt.unmap(SZ_1G + small, small)
  if (cfg.policy === 'split') {
    assert.deepEqual(unmapped, { ok: true, value: small }, where('split unmap'))
    faults(SZ_1G + small + 42, 'split hole')
    walksTo(SZ_1G + 42, SZ_1G + 42, 'split neighbour')
    assert.ok(pt.map(SZ_1G + small, small, small, { read: true, write: false }).ok, where('remap into the hole'))
    assert.equal(phys(SZ_1G + small + 42), small + 42, where('hole remapped'))
  } else {
    assert.deepEqual(unmapped, { ok: true, value: 0 }, where('refused partial unmap'))
    assert.equal(phys(SZ_1G + small + 42), SZ_1G + small + 42, where('block intact'))
  }

  // 4. Full unmap, then remap WRITE-only.
  iova = 0
  for (const size of sizes) {
    assert.deepEqual(pt.unmap(iova, size), { ok: true, value: size }, where(`unmap ${size} at ${iova}`))
    assert.equal(phys(iova + 42), undefined, where(`unmapped ${iova}`))
    faults(iova + 42, 'unmapped')
    assert.ok(pt.map(iova, iova, size, WRITE_ONLY).ok, where(`remap write-only ${size} at ${iova}`))
    assert.equal(phys(iova + 42), iova + 42, where(`remapped ${iova}`))
    iova += SZ_1G
  }

  // 5. The last largest page below 2^ias (the concatenated-pgd corner).
  const big = sizes[sizes.length - 1]
  const top = 2 ** cfg.ias - big
  assert.ok(pt.map(top, top, big, RW_NOEXEC_CACHE).ok, where(`map last ${big}`))
  walksTo(top + 42, top + 42, 'last page')
  assert.deepEqual(pt.unmap(top, big), { ok: true, value: big }, where('unmap last'))

  pt.destroy()
  assert.equal(alloc.value.usedBytes, 0, where('destroy frees every table'))
}

describe('io-pgtable selftest matrix', () => {
  for (const cfg of configs()) {
    test(`S${cfg.stage} ${cfg.granule / 1024}K ias ${cfg.ias} oas ${cfg.oas} partial-unmap ${cfg.policy}`, () => runSelftest(cfg))
  }
})
