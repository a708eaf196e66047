/**
 * Fixture loading: every shipped fixture is valid, and each kind of malformed fixture is rejected
 * with its code, line, column and field. Then the ID registers: their bit positions (SMMUv1/v2
 * IDR0-2, SMMUv3 IDR0/1/5), fixtures given by registers only, and the errors when registers and
 * declared fields disagree. Expected values are worked out by hand from the field positions,
 * never by calling the decoder.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { FIXTURES_DIR, formatFixtureError, listFixtureNames, loadFixtureFile, parseFixture, resolveFixturePath, type FixtureError } from '../../model/hw'
import { decodeIdRegisters, fieldValue, SMMU_V2_IDR, SMMU_V3_IDR } from '../../model/hw/registers'
import { goodFixtureText } from '../helpers/fixture-text'

/** A valid fixture, after a comment line (so `context_banks` is on line 10). */
const GOOD = `# a comment line\n${goodFixtureText('good')}`

/** GOOD with the line starting `prefix` replaced by `replacement` (or removed when null). */
function variant(prefix: string, replacement: string | null): string {
  const lines = GOOD.split('\n')
  const i = lines.findIndex((l) => l.startsWith(prefix))
  assert.ok(i >= 0, `GOOD has no line starting ${prefix}`)
  if (replacement === null) lines.splice(i, 1)
  else lines[i] = replacement
  return lines.join('\n')
}

function only(errors: readonly FixtureError[]): Pick<FixtureError, 'code' | 'line' | 'column' | 'field'> {
  assert.equal(errors.length, 1, errors.map(formatFixtureError).join('\n'))
  const [e] = errors as [FixtureError]
  return { code: e.code, line: e.line, column: e.column, field: e.field }
}

