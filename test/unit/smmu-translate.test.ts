/**
 * SMMU translation: stream -> context -> IOTLB / walk, the guest stage 1 nested in a NESTED
 * domain's stage 2, the guest's memory view, invalidation, and fault reports. Every expected
 * value is worked out by hand in the comments (4K granule: L0 = a >> 39, L1 = (a >> 30) & 511,
 * L2 = (a >> 21) & 511, L3 = (a >> 12) & 511; descriptor = table + 8 * index).
 *
 * The worked example (as in features/translation/trans3-nested.feature):
 *   host stage 2: IPA 0x4000_0000 + 2M -> PA 0x8000_0000, one block (L0 at 0x1_0000_0000,
 *     L1 0x1_0000_1000 index 1, L2 0x1_0000_2000 index 0)
 *   guest stage 1: TTB IPA 0x4000_0000, T0SZ 25 (start level 1); IOVA 0x8040_3010 has L1 index 2,
 *     L2 index 2, L3 index 3: entries at IPA 0x4000_0010, 0x4000_1010, 0x4000_2018;
 *     leaf 0x4010_0F47 -> IPA 0x4010_0010 -> PA 0x8010_0010.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  createMemory,
  createSystem,
  encodeEvent,
  eventFor,
  contextBankFaultFor,
  loadFixture,
  PROFILES,
  SmmuInstance,
  stage1Context,
  traceRows,
  type Fault,
  type ProfileName,
  type Result,
  type S1Regs,
  type TranslateResult,
} from '../../model'

const GUEST: S1Regs = { ttbr: 0x4000_0000, t0sz: 25, granule: 4096, oas: 40 }
const RW = { read: true, write: true }

function errnoOf(r: Result<unknown>): string {
  return r.ok ? 'ok' : r.error.errno
}

function value<T>(r: Result<T>): T {
  assert.ok(r.ok, r.ok ? '' : `${r.error.errno}: ${r.error.message}`)
  return r.value
}

function oaOf(t: TranslateResult): number | string {
  return t.kind === 'ok' ? t.oa : t.kind === 'streamNotTranslated' ? t.kind : `${t.kind} s${t.stage} l${t.level}`
}

function faultOf(t: TranslateResult): Fault {
  assert.ok(t.kind !== 'ok' && t.kind !== 'streamNotTranslated', `expected a translation fault, got ${JSON.stringify(t)}`)
  return t
}

/** A system with one SMMU and a domain of `request` attached to stream 0x10. */
function attached(fixture: string, request: 'S1' | 'NESTED', profile: ProfileName = 'merged') {
  const system = createSystem(profile)
  const smmu = value(system.addSmmu('smmu0', loadFixture(fixture)))
  const { domain, result } = system.attachNewDomain(request, smmu, 0x10)
  value(result)
  return { system, smmu, domain }
}

/** The worked example: host stage 2 for the guest's RAM, the guest's three descriptors, its stage 1 installed. */
function workedExample(fixture = 'synthetic-nested', profile: ProfileName = 'merged') {
  const env = attached(fixture, 'NESTED', profile)
  value(env.domain.map(0x4000_0000n, 0x8000_0000, 0x20_0000n, RW))
  const guest = value(env.smmu.guestMemory(0x10))
  value(guest.write64(0x4000_0010, 0x0000_0000_4000_1003n))
  value(guest.write64(0x4000_1010, 0x0000_0000_4000_2003n))
  value(guest.write64(0x4000_2018, 0x0000_0000_4010_0f47n))
  // SMMUv3: the guest's CD is in its RAM, after its three tables (a nested STE points at its IPA).
  value(env.smmu.installGuestStage1(0x10, GUEST, 1, env.smmu.features.arch === 'smmuv3' ? { cdIpa: 0x4000_3000 } : {}))
  return { ...env, guest }
}

