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
import { validateUserCmd } from '../../model/iommufd/drivers/arm-smmu-v3'
import { Ioas, ObjectTable } from '../../model/iommufd/objects'
import { IoPagetable } from '../../model/iommufd/io-pagetable'
import { getProfile } from '../../model/profiles'
import { parseTranscript } from '../../model/transcript'
import { ModelIommufdFile } from '../../model/vfio/model-iommufd'
import { checkIommufdNestingRule, failures } from '../../model/survey'

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
  it('MMU-600 below r2 and MMU-700 r0 or p0 lose FEAT_NESTING (7.3.4); MMU-700 then sets FORCE_SYNC; other implementers keep it', () => {
    // IIDR: ProductID [31:20], Variant [19:16], Revision [15:12], Implementer [11:0] (IHI 0070 6.3.7).
    assert.equal(probeArmSmmuV3(hw(0x4831_043b), facts).nesting, false) // MMU-600 r1p0
    assert.equal(probeArmSmmuV3(hw(0x4832_043b), facts).nesting, true) // MMU-600 r2p0
    const r = (iidr: number, f = facts) => [probeArmSmmuV3(hw(iidr), f).nesting, probeArmSmmuV3(hw(iidr), f).forceSync]
    assert.deepEqual(r(0x4870_143b), [false, true]) // MMU-700 r0p1
    assert.deepEqual(r(0x4872_043b), [false, true]) // MMU-700 r2p0
    assert.deepEqual(r(0x4871_143b), [true, false]) // MMU-700 r1p1
    assert.deepEqual(r(0x4871_143b, { ...facts, mmu700NestingErrata: 'every' }), [false, true]) // the 7.1 tree: every MMU-700
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
  it('reads whole records; a short read is EINVAL; the lost-events header comes back when nothing follows it', () => {
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
    assert.equal(errnoOf(ctx.veventqAlloc({ flags: 0, viommuId: 4, type: 1, depth: 2 ** 19 + 1 })), 'EINVAL')
    const q = ctx.veventqAlloc({ flags: 0, viommuId: 4, type: 1, depth: 2 })
    assert.ok(q.ok)
    const viommu = ctx.objects.get(4)
    assert.ok(viommu.ok && viommu.value.type === 'viommu')
    const core = viommu.value.ops as unknown as { core: { reportEvent(t: number, d: Uint8Array): { ok: boolean } } }
    // Depth 2: the third event is dropped and the lost-events header (sequence 2) queued instead.
    for (let i = 0; i < 3; i++) assert.ok(core.core.reportEvent(1, new Uint8Array(32).fill(i + 1)).ok)
    const read = (count: number): Uint8Array | string => {
      const r = ctx.veventqRead(q.value, count)
      return r.ok ? r.value : r.error.errno
    }
    assert.equal(read(7), 'EINVAL') // shorter than a header
    assert.equal(read(20), 'EINVAL') // the first record (8 + 32 bytes) does not fit
    assert.equal((read(50) as Uint8Array).length, 40) // one record; the second stays
    assert.equal((read(40) as Uint8Array).length, 40) // the second; no room for the header, which is put back
    const header = read(4096) as Uint8Array
    const v = new DataView(header.buffer)
    assert.deepEqual([header.length, v.getUint32(0, true), v.getUint32(4, true)], [8, 1, 2])
    assert.equal((read(4096) as Uint8Array).length, 0)
  })

  it("the queue's fd holds it: IOMMU_DESTROY is EBUSY until the fd is closed, and so is the vIOMMU's", () => {
    const b = createModelBackend({ profile: 'linux-7.3', fixtures: [loadFixture('qemu-smmuv3-10.0-acpi-canwbs')] })
    const f = b.openIommufd()
    assert.ok(f.ok)
    const dev = b.openDevice(1)
    assert.ok(dev.ok && dev.value.bindIommufd(f.value).ok)
    assert.ok(f.value.ioasAlloc().ok)
    assert.ok(f.value.hwptAlloc({ flags: 1, devId: 1, ptId: 2, dataType: 0 }).ok)
    assert.ok(f.value.viommuAlloc({ flags: 0, type: 1, devId: 1, hwptId: 3 }).ok)
    const q = f.value.veventqAlloc({ flags: 0, viommuId: 4, type: 1, depth: 2 })
    assert.ok(q.ok)
    assert.deepEqual([errnoOf(f.value.destroy(5)), errnoOf(f.value.destroy(4))], ['EBUSY', 'EBUSY'])
    assert.ok(q.value.close().ok)
    assert.deepEqual([errnoOf(q.value.read(4096)), errnoOf(q.value.close())], ['EBADF', 'EBADF'])
    assert.deepEqual([errnoOf(f.value.destroy(5)), errnoOf(f.value.destroy(4)), errnoOf(f.value.destroy(3))], ['ok', 'ok', 'ok'])
  })
})