describe('fixture loading', () => {
  it('every fixture in the catalogue is valid', () => {
    const names = listFixtureNames()
    assert.ok(names.length >= 8)
    for (const n of names) {
      const { errors, fixture } = loadFixtureFile(resolveFixturePath(n))
      assert.deepEqual(errors.map(formatFixtureError), [])
      assert.equal(fixture?.name, n)
    }
  })

  it('every fixture names the JSON schema on line 1, for editors (yaml-language-server)', () => {
    assert.ok(fs.existsSync(path.join(FIXTURES_DIR, 'schema', 'fixture.schema.json')))
    for (const n of listFixtureNames()) {
      const first = fs.readFileSync(path.join(FIXTURES_DIR, `${n}.yaml`), 'utf8').split('\n')[0]
      assert.equal(first, '# yaml-language-server: $schema=./schema/fixture.schema.json', `${n}.yaml`)
    }
  })

  it('every real fixture cites its source', () => {
    for (const n of listFixtureNames()) {
      const f = loadFixtureFile(resolveFixturePath(n)).fixture
      if (f?.kind === 'real') assert.ok((f.source ?? '').length > 40, `${n} needs a source: document and section`)
    }
  })

  it('a valid fixture gives the typed feature set', () => {
    const { fixture, errors } = parseFixture(GOOD, '/x/good.yaml')
    assert.deepEqual(errors, [])
    assert.deepEqual(
      { arch: fixture?.arch, t: fixture?.translation, banks: fixture?.contextBanks, s2: fixture?.s2OnlyContextBanks, ias: fixture?.ias, oas: fixture?.oas },
      { arch: 'smmuv2', t: { stage1: true, stage2: true, nested: false }, banks: 8, s2: 2, ias: 48, oas: 40 },
    )
    // 4K granule: 4 KiB pages, 2 MiB and 1 GiB blocks (VMSAv8-64 level 3/2/1 leaves).
    assert.deepEqual(fixture?.pageSizes, [4096, 2 * 1024 * 1024, 1024 * 1024 * 1024])
  })

  it('malformed YAML: YAML_SYNTAX at the offending position', () => {
    const r = parseFixture(variant('ias:', 'ias: [48'), '/x/good.yaml')
    assert.equal(r.fixture, undefined)
    assert.equal(r.errors[0]?.code, 'YAML_SYNTAX')
    assert.ok((r.errors[0]?.line ?? 0) >= 12)
  })

  it('duplicate key: YAML_SYNTAX on its line', () => {
    const r = parseFixture(GOOD + 'ias: 40\n', '/x/good.yaml')
    assert.deepEqual({ code: r.errors[0]?.code, line: r.errors[0]?.line }, { code: 'YAML_SYNTAX', line: 16 })
  })

  it('not a mapping: NOT_A_MAPPING', () => {
    assert.deepEqual(only(parseFixture('- 1\n- 2\n', '/x/good.yaml').errors), { code: 'NOT_A_MAPPING', line: 1, column: 1, field: '' })
  })

  it('unknown key: UNKNOWN_KEY at the key', () => {
    const r = parseFixture(variant('oas:', 'oas: 40\nbogus_field: 1'), '/x/good.yaml')
    assert.deepEqual(only(r.errors), { code: 'UNKNOWN_KEY', line: 14, column: 1, field: 'bogus_field' })
  })

  it('unknown nested key: UNKNOWN_KEY with its dotted path', () => {
    const r = parseFixture(variant('  nested:', '  nested: false\n  stage3: true'), '/x/good.yaml')
    assert.deepEqual(only(r.errors), { code: 'UNKNOWN_KEY', line: 10, column: 3, field: 'translation.stage3' })
  })

  it('wrong type: WRONG_TYPE at the value', () => {
    const r = parseFixture(variant('context_banks:', 'context_banks: eight'), '/x/good.yaml')
    assert.deepEqual(only(r.errors), { code: 'WRONG_TYPE', line: 10, column: 16, field: 'context_banks' })
  })

  it('wrong type for a boolean: WRONG_TYPE', () => {
    const r = parseFixture(variant('  stage2:', '  stage2: 1'), '/x/good.yaml')
    assert.deepEqual(only(r.errors), { code: 'WRONG_TYPE', line: 8, column: 11, field: 'translation.stage2' })
  })

  it('missing field: MISSING_FIELD', () => {
    const r = parseFixture(variant('stream_id_bits:', null), '/x/good.yaml')
    assert.equal(only(r.errors).code, 'MISSING_FIELD')
    assert.equal(only(r.errors).field, 'stream_id_bits')
  })

  it('out of range: OUT_OF_RANGE', () => {
    const r = parseFixture(variant('context_banks:', 'context_banks: 129'), '/x/good.yaml')
    assert.deepEqual(only(r.errors), { code: 'OUT_OF_RANGE', line: 10, column: 16, field: 'context_banks' })
  })

  it('an address size the architecture does not have: BAD_VALUE', () => {
    const r = parseFixture(variant('ias:', 'ias: 47'), '/x/good.yaml')
    assert.deepEqual(only(r.errors), { code: 'BAD_VALUE', line: 12, column: 6, field: 'ias' })
  })

  it('unknown granule: BAD_VALUE at the list item', () => {
    const r = parseFixture(variant('granules:', 'granules: [4K, 8K]'), '/x/good.yaml')
    assert.deepEqual(only(r.errors), { code: 'BAD_VALUE', line: 14, column: 16, field: 'granules.1' })
  })

  it('more stage-2-only banks than banks: INCONSISTENT', () => {
    const r = parseFixture(variant('s2_only_context_banks:', 's2_only_context_banks: 9'), '/x/good.yaml')
    assert.deepEqual(only(r.errors), { code: 'INCONSISTENT', line: 11, column: 24, field: 's2_only_context_banks' })
  })

  it('nested without both stages: INCONSISTENT', () => {
    const text = variant('  stage2:', '  stage2: false').replace('  nested: false', '  nested: true').replace('s2_only_context_banks: 2', 's2_only_context_banks: 0')
    assert.deepEqual(only(parseFixture(text, '/x/good.yaml').errors), { code: 'INCONSISTENT', line: 9, column: 11, field: 'translation.nested' })
  })

  it('no stage at all: INCONSISTENT', () => {
    const text = GOOD.replace('stage1: true', 'stage1: false').replace('stage2: true', 'stage2: false').replace('s2_only_context_banks: 2', 's2_only_context_banks: 0')
    assert.equal(only(parseFixture(text, '/x/good.yaml').errors).code, 'INCONSISTENT')
  })

  it('stage-2-only banks without stage 2: INCONSISTENT', () => {
    const text = GOOD.replace('stage2: true', 'stage2: false')
    assert.deepEqual(only(parseFixture(text, '/x/good.yaml').errors).field, 's2_only_context_banks')
  })

  it('SMMUv3 with context banks: INCONSISTENT; without asid_bits: MISSING_FIELD', () => {
    const text = GOOD.replace('architecture: smmuv2', 'architecture: smmuv3')
    const codes = parseFixture(text, '/x/good.yaml').errors.map((e) => `${e.code} ${e.field}`)
    assert.deepEqual(codes, ['MISSING_FIELD architecture', 'MISSING_FIELD architecture', 'INCONSISTENT context_banks', 'INCONSISTENT s2_only_context_banks'])
  })

  it('SMMUv2 with a 52-bit address size: INCONSISTENT', () => {
    assert.equal(only(parseFixture(variant('ias:', 'ias: 52'), '/x/good.yaml').errors).field, 'ias')
  })

  it('a real part without source: MISSING_FIELD', () => {
    const r = parseFixture(variant('kind:', 'kind: real'), '/x/good.yaml')
    assert.deepEqual(only(r.errors), { code: 'MISSING_FIELD', line: 4, column: 7, field: 'kind' })
  })

  it('name different from the file name: NAME_MISMATCH', () => {
    assert.deepEqual(only(parseFixture(GOOD, '/x/other.yaml').errors), { code: 'NAME_MISMATCH', line: 2, column: 7, field: 'name' })
  })

  it('missing file: NOT_FOUND', () => {
    assert.equal(only(loadFixtureFile('/nonexistent/nope.yaml').errors).code, 'NOT_FOUND')
  })

  it('several problems are all reported', () => {
    const text = variant('ias:', 'ias: "48"').replace('oas: 40', 'oas: 41')
    assert.deepEqual(parseFixture(text, '/x/good.yaml').errors.map((e) => e.field).sort(), ['ias', 'oas'])
  })

  it('errors format as file:line:column: field: reason [CODE]', () => {
    const r = parseFixture(variant('context_banks:', 'context_banks: 129'), '/x/good.yaml')
    assert.equal(formatFixtureError(r.errors[0] as FixtureError), '/x/good.yaml:10:16: context_banks: must be <= 128 [OUT_OF_RANGE]')
  })
})

