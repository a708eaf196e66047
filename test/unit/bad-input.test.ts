/**
 * The bad-input corpus: malformed hardware fixtures (test/bad-fixtures/*.yaml) and transcripts
 * (test/bad-transcripts/*.vfio), each with a sibling `.expected` file holding the exact error
 * lines, one per problem, in the order they are reported:
 *
 *   fixtures:     file:line:column: field: reason [CODE]     (formatFixtureError)
 *   transcripts:  file:line:column: reason [CODE]            (every TranscriptError)
 *
 * A transcript whose first line is `# replay: profile=P fixture=F` is also replayed on a fresh
 * model machine, and the lines that cannot be replayed (no container, no group, an extension the
 * kernel lacks) are part of its expected errors. File names are relative to the repository root.
 */
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, it } from 'node:test'
import { createModelBackend, formatFixtureError, isProfileName, loadFixture, loadFixtureFile } from '../../model'
import { openTranscriptFile, parseLines, replayTranscript, type ParsedTranscript, type TranscriptError, type TranscriptLine } from '../../model/transcript'
import { ROOT } from '../../model/root'

const FIXTURES = path.join(ROOT, 'test/bad-fixtures')
const TRANSCRIPTS = path.join(ROOT, 'test/bad-transcripts')

function corpus(dir: string, ext: string): { name: string; rel: string; text: string; expected: string[] }[] {
  const files = fs.readdirSync(dir)
  const inputs = files.filter((f) => f.endsWith(ext)).sort()
  const expectations = files.filter((f) => f.endsWith('.expected'))
  assert.deepEqual(expectations.map((f) => f.replace(/\.expected$/, ext)).sort(), inputs, `every ${ext} file in ${dir} has a .expected sibling and vice versa`)
  return inputs.map((f) => {
    const expectedText = fs.readFileSync(path.join(dir, f.replace(new RegExp(`\\${ext}$`), '.expected')), 'utf8')
    assert.ok(expectedText.endsWith('\n'), `${f}: the .expected file ends with a newline`)
    return {
      name: f,
      rel: path.relative(ROOT, path.join(dir, f)),
      text: fs.readFileSync(path.join(dir, f), 'utf8'),
      expected: expectedText.slice(0, -1).split('\n'),
    }
  })
}

function formatTranscriptError(e: TranscriptError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.message} [${e.code}]`
}

function codesOf(lines: readonly string[]): string[] {
  return lines.map((l) => /\[([A-Z_]+)\]$/.exec(l)?.[1] ?? '?')
}

describe('bad fixtures are rejected with file, line, column, field and code', () => {
  const cases = corpus(FIXTURES, '.yaml')
  it(`the corpus has at least 20 kinds of malformed fixture (${cases.length}) and covers every error code a file can produce`, () => {
    assert.ok(cases.length >= 20)
    const codes = new Set(cases.flatMap((c) => codesOf(c.expected)))
    for (const code of ['YAML_SYNTAX', 'NOT_A_MAPPING', 'UNKNOWN_KEY', 'MISSING_FIELD', 'WRONG_TYPE', 'BAD_VALUE', 'OUT_OF_RANGE', 'NAME_MISMATCH', 'INCONSISTENT']) {
      assert.ok(codes.has(code), `no corpus entry produces ${code}`)
    }
  })
  for (const c of cases) {
    it(c.name, () => {
      // Read as the CLI reads it: size, file kind and UTF-8 are checked too.
      const r = loadFixtureFile(path.join(ROOT, c.rel), c.rel)
      assert.equal(r.fixture, undefined, 'a malformed fixture produces no feature set')
      assert.deepEqual(r.errors.map(formatFixtureError), c.expected)
    })
  }
  it('a fixture that cannot be read is NOT_FOUND, at 1:1', () => {
    const missing = path.join(FIXTURES, 'no-such-fixture.yaml')
    const r = loadFixtureFile(missing)
    assert.equal(r.fixture, undefined)
    assert.deepEqual(
      r.errors.map((e) => [e.code, e.line, e.column, e.field]),
      [['NOT_FOUND', 1, 1, '']],
    )
  })
})

describe('bad transcripts are reported line by line with their code and column', () => {
  const cases = corpus(TRANSCRIPTS, '.vfio')
  it(`the corpus has at least 20 kinds of malformed transcript (${cases.length}) and covers every error code`, () => {
    assert.ok(cases.length >= 20)
    const codes = new Set(cases.flatMap((c) => codesOf(c.expected)))
    for (const code of ['SYNTAX', 'UNKNOWN_CALL', 'BAD_ARGUMENT', 'MISSING_ARGUMENT', 'DUPLICATE_ARGUMENT', 'BAD_NUMBER', 'BAD_RESULT', 'UNKNOWN_ERRNO', 'UNKNOWN_EXTENSION', 'NO_SUCH_EXTENSION', 'NO_CONTAINER', 'NO_GROUP']) {
      assert.ok(codes.has(code), `no corpus entry produces ${code}`)
    }
  })
  for (const c of cases) {
    it(c.name, () => {
      // Read as the CLI reads it: a regular file, line by line, each line checked for length and UTF-8.
      const source = openTranscriptFile(path.join(ROOT, c.rel))
      assert.ok(!('problem' in source))
      const items = [...parseLines(source.lines(), c.rel)]
      const parsed: ParsedTranscript = {
        file: c.rel,
        lines: items.filter((i): i is TranscriptLine => !('code' in i)),
        errors: items.filter((i): i is TranscriptError => 'code' in i),
      }
      let errors: TranscriptError[] = [...parsed.errors]
      const replay = /^# replay: profile=(\S+) fixture=(\S+)/.exec(c.text)
      if (replay !== null) {
        const [, profile, fixture] = replay as unknown as [string, string, string]
        assert.ok(isProfileName(profile))
        const report = replayTranscript(parsed, createModelBackend({ profile, fixtures: [loadFixture(fixture)] }))
        errors = report.verdicts.flatMap((v) => (v.kind === 'error' ? [v.error] : []))
      }
      assert.deepEqual(errors.map(formatTranscriptError), c.expected)
    })
  }
})
