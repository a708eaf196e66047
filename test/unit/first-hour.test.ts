/**
 * The first hour of a new user (issue 14): errors that say what is wrong and what was meant, and
 * running a part of the suite.
 *
 * - a broken fixture planted in a copy of the repository's catalogue: `npm run features` prints the
 *   validator's lines under every profile, no stack trace, exit 1;
 * - "did you mean" for fixture keys, transcript calls, errno names, extension names, profile names;
 * - an empty transcript is an error; a group the machine lacks names the groups it has;
 * - step failures read `expected S2, the model gave NESTED`;
 * - selecting features, scenarios, profiles and tags; `--version`; the README (its length, layout,
 *   citations) and the SMMUv3 template of docs/fixtures.md.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadConfiguration } from '@cucumber/cucumber/api'
import { main } from '../../cli/main'
import { formatFixtureError, parseFixture, PROFILE_NAMES, unknownProfileMessage } from '../../model'
import { ROOT } from '../../model/root'
import { closest } from '../../model/suggest'
import { parseTranscript } from '../../model/transcript'
import { parseFeatureArgs } from '../../scripts/feature-args'
import { check, ExpectationFailed } from '../../steps/expect'


async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out, err }
}

function withTranscript<T>(text: string, fn: (file: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-first-hour-'))
  try {
    const file = path.join(dir, 't.vfio')
    fs.writeFileSync(file, text)
    return fn(file)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const GOOD = fs.readFileSync(path.join(ROOT, 'fixtures/synthetic-nested.yaml'), 'utf8')

describe('a broken fixture in the catalogue', () => {
  let copy = ''
  const BROKEN = 'zz-broken'
  before(() => {
    // A copy of the repository (its node_modules linked), with one fixture that does not load:
    // a misspelt key, a string for a number, a rule the schema cannot say; in that order of lines.
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-broken-catalogue-'))
    // dist/ is copied with its times, so the copy's build finds it up to date.
    const skip = new Set(['node_modules', '.git', 'reports', '.cache'])
    for (const entry of fs.readdirSync(ROOT)) {
      if (!skip.has(entry)) fs.cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true, preserveTimestamps: true })
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir')
    const text = [
      `name: ${BROKEN}`,
      'description: planted by test/unit/first-hour.test.ts',
      'kind: synthetic',
      'architecture: smmuv2',
      'translation:',
      '  stage1: true',
      '  stage2: true',
      '  nested: false',
      'context_banks: 8',
      's2_only_context_banks: 9',
      'ias: "48"',
      'oas: 48',
      'granules: [4K]',
      'stream_id_bit: 15',
      '',
    ].join('\n')
    fs.writeFileSync(path.join(copy, 'fixtures', `${BROKEN}.yaml`), text)
  })
  after(() => fs.rmSync(copy, { recursive: true, force: true }))

  it('npm run features prints the validator lines under every profile, no stack trace, and exits 1', () => {
    const profiles = ['merged', 'linux-6.1']
    // The command line of the npm script, run as npm runs it (less npm's own half second of start-up).
    const features = (JSON.parse(fs.readFileSync(path.join(copy, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.features as string
    const r = spawnSync(`${features} ${profiles.map((p) => `--profile ${p}`).join(' ')} features/fixtures`, {
      cwd: copy,
      shell: true,
      encoding: 'utf8',
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    })
    const output = `${r.stdout}\n${r.stderr}`
    assert.equal(r.status, 1, output)
    const validator = parseFixture(fs.readFileSync(path.join(copy, 'fixtures', `${BROKEN}.yaml`), 'utf8'), `fixtures/${BROKEN}.yaml`).errors.map(formatFixtureError)
    assert.deepEqual(
      validator,
      [
        `fixtures/${BROKEN}.yaml:1:1: stream_id_bits: required field "stream_id_bits" is missing [MISSING_FIELD]`,
        `fixtures/${BROKEN}.yaml:10:24: s2_only_context_banks: 9 stage-2-only banks but only 8 context banks [INCONSISTENT]`,
        `fixtures/${BROKEN}.yaml:11:6: ias: must be an integer, not the string "48" [WRONG_TYPE]`,
        `fixtures/${BROKEN}.yaml:14:1: stream_id_bit: unknown field "stream_id_bit" (did you mean "stream_id_bits"?) [UNKNOWN_KEY]`,
      ],
      'every problem of the file in one pass, in line order',
    )
    for (const line of validator) {
      // once in each profile's failed Fix1 [1], once more at the end
      assert.equal(output.split(line).length - 1, profiles.length + 1, `${line}\n---\n${output}`)
    }
    for (const p of profiles) assert.match(r.stdout, new RegExp(`== behaviour profile ${p.replace('.', '\\.')} ==`))
    assert.doesNotMatch(output, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace')
    assert.doesNotMatch(output, /BeforeAll/)
    assert.match(r.stdout, /^merged\s+\d+\s+1$/m, 'under merged exactly the catalogue check fails')
    assert.match(r.stdout, /^linux-6\.1\s+\d+\s+1$/m)
  })
})

describe('did you mean', () => {
  it('picks the one close name; none for a tie, for other digits or for a far word', () => {
    assert.equal(closest('mereged', PROFILE_NAMES), 'merged')
    assert.equal(closest('Linux_6.1', PROFILE_NAMES), 'linux-6.1')
    assert.equal(closest('linux-9.9', PROFILE_NAMES), undefined)
    assert.equal(closest('smmuv4', ['smmuv1', 'smmuv2', 'smmuv3']), undefined)
    assert.equal(closest('frobnicate', ['open', 'map', 'dma']), undefined)
    assert.equal(closest('4k', ['4K', '16K', '64K']), '4K')
  })

  it('an unknown fixture key', () => {
    const r = parseFixture(GOOD.replace(/^granules:/m, 'granule:'), '/x/synthetic-nested.yaml')
    assert.ok(r.errors.map(formatFixtureError).some((l) => l.endsWith('granule: unknown field "granule" (did you mean "granules"?) [UNKNOWN_KEY]')))
  })

  it('an unknown transcript call, errno name and extension name', () => {
    const t = parseTranscript('opne = ok\nopen = EINAVL\ncheck_extension TYPE1_NESTNG = 1\n', 't.vfio')
    assert.deepEqual(
      t.errors.map((e) => `${e.line}:${e.column}: ${e.message} [${e.code}]`),
      [
        '1:1: unknown call "opne" (did you mean "open"? calls: open, api_version, check_extension, group, set_iommu, get_info, map, unmap, dma, close, exit, iommufd, device, ioas, hwpt, viommu, vdevice, veventq, destroy, guest) [UNKNOWN_CALL]',
        '2:8: unknown errno name "EINAVL" (did you mean "EINVAL"?) [UNKNOWN_ERRNO]',
        '3:17: no kernel has an extension named "TYPE1_NESTNG" (did you mean "TYPE1_NESTING"?) [UNKNOWN_EXTENSION]',
      ],
    )
  })

  it('a fixture name not in the catalogue (replay, explain)', async () => {
    const replay = await run(['replay', '-p', 'linux-6.1', '-f', 'mmu500', 'transcripts/qemu-virt-smmuv3-linux-6.1.vfio'])
    assert.equal(replay.code, 2)
    assert.match(replay.err.at(-1) ?? '', /^did you mean "mmu-500"\? fixtures in the catalogue: /)
    const explain = await run(['explain', '-f', 'qemu-smmuv3-72'])
    assert.match(explain.err.at(-1) ?? '', /^did you mean "qemu-smmuv3-7\.2"\? fixtures in the catalogue: /)
  })

  it('an unknown profile name: replay, explain, npm run features', async () => {
    const message = `unknown behaviour profile "mereged" (did you mean "merged"? profiles: ${PROFILE_NAMES.join(', ')})`
    assert.equal(unknownProfileMessage('mereged'), message)
    const replay = await run(['replay', '-p', 'mereged', '-f', 'qemu-smmuv3-7.2', 'transcripts/qemu-virt-smmuv3-linux-6.1.vfio'])
    assert.deepEqual([replay.code, replay.err], [2, [`smmu-nesting-tck: ${message}`]])
    const explain = await run(['explain', '-f', 'mmu-500', '-p', 'mereged'])
    assert.deepEqual([explain.code, explain.err], [2, [`smmu-nesting-tck: ${message}`]])
    const features = parseFeatureArgs(['--profile', 'mereged'])
    assert.deepEqual(features, { error: message })
  })
})

describe('transcripts a first-hour user writes', () => {
  it('an empty transcript (only comments) is an error: exit 1, not "0 agree, 0 differ"', async () => {
    await withTranscript('# open = ok\n\n', async (file) => {
      const r = await run(['replay', '-p', 'linux-6.1', '-f', 'qemu-smmuv3-7.2', file])
      assert.equal(r.code, 1)
      assert.deepEqual(r.out, [`${file}:1: error: the transcript has no calls (each call is a line "<call> = <result>", e.g. "open = ok")`, '0 agree, 1 differ'])
    })
  })

  it('a group the fixture does not have: the answer names the groups it has', async () => {
    await withTranscript('open = ok\ngroup 7 status = viable\n', async (file) => {
      const r = await run(['replay', '-p', 'linux-6.1', '-f', 'qemu-smmuv3-7.2', file])
      assert.equal(r.code, 1)
      assert.equal(r.out[1], `${file}:2: differ: group 7 status = viable (model: ENOENT: /dev/vfio/7 does not exist: the machine's groups: 1 (qemu-smmuv3-7.2))`)
    })
  })
})

describe('step failures', () => {
  it('say what was expected and what the model gave, without a stack trace', () => {
    assert.throws(
      () => check.equal('NESTED', 'S2'),
      (e: unknown) => e instanceof ExpectationFailed && e.message === 'expected S2, the model gave NESTED' && e.stack === e.message,
    )
    assert.throws(() => check.deepEqual({ ok: false, error: { errno: 'EPERM', message: 'bound' } }, { ok: true, value: undefined }), {
      message: 'expected success, the model gave EPERM (bound)',
    })
    assert.throws(() => check.equal(0x1000n, 0x2000n, 'PA'), { message: 'PA: expected 0x2000, the model gave 0x1000' })
  })
})

describe('running a part of the suite', () => {
  it('npx cucumber-js -p merged <file> runs only that file (cucumber.js profiles set no paths)', async () => {
    const file = 'features/nesting/nest1-stage-selection.feature:41'
    const { runConfiguration } = await loadConfiguration({ profiles: ['merged'], provided: { paths: [file] } }, { cwd: ROOT })
    assert.deepEqual(runConfiguration.sources.paths, [file])
    const all = await loadConfiguration({ profiles: ['merged'] }, { cwd: ROOT })
    assert.deepEqual(all.runConfiguration.sources.paths, [])
  })

  it('npm run features -- takes --profile, --tags, bare profile names and paths with :LINE', () => {
    const NEST1 = 'features/nesting/nest1-stage-selection.feature'
    const text = fs.readFileSync(path.join(ROOT, NEST1), 'utf8').split('\n')
    const examples = text.findIndex((l) => l.trim().startsWith('Examples: Linux as merged')) + 1
    const scenario = text.findIndex((l) => l.trim().startsWith('Scenario: [4]')) + 1
    const rows = text.map((l, i) => ({ l: l.trim(), n: i + 1 })).filter(({ l, n }) => n > examples + 1 && l.startsWith('|'))
    const tableRows: number[] = []
    for (const r of rows) {
      if (tableRows.length > 0 && r.n !== (tableRows.at(-1) as number) + 1) break
      tableRows.push(r.n)
    }
    assert.ok(examples > 0 && scenario > 0 && tableRows.length === 4)
    assert.deepEqual(parseFeatureArgs([]), { profiles: [...PROFILE_NAMES], paths: [] })
    assert.deepEqual(parseFeatureArgs(['--profile', 'merged', `${NEST1}:${scenario}`]), { profiles: ['merged'], paths: [`${NEST1}:${scenario}`] })
    // an Examples line (or its header row) stands for every row of its table
    for (const line of [examples, examples + 1]) {
      assert.deepEqual(parseFeatureArgs(['-p', 'merged', `${NEST1}:${line}`]), { profiles: ['merged'], paths: [`${NEST1}:${tableRows.join(':')}`] })
    }
    assert.deepEqual(parseFeatureArgs(['linux-6.1', '-p', 'merged', '--tags', '@vfio', '-t', 'not @slow', 'features/vfio']), {
      profiles: ['merged', 'linux-6.1'],
      paths: ['features/vfio'],
      tags: '(@vfio) and (not @slow)',
    })
    assert.deepEqual(parseFeatureArgs(['features/nope.feature:3']), { error: 'no feature file or folder "features/nope.feature"' })
    assert.ok('error' in parseFeatureArgs(['--colour']))
  })

  it('smmu-nesting-tck --version', async () => {
    const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
    const r = await run(['--version'])
    assert.deepEqual([r.code, r.out], [0, [`smmu-nesting-tck ${version}`]])
  })
})

describe('README', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')

  it('names the RFC, gives the two commands and the report first, and stays under 200 lines', () => {
    assert.match(readme, /\[RFC PATCHv2 0\/3\] Support for nesting IOMMUs in VFIO/)
    assert.match(readme, /```sh\nnpm ci\nnpm test\nnpm run report\n```/)
    assert.ok(readme.indexOf('npm ci') < readme.indexOf('## Running one feature'))
    const lines = readme.split('\n').length
    assert.ok(lines < 200, `${lines} lines`)
  })

  it('names every top-level folder in its layout', () => {
    const layout = /## Where everything is\n\n```\n([^]*?)```/.exec(readme)?.[1] ?? ''
    const folders = fs
      .readdirSync(ROOT, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !['.git', 'node_modules', 'dist', 'reports', '.cache', '.scratch'].includes(d.name))
      .map((d) => d.name)
    for (const f of folders) assert.match(layout, new RegExp(`^${f.replace('.', '\\.')}/`, 'm'), `${f}/ is not in the README's layout`)
    assert.match(layout, /^ {2}report\/ /m, 'scripts/report/ is in the layout')
  })

  it('neither the README nor any other doc or feature points outside the repository', () => {
    // Spelt in pieces, so that a grep for these citations does not find this test.
    const outside = new RegExp(['\\.\\./' + 'shared', 'shared/' + 'reference', 'facts ' + '§', 'the ' + 'seed\\b'].join('|'))
    const walk = (dir: string): string[] =>
      fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((d) => {
        const rel = path.join(dir, d.name)
        if (d.isDirectory()) return ['node_modules', 'dist', 'reports', '.git', '.cache'].includes(d.name) ? [] : walk(rel)
        return /\.(md|feature)$/.test(d.name) ? [rel] : []
      })
    for (const f of walk('.')) assert.ok(!outside.test(fs.readFileSync(path.join(ROOT, f), 'utf8')), `${f} cites something outside the repository (${outside.source})`)
  })

  it('the SMMUv3 template in docs/fixtures.md is a valid fixture', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/fixtures.md'), 'utf8')
    const block = /SMMUv3 template[^]*?```yaml\n([^]*?)```/.exec(doc)?.[1]
    assert.ok(block !== undefined, 'no SMMUv3 template in docs/fixtures.md')
    const r = parseFixture(block, '/x/my-smmuv3.yaml')
    assert.deepEqual(r.errors.map(formatFixtureError), [])
    assert.equal(r.fixture?.arch, 'smmuv3')
  })
})
