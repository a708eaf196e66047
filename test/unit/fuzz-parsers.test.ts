/**
 * Fuzzing the two parsers users feed text to: the fixture loader (YAML -> FeatureSet) and the
 * transcript parser (and the replay behind it). Seeded fast-check; whatever the input, the result
 * is a clean value: a feature set with no errors, or errors each with a line, a column, a code and
 * a message; a transcript whose every call line is either parsed or reported once; a replay that
 * never surfaces an exception from the model.
 *
 * Inputs: random bytes (decoded as UTF-8, invalid sequences replaced), catalogue fixtures and
 * example transcripts mutated byte by byte (flips, deletions, insertions, truncation, splices), and
 * grammar-shaped token soup for transcripts.
 */
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { createModelBackend, formatFixtureError, listFixtureNames, loadFixture, parseFixture, resolveFixturePath, type FixtureResult } from '../../model'
import { formatVerdict, parseTranscript, replayTranscript, type ParsedTranscript } from '../../model/transcript'
import { ROOT } from '../../model/root'

const SEED = 7_2014
const decoder = new TextDecoder('utf-8', { fatal: false })

const fixtureTexts = listFixtureNames().map((name) => ({ name, text: fs.readFileSync(resolveFixturePath(name), 'utf8') }))
const transcriptTexts = fs
  .readdirSync(path.join(ROOT, 'transcripts'))
  .filter((f) => f.endsWith('.vfio'))
  .map((f) => fs.readFileSync(path.join(ROOT, 'transcripts', f), 'utf8'))

/** A byte-level mutation of `text`: flips, deletions, insertions, truncation, a splice of itself. */
const mutation = (text: string): fc.Arbitrary<string> => {
  const bytes = new TextEncoder().encode(text)
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), what: fc.constantFrom(':', '-', '[', ']', '{', '}', '"', "'", '\n', '\t', ' ', '#', '&a', '*a', '!!int', '0x', '-1', '1e400', 'null', '~', '\u0000', '\u00e9', '99999999999999999999') }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), from: fc.nat(), n: fc.integer({ min: 1, max: 200 }) }),
  )
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let b = Array.from(bytes)
    for (const e of edits) {
      const at = b.length === 0 ? 0 : e.at % (b.length + 1)
      if (e.kind === 'flip' && b.length > 0) b[at % b.length] = ((b[at % b.length] as number) ^ (1 << e.bit)) & 0xff
      else if (e.kind === 'delete') b.splice(at, e.n)
      else if (e.kind === 'insert') b.splice(at, 0, ...new TextEncoder().encode(e.what))
      else if (e.kind === 'truncate') b = b.slice(0, at)
      else if (e.kind === 'splice' && b.length > 0) b.splice(at, 0, ...b.slice(e.from % b.length, (e.from % b.length) + e.n))
    }
    return decoder.decode(Uint8Array.from(b))
  })
}

const randomText: fc.Arbitrary<string> = fc.uint8Array({ maxLength: 600 }).map((b) => decoder.decode(b))

function checkFixtureResult(r: FixtureResult, text: string, file: string): void {
  if (r.fixture !== undefined) {
    assert.deepEqual(r.errors, [], 'a feature set comes with no errors')
    assert.equal(r.fixture.file, file)
    return
  }
  assert.ok(r.errors.length > 0, 'no feature set and no error')
  const lines = text.split(/\r\n|\r|\n/).length
  for (const e of r.errors) {
    assert.equal(e.file, file)
    assert.ok(Number.isInteger(e.line) && e.line >= 1 && e.line <= lines + 1, `line ${e.line} of ${lines}`)
    assert.ok(Number.isInteger(e.column) && e.column >= 1, `column ${e.column}`)
    assert.match(e.code, /^[A-Z_]+$/)
    assert.equal(typeof e.field, 'string')
    assert.ok(e.message.length > 0)
    assert.ok(formatFixtureError(e).startsWith(`${file}:${e.line}:${e.column}:`))
  }
}