describe('stage 1 and stage 2 through a stream', () => {
  it('stage 1: IOVA 0x4020_1234 -> PA 0x8000_5234, leaf 0x0060_0000_8000_5F47 at 0x1_0000_3008', () => {
    const { system, smmu, domain } = attached('synthetic-nested', 'S1')
    value(domain.map(0x4020_1000n, 0x8000_5000, 0x1000n, { ...RW, cache: true, noexec: true }))
    assert.equal(system.memory.read64(0x1_0000_3008), 0x0060_0000_8000_5f47n)
    assert.equal(oaOf(smmu.translate(0x10, 0x4020_1234)), 0x8000_5234)
  })

  it('stage 2 only (a NESTED domain before any guest stage 1): the IOVA is the IPA', () => {
    const { smmu, domain } = attached('synthetic-nested', 'NESTED')
    value(domain.map(0x4000_0000n, 0x8000_0000, 0x20_0000n, RW))
    assert.equal(oaOf(smmu.translate(0x10, 0x401f_fff8)), 0x801f_fff8)
    // IPA 0x4020_0000: L2 index 1 of the table at 0x1_0000_2000 is empty.
    assert.equal(oaOf(smmu.translate(0x10, 0x4020_0000)), 'translation s2 l2')
  })

  it('a stream with no context: the transaction aborts, nothing is reported', () => {
    const { smmu } = attached('synthetic-nested', 'S1')
    assert.equal(oaOf(smmu.translate(0x11, 0)), 'streamNotTranslated')
    assert.equal(smmu.contextBankFault(2), undefined)
  })

  it('SMMUv3 with stage 1 bypassed: an input at 2^IAS is a stage-1 Address size fault; SMMUv2 walks it', () => {
    const v3 = attached('synthetic-smmuv3-nested', 'NESTED', 'linux-6.1') // IAS 44
    assert.equal(oaOf(v3.smmu.translate(0x10, 2 ** 44)), 'addressSize s1 l0')
    assert.equal(oaOf(v3.smmu.translate(0x10, 2 ** 44 - 0x1000)), 'translation s2 l0')
    const v2 = attached('synthetic-nested', 'NESTED') // IAS 48, T0SZ 16
    assert.equal(oaOf(v2.smmu.translate(0x10, 2 ** 44)), 'translation s2 l0')
    assert.equal(oaOf(v2.smmu.translate(0x10, 2 ** 48)), 'translation s2 l0')
  })
})