const V3_HEAD = `name: r
description: registers only
kind: synthetic
architecture: smmuv3
`
const V2_HEAD = `name: r
description: registers only
kind: synthetic
architecture: smmuv2
`

describe('ID register fields', () => {
  it('SMMUv1/v2 positions: IDR0 S1TS 30, S2TS 29, NTS 28, NUMSIDB 12:9; IDR1 NUMS2CB 23:16, NUMCB 7:0; IDR2 IAS 3:0, OAS 7:4', () => {
    const regs = { idr0: (1 << 30) | (0xb << 9), idr1: (3 << 16) | 0x40, idr2: 0x52 }
    assert.deepEqual(
      [SMMU_V2_IDR.S1TS, SMMU_V2_IDR.S2TS, SMMU_V2_IDR.NTS, SMMU_V2_IDR.NUMSIDB, SMMU_V2_IDR.NUMS2CB, SMMU_V2_IDR.NUMCB, SMMU_V2_IDR.IAS, SMMU_V2_IDR.OAS].map((f) => fieldValue(regs, f)),
      [1, 0, 0, 0xb, 3, 0x40, 2, 5],
    )
  })

  it('SMMUv3 positions: IDR0 S2P 0, S1P 1, TTF 3:2, ASID16 12, VMID16 18; IDR1 SIDSIZE 5:0; IDR5 OAS 2:0, GRAN4K/16K/64K 4/5/6', () => {
    const regs = { idr0: 0x0d44101b, idr1: 0x02730010, idr5: 0x75 }
    assert.deepEqual(
      [SMMU_V3_IDR.S2P, SMMU_V3_IDR.S1P, SMMU_V3_IDR.TTF, SMMU_V3_IDR.ASID16, SMMU_V3_IDR.VMID16, SMMU_V3_IDR.SIDSIZE, SMMU_V3_IDR.OAS, SMMU_V3_IDR.GRAN4K, SMMU_V3_IDR.GRAN16K, SMMU_V3_IDR.GRAN64K].map((f) => fieldValue(regs, f)),
      [1, 1, 2, 1, 1, 16, 5, 1, 1, 1],
    )
  })

  it('a register absent from the set decodes nothing', () => {
    const { fields, problems } = decodeIdRegisters('smmuv3', { idr1: 0x10 })
    assert.deepEqual(Object.keys(fields), ['stream_id_bits'])
    assert.deepEqual(problems, [])
  })
})