describe('fuzz: the fixture loader', () => {
  it('random bytes: never throws, always a clean error or a feature set', () => {
    fc.assert(
      fc.property(randomText, (text) => {
        checkFixtureResult(parseFixture(text, 'fuzz.yaml'), text, 'fuzz.yaml')
      }),
      { seed: SEED, numRuns: 400 },
    )
  })

  it('mutated catalogue fixtures: never throws, always a clean error or a feature set', () => {
    let loaded = 0
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtureTexts).chain((f) => fc.tuple(fc.constant(f.name), mutation(f.text))),
        ([name, text]) => {
          const file = `${name}.yaml`
          const r = parseFixture(text, file)
          if (r.fixture !== undefined) loaded++
          checkFixtureResult(r, text, file)
        },
      ),
      { seed: SEED, numRuns: 600 },
    )
    // Some mutations (in a comment or a description) leave a valid fixture: both outcomes are exercised.
    assert.ok(loaded > 0, 'no mutated fixture still loaded: the mutations are too destructive to reach validation')
  })
})

/** Grammar-shaped transcript lines: real words, numbers of every size, stray symbols. */
const word = fc.oneof(
  fc.constantFrom('open', 'api_version', 'check_extension', 'group', 'set_iommu', 'get_info', 'map', 'unmap', 'dma', 'read', 'write', 'all', 'status', 'set_container', 'unset_container'),
  fc.constantFrom('TYPE1_IOMMU', 'TYPE1v2_IOMMU', 'TYPE1_NESTING', 'VFIO_TYPE1_NESTING_IOMMU', 'UNMAP_ALL', 'EEH', 'NOIOMMU', 'BOGUS'),
  fc.constantFrom('r', 'w', 'rw', 'x', 'ok', 'fault', 'none', 'viable', 'container_set', 'viable,container_set', 'EINVAL', 'EPERM', 'ENODEV', 'EFOO', '=', '#', '=='),
  fc
    .tuple(fc.constantFrom('iova=', 'size=', 'flags=', 'group=', 'vaddr=', 'unmapped=', 'pgsizes=', 'dma_avail=', 'ranges=', ''), fc.oneof(fc.bigInt({ min: 0n, max: (1n << 70n) - 1n }).map((n) => `0x${n.toString(16)}`), fc.nat(100).map(String), fc.constantFrom('buffer', 'misaligned', 'unmapped', 'none', '0x0-0xfff,0x2000-0x2fff', '0x10-0x1', '-1', '0x', '1_000', '1__0')))
    .map(([k, v]) => `${k}${v}`),
)
/** Numbers a VMM would write, and some it would not. */
const num = fc.oneof(
  { weight: 6, arbitrary: fc.nat(0x80).map((p) => `0x${(0x100000 + p * 0x1000).toString(16)}`) },
  { weight: 2, arbitrary: fc.nat(0x4000).map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 66n) - 1n }).map((n) => `0x${n.toString(16)}`) },
)
const result = fc.constantFrom('ok', 'fault', 'EINVAL', 'EEXIST', 'ENODEV', 'EPERM', 'ENOSPC', 'EFAULT', '0', '1', 'viable,container_set', 'none', 'ok unmapped=0x1000', 'pgsizes=0x40201000', 'dma_avail=65535', 'ranges=none')
const ext = fc.constantFrom('TYPE1_IOMMU', 'TYPE1v2_IOMMU', 'TYPE1_NESTING', 'UNMAP_ALL', 'UPDATE_VADDR', 'DMA_CC_IOMMU', '6', '99')
/** A call line that parses (mostly), with a result that may or may not be right. */
const callLine: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(num, num, fc.constantFrom('r', 'w', 'rw', 'flags=0x3', 'flags=0x83'), fc.constantFrom('', ' vaddr=buffer', ' vaddr=misaligned', ' vaddr=unmapped'), result).map(([i, s, p, v, r]) => `map iova=${i} size=${s} ${p}${v} = ${r}`),
  fc.tuple(num, num, fc.constantFrom('', ' flags=0x2', ' flags=0x4', ' flags=0x1'), result).map(([i, s, f, r]) => `unmap iova=${i} size=${s}${f} = ${r}`),
  result.map((r) => `unmap all = ${r}`),
  fc.tuple(fc.constantFrom('read', 'write'), num, fc.integer({ min: 1, max: 0x3000 }), fc.constantFrom('', ' group=1', ' group=2', ' group=0'), result).map(([d, i, n, g, r]) => `dma ${d} iova=${i} size=${n}${g} = ${r}`),
  fc.tuple(fc.nat(3), fc.constantFrom('status', 'set_container', 'unset_container'), result).map(([g, a, r]) => `group ${g} ${a} = ${r}`),
  fc.tuple(fc.constantFrom('set_iommu', 'check_extension'), ext, result).map(([c, e, r]) => `${c} ${e} = ${r}`),
  fc.tuple(fc.constantFrom('open', 'api_version', 'get_info'), result).map(([c, r]) => `${c} = ${r}`),
)
const soupLine = fc.oneof({ weight: 3, arbitrary: callLine }, { weight: 1, arbitrary: fc.array(word, { maxLength: 8 }).map((ws) => ws.join(' ')) })
const soup = fc.array(soupLine, { maxLength: 30 }).map((ls) => ls.join('\n'))

