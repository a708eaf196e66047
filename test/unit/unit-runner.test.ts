/**
 * bin/unit.js, the runner behind `npm run unit`: test files dealt into one process per core.
 * What must not change from one process per file: a failing test fails the run, each file's
 * hooks keep to the file, and the shards are balanced by the last run's times.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { after, describe, it } from 'node:test'
import { ROOT } from '../../model/root'

interface Shard {
  files: string[]
  ms: number
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { deal } = require(path.join(ROOT, 'bin', 'unit.js')) as { deal: (files: string[], n: number, times: Record<string, number>) => Shard[] }

describe('dealing files into shards', () => {
  it('longest first, each to the shard with the least time (LPT); files keep their order within a shard', () => {
    const times = { 'a.test': 6000, 'b.test': 5000, 'c.test': 4000, 'd.test': 3000, 'e.test': 2000, 'f.test': 1000 }
    const shards = deal(['/x/a.test.js', '/x/b.test.js', '/x/c.test.js', '/x/d.test.js', '/x/e.test.js', '/x/f.test.js'], 2, times)
    // 6 → s1; 5 → s2; 4 → s2 (5 < 6); 3 → s1 (6 < 9); 2 → s1 (9 = 9, the first); 1 → s2
    assert.deepEqual(
      shards.map((s) => [s.files.map((f) => path.basename(f, '.js')), s.ms]),
      [
        [['a.test', 'd.test', 'e.test'], 11000],
        [['b.test', 'c.test', 'f.test'], 10000],
      ],
    )
  })

  it('a file never timed costs the mean of the timed ones; with no times at all the shards are equal in count', () => {
    const mean = deal(['/x/a.test.js', '/x/new.test.js', '/x/b.test.js'], 2, { 'a.test': 3000, 'b.test': 1000 })
    assert.deepEqual(
      mean.map((s) => s.ms),
      [3000, 3000],
    )
    const none = deal(['/x/a.test.js', '/x/b.test.js', '/x/c.test.js', '/x/d.test.js'], 3, {})
    assert.deepEqual(
      none.map((s) => s.files.length),
      [2, 1, 1],
    )
  })

  it('never more shards than files', () => {
    assert.equal(deal(['/x/a.test.js'], 4, {}).length, 1)
  })
})

describe('running shards', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-unit-runner-'))
  after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const testFile = (name: string, body: string): string => {
    const file = path.join(dir, `${name}.test.js`)
    fs.writeFileSync(file, `'use strict'\nconst assert = require('node:assert/strict')\nconst { test, after } = require('node:test')\n${body}\n`)
    return file
  }
  const run = (...files: string[]): { status: number | null; out: string; junit: string } => {
    const junit = path.join(dir, 'unit.xml')
    // Without NODE_TEST_CONTEXT, which tells a `node --test` started from inside a test file not to run its files.
    const env: NodeJS.ProcessEnv = { ...process.env, TCK_UNIT_CACHE: path.join(dir, 'cache') }
    delete env.NODE_TEST_CONTEXT
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'unit.js'), '--shards', '2', '--junit', junit, ...files], { encoding: 'utf8', env })
    return { status: r.status, out: `${r.stdout}${r.stderr}`, junit: fs.existsSync(junit) ? fs.readFileSync(junit, 'utf8') : '' }
  }

  it('a failing test in one file fails the run; the other files still run', () => {
    const good = testFile('good', `test('adds', () => assert.equal(1 + 1, 2))`)
    const bad = testFile('bad', `test('subtracts wrongly', () => assert.equal(2 - 1, 3))`)
    const third = testFile('third', `test('still runs', () => {})`)
    const r = run(good, bad, third)
    assert.equal(r.status, 1, r.out)
    assert.match(r.junit, /<testcase name="subtracts wrongly"[^>]*>\s*<failure/)
    assert.match(r.junit, /<testcase name="adds"/)
    assert.match(r.junit, /<testcase name="still runs"/)
    assert.match(r.junit, /<testsuite name="bad\.test"/, 'each file is a suite named after it')
  })

  it("a file's top-level after() runs when that file's tests end, not at the end of the shard", () => {
    const marker = path.join(dir, 'first-done')
    const first = testFile('first', `test('one', () => {})\nafter(() => require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x'))`)
    const second = testFile('second', `test('sees the first file cleaned up', () => assert.ok(require('node:fs').existsSync(${JSON.stringify(marker)})))`)
    // Both files in one shard: --shards 2 with two files would split them, so give the first a long time.
    fs.mkdirSync(path.join(dir, 'cache'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'cache', 'unit-times.json'), JSON.stringify({ 'first.test': 1, 'second.test': 1, 'filler.test': 100000 }))
    const filler = testFile('filler', `test('filler', () => {})`)
    const r = run(first, second, filler)
    assert.equal(r.status, 0, r.out)
  })

  it('remembers each file’s time for the next run', () => {
    const timed = testFile('timed', `test('waits', () => new Promise((resolve) => setTimeout(resolve, 50)))`)
    const r = run(timed)
    assert.equal(r.status, 0, r.out)
    const times = JSON.parse(fs.readFileSync(path.join(dir, 'cache', 'unit-times.json'), 'utf8')) as Record<string, number>
    assert.ok((times['timed.test'] ?? 0) >= 50, JSON.stringify(times))
  })
})
