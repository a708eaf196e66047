/**
 * Fixture loading: every shipped fixture is valid, and each kind of malformed fixture is rejected
 * with its code, line, column and field.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { formatFixtureError, listFixtureNames, loadFixtureFile, parseFixture, resolveFixturePath, type FixtureError } from '../../model/hw'

const GOOD = `# a comment line
name: good
description: test SMMU
kind: synthetic
architecture: smmuv2
translation:
  stage1: true
  stage2: true
  nested: false
context_banks: 8
s2_only_context_banks: 2
ias: 48
oas: 40
granules: [4K]
stream_id_bits: 15
`

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
    assert.deepEqual(codes, ['INCONSISTENT context_banks', 'INCONSISTENT s2_only_context_banks', 'MISSING_FIELD architecture', 'MISSING_FIELD architecture'])
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
