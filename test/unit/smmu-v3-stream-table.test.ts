/**
 * SMMUv3 instances keep their streams' configuration as bytes (model/smmu/v3/stream-table.ts):
 * the driver side writes STE and CD, the translation reads them back. Expected field values are
 * the worked example's (features/translation/trans3-nested.feature): host stage 2 at PA
 * 0x1_0000_0000 (IAS 44 on synthetic-smmuv3-nested: S2T0SZ 20, level-0 start = S2SL0 2, 4K = S2TG
 * 0, PS 44 = 0b100), the guest's TTB0 IPA 0x4000_0000, T0SZ 25, IPS 40 = 0b010, ASID 1.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createSystem, loadFixture, type Result } from '../../model'
import { encodeEvent } from '../../model/smmu'
import { cdFields, STE_CONFIG, steFields } from '../../model/smmu/v3'

function value<T>(r: Result<T>): T {
  assert.ok(r.ok, r.ok ? '' : `${r.error.errno}: ${r.error.message}`)
  return r.value
}

function nested() {
  const system = createSystem('linux-6.1')
  const smmu = value(system.addSmmu('smmu0', loadFixture('synthetic-smmuv3-nested')))
  const { domain, result } = system.attachNewDomain('NESTED', smmu, 0x10)
  value(result)
  value(domain.map(0x4000_0000n, 0x8000_0000, 0x20_0000n, { read: true, write: true }))
  const guest = value(smmu.guestMemory(0x10))
  value(guest.write64(0x4000_0010, 0x0000_0000_4000_1003n))
  value(guest.write64(0x4000_1010, 0x0000_0000_4000_2003n))
  value(guest.write64(0x4000_2018, 0x0000_0000_4010_0f47n))
  const words = (pa: number) => Array.from({ length: 8 }, (_, i) => system.memory.read64(pa + 8 * i) as bigint)
  return { system, smmu, words }
}

describe('SMMUv3: stream configuration in memory', () => {
  it("a NESTED domain writes a stage-2 STE; the guest's stage 1 makes it nested: S1ContextPtr is the IPA of the guest's CD, fetched through stage 2", () => {
    const { smmu, words } = nested()
    const at = smmu.steAddress(0x10)!
    let ste = steFields(words(at))
    assert.equal(ste.config, STE_CONFIG.S2_TRANS)
    assert.deepEqual([ste.s2T0sz, ste.s2Sl0, ste.s2Tg, ste.s2Ps, ste.s2Ttb, ste.s2Aa64], [20, 2, 0, 0b100, 0x1_0000_0000, true])
    // IPA 0x4000_3000 is guest RAM after the guest's three tables: PA 0x8000_3000 (IPA 0x4000_0000 + 2M -> PA 0x8000_0000).
    value(smmu.installGuestStage1(0x10, { ttbr: 0x4000_0000, t0sz: 25, granule: 4096, oas: 40 }, 1, { cdIpa: 0x4000_3000 }))
    ste = steFields(words(at))
    assert.deepEqual([ste.config, ste.s1ContextPtr], [STE_CONFIG.NESTED, 0x4000_3000])
    const cd = cdFields(words(0x8000_3000))
    assert.deepEqual([cd.valid, cd.t0sz, cd.tg0, cd.ips, cd.asid, cd.ttb0, cd.epd1, cd.a, cd.aa64], [true, 25, 0, 0b010, 1, 0x4000_0000, true, true, true])
    const t = smmu.translate(0x10, 0x8040_3010)
    assert.equal(t.kind === 'ok' ? t.oa : t.kind, 0x8010_0010)
    assert.deepEqual(smmu.drainEvents(), [])
  })

  it("a stage-1 domain: the host's CD at a PA (S1ContextPtr a PA, stage 2 bypassed), after the stream table", () => {
    const system = createSystem('linux-6.1')
    const smmu = value(system.addSmmu('smmu0', loadFixture('synthetic-smmuv3-nested')))
    const { domain, result } = system.attachNewDomain('S1', smmu, 0x10)
    value(result)
    value(domain.map(0x1000n, 0x8000_0000, 0x1000n, { read: true, write: true }))
    const words = (pa: number) => Array.from({ length: 8 }, (_, i) => system.memory.read64(pa + 8 * i) as bigint)
    const at = smmu.steAddress(0x10)!
    const ste = steFields(words(at))
    assert.equal(ste.config, STE_CONFIG.S1_TRANS)
    // The stream table holds 2^16 STEs of 64 bytes (0x40_0000 bytes); one CD per StreamID follows it.
    assert.equal(ste.s1ContextPtr, smmu.steAddress(0)! + 0x40_0000 + 0x10 * 64)
    assert.deepEqual([cdFields(words(ste.s1ContextPtr)).valid, cdFields(words(ste.s1ContextPtr)).asid], [true, domain.context!.asid])
    const t = smmu.translate(0x10, 0x1234)
    assert.equal(t.kind === 'ok' ? t.oa : t.kind, 0x8000_0234)
  })

  it('the translation reads the STE: an invalid STE is C_BAD_STE once the configuration is invalidated', () => {
    const { system, smmu } = nested()
    const at = smmu.steAddress(0x10)!
    assert.equal(smmu.translate(0x10, 0x4000_1000).kind, 'ok') // the SMMU reads and caches the STE
    const w0 = system.memory.read64(at) as bigint
    const bytes = new Uint8Array(8)
    new DataView(bytes.buffer).setBigUint64(0, w0 & ~1n, true) // V = 0
    system.memory.write(at, bytes)
    // Cached until CMD_CFGI_STE, as on hardware.
    assert.equal(smmu.translate(0x10, 0x4000_1000).kind, 'ok')
    smmu.configInvalidate(0x10)
    const t = smmu.translate(0x10, 0x4000_1000)
    assert.equal(t.kind === 'streamNotTranslated' ? t.reason : t.kind, 'C_BAD_STE by STE.V: V = 0')
    // IHI 0070 7.3.5: C_BAD_STE (0x04) is queued with the StreamID: dw0 = 0x04 | 0x10 << 32.
    const [e, ...rest] = smmu.drainEvents()
    assert.deepEqual(rest, [])
    assert.deepEqual(e, { name: 'C_BAD_STE', sid: 0x10 })
    assert.deepEqual(encodeEvent(e), [0x0000_0010_0000_0004n, 0n, 0n, 0n])
  })

  it('an abort STE (Config 0b000) terminates without an event (IHI 0070 5.2 STE.Config)', () => {
    const { system, smmu } = nested()
    const at = smmu.steAddress(0x10)!
    const bytes = new Uint8Array(8)
    new DataView(bytes.buffer).setBigUint64(0, ((system.memory.read64(at) as bigint) & ~0b1110n) | 1n, true) // V = 1, Config [3:1] = 0
    system.memory.write(at, bytes)
    smmu.configInvalidate(0x10)
    const t = smmu.translate(0x10, 0x4000_1000)
    assert.equal(t.kind === 'streamNotTranslated' ? t.reason : t.kind, 'the STE aborts the stream')
    assert.deepEqual(smmu.drainEvents(), [])
  })

  it("a guest CD at an IPA the host did not map: EFAULT at install; a stage-2 fault on the CD's fetch is F_TRANSLATION, S2 = 1, CLASS = CD", () => {
    const { system, smmu } = nested()
    const regs = { ttbr: 0x4000_0000, t0sz: 25, granule: 4096 as const, oas: 40 }
    const bad = smmu.installGuestStage1(0x10, regs, 1, { cdIpa: 0x5000_0000 })
    assert.equal(bad.ok ? 'ok' : bad.error.errno, 'EFAULT')
    value(smmu.installGuestStage1(0x10, regs, 1, { cdIpa: 0x4000_3000 }))
    // Point S1ContextPtr [51:6] at IPA 0x5000_0000 (nothing there at stage 2), then CMD_CFGI_STE.
    const at = smmu.steAddress(0x10)!
    const ptrMask = ((1n << 52n) - 1n) & ~0x3fn
    assert.equal(system.memory.write64(at, ((system.memory.read64(at) as bigint) & ~ptrMask) | 0x5000_0000n), undefined)
    smmu.configInvalidate(0x10)
    const t = smmu.dma(0x10, 'write', 0x8040_3010, 4)
    assert.equal(t.kind, 'fault')
    const [e, ...rest] = smmu.drainEvents()
    assert.deepEqual(rest, [])
    // IHI 0070 7.3.13: stage 2 fails fetching the CD: S2 = 1, CLASS = CD (0), IPA = the CD's address;
    // RnW = 0: the transaction was a write. dw1 = S2 bit 39 = 0x80_0000_0000.
    assert.ok(e !== undefined)
    assert.deepEqual(encodeEvent(e), [0x0000_0010_0000_0010n, 0x0000_0080_0000_0000n, 0x8040_3010n, 0x5000_0000n])
  })

  it('the raw STE API: writeSte stores the words as given and the next lookup reads them (CMD_CFGI_STE implied); readSte reads them back', () => {
    const { smmu } = nested()
    assert.equal(smmu.translate(0x10, 0x4000_1000).kind, 'ok')
    // An STE with V = 0 and nothing else, written by hand: IHI 0070 5.2, V = 0 is C_BAD_STE.
    const invalid = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0x1234n]
    value(smmu.writeSte(0x10, invalid))
    assert.deepEqual(smmu.readSte(0x10), invalid)
    const t = smmu.translate(0x10, 0x4000_1000)
    assert.equal(t.kind === 'streamNotTranslated' ? t.reason : t.kind, 'C_BAD_STE by STE.V: V = 0')
    const bad = smmu.writeSte(0x10, [0n])
    assert.equal(bad.ok ? 'ok' : bad.error.errno, 'EINVAL')
  })

  it('CMD_CFGI_CD (index 0), CMD_CFGI_CD_ALL and CMD_CFGI_ALL make the SMMU read a changed CD again', () => {
    for (const cmd of [{ op: 'CFGI_CD', sid: 0x10, ssid: 0 }, { op: 'CFGI_CD_ALL', sid: 0x10 }, { op: 'CFGI_ALL' }] as const) {
      const { system, smmu } = nested()
      value(smmu.installGuestStage1(0x10, { ttbr: 0x4000_0000, t0sz: 25, granule: 4096, oas: 40 }, 1, { cdIpa: 0x4000_3000 }))
      assert.equal(smmu.translate(0x10, 0x8040_3010).kind, 'ok')
      // The guest's CD at IPA 0x4000_3000 is at PA 0x8000_3000: clear its V bit [31] by hand.
      const cdAt = 0x8000_3000
      assert.equal(system.memory.write64(cdAt, (system.memory.read64(cdAt) as bigint) & ~(1n << 31n)), undefined)
      smmu.invalidateAll()
      assert.equal(smmu.translate(0x10, 0x8040_3010).kind, 'ok', `${cmd.op}: cached until invalidated`)
      smmu.configInvalidate({ op: 'CFGI_CD', sid: 0x10, ssid: 1 }) // another CD index: nothing changes
      assert.equal(smmu.translate(0x10, 0x8040_3010).kind, 'ok')
      smmu.configInvalidate(cmd)
      const t = smmu.translate(0x10, 0x8040_3010)
      assert.equal(t.kind === 'streamNotTranslated' ? t.reason : t.kind, 'C_BAD_CD by CD.V: V = 0', cmd.op)
    }
  })

  it('the raw STE API is EOPNOTSUPP on an SMMUv2 and ENXIO for a stream not behind the SMMU', () => {
    const system = createSystem('linux-6.1')
    const v2 = value(system.addSmmu('smmu0', loadFixture('mmu-500')))
    const r = v2.writeSte(0x10, new Array<bigint>(8).fill(0n))
    assert.equal(r.ok ? 'ok' : r.error.errno, 'EOPNOTSUPP')
    assert.equal(v2.readSte(0x10), undefined)
    const { smmu } = nested()
    const far = smmu.writeSte(2 ** 20, new Array<bigint>(8).fill(0n))
    assert.equal(far.ok ? 'ok' : far.error.errno, 'ENXIO')
  })

  it('detaching writes an abort STE (Config 0b000)', () => {
    const { system, smmu, words } = nested()
    smmu.unbindStream(0x10)
    assert.equal(steFields(words(smmu.steAddress(0x10)!)).config, STE_CONFIG.ABORT)
    void system
  })
})
