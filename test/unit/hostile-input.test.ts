/**
 * Hostile input that the text corpus (test/bad-fixtures, test/bad-transcripts) cannot hold: files
 * that are not regular files, files over the size limit, and inputs whose danger is time or
 * memory. Each gets one clear error and exit status 1 or 2, in bounded time, from the CLI's main().
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { after, describe, it } from 'node:test'
import { loadFixtureFile, parseFixture } from '../../model'
import { TRANSCRIPT_LINE_MAX_BYTES } from '../../model/transcript'
import { FIXTURE_MAX_BYTES, printable } from '../../model/textfile'
import { goodFixtureText as fixtureText } from '../helpers/fixture-text'
import { runMain } from '../helpers/run-main'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-hostile-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

function fifo(name: string): string {
  const p = path.join(dir, name)
  execFileSync('mkfifo', [p])
  return p
}

function symlink(name: string, to: string): string {
  const p = path.join(dir, name)
  fs.symlinkSync(to, p)
  return p
}

/** CPU milliseconds `fn` takes (CPU, not wall time: the figure holds on a loaded machine too). */
function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = process.cpuUsage()
  const value = fn()
  const t = process.cpuUsage(t0)
  return { value, ms: (t.user + t.system) / 1000 }
}

describe('files that are not fixtures or transcripts are refused at once', () => {
  const cases: [string, () => string, string][] = [
    ['a FIFO (not opened for a writer: no hang)', () => fifo('pipe.yaml'), 'a fixture is a regular file; this is a FIFO (named pipe) [NOT_A_FILE]'],
    ['/dev/zero', () => '/dev/zero', 'a fixture is a regular file; this is a character device [NOT_A_FILE]'],
    ['a symlink to /dev/urandom', () => symlink('random.yaml', '/dev/urandom'), 'a fixture is a regular file; this is a character device [NOT_A_FILE]'],
  ]
  for (const [what, make, message] of cases) {
    it(`fixtures validate: ${what}`, async () => {
      const file = make()
      const r = await runMain(['fixtures', 'validate', file])
      assert.equal(r.code, 1)
      assert.deepEqual(r.err, [`${file}:1:1: ${message}`])
    })
  }

  it('replay: a FIFO or /dev/zero as the transcript is a usage error (exit 2), with the reason', async () => {
    const pipe = fifo('pipe.vfio')
    for (const [file, kind] of [
      [pipe, 'a FIFO (named pipe)'],
      ['/dev/zero', 'a character device'],
    ] as const) {
      const r = await runMain(['replay', '-p', 'linux-6.1', '-f', 'qemu-smmuv3-7.2', file])
      assert.equal(r.code, 2)
      assert.deepEqual(r.err, [`smmu-nesting-tck: ${file}:1:1: a transcript is a regular file; this is ${kind} [NOT_A_FILE]`])
    }
  })

  it('replay and explain: a fixture that is /dev/urandom (by a symlink) does not load: exit 2', async () => {
    const random = symlink('urandom-fixture.yaml', '/dev/urandom')
    for (const args of [
      ['replay', '-p', 'linux-6.1', '-f', random, 'transcripts/qemu-virt-smmuv3-linux-6.1.vfio'],
      ['explain', '--fixture', random],
    ]) {
      const r = await runMain(args)
      assert.equal(r.code, 2, r.err.join('\n'))
      assert.ok(r.err.includes(`  ${random}:1:1: a fixture is a regular file; this is a character device [NOT_A_FILE]`), r.err.join('\n'))
    }
  })
})

describe('size limits', () => {
  it(`a fixture over ${FIXTURE_MAX_BYTES} bytes is TOO_LARGE before it is parsed (the 45 MB stream-ID list)`, () => {
    const file = path.join(dir, 'big.yaml')
    fs.writeFileSync(file, `${fixtureText('big')}vfio:\n  groups:\n    - id: 1\n      streams: [${'1,'.repeat(FIXTURE_MAX_BYTES / 2)}1]\n`)
    const { value, ms } = timed(() => loadFixtureFile(file))
    assert.deepEqual(
      value.errors.map((e) => `${e.code} ${e.message}`),
      [`TOO_LARGE the fixture is ${fs.statSync(file).size} bytes; the limit is 256 KiB (262144 bytes)`],
    )
    assert.ok(ms < 1000, `${ms} ms`)
  })

  it('a transcript of more than 16 MiB replays: it is read a line at a time, and its size is no limit', async () => {
    // 8,500 calls, each with a 2 KiB comment: 17.6 MB of transcript, few calls (the time is the reading).
    const file = path.join(dir, 'long.vfio')
    const pad = `# ${'x'.repeat(2046)}`
    const calls = 8500
    fs.writeFileSync(file, `open = ok ${pad}\n${`api_version = 0 ${pad}\n`.repeat(calls - 1)}`)
    assert.ok(fs.statSync(file).size > 16 * 1024 * 1024)
    const r = await runMain(['replay', '--quiet', '-p', 'linux-6.1', '-f', 'qemu-smmuv3-7.2', file])
    assert.deepEqual(r.err, [])
    assert.deepEqual(r.out, [`${calls} agree, 0 differ`])
    assert.equal(r.code, 0)
  })

  it(`a line over ${TRANSCRIPT_LINE_MAX_BYTES} bytes is refused at its line, unread; the lines around it replay`, async () => {
    const file = path.join(dir, 'long-line.vfio')
    fs.writeFileSync(file, `open = ok\napi_version = ${'0'.repeat(2 * TRANSCRIPT_LINE_MAX_BYTES)}\napi_version = 0\n`)
    const r = await runMain(['replay', '-p', 'linux-6.1', '-f', 'qemu-smmuv3-7.2', file])
    assert.deepEqual(r.out, [
      `${file}:1: agree: open = ok`,
      `${file}:2: error: the line is ${2 * TRANSCRIPT_LINE_MAX_BYTES + 14} bytes; the limit is 1 MiB (1048576 bytes)`,
      `${file}:3: agree: api_version = 0`,
      '2 agree, 1 differ',
    ])
    assert.equal(r.code, 1)
  })

  it('a stream-ID list as long as the size limit allows parses in bounded time and memory, and is refused by its stated limit', () => {
    // The most list items the size limit lets through: one digit and a comma each.
    const text = `${fixtureText('many-streams')}vfio:\n  groups:\n    - id: 1\n      streams: [${'1,'.repeat(130_000)}1]\n`
    assert.ok(text.length < FIXTURE_MAX_BYTES)
    const rss0 = process.memoryUsage().rss
    const { value, ms } = timed(() => parseFixture(text, 'many-streams.yaml'))
    const grew = process.memoryUsage().rss - rss0
    assert.deepEqual(
      value.errors.map((e) => `${e.field}: ${e.message} [${e.code}]`),
      ['vfio.groups.0.streams: lists 130001 items; the limit is 1024 [TOO_LARGE]'],
    )
    assert.ok(ms < 5000, `${ms} ms`)
    assert.ok(grew < 512 * 1024 * 1024, `RSS grew by ${grew} bytes`)
  })
})