describe('nested translation with a guest stage 1', () => {
  it('the worked example: IOVA 0x8040_3010 -> IPA 0x4010_0010 -> PA 0x8010_0010', () => {
    const { smmu } = workedExample()
    const t = smmu.translate(0x10, 0x8040_3010)
    assert.ok(t.kind === 'ok')
    assert.equal(t.ipa, 0x4010_0010)
    assert.equal(t.oa, 0x8010_0010)
    // combined leaf: the smaller of the stage-1 page (4K, L3) and the stage-2 block (2M, L2)
    assert.equal(t.size, 0x1000)
    assert.equal(t.level, 3)
  })

  it('the walk trace: 3 x (3 stage-2 fetches + 1 stage-1 fetch) + 3 stage-2 fetches for the final IPA', () => {
    const { smmu } = workedExample()
    const rows = traceRows(smmu.explainWalk(0x10, 0x8040_3010).reads)
    const s2Table = [
      ['S2 for S1 table', '0', '0x100000000', '0x100001003'],
      ['S2 for S1 table', '1', '0x100001008', '0x100002003'],
      ['S2 for S1 table', '2', '0x100002000', '0x800006d5'], // merged: no IOMMU_CACHE -> 0x6D5
    ]
    assert.deepEqual(rows, [
      ...s2Table,
      ['S1', '1', '0x80000010', '0x40001003'],
      ...s2Table,
      ['S1', '2', '0x80001010', '0x40002003'],
      ...s2Table,
      ['S1', '3', '0x80002018', '0x40100f47'],
      ...s2Table.map(([, level, pa, desc]) => ['S2', level as string, pa as string, desc as string]),
    ])
  })

  it('explainWalk neither fills the IOTLB nor reports', () => {
    const { smmu } = workedExample('synthetic-smmuv3-nested', 'linux-6.1')
    smmu.explainWalk(0x10, 0x8040_3010)
    smmu.explainWalk(0x10, 0x8040_4010) // L3 index 4: invalid
    assert.equal(smmu.tlbSize, 0)
    assert.equal(smmu.events().length, 0)
  })

  it('SMMUv2: the guest stage 1 takes the first stage-1 bank (NUMS2CB = 2), nested in bank 0, with bank 0 VMID', () => {
    for (const [profile, vmid] of [
      ['merged', 1], // 3.x: every bank VMID = bank + 1
      ['linux-6.1', 0], // union: a NESTED bank's VMID is its index
    ] as const) {
      const { smmu } = workedExample('synthetic-nested', profile)
      const g = smmu.guestStage1(0x10)
      assert.deepEqual(
        g?.kind === 'context-bank' ? { bank: g.bank, cbar: g.cbar, s2Bank: g.s2Bank, vmid: g.vmid, asid: g.asid } : g,
        { bank: 2, cbar: 'S1_TRANS_S2_TRANS', s2Bank: 0, vmid, asid: 1 },
        profile,
      )
      assert.deepEqual(smmu.banksInUse(), [0, 2])
      assert.deepEqual(smmu.tlbTags(0x10), { vmid, asid: 1 })
    }
  })

  it('SMMUv3: an STE with both stages, no bank; VMID 1 (the first VMID)', () => {
    const { smmu } = workedExample('synthetic-smmuv3-nested', 'linux-6.1')
    assert.deepEqual(smmu.guestStage1(0x10)?.kind, 'stream-table')
    assert.deepEqual(smmu.tlbTags(0x10), { vmid: 1, asid: 1 })
    assert.equal(oaOf(smmu.translate(0x10, 0x8040_3010)), 0x8010_0010)
  })

  it('installGuestStage1 errors: EINVAL, EOPNOTSUPP, ENOSPC; a failed install takes nothing', () => {
    const s1 = attached('synthetic-nested', 'S1')
    assert.equal(errnoOf(s1.smmu.installGuestStage1(0x10, GUEST, 1)), 'EINVAL') // a stage-1 context
    assert.equal(errnoOf(s1.smmu.installGuestStage1(0x11, GUEST, 1)), 'EINVAL') // no context at all
    const noNts = attached('synthetic-s1-s2', 'NESTED') // merged keeps NESTED without NTS
    assert.equal(noNts.domain.stage, 'NESTED')
    assert.equal(errnoOf(noNts.smmu.installGuestStage1(0x10, GUEST, 1)), 'EOPNOTSUPP')
    const rfc = attached('synthetic-s1-s2', 'NESTED', 'rfc-v2') // the RFC makes it S2
    assert.equal(errnoOf(rfc.smmu.installGuestStage1(0x10, GUEST, 1)), 'EINVAL')
    const full = attached('synthetic-one-bank', 'NESTED')
    assert.equal(errnoOf(full.smmu.installGuestStage1(0x10, GUEST, 1)), 'ENOSPC')
    assert.deepEqual(full.smmu.banksInUse(), [0])
    const n = attached('synthetic-nested', 'NESTED')
    assert.equal(errnoOf(n.smmu.installGuestStage1(0x10, GUEST, 0x1_0000)), 'EINVAL') // ASID beyond 16 bits
    assert.equal(errnoOf(n.smmu.installGuestStage1(0x10, { ...GUEST, ttbr: 0x4000_0800 }, 1)), 'EINVAL') // TTB not aligned to 4K
    assert.equal(errnoOf(n.smmu.installGuestStage1(0x10, { ...GUEST, t0sz: 12 }, 1)), 'EINVAL') // 52-bit input
    assert.deepEqual(n.smmu.banksInUse(), [0])
    assert.equal(n.smmu.guestStage1(0x10), undefined)
    const v3 = attached('synthetic-smmuv3-nested', 'NESTED', 'linux-6.1') // 16 ASID bits
    value(v3.domain.map(0x4000_0000n, 0x8000_0000, 0x20_0000n, RW))
    // IHI 0070 5.2: a nested STE's S1ContextPtr is an IPA; the guest names where its CD is.
    assert.equal(errnoOf(v3.smmu.installGuestStage1(0x10, GUEST, 0xffff)), 'EINVAL')
    assert.equal(errnoOf(v3.smmu.installGuestStage1(0x10, GUEST, 0xffff, { cdIpa: 0x4000_3000 })), 'ok')
    // A context bank holds the guest's stage 1 itself: no CD to place.
    assert.equal(errnoOf(n.smmu.installGuestStage1(0x10, GUEST, 1, { cdIpa: 0x4000_3000 })), 'EINVAL')
  })

  it('installing again keeps the bank; removing frees it; detaching the stream removes it too', () => {
    const { smmu, domain } = workedExample()
    value(smmu.installGuestStage1(0x10, GUEST, 7))
    assert.deepEqual(smmu.banksInUse(), [0, 2])
    assert.equal(smmu.guestStage1(0x10)?.asid, 7)
    value(smmu.removeGuestStage1(0x10))
    assert.deepEqual(smmu.banksInUse(), [0])
    assert.equal(errnoOf(smmu.removeGuestStage1(0x10)), 'EINVAL')
    value(smmu.installGuestStage1(0x10, GUEST, 1))
    value(domain.detach(0x10))
    assert.deepEqual(smmu.banksInUse(), [0])
    assert.equal(smmu.guestStage1(0x10), undefined)
  })
})

