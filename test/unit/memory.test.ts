import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createMemory, createTableAllocator, type PhysMemory, type TableAllocator, type Word64 } from '../../model/memory'

function memory(oas: number, holes?: { base: number; size: number }[]): PhysMemory {
  const r = createMemory({ oas, holes })
  assert.ok(r.ok, 'createMemory failed')
  return r.value
}

function allocator(mem: PhysMemory, base: number, size: number): TableAllocator {
  const r = createTableAllocator(mem, { base, size })
  assert.ok(r.ok, 'createTableAllocator failed')
  return r.value
}

const TWO_POW_40 = 1_099_511_627_776 // 2^40 = 0x100_0000_0000

/** The descriptor at `pa` as a walker reads it: in place, through descriptorPage; undefined if the bus aborts. */
function readInPlace(mem: PhysMemory, pa: number): Word64 | undefined {
  const page = mem.descriptorPage(Math.floor(pa / 2 ** 32), pa % 2 ** 32)
  if (page === -1) return undefined
  const w = page + ((pa & 0xfff) >>> 2)
  return { lo: mem.words[w], hi: mem.words[w + 1] }
}

describe('PhysMemory', () => {
  test('configuration errors are EINVAL values', () => {
    for (const cfg of [{ oas: 31 }, { oas: 53 }, { oas: 40.5 }, { oas: 40, holes: [{ base: 0x1800, size: 0x1000 }] }, { oas: 32, holes: [{ base: 0xffff_f000, size: 0x2000 }] }]) {
      const r = createMemory(cfg)
      assert.equal(r.ok, false, JSON.stringify(cfg))
      if (!r.ok) assert.equal(r.error.errno, 'EINVAL')
    }
  })

  test('never-written memory reads as zero and allocates nothing', () => {
    const mem = memory(48)
    assert.equal(mem.read64(0x1234_5678_9000), 0n)
    assert.equal(mem.read32(0xffff_fffc), 0)
    assert.deepEqual(mem.read(0x7000, 4), new Uint8Array(4))
    assert.equal(mem.backedPages, 0)
  })

  test('64-bit stores are little-endian and keep bits above 2^53', () => {
    const mem = memory(40)
    assert.equal(mem.write64(0x1000, 0x0102_0304_0506_0708n), undefined)
    assert.deepEqual([...(mem.read(0x1000, 8) as Uint8Array)], [8, 7, 6, 5, 4, 3, 2, 1])
    assert.equal(mem.read32(0x1000), 0x0506_0708)
    assert.equal(mem.read32(0x1004), 0x0102_0304)
    mem.write64(0x2008, 0xfff0_0000_8765_4f47n)
    assert.equal(mem.read64(0x2008), 0xfff0_0000_8765_4f47n)
    const out: Word64 = { lo: 0, hi: 0 }
    assert.equal(mem.read64Parts(0x2008, out), undefined)
    assert.deepEqual(out, { lo: 0x8765_4f47, hi: 0xfff0_0000 })
    assert.deepEqual(readInPlace(mem, 0x2008), { lo: 0x8765_4f47, hi: 0xfff0_0000 })
  })

  test('unaligned and page-crossing accesses', () => {
    const mem = memory(40)
    mem.write(0xffe, Uint8Array.from([1, 2, 3, 4]))
    assert.deepEqual([...(mem.read(0xffc, 8) as Uint8Array)], [0, 0, 1, 2, 3, 4, 0, 0])
    mem.write(0x2003, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))
    assert.equal(mem.read64(0x2003), 0x0807_0605_0403_0201n)
    assert.equal(mem.read32(0x2005), 0x0605_0403)
    mem.write32(0x3ffe, 0xaabb_ccdd)
    assert.deepEqual([...(mem.read(0x3ffe, 4) as Uint8Array)], [0xdd, 0xcc, 0xbb, 0xaa])
    mem.write64(0x4ffc, 0x1122_3344_5566_7788n)
    assert.equal(mem.read64(0x4ffc), 0x1122_3344_5566_7788n)
  })

  test('an access at or beyond 2^oas is an external abort, never partial', () => {
    const mem = memory(40)
    assert.deepEqual(mem.read64(TWO_POW_40), { kind: 'externalAbort', addr: TWO_POW_40 })
    assert.equal(mem.read64(TWO_POW_40 - 8), 0n)
    assert.deepEqual(mem.write(TWO_POW_40 - 4, new Uint8Array(8).fill(0xff)), { kind: 'externalAbort', addr: TWO_POW_40 })
    assert.equal(mem.read32(TWO_POW_40 - 4), 0, 'the in-range half was not written')
    assert.deepEqual(mem.read32(TWO_POW_40 + 0x1000), { kind: 'externalAbort', addr: TWO_POW_40 + 0x1000 })
    assert.equal(readInPlace(mem, TWO_POW_40), undefined)
    assert.deepEqual(mem.read64(-8), { kind: 'externalAbort', addr: -8 })
    assert.deepEqual(mem.read32(Number.NaN), { kind: 'externalAbort', addr: Number.NaN })
  })

  test('holes abort; the bytes around them work', () => {
    const mem = memory(40, [{ base: 0x8000_0000, size: 0x10_0000 }])
    assert.equal(mem.isBacked(0x7fff_ffff), true)
    assert.equal(mem.isBacked(0x8000_0000), false)
    assert.equal(mem.isBacked(0x8010_0000), true)
    assert.deepEqual(mem.read32(0x8000_0040), { kind: 'externalAbort', addr: 0x8000_0040 })
    assert.deepEqual(mem.read(0x7fff_fffc, 8), { kind: 'externalAbort', addr: 0x8000_0000 })
    assert.deepEqual(mem.write64(0x800f_fff8, 1n), { kind: 'externalAbort', addr: 0x800f_fff8 })
    assert.equal(mem.write64(0x8010_0000, 5n), undefined)
    assert.equal(mem.read64(0x8010_0000), 5n)
  })

  test('the page cache follows pages being allocated and dropped', () => {
    const mem = memory(40)
    assert.deepEqual(readInPlace(mem, 0x5008), { lo: 0, hi: 0 }) // caches the shared zero page
    mem.write64(0x5008, 0x0000_0001_0000_0003n)
    assert.deepEqual(readInPlace(mem, 0x5008), { lo: 3, hi: 1 })
    const out: Word64 = { lo: 0, hi: 0 }
    mem.read64Parts(0x5008, out)
    assert.deepEqual(out, { lo: 3, hi: 1 })
    mem.zero(0x5000, 0x1000)
    assert.deepEqual(readInPlace(mem, 0x5008), { lo: 0, hi: 0 })
    assert.equal(mem.backedPages, 0)
  })

  test('pages that share a cache entry each read their own contents', () => {
    const mem = memory(48)
    // Page numbers 0, 0x2001 and 2^33 (PA 2^45) share one entry of the 8,192-entry page cache,
    // (pn XOR pn / 8192) % 8192 = 0; so do page numbers 0x2000 and 0x4003 (entry 1).
    const pages = [0, 0x200_1000, 0x2000_0000_0000, 0x200_0000, 0x400_3000]
    pages.forEach((pa, k) => mem.write64(pa + 8, BigInt(k + 1)))
    for (let round = 0; round < 3; round++) {
      pages.forEach((pa, k) => {
        assert.deepEqual(readInPlace(mem, pa + 8), { lo: k + 1, hi: 0 }, `page at 0x${pa.toString(16)}`)
        assert.equal(mem.read64(pa + 8), BigInt(k + 1))
      })
    }
  })

  test('the word arena grows past its first frames and keeps every page', () => {
    const mem = memory(48)
    // 100 pages spread over the address space (more than the arena's first 16 frames), each
    // written with its own number at both ends: growth must copy all of them.
    const pageAt = (k: number): number => 0x10_0000_0000 + k * 0x1234_5000
    for (let k = 0; k < 100; k++) {
      mem.write64(pageAt(k), BigInt(k + 1))
      mem.write32(pageAt(k) + 0xffc, 0xa000_0000 + k)
    }
    assert.equal(mem.backedPages, 100)
    for (let k = 0; k < 100; k++) {
      assert.equal(mem.read64(pageAt(k)), BigInt(k + 1), `page ${k} start`)
      assert.equal(mem.read32(pageAt(k) + 0xffc), 0xa000_0000 + k, `page ${k} end`)
      assert.deepEqual(readInPlace(mem, pageAt(k)), { lo: k + 1, hi: 0 })
    }
  })

  test('a dropped page comes back zeroed when its frame is reused', () => {
    const mem = memory(40)
    mem.write(0x3000, new Uint8Array(0x1000).fill(0xee))
    assert.equal(mem.zero(0x3000, 0x1000), undefined)
    assert.equal(mem.backedPages, 0)
    mem.write32(0x7000, 1) // takes the frame page 0x3000 gave back
    assert.deepEqual(mem.read(0x7000, 0x1000), Uint8Array.from({ length: 0x1000 }, (_, i) => (i === 0 ? 1 : 0)))
    assert.equal(mem.read32(0x3000), 0)
  })

  test('descriptorPage: -1 for what aborts, a frame of `words` otherwise', () => {
    const mem = memory(40, [{ base: 0x8000_0000, size: 0x1000 }])
    mem.write64(0x4010, 0x0000_0002_0000_0001n)
    const frame = mem.descriptorPage(0, 0x4010)
    assert.ok(frame >= 0)
    assert.deepEqual([mem.words[frame + 4], mem.words[frame + 5]], [1, 2])
    assert.equal(mem.descriptorPage(0, 0x8000_0008 | 0), -1, 'hole')
    assert.equal(mem.descriptorPage(0x100, 0), -1, 'at 2^40')
    // Negative addresses never match an empty cache entry (tag and frame -1).
    assert.equal(mem.descriptorPage(-1, -0x1000), -1, 'at -0x1000')
    assert.equal(mem.descriptorPage(-1, -0x2000_0000), -1, 'at -0x2000_0000')
    // Nor do addresses far beyond 2^52 whose upper word, shifted into a cache tag, would wrap onto
    // the tag of a backed page (0x4010 is cached above; 2^57 + 0x4010 and 2^64 + 0x4010 are not memory).
    assert.equal(mem.descriptorPage(2 ** 25, 0x4010), -1, 'at 2^57 + 0x4010')
    assert.equal(mem.descriptorPage(2 ** 32, 0x4010), -1, 'at 2^64 + 0x4010')
  })

  test('snapshot compares contents, not backing', () => {
    const mem = memory(40)
    const empty = mem.snapshot()
    mem.write64(0x9000, 0n)
    assert.deepEqual(mem.snapshot(), empty)
    mem.write32(0x9010, 0xdead_beef)
    assert.notDeepEqual(mem.snapshot(), empty)
    mem.zero(0x9010, 4)
    assert.deepEqual(mem.snapshot(), empty)
  })
})