function errnoOf(r: { readonly ok: boolean; readonly error?: { readonly errno: string } }): string {
  return r.ok ? 'ok' : (r.error?.errno ?? '?')
}

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

describe('the nesting request on the catalogue (Fix1 [13])', () => {
  const rows = [
    { check: 'coherent (IOMMU_CAP_CACHE_COHERENCY)', outcome: 'bind: EINVAL' },
    { check: 'SMMUv3 with S1P and S2P', outcome: 'nest parent: EOPNOTSUPP' },
    { check: 'no nesting erratum', outcome: 'nest parent: EOPNOTSUPP' },
    { check: 'S2FWB or IORT CANWBS', outcome: 'vIOMMU: EOPNOTSUPP' },
  ]
  const fixtures = ['qemu-smmuv3-10.0', 'qemu-smmuv3-10.0-acpi-canwbs', 'synthetic-mmu600-r1', 'synthetic-smmuv3-nested', 'mmu-401'].map((n) => loadFixture(n))

  it('ends at the first check a machine fails, as the model runs it', () => {
    const result = checkIommufdNestingRule(fixtures, getProfile('linux-7.3'), rows)
    assert.deepEqual(
      result.results.map((r) => [r.fixture, r.actual, r.verdict]),
      [
        ['qemu-smmuv3-10.0', 'vIOMMU: EOPNOTSUPP', 'passed'],
        ['qemu-smmuv3-10.0-acpi-canwbs', 'attached', 'passed'],
        ['synthetic-mmu600-r1', 'nest parent: EOPNOTSUPP', 'passed'],
        ['synthetic-smmuv3-nested', 'bind: EINVAL', 'passed'],
        ['mmu-401', 'nest parent: EOPNOTSUPP', 'passed'],
      ],
    )
  })

  it('fails a machine when a check is left out, and rejects a check it does not know', () => {
    const withoutErratum = rows.filter((r) => r.check !== 'no nesting erratum')
    const result = checkIommufdNestingRule(fixtures, getProfile('linux-7.3'), withoutErratum)
    assert.deepEqual(failures(result).map((r) => [r.fixture, r.expected]), [['synthetic-mmu600-r1', 'vIOMMU: EOPNOTSUPP']])
    assert.throws(() => checkIommufdNestingRule(fixtures, getProfile('linux-7.3'), [{ check: 'coherent', outcome: 'bind: EINVAL' }]), /"coherent" is not a check/)
  })
})