describe('the guest memory view', () => {
  it('reads and writes go to the PA the host stage 2 gives; descriptors come from memory', () => {
    const { system, guest } = workedExample()
    assert.equal(system.memory.read64(0x8000_2018), 0x0000_0000_4010_0f47n)
    assert.deepEqual(guest.read64(0x4000_2018), { ok: true, value: 0x0000_0000_4010_0f47n })
    assert.deepEqual(guest.translate(0x401f_ffff, 'write'), { ok: true, value: 0x801f_ffff })
  })

  it('an IPA the host did not map is EFAULT, and a write crossing into it writes nothing', () => {
    const { system, guest } = workedExample()
    assert.equal(errnoOf(guest.write64(0x5000_0000, 1n)), 'EFAULT')
    // 8 bytes at IPA 0x401f_fffc: 4 in the guest's RAM, 4 at IPA 0x4020_0000 (not mapped).
    assert.equal(errnoOf(guest.write(0x401f_fffc, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))), 'EFAULT')
    assert.deepEqual(system.memory.read(0x801f_fffc, 4), new Uint8Array(4))
  })

  it('a read-only stage-2 mapping cannot be written through the view', () => {
    const { smmu, domain } = attached('synthetic-nested', 'NESTED')
    value(domain.map(0x4000_0000n, 0x8000_0000, 0x1000n, { read: true, write: false }))
    const guest = value(smmu.guestMemory(0x10))
    assert.equal(errnoOf(guest.write64(0x4000_0000, 1n)), 'EFAULT')
    assert.equal(errnoOf(guest.read64(0x4000_0000)), 'ok')
  })

  it('there is no guest memory behind a stage-1 context', () => {
    const { smmu } = attached('synthetic-nested', 'S1')
    assert.equal(errnoOf(smmu.guestMemory(0x10)), 'EINVAL')
  })
})