describe('TableAllocator', () => {
  test('pool validation', () => {
    const mem = memory(32, [{ base: 0x10_0000, size: 0x1000 }])
    for (const [base, size] of [
      [0x800, 0x1000],
      [0x1000, 0x1800],
      [0xf_f000, 0x2000],
      [0xffff_f000, 0x2000],
    ]) {
      const r = createTableAllocator(mem, { base, size })
      assert.equal(r.ok, false, `${base} +${size}`)
      if (!r.ok) assert.equal(r.error.errno, 'EINVAL')
    }
  })

  test('first fit, natural alignment, ENOMEM, coalescing', () => {
    const mem = memory(40)
    const a = allocator(mem, 0x10_0000, 0x8000) // 8 pages: 0x100000 .. 0x107fff
    assert.deepEqual(a.alloc(0x1000), { ok: true, value: 0x10_0000 })
    // 16 KiB aligned to 16 KiB: 0x101000 is not aligned, the first fit is 0x104000
    assert.deepEqual(a.alloc(0x4000), { ok: true, value: 0x10_4000 })
    // the gap 0x101000 .. 0x103fff is still there
    assert.deepEqual(a.alloc(0x2000), { ok: true, value: 0x10_2000 })
    assert.deepEqual(a.alloc(0x1000), { ok: true, value: 0x10_1000 })
    assert.equal(a.usedBytes, 0x8000)
    const none = a.alloc(0x1000)
    assert.equal(none.ok, false)
    if (!none.ok) assert.equal(none.error.errno, 'ENOMEM')
    a.release(0x10_1000, 0x1000)
    a.release(0x10_0000, 0x1000)
    a.release(0x10_2000, 0x2000)
    assert.deepEqual(a.alloc(0x4000), { ok: true, value: 0x10_0000 }, 'released runs coalesced')
    assert.equal(a.liveAllocations, 2)
  })

  test('pages are zero when handed out and after release', () => {
    const mem = memory(40)
    const a = allocator(mem, 0x20_0000, 0x2000)
    const r = a.alloc(0x1000)
    assert.ok(r.ok)
    mem.write64(r.value + 8, 0x1234n)
    a.release(r.value, 0x1000)
    assert.equal(mem.read64(r.value + 8), 0n)
    mem.write64(0x20_0010, 0x55n) // someone scribbles on a free page
    const again = a.alloc(0x1000)
    assert.ok(again.ok)
    assert.equal(mem.read64(again.value + 0x10), 0n)
  })

  test('bad sizes are EINVAL, foreign releases are bugs', () => {
    const mem = memory(40)
    const a = allocator(mem, 0x20_0000, 0x4000)
    for (const [bytes, align] of [
      [0x800, undefined],
      [0, undefined],
      [0x1000, 0x800],
      [0x1000, 0x3000],
    ]) {
      const r = a.alloc(bytes as number, align)
      assert.equal(r.ok, false)
      if (!r.ok) assert.equal(r.error.errno, 'EINVAL')
    }
    assert.throws(() => a.release(0x20_0000, 0x1000))
  })
})