describe('QEMU 7.2 SMMUv3 given by its registers', () => {
  it('decodes to the features the fixture declared field by field before (stage 1 only, 44-bit, 4K/16K/64K, SIDSIZE 16)', () => {
    const { fixture, errors } = loadFixtureFile(resolveFixturePath('qemu-smmuv3-7.2'))
    assert.deepEqual(errors.map(formatFixtureError), [])
    assert.ok(fixture !== undefined)
    // The values of fixtures/qemu-smmuv3-7.2.yaml as it was written field by field.
    assert.deepEqual(
      {
        translation: fixture.translation,
        asidBits: fixture.asidBits,
        vmidBits: fixture.vmidBits,
        ias: fixture.ias,
        oas: fixture.oas,
        granules: [...fixture.granules].sort(),
        streamIdBits: fixture.streamIdBits,
        coherentWalk: fixture.coherentWalk,
        contextBanks: fixture.contextBanks,
      },
      {
        translation: { stage1: true, stage2: false, nested: false },
        asidBits: 16,
        vmidBits: 8,
        ias: 44,
        oas: 44,
        granules: ['16K', '4K', '64K'],
        streamIdBits: 16,
        coherentWalk: true,
        contextBanks: 0,
      },
    )
    assert.deepEqual(fixture.idRegisters, { idr0: 0x0d40101a, idr1: 0x02730010, idr5: 0x74 })
    // Its vfio: section is kept: edu at 00:01.0 (stream 0x8) in group 1, the SW_MSI window.
    assert.deepEqual(fixture.vfio.groups.map((g) => [g.id, g.streams]), [[1, [0x8]]])
    assert.deepEqual(fixture.vfio.reservedRegions.map((r) => [r.start, r.end, r.type]), [[0x8000000n, 0x80fffffn, 'sw-msi']])
  })

  it('QEMU 9.1 stage=nested IDR0 0x0D44101B decodes to both stages, nesting and 16-bit VMIDs', () => {
    const r = parseFixture(`${V3_HEAD}id_registers: {idr0: 0x0D44101B, idr1: 0x02730010, idr5: 0x74}\n`, '/x/r.yaml')
    assert.deepEqual(r.errors, [])
    assert.deepEqual([r.fixture?.translation, r.fixture?.vmidBits], [{ stage1: true, stage2: true, nested: true }, 16])
  })

  it('TTF = 3 (AArch32 and AArch64 tables) starts the IAS at 40: OAS 36 gives IAS 40', () => {
    const r = parseFixture(`${V3_HEAD}id_registers: {idr0: 0x0000000F, idr1: 0x8, idr5: 0x11}\n`, '/x/r.yaml')
    assert.deepEqual(r.errors, [])
    assert.deepEqual([r.fixture?.ias, r.fixture?.oas, r.fixture?.granules], [40, 36, ['4K']])
  })
})