describe('arm_vsmmu_validate_user_cmd (7.3): the fields a guest may set', () => {
  // Command words written by hand from IHI 0070 4.4 / 4.5 / 4.8 and arm-smmu-v3.h's CMDQ_* masks.
  const smmu = { asidBits: 16, ssidBits: 0, ats: false, rangeInv: true, ds: false }
  const errno = (s: typeof smmu, w0: bigint, w1 = 0n): string => {
    const r = validateUserCmd(s, [w0, w1])
    return r.ok ? 'ok' : r.error.errno
  }
  it('takes each opcode with its own fields only', () => {
    assert.equal(errno(smmu, 0x30n), 'ok') // TLBI_NSNH_ALL
    assert.equal(errno(smmu, 0x30n | (1n << 32n)), 'EIO') // ... with a VMID
    assert.equal(errno(smmu, 0x10n | (5n << 32n)), 'ok') // TLBI_NH_ALL, VMID 5
    assert.equal(errno(smmu, 0x10n | (1n << 48n)), 'EIO') // ... with an ASID
    assert.equal(errno(smmu, 0x12n | (0xffffn << 48n), 0x10_0001n), 'ok') // TLBI_NH_VA, 16-bit ASID, Leaf
    assert.equal(errno({ ...smmu, asidBits: 8 }, 0x12n | (0x100n << 48n), 0x10_0000n), 'EIO') // ASID beyond 8 bits
    assert.equal(errno(smmu, 0x5n | (8n << 32n), 1n), 'ok') // CFGI_CD, SID 8, Leaf
    assert.equal(errno(smmu, 0x5n | (8n << 32n) | (1n << 11n)), 'EIO') // ... SSV
    assert.equal(errno(smmu, 0x5n | (8n << 32n) | (1n << 12n)), 'EIO') // ... SSID without substreams
    assert.equal(errno({ ...smmu, ssidBits: 5 }, 0x5n | (8n << 32n) | (1n << 12n)), 'ok') // ... with them
    assert.equal(errno(smmu, 0x6n | (8n << 32n), 1n), 'EIO') // CFGI_CD_ALL has no Leaf
    assert.equal(errno(smmu, 0x3n | (8n << 32n)), 'EIO') // CFGI_STE
    assert.equal(errno(smmu, 0x46n), 'EIO') // CMD_SYNC
  })
  it('ATC_INV needs ATS and a Size of at most 52', () => {
    assert.equal(errno(smmu, 0x40n | (8n << 32n), 52n), 'EIO')
    assert.equal(errno({ ...smmu, ats: true }, 0x40n | (8n << 32n), 52n), 'ok')
    assert.equal(errno({ ...smmu, ats: true }, 0x40n | (8n << 32n), 53n), 'EIO')
    assert.equal(errno({ ...smmu, ats: true }, 0x40n | (8n << 32n) | (1n << 9n), 0n), 'EIO') // Global without substreams
  })
  it('range fields need RIL; reserved combinations and SCALE bit 5 without DS are EIO', () => {
    const va = (tg: bigint, ttl: bigint, num: bigint, scale: bigint): [bigint, bigint] => [0x12n | (num << 12n) | (scale << 20n), 0x10_0000n | (tg << 10n) | (ttl << 8n)]
    const check = (s: typeof smmu, [w0, w1]: [bigint, bigint]): string => errno(s, w0, w1)
    assert.equal(check(smmu, va(1n, 0n, 1n, 0n)), 'ok') // 4K, NUM 1
    assert.equal(check(smmu, va(0n, 0n, 1n, 0n)), 'EIO') // NUM with TG 0
    assert.equal(check(smmu, va(1n, 0n, 0n, 0n)), 'EIO') // TG without NUM, SCALE or TTL
    assert.equal(check(smmu, va(1n, 3n, 0n, 0n)), 'ok') // TTL 3: one leaf level
    assert.equal(check(smmu, va(2n, 1n, 0n, 0n)), 'EIO') // 16K with TTL 1 needs DS
    assert.equal(check({ ...smmu, ds: true }, va(2n, 1n, 0n, 0n)), 'ok')
    assert.equal(check(smmu, va(1n, 0n, 1n, 32n)), 'EIO') // SCALE 32 needs DS
    assert.equal(check({ ...smmu, ds: true }, va(1n, 0n, 1n, 32n)), 'ok')
    assert.equal(check({ ...smmu, rangeInv: false }, va(1n, 0n, 1n, 0n)), 'EIO') // no RIL: no range fields
  })
})

describe('arm_vsmmu_vdevice_init (7.3)', () => {
  it('a device with two StreamIDs gets no vDEVICE (EOPNOTSUPP); with one it does', () => {
    const hw = loadFixture('qemu-smmuv3-10.0-acpi-canwbs')
    const machine = { ...hw, vfio: { ...hw.vfio, groups: [{ id: 1, streams: [8, 9], viable: true }, { id: 2, streams: [0x10], viable: true }] } }
    const b = createModelBackend({ profile: 'linux-7.3', fixtures: [machine] })
    const f = b.openIommufd()
    assert.ok(f.ok)
    for (const n of [1, 2]) {
      const d = b.openDevice(n)
      assert.ok(d.ok && d.value.bindIommufd(f.value).ok)
    }
    assert.ok(f.value.ioasAlloc().ok) // 3
    assert.ok(f.value.hwptAlloc({ flags: 1, devId: 2, ptId: 3, dataType: 0 }).ok) // 4
    assert.ok(f.value.viommuAlloc({ flags: 0, type: 1, devId: 2, hwptId: 4 }).ok) // 5
    assert.equal(errnoOf(f.value.vdeviceAlloc(5, 1, 8n)), 'EOPNOTSUPP')
    assert.equal(errnoOf(f.value.vdeviceAlloc(5, 2, 8n)), 'ok')
  })
})
