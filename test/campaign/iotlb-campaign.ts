/**
 * Model-based campaign for the IOTLB (model/pgtable/iotlb.ts, whose lookup is a hand-written hash
 * table): random inserts, lookups and every invalidation against a reference that keeps a plain
 * list of entries and applies the documented rules.
 *
 * Reference rules (from the Iotlb contract): an entry covers [iova, iova + size) of one
 * (vmid, asid, privileged); inserting the same block again replaces it and makes it the newest;
 * over capacity the oldest goes; a lookup returns an entry covering the address for those tags
 * (any of them when blocks of different sizes overlap: the architecture calls that a TLB
 * conflict), undefined when none does; invalidations remove exactly the entries their predicate
 * names. Statistics count hits, misses, inserts and evictions.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Iotlb, PERMS, type IotlbEntry, type Translation } from '../../model/pgtable'

const SIZES = [0x1000, 0x20_0000, 0x4000_0000] as const
const LEVEL_OF: Record<number, number> = { 0x1000: 3, 0x20_0000: 2, 0x4000_0000: 1 }
/** Inputs cluster near a high base so that block indices are not small integers. */
const BASE = 2 ** 40

interface RefEntry {
  readonly vmid: number
  readonly asid: number
  readonly privileged: boolean
  readonly iova: number
  readonly size: number
  readonly ipa?: number
  readonly oa: number
}

type Op =
  | { readonly op: 'insert'; readonly vmid: number; readonly asid: number; readonly privileged: boolean; readonly block: number; readonly size: number; readonly nested: boolean }
  | { readonly op: 'lookup'; readonly vmid: number; readonly asid: number; readonly privileged: boolean; readonly at: number }
  /** A lookup aimed at the `pick`-th entry the reference holds, `off` bytes in (may be past its end). */
  | { readonly op: 'aimed'; readonly pick: number; readonly off: number; readonly otherTags: boolean }
  | { readonly op: 'asid'; readonly asid: number; readonly vmid?: number }
  | { readonly op: 'vmid'; readonly vmid: number }
  | { readonly op: 'va'; readonly at: number; readonly length: number; readonly asid?: number; readonly vmid?: number }
  | { readonly op: 'ipa'; readonly vmid: number; readonly at: number; readonly length: number }
  | { readonly op: 'all' }

const tag = fc.integer({ min: -1, max: 2 })
const at = fc.integer({ min: 0, max: 3 * 0x20_0000 })

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('insert' as const), vmid: tag, asid: tag, privileged: fc.boolean(), block: fc.nat(700), size: fc.constantFrom(...SIZES, 0x1000, 0x1000), nested: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('lookup' as const), vmid: tag, asid: tag, privileged: fc.boolean(), at }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('aimed' as const), pick: fc.nat(), off: fc.nat(0x4000_0000), otherTags: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('asid' as const), asid: tag, vmid: fc.option(tag, { nil: undefined }) }, { requiredKeys: ['op', 'asid'] }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('vmid' as const), vmid: tag }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('va' as const), at, length: fc.integer({ min: 1, max: 0x40_0000 }), asid: fc.option(tag, { nil: undefined }), vmid: fc.option(tag, { nil: undefined }) }, { requiredKeys: ['op', 'at', 'length'] }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('ipa' as const), vmid: tag, at, length: fc.integer({ min: 1, max: 0x40_0000 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'all' as const }) },
)

function translation(input: number, size: number, nested: boolean): Translation {
  return {
    kind: 'ok',
    input,
    oa: input + 0x1234_5000_0000,
    ...(nested ? { ipa: input + 0x7000_0000 } : {}),
    level: LEVEL_OF[size] as number,
    size,
    perm: PERMS[3] as Translation['perm'],
  }
}

function overlaps(start: number, size: number, from: number, length: number): boolean {
  return start < from + length && from < start + size
}

/** An aimed lookup becomes a plain one at an entry the reference holds (or at nothing in particular). */
function resolveAimed(o: Op, ref: readonly RefEntry[]): Exclude<Op, { op: 'aimed' }> {
  if (o.op !== 'aimed') return o
  const x = ref[o.pick % Math.max(1, ref.length)]
  if (x === undefined) return { op: 'lookup', vmid: 0, asid: 0, privileged: false, at: o.off % 0x60_0000 }
  const vmid = o.otherTags ? (x.vmid === 2 ? -1 : x.vmid + 1) : x.vmid
  return { op: 'lookup', vmid, asid: x.asid, privileged: x.privileged, at: x.iova - BASE + (o.off % (x.size + 0x1000)) }
}

export interface IotlbStats {
  runs: number
  ops: number
  hits: number
  misses: number
  evictions: number
  invalidated: number
}

