import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Iotlb, PERMS, type Translation } from '../../model/pgtable'

const RW = PERMS[3]

/** A hand-made translation: `size` bytes at `iovaBase` -> `oaBase`, looked up at `iovaBase + off`. */
function tr(iovaBase: number, oaBase: number, size: number, off = 0, ipaBase?: number): Translation {
  return {
    kind: 'ok',
    input: iovaBase + off,
    oa: oaBase + off,
    ipa: ipaBase === undefined ? undefined : ipaBase + off,
    level: size === 0x1000 ? 3 : 2,
    size,
    perm: RW,
  }
}

describe('Iotlb', () => {
  test('an entry covers its whole block, for its own tags only', () => {
    const tlb = new Iotlb()
    const e = tlb.insert(1, 7, false, tr(0x20_0000, 0x8000_0000, 0x20_0000, 0x1234))
    assert.equal(e.iova, 0x20_0000)
    assert.equal(e.oa, 0x8000_0000)
    assert.equal(tlb.lookup(1, 7, false, 0x3f_ffff), e)
    assert.equal(tlb.lookup(1, 7, false, 0x40_0000), undefined)
    assert.equal(tlb.lookup(1, 8, false, 0x20_0000), undefined, 'other ASID')
    assert.equal(tlb.lookup(2, 7, false, 0x20_0000), undefined, 'other VMID')
    assert.equal(tlb.lookup(1, 7, true, 0x20_0000), undefined, 'other privilege')
    assert.deepEqual(tlb.stats, { hits: 1, misses: 4, inserts: 1, evictions: 0 })
  })

  test('entries of different sizes at the same base coexist', () => {
    const tlb = new Iotlb()
    tlb.insert(1, 1, false, tr(0, 0x1000_0000, 0x1000))
    tlb.insert(1, 1, false, tr(0, 0x2000_0000, 0x20_0000))
    assert.equal(tlb.size, 2)
    assert.equal(tlb.lookup(1, 1, false, 0x5000)?.oa, 0x2000_0000)
  })

  test('invalidation by ASID, VMID, VA range, IPA range, all', () => {
    const tlb = new Iotlb()
    tlb.insert(1, 1, false, tr(0x0000, 0x10_0000, 0x1000))
    tlb.insert(1, 1, false, tr(0x1000, 0x11_0000, 0x1000))
    tlb.insert(1, 2, false, tr(0x1000, 0x12_0000, 0x1000))
    tlb.insert(2, 1, false, tr(0x1000, 0x13_0000, 0x1000, 0, 0x7000))
    tlb.insert(3, -1, false, tr(0x9000, 0x14_0000, 0x1000)) // stage-2 only: input is an IPA
    assert.equal(tlb.invalidateVa(0x1800, 0x10, { asid: 1, vmid: 1 }), 1)
    assert.equal(tlb.lookup(1, 1, false, 0x1000), undefined)
    assert.ok(tlb.lookup(1, 1, false, 0x0000))
    assert.equal(tlb.invalidateIpa(2, 0x7ff8, 0x10), 1)
    assert.equal(tlb.invalidateIpa(3, 0x9000, 0x1000), 1)
    assert.equal(tlb.invalidateAsid(2), 1)
    assert.equal(tlb.invalidateVmid(1), 1)
    assert.equal(tlb.size, 0)
    tlb.insert(1, 1, false, tr(0, 0, 0x1000))
    assert.equal(tlb.invalidateAll(), 1)
    assert.equal(tlb.lookup(1, 1, false, 0), undefined)
  })

  test('capacity evicts the oldest entry', () => {
    const tlb = new Iotlb(2)
    tlb.insert(1, 1, false, tr(0x0000, 0, 0x1000))
    tlb.insert(1, 1, false, tr(0x1000, 0, 0x1000))
    tlb.insert(1, 1, false, tr(0x2000, 0, 0x1000))
    assert.equal(tlb.size, 2)
    assert.equal(tlb.lookup(1, 1, false, 0x0000), undefined)
    assert.ok(tlb.lookup(1, 1, false, 0x2000))
    assert.equal(tlb.stats.evictions, 1)
  })

  test('tags outside [-1, 0xffff] are a caller bug', () => {
    assert.throws(() => new Iotlb().lookup(0x1_0000, 0, false, 0))
  })
})