describe('SMMUv1/v2 fixtures given by registers', () => {
  it('registers only: a full feature set (IDR0 0x70001E00, IDR1 0x00020008, IDR2 0x00005055)', () => {
    const r = parseFixture(`${V2_HEAD}id_registers:\n  idr0: 0x70001E00\n  idr1: 0x00020008\n  idr2: 0x00005055\n`, '/x/r.yaml')
    assert.deepEqual(r.errors.map(formatFixtureError), [])
    const f = r.fixture
    assert.deepEqual(
      { t: f?.translation, banks: f?.contextBanks, s2: f?.s2OnlyContextBanks, ias: f?.ias, oas: f?.oas, granules: f?.granules, sid: f?.streamIdBits, vmid: f?.vmidBits, cw: f?.coherentWalk },
      { t: { stage1: true, stage2: true, nested: true }, banks: 8, s2: 2, ias: 48, oas: 48, granules: ['4K', '64K'], sid: 15, vmid: 8, cw: false },
    )
  })

  it('IDR2 size codes: 2 is 40 bits, 6 and 7 mean 48 bits (arm_smmu_id_size_to_bits)', () => {
    const r = parseFixture(`${V2_HEAD}id_registers: {idr0: 0x40001E00, idr1: 0x4, idr2: 0x00001062}\n`, '/x/r.yaml')
    assert.deepEqual(r.errors, [])
    assert.deepEqual([r.fixture?.ias, r.fixture?.oas], [40, 48])
  })

  it('SMMUv2 IDR0.EXIDS means 16-bit stream IDs; IDR0.CTTW a coherent walk; IDR2.VMID16 16-bit VMIDs', () => {
    const r = parseFixture(`${V2_HEAD}id_registers: {idr0: 0x40004100, idr1: 0x4, idr2: 0x00009055}\n`, '/x/r.yaml')
    assert.deepEqual(r.errors, [])
    assert.deepEqual([r.fixture?.streamIdBits, r.fixture?.coherentWalk, r.fixture?.vmidBits], [16, true, 16])
  })

  it('SMMUv1: 4K from AArch32 long-descriptor tables (IDR0 bit 25 clear); 64K only for "arm,mmu-401"', () => {
    const v1 = (compatible: string) => `name: r\ndescription: v1\nkind: synthetic\narchitecture: smmuv1\ncompatible: ${compatible}\nid_registers: {idr0: 0x20001E00, idr1: 0x00040004, idr2: 0x22}\n`
    assert.deepEqual(parseFixture(v1('arm,mmu-401'), '/x/r.yaml').fixture?.granules, ['4K', '64K'])
    assert.deepEqual(parseFixture(v1('arm,mmu-400'), '/x/r.yaml').fixture?.granules, ['4K'])
  })

  it('synthetic-nested gives its registers and fields both ways, and they agree', () => {
    const { fixture, errors } = loadFixtureFile(resolveFixturePath('synthetic-nested'))
    assert.deepEqual(errors, [])
    assert.deepEqual(fixture?.idRegisters, { idr0: 0x78001e80, idr1: 0x00020008, idr2: 0x00005055 })
  })
})