function runOps(capacity: number, ops: readonly Op[], stats: IotlbStats): void {
  stats.runs++
  const tlb = new Iotlb(capacity)
  /** Oldest first. */
  let ref: RefEntry[] = []
  const counts = { hits: 0, misses: 0, inserts: 0, evictions: 0 }
  const same = (a: RefEntry, b: { vmid: number; asid: number; privileged: boolean; iova: number; size: number }): boolean =>
    a.vmid === b.vmid && a.asid === b.asid && a.privileged === b.privileged && a.iova === b.iova && a.size === b.size
  for (const aimedOrNot of ops) {
    stats.ops++
    const o = resolveAimed(aimedOrNot, ref)
    switch (o.op) {
      case 'insert': {
        const iova = BASE + o.block * 0x1000 - ((BASE + o.block * 0x1000) % o.size)
        const t = translation(iova + ((o.block * 0x88) % o.size), o.size, o.nested)
        const e = tlb.insert(o.vmid, o.asid, o.privileged, t)
        assert.equal(e.iova, iova)
        assert.equal(e.oa, iova + 0x1234_5000_0000)
        const entry: RefEntry = { vmid: o.vmid, asid: o.asid, privileged: o.privileged, iova, size: o.size, oa: e.oa, ...(o.nested ? { ipa: iova + 0x7000_0000 } : {}) }
        ref = ref.filter((x) => !same(x, entry))
        ref.push(entry)
        counts.inserts++
        while (ref.length > capacity) {
          ref.shift()
          counts.evictions++
          stats.evictions++
        }
        break
      }
      case 'lookup': {
        const addr = BASE + o.at
        const got: IotlbEntry | undefined = tlb.lookup(o.vmid, o.asid, o.privileged, addr)
        const covering = ref.filter((x) => x.vmid === o.vmid && x.asid === o.asid && x.privileged === o.privileged && addr >= x.iova && addr < x.iova + x.size)
        if (covering.length === 0) {
          assert.equal(got, undefined, `lookup of 0x${addr.toString(16)} hit an entry the reference does not hold`)
          counts.misses++
          stats.misses++
        } else {
          assert.ok(got !== undefined, `lookup of 0x${addr.toString(16)} missed; the reference holds ${covering.length} covering entries`)
          assert.ok(covering.some((x) => same(x, got) && x.oa === got.oa), 'lookup returned an entry the reference does not hold')
          counts.hits++
          stats.hits++
        }
        break
      }
      case 'all': {
        assert.equal(tlb.invalidateAll(), ref.length)
        stats.invalidated += ref.length
        ref = []
        break
      }
      default: {
        const pred = (x: RefEntry): boolean => {
          if (o.op === 'asid') return x.asid === o.asid && (o.vmid === undefined || x.vmid === o.vmid)
          if (o.op === 'vmid') return x.vmid === o.vmid
          if (o.op === 'va') return overlaps(x.iova, x.size, BASE + o.at, o.length) && (o.asid === undefined || x.asid === o.asid) && (o.vmid === undefined || x.vmid === o.vmid)
          // TLBI by IPA: nested entries by their IPA block, stage-2-only entries (ASID -1) by their input.
          const start = x.ipa ?? (x.asid === -1 ? x.iova : undefined)
          return x.vmid === o.vmid && start !== undefined && overlaps(start, x.size, BASE + o.at, o.length)
        }
        const n =
          o.op === 'asid'
            ? tlb.invalidateAsid(o.asid, o.vmid)
            : o.op === 'vmid'
              ? tlb.invalidateVmid(o.vmid)
              : o.op === 'va'
                ? tlb.invalidateVa(BASE + o.at, o.length, { ...(o.asid === undefined ? {} : { asid: o.asid }), ...(o.vmid === undefined ? {} : { vmid: o.vmid }) })
                : tlb.invalidateIpa(o.vmid, BASE + o.at, o.length)
        const gone = ref.filter(pred)
        assert.equal(n, gone.length, `${o.op} invalidation removed ${n} entries, the reference ${gone.length}`)
        stats.invalidated += n
        ref = ref.filter((x) => !pred(x))
      }
    }
    assert.equal(tlb.size, ref.length, 'entry count')
    assert.deepEqual(tlb.stats, counts, 'statistics')
  }
  // At the end every entry the reference holds is found, with its output address.
  for (const x of ref) {
    const got = tlb.lookup(x.vmid, x.asid, x.privileged, x.iova + x.size - 1)
    assert.ok(got !== undefined && got.iova <= x.iova + x.size - 1 && got.iova + got.size > x.iova + x.size - 1)
  }
}

export function runIotlbCampaign(opts: { readonly ops: number; readonly seed: number }): IotlbStats {
  const stats: IotlbStats = { runs: 0, ops: 0, hits: 0, misses: 0, evictions: 0, invalidated: 0 }
  let batch = 0
  while (stats.ops < opts.ops) {
    fc.assert(
      fc.property(fc.oneof(fc.constant(Infinity), fc.integer({ min: 1, max: 40 })), fc.array(opArb, { minLength: 20, maxLength: 300 }), (capacity, ops) => runOps(capacity, ops, stats)),
      { seed: opts.seed + batch, numRuns: 50 },
    )
    batch++
  }
  return stats
}