describe('time: unknown keys, aliases', () => {
  const unknownKeys = (n: number): string => `${fixtureText('keys')}${Array.from({ length: n }, (_, i) => `k${i}: 1\n`).join('')}`

  it('unknown keys cost linear time (40,000 keys within a few times 10,000 keys)', () => {
    parseFixture(unknownKeys(100), 'keys.yaml') // warm up
    const small = timed(() => parseFixture(unknownKeys(10_000), 'keys.yaml'))
    const big = timed(() => parseFixture(unknownKeys(40_000), 'keys.yaml'))
    assert.equal(big.value.errors.length, 40_000)
    assert.equal(big.value.errors[39_999]?.line, 14 + 40_000)
    assert.ok(big.ms < 8 * small.ms + 200, `10k keys ${small.ms.toFixed(0)} ms, 40k keys ${big.ms.toFixed(0)} ms`)
    assert.ok(big.ms < 5000)
  })

  it('a YAML alias bomb is one TOO_LARGE error, not an exception', () => {
    let bomb = 'x_bomb:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n'
    for (let i = 1; i < 20; i++) bomb += `  a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]\n`
    const { value, ms } = timed(() => parseFixture(`${fixtureText('bomb')}${bomb}`, 'bomb.yaml'))
    assert.deepEqual(
      value.errors.map((e) => `${e.line}:${e.column} ${e.code}`),
      ['17:12 TOO_LARGE'],
    )
    assert.ok(ms < 2000, `${ms} ms`)
  })
})

describe('__proto__ is a key like any other', () => {
  // toJS keeps `__proto__` as an own key; copying it by assignment would set the prototype of the
  // object it is in instead, and the fields under it would be read as that object's own (under
  // `vfio:`, the fixture's groups), with no error at all.
  const base = fixtureText('proto')
  const cases: [string, string, string][] = [
    ['at the top level', `${base}__proto__:\n  vfio: { groups: [{ id: 1, streams: [1] }] }\n`, '15:1 __proto__'],
    ['under vfio', `${base}vfio:\n  __proto__:\n    groups: [{ id: 1, streams: [1] }]\n`, '16:3 vfio.__proto__'],
    ['in a list item', `${base}vfio:\n  groups:\n    - id: 1\n      streams: [1]\n      __proto__: { viable: false }\n`, '19:7 vfio.groups.0.__proto__'],
    ['under translation', base.replace('translation:\n', 'translation:\n  __proto__: { nested: true }\n'), '6:3 translation.__proto__'],
    ['under id_registers', `${base}id_registers:\n  __proto__: { idr0: 0 }\n`, '16:3 id_registers.__proto__'],
  ]
  for (const [where, text, at] of cases) {
    it(`${where}: unknown field "__proto__" at its line, and no fixture`, () => {
      const r = parseFixture(text, 'proto.yaml')
      assert.deepEqual(
        r.errors.map((e) => `${e.line}:${e.column} ${e.field} ${e.message} [${e.code}]`),
        [`${at} unknown field "__proto__" [UNKNOWN_KEY]`],
      )
      assert.equal(r.fixture, undefined)
    })
  }
})

describe('exact integers', () => {
  it('a reserved region at 0xfffffffffffff001 keeps every bit', () => {
    const text = `${fixtureText('exact')}vfio:\n  reserved_regions:\n    - start: 0xfffffffffffff001\n      end: 0xffffffffffffffff\n      type: reserved\n`
    const r = parseFixture(text, 'exact.yaml')
    assert.deepEqual(r.errors, [])
    assert.deepEqual(r.fixture?.vfio.reservedRegions, [{ start: 0xfffffffffffff001n, end: 0xffffffffffffffffn, type: 'reserved' }])
  })
})

describe('printable', () => {
  it('escapes C0, DEL, C1, line separators and bidi overrides; leaves other text alone', () => {
    assert.equal(printable('a\x1b[31mb\x07\x7f\x85\u2028\u202e\u2066 é ✓'), 'a\\x1b[31mb\\x07\\x7f\\x85\\u{2028}\\u{202e}\\u{2066} é ✓')
  })
})