function checkTranscript(parsed: ParsedTranscript, text: string, file: string): void {
  const lines = text.split(/\r?\n/)
  const seen = new Set<number>()
  for (const l of parsed.lines) {
    assert.ok(l.line >= 1 && l.line <= lines.length)
    assert.ok(!seen.has(l.line), `line ${l.line} reported twice`)
    seen.add(l.line)
  }
  for (const e of parsed.errors) {
    assert.equal(e.file, file)
    assert.ok(e.line >= 1 && e.line <= lines.length, `error line ${e.line} of ${lines.length}`)
    assert.ok(!seen.has(e.line), `line ${e.line} both parsed and in error, or in error twice`)
    seen.add(e.line)
    assert.ok(Number.isInteger(e.column) && e.column >= 1 && e.column <= (lines[e.line - 1] ?? '').length + 1, `column ${e.column} of line ${e.line}`)
    assert.match(e.code, /^[A-Z_]+$/)
    assert.ok(e.message.length > 0)
  }
  // Every line with something before its comment is either a call or an error.
  lines.forEach((raw, i) => {
    const code = raw.split('#')[0] ?? ''
    if (code.trim() !== '') assert.ok(seen.has(i + 1), `line ${i + 1} (${JSON.stringify(raw)}) was neither parsed nor reported`)
  })
}

describe('fuzz: the transcript parser and replay', () => {
  const machines = [
    { profile: 'linux-6.1' as const, fixture: 'qemu-smmuv3-7.2' },
    { profile: 'merged' as const, fixture: 'qemu-q35-intel-iommu-7.2' },
  ]

  function replayCleanly(parsed: ParsedTranscript): void {
    for (const m of machines) {
      const report = replayTranscript(parsed, createModelBackend({ profile: m.profile, fixtures: [loadFixture(m.fixture)] }))
      const thrown = report.verdicts.filter((v) => v.kind === 'error' && v.error.code === 'BACKEND_EXCEPTION')
      assert.deepEqual(thrown.map((v) => formatVerdict(v)), [], `the model threw during a replay under ${m.profile}`)
      assert.equal(report.agree + report.differ, report.verdicts.length)
    }
  }

  it('random bytes: never throws; every line is parsed or reported once', () => {
    fc.assert(
      fc.property(randomText, (text) => {
        const parsed = parseTranscript(text, 'fuzz.vfio')
        checkTranscript(parsed, text, 'fuzz.vfio')
      }),
      { seed: SEED, numRuns: 400 },
    )
  })

  it('grammar-shaped token soup: parsed or reported, and the replay never surfaces a model exception', () => {
    let parsedLines = 0
    fc.assert(
      fc.property(soup, (text) => {
        const parsed = parseTranscript(`open = ok\ngroup 1 set_container = ok\nset_iommu TYPE1v2 = ok\n${text}`, 'soup.vfio')
        parsedLines += parsed.lines.length
        checkTranscript(parsed, `open = ok\ngroup 1 set_container = ok\nset_iommu TYPE1v2 = ok\n${text}`, 'soup.vfio')
        replayCleanly(parsed)
      }),
      { seed: SEED, numRuns: 150 },
    )
    assert.ok(parsedLines > 150 * 4, `only ${parsedLines} soup lines parsed: the soup rarely reaches the replay`)
  })

  it('mutated example transcripts: parsed or reported, and replayed without a model exception', () => {
    fc.assert(
      fc.property(fc.constantFrom(...transcriptTexts).chain(mutation), (text) => {
        const parsed = parseTranscript(text, 'mutant.vfio')
        checkTranscript(parsed, text, 'mutant.vfio')
        replayCleanly(parsed)
      }),
      { seed: SEED, numRuns: 80 },
    )
  })
})
