/**
 * `smmu-nesting-tck fixtures validate|list` and `smmu-nesting-tck explain`, in process through
 * main() with stdout and stderr captured apart (cli.test.ts spawns the bin shim for the exit
 * statuses a shell sees).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { goodFixtureText } from '../helpers/fixture-text'
import { ROOT, runMain } from '../helpers/run-main'
import { listFixtureNames } from '../../model/hw'

const GOOD = goodFixtureText('NAME')

describe('smmu-nesting-tck fixtures validate', () => {
  let dir = ''
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-fixtures-'))
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  /** Write `<name>.yaml` from GOOD with `edit` applied, validate it alone, return the run. */
  async function validateVariant(name: string, edit: (text: string) => string) {
    const file = path.join(dir, `${name}.yaml`)
    fs.writeFileSync(file, edit(GOOD.replace('NAME', name)))
    return { file, run: await runMain(['fixtures', 'validate', file]) }
  }

  it('the whole catalogue with no arguments: exit 0, a line per fixture', async () => {
    const r = await runMain(['fixtures', 'validate'])
    assert.equal(r.code, 0, r.err.join('\n'))
    assert.deepEqual(r.err, [])
    assert.deepEqual(r.out.slice(0, -1), listFixtureNames().map((n) => `fixtures/${n}.yaml: ok`))
    assert.equal(r.out.at(-1), `${listFixtureNames().length} fixtures, all valid`)
  })

  const KINDS: [string, (t: string) => string, string][] = [
    ['malformed YAML', (t) => t.replace('ias: 48', 'ias: [48'), ':12:1: Flow sequence in block collection must be sufficiently indented and end with a ] [YAML_SYNTAX]'],
    ['an unknown key', (t) => t.replace('oas: 40', 'oas: 40\nbogus_field: 1'), ':13:1: bogus_field: unknown field "bogus_field" [UNKNOWN_KEY]'],
    ['a wrong type', (t) => t.replace('context_banks: 8', 'context_banks: eight'), ':9:16: context_banks: must be an integer, not the string "eight" [WRONG_TYPE]'],
    ['an out-of-range value', (t) => t.replace('context_banks: 8', 'context_banks: 129'), ':9:16: context_banks: must be <= 128 [OUT_OF_RANGE]'],
    ['a value the architecture does not have', (t) => t.replace('ias: 48', 'ias: 47'), ':11:6: ias: must be one of 32, 36, 39, 40, 42, 44, 48, 52 [BAD_VALUE]'],
    ['an inconsistent combination', (t) => t.replace('s2_only_context_banks: 2', 's2_only_context_banks: 9'), ':10:24: s2_only_context_banks: 9 stage-2-only banks but only 8 context banks [INCONSISTENT]'],
    [
      'registers that disagree with a declared field',
      (t) => t.replace('architecture: smmuv2', 'architecture: smmuv2\nid_registers: {idr0: 0x70001E00, idr1: 0x00020008, idr2: 0x00001025}'),
      ':9:11: translation.nested: declared false, but id_registers.idr0 = 0x70001E00 decodes to true (IDR0.NTS (bit 28) = 1) [REGISTER_MISMATCH]',
    ],
    ['a name that is not the file name', (t) => t.replace(/^name: .*$/m, 'name: other'), ':1:7: name: "other" must equal the file name'],
  ]
  for (const [kind, edit, expected] of KINDS) {
    it(`${kind}: exit 1, file:line:column, field and reason on stderr`, async () => {
      const name = kind.replace(/[^a-z]+/g, '-').replace(/-$/, '')
      const { file, run } = await validateVariant(name, edit)
      assert.equal(run.code, 1)
      assert.equal(run.err.length, 1, run.err.join('\n'))
      assert.ok((run.err[0] as string).startsWith(`${file}${expected}`), `${run.err[0]}\n  should start with\n${file}${expected}`)
      assert.deepEqual(run.out, [`${file}: 1 problem`, '1 fixture, 1 invalid'])
    })
  }

  it('several files and a folder: every problem, a line per file, the count of invalid ones', async () => {
    const r = await runMain(['fixtures', 'validate', dir, path.join(ROOT, 'fixtures', 'mmu-500.yaml'), path.join(dir, 'missing.yaml')])
    assert.equal(r.code, 1)
    assert.ok(r.err.some((l) => l.includes('missing.yaml:1:1: cannot read fixture') && l.endsWith('[NOT_FOUND]')), r.err.join('\n'))
    assert.match(r.out.at(-1) ?? '', /^\d+ fixtures, \d+ invalid$/)
    assert.ok(r.out.includes(`${path.join(ROOT, 'fixtures', 'mmu-500.yaml')}: ok`))
  })

  it('a folder without fixtures is a usage error: exit 2', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-empty-'))
    try {
      const r = await runMain(['fixtures', 'validate', empty])
      assert.equal(r.code, 2)
      assert.match(r.err[0] ?? '', /no \.yaml files in/)
    } finally {
      fs.rmSync(empty, { recursive: true, force: true })
    }
  })
})