describe('IOTLB', () => {
  it('the second transaction to a page hits the IOTLB', () => {
    const { smmu } = workedExample()
    smmu.translate(0x10, 0x8040_3010)
    const before = { ...smmu.tlbStats }
    assert.equal(oaOf(smmu.translate(0x10, 0x8040_3ff8)), 0x8010_0ff8)
    assert.equal(smmu.tlbStats.hits, before.hits + 1)
    assert.equal(smmu.tlbStats.misses, before.misses)
  })

  it('stale until the guest invalidates by ASID and VA (or ASID); another ASID or page does not help', () => {
    for (const [tlbi, expected] of [
      [{ asid: 1, iova: 0x8040_3000 }, 0x8010_1010],
      [{ asid: 1 }, 0x8010_1010],
      [{ asid: 2 }, 0x8010_0010],
      [{ asid: 1, iova: 0x8040_4000 }, 0x8010_0010],
    ] as const) {
      const { smmu, guest } = workedExample()
      assert.equal(oaOf(smmu.translate(0x10, 0x8040_3010)), 0x8010_0010)
      value(guest.write64(0x4000_2018, 0x0000_0000_4010_1f47n)) // the L3 entry now points at IPA 0x4010_1000
      assert.equal(oaOf(smmu.translate(0x10, 0x8040_3010)), 0x8010_0010, 'stale entry')
      value(smmu.guestInvalidate(0x10, tlbi))
      assert.equal(oaOf(smmu.translate(0x10, 0x8040_3010)), expected, JSON.stringify(tlbi))
    }
  })

  it('a cached entry that lacks the permission is walked again (a stage-2 read-only page, written)', () => {
    const { smmu, domain } = attached('synthetic-nested', 'NESTED')
    value(domain.map(0x4000_0000n, 0x8000_0000, 0x1000n, { read: true, write: false }))
    assert.equal(oaOf(smmu.translate(0x10, 0x4000_0000)), 0x8000_0000)
    assert.equal(oaOf(smmu.translate(0x10, 0x4000_0000, { kind: 'write' })), 'permission s2 l3')
  })

  it('domain unmap invalidates the range: stage 1 by ASID + VA, stage 2 by IPA (combined entries too)', () => {
    const s1 = attached('synthetic-nested', 'S1')
    value(s1.domain.map(0x10_0000n, 0x8000_0000, 0x2000n, RW))
    s1.smmu.translate(0x10, 0x10_0000)
    s1.smmu.translate(0x10, 0x10_1000)
    assert.equal(s1.smmu.tlbSize, 2)
    value(s1.domain.unmap(0x10_1000n, 0x1000n))
    assert.equal(s1.smmu.tlbSize, 1)
    assert.equal(oaOf(s1.smmu.translate(0x10, 0x10_1000)), 'translation s1 l3')

    const { smmu, domain } = workedExample()
    smmu.translate(0x10, 0x8040_3010)
    assert.equal(smmu.tlbSize, 1)
    value(domain.unmap(0x4000_0000n, 0x20_0000n))
    assert.equal(smmu.tlbSize, 0)
    // The guest's L1 entry (IPA 0x4000_0010) is no longer mapped: stage 2 faults on the table walk.
    const f = faultOf(smmu.translate(0x10, 0x8040_3010))
    assert.deepEqual([f.kind, f.stage, f.level, f.onS1TableWalk, f.ipa], ['translation', 2, 2, true, 0x4000_0010])
  })

  it('freeing the domain flushes its entries', () => {
    const { system, smmu, domain } = workedExample()
    smmu.translate(0x10, 0x8040_3010)
    const other = system.attachNewDomain('S1', smmu, 0x11)
    value(other.result)
    value(other.domain.map(0n, 0x9000_0000, 0x1000n, RW))
    smmu.translate(0x11, 0)
    assert.equal(smmu.tlbSize, 2)
    system.iommu.freeDomain(domain)
    assert.equal(smmu.tlbSize, 1)
    assert.deepEqual(smmu.banksInUse(), [3]) // the S1 domain took bank 3 (2 was the guest's)
  })

  it('raw commands: all, by VMID, by ASID', () => {
    const { smmu } = workedExample()
    smmu.translate(0x10, 0x8040_3010)
    assert.equal(smmu.invalidateAsid(1, 0), 0) // VMID 0 is not this context's (merged: bank 0 -> VMID 1)
    assert.equal(smmu.invalidateVmid(1), 1)
    smmu.translate(0x10, 0x8040_3010)
    assert.equal(smmu.invalidateAll(), 1)
  })
})

