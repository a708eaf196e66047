/**
 * scripts/ci-summary.ts: the "N passed, N failed" line .ci/run ends with, read from the reports
 * npm test leaves. Run on hand-written reports in a temporary folder.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { describe, it } from 'node:test'
import { ROOT } from '../../model/root'

function summary(features: object | undefined, tap: string | undefined): { line: string; status: number | null } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ci-summary-'))
  fs.mkdirSync(path.join(dir, 'reports'))
  if (features !== undefined) fs.writeFileSync(path.join(dir, 'reports/features-summary.json'), JSON.stringify(features))
  if (tap !== undefined) fs.writeFileSync(path.join(dir, 'reports/unit.tap'), tap)
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/run.js'), path.join(ROOT, 'scripts/ci-summary.ts')], { cwd: dir, encoding: 'utf8' })
  fs.rmSync(dir, { recursive: true, force: true })
  return { line: r.stdout.trim(), status: r.status }
}

const tap = (body: string, pass: number, fail: number): string => `TAP version 13\n${body}1..2\n# tests ${pass + fail}\n# pass ${pass}\n# fail ${fail}\n`
const OK_TEST = "# Subtest: a\nok 1 - a\n  ---\n  duration_ms: 1\n  ...\n"
const FEATURES = { passed: 3, failed: 0, success: true }

describe('ci-summary', () => {
  it('adds scenarios and unit tests', () => {
    assert.deepEqual(summary(FEATURES, tap(OK_TEST, 1, 0)), { line: '4 passed, 0 failed', status: 0 })
  })

  it('counts a suite that failed outside its tests, which node:test leaves out of "# fail"', () => {
    const broken = "# Subtest: b\nnot ok 2 - b\n  ---\n  duration_ms: 1\n  type: 'suite'\n  failureType: 'testCodeFailure'\n  ...\n"
    assert.deepEqual(summary(FEATURES, tap(OK_TEST + broken, 1, 0)), { line: '4 passed, 1 failed', status: 1 })
  })

  it('does not count a suite twice when it failed because of its tests', () => {
    const parent = "# Subtest: c\n    not ok 1 - t\n      ---\n      failureType: 'testCodeFailure'\n      ...\nnot ok 2 - c\n  ---\n  type: 'suite'\n  failureType: 'subtestsFailed'\n  ...\n"
    assert.deepEqual(summary(FEATURES, tap(OK_TEST + parent, 1, 1)), { line: '4 passed, 1 failed', status: 1 })
  })

  it('a missing report is one failure', () => {
    assert.deepEqual(summary(undefined, tap(OK_TEST, 1, 0)), { line: '1 passed, 1 failed', status: 1 })
    assert.deepEqual(summary(FEATURES, undefined), { line: '3 passed, 1 failed', status: 1 })
  })
})
