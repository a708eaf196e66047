/**
 * The iommufd layer's pieces the features do not reach one by one: the object table's IDs and
 * tombstones, the user-data copies, arm-smmu-v3's probe of the errata, the vEVENTQ's sequence and
 * reads that stop at a record that does not fit, and the transcript lines' encodings (vSTE,
 * commands, CD, descriptors) against words written by hand from IHI 0070 and DDI 0487.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createModelBackend, loadFixture } from '../../model'
import { copyArrayFromUser, copyStructFromUser } from '../../model/iommufd/driver'
import { probeArmSmmuV3, validateVste } from '../../model/iommufd/drivers'
import { Ioas, ObjectTable } from '../../model/iommufd/objects'
import { IoPagetable } from '../../model/iommufd/io-pagetable'
import { getProfile } from '../../model/profiles'
import { parseTranscript } from '../../model/transcript'
import { ModelIommufdFile } from '../../model/vfio/model-iommufd'

const pages = { pin: () => ({ ok: true as const, value: [] }), unpin: () => undefined }

describe('the object table', () => {
  it('hands out the lowest free ID from 1; a tombstone keeps its ID and is ENOENT', () => {
    const t = new ObjectTable()
    const a = t.add(new Ioas(new IoPagetable(pages)))
    const b = t.add(new Ioas(new IoPagetable(pages)))
    assert.deepEqual([a.id, b.id], [1, 2])
    t.drop(a, true)
    assert.equal(t.add(new Ioas(new IoPagetable(pages))).id, 3)
    const gone = t.get(1)
    assert.equal(gone.ok ? 'found' : gone.error.errno, 'ENOENT')
    assert.equal(t.remove(1, () => undefined).ok ? 'ok' : 'ENOENT', 'ENOENT')
    b.users++
    const busy = t.remove(2, () => undefined)
    assert.equal(busy.ok ? 'ok' : busy.error.errno, 'EBUSY')
    const wrongType = t.get(2, 'viommu')
    assert.equal(wrongType.ok ? 'ok' : wrongType.error.errno, 'ENOENT')
  })
})

describe('user data copies (include/linux/iommu.h)', () => {
  it('another type or fewer bytes than the struct: EINVAL; a non-zero tail: E2BIG; shorter entries are zero-extended', () => {
    const errno = (r: { ok: boolean; error?: { errno: string } }): string => (r.ok ? 'ok' : (r.error?.errno ?? ''))
    assert.equal(errno(copyStructFromUser({ type: 1, bytes: new Uint8Array(16) }, 2, 16, 16)), 'EINVAL')
    assert.equal(errno(copyStructFromUser({ type: 2, bytes: new Uint8Array(8) }, 2, 16, 16)), 'EINVAL')
    assert.equal(errno(copyStructFromUser({ type: 2, bytes: Uint8Array.from({ length: 24 }, (_, i) => (i === 20 ? 1 : 0)) }, 2, 16, 16)), 'E2BIG')
    assert.equal(errno(copyArrayFromUser({ type: 1, entryLen: 16, entryNum: 0, bytes: new Uint8Array(0) }, 1, 16)), 'EINVAL')
    const short = copyArrayFromUser({ type: 1, entryLen: 8, entryNum: 2, bytes: Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]) }, 1, 16)
    assert.ok(short.ok)
    assert.deepEqual(short.value.map((e) => [e.length, e[0], e[8]]), [[16, 1, 0], [16, 2, 0]])
  })
})

describe('arm-smmu-v3 probe (arm_smmu_device_iidr_probe)', () => {
  const facts = getProfile('linux-7.3').iommu.drivers['arm-smmu-v3'].iommufd
  const hw = (iidr: number | undefined, s2fwb = false) => ({ ...loadFixture('synthetic-smmuv3-fwb'), s2fwb, idRegisters: { idr0: 0x4101b, ...(iidr === undefined ? {} : { iidr }) } })
  it('MMU-600 below r2 and every MMU-700 lose FEAT_NESTING; MMU-700 sets FORCE_SYNC; other implementers keep it', () => {
    // IIDR: ProductID [31:20], Variant [19:16], Revision [15:12], Implementer [11:0] (IHI 0070 6.3.7).
    assert.equal(probeArmSmmuV3(hw(0x4831_043b), facts).nesting, false) // MMU-600 r1p0
    assert.equal(probeArmSmmuV3(hw(0x4832_043b), facts).nesting, true) // MMU-600 r2p0
    const mmu700 = probeArmSmmuV3(hw(0x4872_143b), facts) // MMU-700 r2p1
    assert.deepEqual([mmu700.nesting, mmu700.forceSync], [false, true])
    assert.equal(probeArmSmmuV3(hw(0x4831_0123), facts).nesting, true) // another implementer
    assert.equal(probeArmSmmuV3(hw(undefined), facts).nesting, true)
  })
  it('S2FWB only where the kernel detects it', () => {
    assert.equal(probeArmSmmuV3(hw(undefined, true), facts).s2fwb, true)
    assert.equal(probeArmSmmuV3(hw(undefined, true), { ...facts, detectsS2fwb: false }).s2fwb, false)
  })
})

describe('arm_smmu_validate_vste', () => {
  it('V = 0 zeroes the vSTE; EATS is taken out of a valid one and enables ATS only for stage-1 translate', () => {
    const v0 = validateVste([0xffff_ffff_ffff_fff0n, 0xffffn])
    assert.ok(v0.ok)
    assert.deepEqual(v0.value.ste, [0n, 0n])
    // word 0: V | Config 0b101 | S1ContextPtr 0x4000_1000; word 1: EATS = 1 (bits 29:28)
    const s1 = validateVste([0x4000_100bn, 1n << 28n])
    assert.ok(s1.ok)
    assert.deepEqual([s1.value.ste[1], s1.value.enableAts], [0n, true])
    const bypass = validateVste([0x9n, 1n << 28n])
    assert.ok(bypass.ok)
    assert.equal(bypass.value.enableAts, false)
  })
})

describe('vEVENTQ (iommufd_viommu_report_event, iommufd_veventq_fops_read)', () => {
  it('a read stops at a record that does not fit and leaves it queued', () => {
    const b = createModelBackend({ profile: 'linux-7.3', fixtures: [loadFixture('qemu-smmuv3-10.0-acpi-canwbs')] })
    const f = b.openIommufd()
    assert.ok(f.ok && f.value instanceof ModelIommufdFile)
    const ctx = f.value.ctx
    const dev = b.openDevice(1)
    assert.ok(dev.ok)
    assert.ok(dev.value.bindIommufd(f.value).ok)
    assert.ok(ctx.ioasAlloc().ok)
    assert.ok(ctx.hwptAlloc({ flags: 1, devId: 1, ptId: 2, dataType: 0 }).ok)
    assert.ok(ctx.viommuAlloc({ flags: 0, type: 1, devId: 1, hwptId: 3 }).ok)
    const q = ctx.veventqAlloc({ flags: 0, viommuId: 4, type: 1, depth: 3 })
    assert.ok(q.ok)
    const viommu = ctx.objects.get(4)
    assert.ok(viommu.ok && viommu.value.type === 'viommu')
    const core = viommu.value.ops as unknown as { core: { reportEvent(t: number, d: Uint8Array): { ok: boolean } } }
    for (let i = 0; i < 2; i++) assert.ok(core.core.reportEvent(1, new Uint8Array(32).fill(i + 1)).ok)
    // 8 + 32 bytes per record: 50 bytes hold one, the other stays.
    assert.equal(ctx.veventqRead(q.value, 50).length, 40)
    assert.equal(ctx.veventqRead(q.value, 7).length, 0)
    const rest = ctx.veventqRead(q.value, 4096)
    assert.deepEqual([rest.length, new DataView(rest.buffer).getUint32(4, true), rest[8]], [40, 1, 2])
  })
})

describe('transcript lines: the words they stand for', () => {
  const call = (text: string) => {
    const p = parseTranscript(`${text} = EPERM`, 't')
    assert.deepEqual(p.errors.map((e) => e.message), [])
    return p.lines[0]?.call
  }
  const bytes = (words: bigint[]): Uint8Array => {
    const b = new Uint8Array(words.length * 8)
    words.forEach((w, i) => new DataView(b.buffer).setBigUint64(i * 8, w, true))
    return b
  }
  it('a vSTE: V [0], Config [3:1], S1ContextPtr [55:6] in place, S1CDMax [63:59]; MEV [83], EATS [93:92]', () => {
    const c = call('hwpt 2 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x40001000 s1cdmax=1 mev eats=1"')
    assert.ok(c?.op === 'object' && c.action.kind === 'alloc_hwpt')
    assert.deepEqual(c.action.data, bytes([0x0800_0000_4000_100bn, (1n << 19n) | (1n << 28n)]))
    assert.equal(c.action.dataType, 2)
  })
  it('commands: TLBI_NH_VA opcode 0x12, ASID [63:48], VMID [47:32], Address [63:12] of word 1; CFGI_ALL is CFGI_STE_RANGE with Range 31', () => {
    const c = call('viommu 1 invalidate cmd="TLBI_NH_VA vmid=2 asid=1 addr=0x100000 leaf" cmd="CFGI_ALL"')
    assert.ok(c?.op === 'object' && c.action.kind === 'invalidate')
    assert.deepEqual(c.action.entries.entries, [bytes([0x0001_0002_0000_0012n, 0x10_0001n]), bytes([0x04n, 31n])])
  })
  it('a guest CD: the defaults V, EPD1, AA64, R, A and the fields written', () => {
    const c = call('guest cd ipa=0x40001000 asid=1 ttb0=0x40002000 t0sz=25 tg0=4K ips=44')
    assert.ok(c?.op === 'guest')
    assert.deepEqual(c.words, [0x0001_6204_c000_0019n, 0x4000_2000n, 0n, 0n, 0n, 0n, 0n, 0n])
  })
  it('descriptors: a table (0b11), a level-3 page with nG | AF | SH inner | AP EL0 RW, a read-only block', () => {
    const t = call('guest table ipa=0x40002000 index=3 next=0x40003000')
    assert.ok(t?.op === 'guest')
    assert.deepEqual([t.ipa, t.words], [0x4000_2018n, [0x4000_3003n]])
    const p = call('guest page ipa=0x40004000 index=0x100 out=0x40005000')
    assert.ok(p?.op === 'guest')
    assert.deepEqual(p.words, [0x4000_5f43n])
    const b = call('guest block ipa=0x40004000 index=1 out=0x40200000 perm=r attr=1')
    assert.ok(b?.op === 'guest')
    assert.deepEqual(b.words, [0x4020_0fc5n])
  })
  it('refuses what it cannot encode, with the column of the word', () => {
    const errors = (text: string) => parseTranscript(text, 't').errors.map((e) => [e.code, e.column])
    assert.deepEqual(errors('hwpt 2 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x40001004" = ok'), [['BAD_NUMBER', 59]])
    assert.deepEqual(errors('hwpt 2 alloc device=1 pt=viommu:1 vste="v cfgg=s1" = ok'), [['BAD_ARGUMENT', 43]])
    assert.deepEqual(errors('viommu 1 invalidate cmd="TLBI_NH_VA sid=1" = ok'), [['BAD_ARGUMENT', 37]])
    assert.deepEqual(errors('device 1 attach pt=1 = ok'), [['BAD_ARGUMENT', 20]])
    assert.deepEqual(errors('destroy device 1 = ok'), [['BAD_ARGUMENT', 9]])
    assert.deepEqual(errors('ioas 1 alloc = ok entry_num=1'), [['BAD_ARGUMENT', 19]])
    assert.deepEqual(errors('veventq 1 read = F_TRANSLATION sidd=1'), [['BAD_RESULT', 32]])
  })
})