describe('fault reports', () => {
  it('SMMUv3 event for a stage-2 fault on the stage-1 table walk: CLASS TT, IPA [51:12]', () => {
    const { smmu, guest } = workedExample('synthetic-smmuv3-nested', 'linux-6.1')
    value(guest.write64(0x4000_1010, 0x0000_0000_5000_0003n)) // L3 table at IPA 0x5000_0000: entry 3 at 0x5000_0018
    const r = smmu.dma(0x10, 'read', 0x8040_3010, 4)
    assert.equal(r.kind, 'fault')
    const [e] = smmu.drainEvents()
    assert.ok(e !== undefined)
    assert.deepEqual(
      { name: e.name, sid: e.sid, rnw: e.rnw, s2: e.s2, cls: e.class, input: e.inputAddr, ipa: e.ipa },
      { name: 'F_TRANSLATION', sid: 0x10, rnw: true, s2: true, cls: 'TT', input: 0x8040_3010, ipa: 0x5000_0000 },
    )
    // dw0 = 0x10 | 0x10 << 32; dw1 = RnW (bit 35) | S2 (bit 39) | CLASS 1 << 40 = 0x188_0000_0000
    assert.deepEqual(encodeEvent(e), [0x0000_0010_0000_0010n, 0x0000_0188_0000_0000n, 0x8040_3010n, 0x5000_0000n])
    assert.equal(smmu.events().length, 0)
  })

  it('SMMUv3 event encodings by hand: F_PERMISSION write at stage 1; F_ADDR_SIZE; F_WALK_EABT FetchAddr [51:3]', () => {
    const write = { kind: 'write' } as const
    const read = { kind: 'read' } as const
    const s1Perm: Fault = { kind: 'permission', stage: 1, level: 3, addr: 0x1000, onS1TableWalk: false }
    // IHI 0070 7.3.13/7.3.16: a stage-1 fault has S2 = 0, CLASS = IN (2 << 40 = 0x200_0000_0000)
    assert.deepEqual(encodeEvent(eventFor(s1Perm, 0x8, 0x1000, write)), [0x0000_0008_0000_0013n, 0x0000_0200_0000_0000n, 0x1000n, 0n])
    const s2In: Fault = { kind: 'addressSize', stage: 2, level: 1, addr: 0x1234_5678, ipa: 0x1234_5678, iova: 0x40, onS1TableWalk: false }
    // CLASS IN = 2 -> bit 41; RnW bit 35; S2 bit 39: 0x8_0000_0000 + 0x80_0000_0000 + 0x200_0000_0000 = 0x288_0000_0000
    assert.deepEqual(encodeEvent(eventFor(s2In, 0x10, 0x40, read)), [0x0000_0010_0000_0011n, 0x0000_0288_0000_0000n, 0x40n, 0x1234_5000n])
    const eabt: Fault = { kind: 'externalAbort', stage: 1, level: 1, addr: 0x40, onS1TableWalk: false, fetchAddr: 0x9000_000f }
    // IHI 0070 7.3.12: a stage-1 descriptor fetch abort is S2 = 0, CLASS = TT (1 << 40) + RnW
    assert.deepEqual(encodeEvent(eventFor(eabt, 0x10, 0x40, read)), [0x0000_0010_0000_000bn, 0x0000_0108_0000_0000n, 0x40n, 0x9000_0008n])
  })

  it('SMMUv2 context-bank registers: CB_FSR bit, FSYNR0 PLVL/WNR/PTWF, FAR', () => {
    const f: Fault = { kind: 'translation', stage: 2, level: 2, addr: 0x5000_0018, ipa: 0x5000_0018, iova: 0x8040_3010, onS1TableWalk: true }
    // TF = bit 1; PLVL 2 | PTWF bit 10 = 0x402; WNR bit 4 for a write -> 0x412
    assert.deepEqual(contextBankFaultFor(f, 2, 0x8040_3010, { kind: 'write' }), { bank: 2, fsr: 0x2, fsynr0: 0x412, far: 0x8040_3010 })
    const { smmu, guest } = workedExample()
    value(guest.write64(0x4000_2018, 0x0000_0000_4010_0fc7n)) // read-only page (AP[2] 0x80)
    smmu.dma(0x10, 'write', 0x8040_3010, 4)
    // PF = bit 3; PLVL 3 | WNR 0x10 = 0x13; recorded in the guest's stage-1 bank 2
    assert.deepEqual(smmu.contextBankFault(2), { bank: 2, fsr: 0x8, fsynr0: 0x13, far: 0x8040_3010 })
    assert.equal(smmu.contextBankFault(0), undefined)
  })

  it('an external abort on a descriptor fetch (a table in a memory hole): EF / F_WALK_EABT with the fetch address', () => {
    // A TTB inside a hole at PA 0x9000_0000: the level-0 fetch of IOVA 0x10 (index 0) aborts at 0x9000_0000.
    const mem = value(createMemory({ oas: 48, holes: [{ base: 0x9000_0000, size: 0x1000 }] }))
    for (const [fixture, profile] of [
      ['synthetic-nested', 'merged'],
      ['synthetic-smmuv3-nested', 'linux-6.1'],
    ] as const) {
      const smmu = value(SmmuInstance.probe('smmu0', loadFixture(fixture), PROFILES[profile].smmu, mem))
      const ctx = value(smmu.allocateContext('S1'))
      smmu.programContext(ctx, value(stage1Context({ ttbr: 0x9000_0000, t0sz: 16, granule: 4096, oas: 48 })))
      value(smmu.bindStream(0x10, ctx))
      const f = faultOf(smmu.translate(0x10, 0x10))
      assert.deepEqual([f.kind, f.stage, f.level, f.fetchAddr], ['externalAbort', 1, 0, 0x9000_0000])
      if (fixture === 'synthetic-nested') assert.equal(smmu.contextBankFault(2)?.fsr, 0x10) // EF = bit 4
      else assert.deepEqual([smmu.events()[0]?.name, smmu.events()[0]?.fetchAddr], ['F_WALK_EABT', 0x9000_0000])
    }
  })
})