describe('smmu-nesting-tck fixtures list', () => {
  it('a table: name, architecture, stages, banks, IAS/OAS, ID registers, source; a row per fixture', async () => {
    const r = await runMain(['fixtures', 'list'])
    assert.equal(r.code, 0, r.err.join('\n'))
    assert.match(r.out[0] ?? '', /^name +architecture +stages +banks +IAS\/OAS +ID registers +source$/)
    const names = listFixtureNames()
    assert.equal(r.out.length, names.length + 3)
    assert.match(r.out.find((l) => l.startsWith('qemu-smmuv3-7.2 ')) ?? '', /smmuv3 +S1 only +- \(STEs\) +44\/44 +IDR0=0x0D40101A IDR1=0x02730010 IDR5=0x00000074 +QEMU 7\.2/)
    assert.match(r.out.find((l) => l.startsWith('mmu-401 ')) ?? '', /smmuv1 +S2 only +4 \(4 S2-only\) +40\/40 +- +Linux boot logs/)
    assert.match(r.out.find((l) => l.startsWith('synthetic-s1-s2 ')) ?? '', /S1\+S2 without nesting +8 \(2 S2-only\) +48\/48 +- +synthetic$/)
  })

  it('--json: every feature set', async () => {
    const r = await runMain(['fixtures', 'list', '--json'])
    const parsed = JSON.parse(r.out.join('\n')) as { name: string }[]
    assert.deepEqual(parsed.map((f) => f.name), listFixtureNames())
  })
})

describe('smmu-nesting-tck explain', () => {
  it('per profile: driver, each request, banks, CHECK_EXTENSION and SET_IOMMU', async () => {
    const r = await runMain(['explain', '--fixture', 'synthetic-s1-s2', '--profile', 'rfc-v2'])
    assert.equal(r.code, 0, r.err.join('\n'))
    const text = r.out.join('\n')
    assert.match(text, /^rfc-v2: RFC PATCHv2/m)
    assert.match(text, /stage 1 request +attach: ok; stage S1; context bank 2 \(S1_TRANS_S2_BYPASS\)/)
    assert.match(text, /nested request +set_attr\(NESTING, 1\): ok; attach: ok; stage S2 \(not nested\); context bank 0 \(S2_TRANS\)/)
    assert.match(text, /context banks +stage 1 banks 2-7; stage 2 banks 0-7; nested banks 0-7/)
    assert.match(text, /SET_IOMMU +VFIO_TYPE1_NESTING_IOMMU \(5\) with group 0 in the container: ok; group 0's domain has stage S2/)
  })

  it('--json without --profile: one explanation per profile', async () => {
    const r = await runMain(['explain', '-f', 'qemu-smmuv3-7.2', '--json'])
    const parsed = JSON.parse(r.out.join('\n')) as { profile: string; probe: string }[]
    assert.deepEqual(parsed.map((e) => [e.profile, e.probe]), [['rfc-v2', 'ENODEV'], ['enforcing', 'ENODEV'], ['merged', 'ENODEV'], ['linux-6.1', 'ok'], ['linux-6.12', 'ok'], ['linux-7.3', 'ok']])
  })

  it('an unknown fixture or profile: exit 2 with the reason on stderr', async () => {
    const nofix = await runMain(['explain', '-f', 'no-such-smmu'])
    assert.equal(nofix.code, 2)
    assert.deepEqual(nofix.out, [])
    assert.ok(nofix.err.some((l) => l.includes('[NOT_FOUND]')))
    const noprof = await runMain(['explain', '-f', 'mmu-500', '-p', 'linux-9.9'])
    assert.equal(noprof.code, 2)
    assert.match(noprof.err[0] ?? '', /unknown behaviour profile "linux-9\.9"/)
  })

  it('--fixture is required: exit 2', async () => {
    assert.equal((await runMain(['explain'])).code, 2)
  })
})