describe('register errors', () => {
  const QEMU = `${V3_HEAD}id_registers:\n  idr0: 0x0D40101A\n  idr1: 0x02730010\n  idr5: 0x74\n`

  it('a declared field that disagrees: REGISTER_MISMATCH at the field, naming the bits', () => {
    const r = parseFixture(`${QEMU}translation: {stage1: true, stage2: true, nested: false}\n`, '/x/r.yaml')
    assert.deepEqual(only(r.errors), { code: 'REGISTER_MISMATCH', line: 9, column: 37, field: 'translation.stage2' })
    assert.equal(
      formatFixtureError(r.errors[0] as FixtureError),
      '/x/r.yaml:9:37: translation.stage2: declared true, but id_registers.idr0 = 0x0D40101A decodes to false (IDR0.S2P (bit 0) = 0) [REGISTER_MISMATCH]',
    )
  })

  it('granules compare as sets; a missing granule is a mismatch', () => {
    assert.deepEqual(parseFixture(`${QEMU}granules: [64K, 4K, 16K]\n`, '/x/r.yaml').errors, [])
    assert.equal(only(parseFixture(`${QEMU}granules: [4K, 64K]\n`, '/x/r.yaml').errors).field, 'granules')
  })

  it('a register the architecture does not use: INCONSISTENT at the register', () => {
    const r = parseFixture(`${V2_HEAD}id_registers:\n  idr0: 0x70001E00\n  idr1: 0x00020008\n  idr2: 0x00005055\n  idr3: 0x100\n`, '/x/r.yaml')
    assert.equal(only(r.errors).field, 'id_registers.idr3')
    assert.equal(only(r.errors).code, 'INCONSISTENT')
  })

  it('SMMUv3 IDR3.FWB decodes to s2fwb and IDR0.ATS to ats; a declared s2fwb must agree', () => {
    const nested = QEMU.replace('0x0D40101A', '0x0D44101B')
    const r = parseFixture(`${nested}  idr3: 0x00000100\n`, '/x/r.yaml')
    assert.deepEqual(r.errors, [])
    assert.equal(r.fixture?.s2fwb, true)
    assert.equal(r.fixture?.ats, false)
    assert.equal(only(parseFixture(`${nested}  idr3: 0x1414\ns2fwb: true\n`, '/x/r.yaml').errors).code, 'REGISTER_MISMATCH')
    assert.equal(only(parseFixture(`${QEMU}  idr3: 0x100\n`, '/x/r.yaml').errors).field, 's2fwb')
    const ats = parseFixture(`${V3_HEAD}id_registers: {idr0: 0x0D40141A, idr1: 0x02730010, idr5: 0x74}\n`, '/x/r.yaml')
    assert.equal(ats.fixture?.ats, true)
  })

  it('a register wider than 32 bits: OUT_OF_RANGE; a register that is not a number: WRONG_TYPE', () => {
    assert.deepEqual(only(parseFixture(QEMU.replace('0x74', '0x100000000'), '/x/r.yaml').errors), { code: 'OUT_OF_RANGE', line: 8, column: 9, field: 'id_registers.idr5' })
    assert.equal(only(parseFixture(QEMU.replace('0x74', 'seventy'), '/x/r.yaml').errors).code, 'WRONG_TYPE')
  })

  it('IDR5.OAS = 7 is reserved: BAD_VALUE at idr5; IDR0.TTF = 1 (no AArch64 tables): BAD_VALUE at idr0', () => {
    assert.deepEqual(only(parseFixture(QEMU.replace('0x74', '0x77'), '/x/r.yaml').errors), { code: 'BAD_VALUE', line: 8, column: 9, field: 'id_registers.idr5' })
    assert.equal(only(parseFixture(QEMU.replace('0x0D40101A', '0x0D401016'), '/x/r.yaml').errors).field, 'id_registers.idr0')
  })

  it('IDR1.NUMCB = 0: OUT_OF_RANGE; NUMS2CB > NUMCB: INCONSISTENT located at idr1', () => {
    const v2 = (idr1: string) => `${V2_HEAD}id_registers:\n  idr0: 0x70001E00\n  idr1: ${idr1}\n  idr2: 0x00005055\n`
    const zero = parseFixture(v2('0x00000000'), '/x/r.yaml').errors
    assert.ok(zero.some((e) => e.code === 'OUT_OF_RANGE' && e.field === 'id_registers.idr1'), zero.map(formatFixtureError).join('\n'))
    assert.deepEqual(only(parseFixture(v2('0x00090008'), '/x/r.yaml').errors), { code: 'INCONSISTENT', line: 7, column: 9, field: 's2_only_context_banks' })
  })

  it('registers that leave a field undecoded: MISSING_FIELD for each, saying which register gives it', () => {
    const r = parseFixture(`${V3_HEAD}id_registers: {idr0: 0x0D40101A}\n`, '/x/r.yaml')
    assert.deepEqual(r.errors.map((e) => `${e.code} ${e.field}`), ['MISSING_FIELD ias', 'MISSING_FIELD oas', 'MISSING_FIELD granules', 'MISSING_FIELD stream_id_bits'])
    assert.match(r.errors[1]?.message ?? '', /IDR5\.OAS/)
  })

  it('registers on VT-d: INCONSISTENT', () => {
    const text = 'name: r\ndescription: x\nkind: synthetic\narchitecture: intel-vtd\nid_registers: {idr0: 1}\ntranslation: {stage1: false, stage2: true, nested: false}\nias: 39\noas: 48\ngranules: [4K]\nstream_id_bits: 16\n'
    assert.equal(only(parseFixture(text, '/x/r.yaml').errors).field, 'id_registers')
  })

  it('without registers the decoded fields are required by the schema', () => {
    const r = parseFixture(V3_HEAD + 'asid_bits: 16\nvmid_bits: 8\n', '/x/r.yaml')
    assert.deepEqual(r.errors.map((e) => `${e.code} ${e.field}`).sort(), ['MISSING_FIELD granules', 'MISSING_FIELD ias', 'MISSING_FIELD oas', 'MISSING_FIELD stream_id_bits', 'MISSING_FIELD translation'])
  })
})