describe('device DMA', () => {
  it('a DMA crossing a page is split per page; a fault anywhere moves nothing', () => {
    const { system, smmu, guest } = workedExample()
    // IOVA 0x8040_3ffc + 8 crosses into IOVA page 0x8040_4000, whose L3 entry (index 4) is invalid.
    const r = smmu.dma(0x10, 'write', 0x8040_3ffc, 8, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))
    assert.deepEqual(r.kind === 'fault' ? [r.at, faultOf(r.fault).level] : r, [0x8040_4000, 3])
    assert.deepEqual(system.memory.read(0x8010_0ffc, 4), new Uint8Array(4))
    // L3 entry 4 (IPA 0x4000_2020) -> IPA 0x4010_1000: now both pages translate, to PA 0x8010_0ffc and 0x8010_1000.
    value(guest.write64(0x4000_2020, 0x0000_0000_4010_1f47n))
    const ok = smmu.dma(0x10, 'write', 0x8040_3ffc, 8, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))
    assert.deepEqual(ok.kind === 'ok' ? ok.pieces : ok, [
      { iova: 0x8040_3ffc, pa: 0x8010_0ffc, length: 4 },
      { iova: 0x8040_4000, pa: 0x8010_1000, length: 4 },
    ])
    assert.deepEqual(system.memory.read(0x8010_0ffc, 8), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))
  })
})
