/**
 * bin/unit.js, the runner behind `npm run unit`: test files dealt into one process per core.
 * What must not change from one process per file: a failing test fails the run, each file's
 * hooks keep to the file, and the shards are balanced by the earlier runs' times.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ROOT } from '../../model/root'

interface Shard {
  files: string[]
  ms: number
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { blendTimes, deal } = require(path.join(ROOT, 'bin', 'unit.js')) as {
  blendTimes: (times: Record<string, number>, measured: Record<string, number>) => Record<string, number>
  deal: (files: string[], n: number, times: Record<string, number>) => Shard[]
}

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

  it('a run\'s times are averaged with the remembered ones; a file timed for the first time keeps its time; others are kept', () => {
    assert.deepEqual(blendTimes({ 'a.test': 4000, 'b.test': 1000 }, { 'a.test': 2000, 'c.test': 700 }), { 'a.test': 3000, 'b.test': 1000, 'c.test': 700 })
  })
})

describe('one run of the runner (one shard, five files)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-unit-runner-'))
  const marker = path.join(dir, 'first-done')
  const testFile = (name: string, body: string): string => {
    const file = path.join(dir, `${name}.test.js`)
    fs.writeFileSync(file, `'use strict'\nconst assert = require('node:assert/strict')\nconst { test, after } = require('node:test')\n${body}\n`)
    return file
  }
  const files = [
    testFile('bad', `test('subtracts wrongly', () => assert.equal(2 - 1, 3))`),
    testFile('first', `test('one', () => {})\nafter(() => require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x'))`),
    testFile('good', `test('adds', () => assert.equal(1 + 1, 2))`),
    testFile('second', `test('sees the first file cleaned up', () => assert.ok(require('node:fs').existsSync(${JSON.stringify(marker)})))`),
    testFile('timed', `test('waits', () => new Promise((resolve) => setTimeout(resolve, 50)))`),
  ]
  let status: number | null = null
  let out = ''
  let junit = ''
  before(() => {
    const report = path.join(dir, 'unit.xml')
    // Without NODE_TEST_CONTEXT, which tells a `node --test` started from inside a test file not to run its files.
    const env: NodeJS.ProcessEnv = { ...process.env, TCK_UNIT_CACHE: path.join(dir, 'cache') }
    delete env.NODE_TEST_CONTEXT
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'unit.js'), '--shards', '1', '--junit', report, ...files], { encoding: 'utf8', env })
    status = r.status
    out = `${r.stdout}${r.stderr}`
    junit = fs.existsSync(report) ? fs.readFileSync(report, 'utf8') : ''
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('a failing test fails the run; the files after it still run', () => {
    assert.equal(status, 1, out)
    assert.match(junit, /<testcase name="subtracts wrongly"[^>]*>\s*<failure/)
    for (const name of ['one', 'adds', 'sees the first file cleaned up', 'waits']) assert.match(junit, new RegExp(`<testcase name="${name}"[^>]*/>`), `${name} passed`)
  })

  it('each file is a suite named after it', () => {
    for (const name of ['bad', 'first', 'good', 'second', 'timed']) assert.match(junit, new RegExp(`<testsuite name="${name}\\.test"`))
  })

  it("a file's top-level after() runs when that file's tests end, not at the end of the shard", () => {
    assert.match(junit, /<testcase name="sees the first file cleaned up"[^>]*\/>/)
  })

  it("remembers each file's time for the next run", () => {
    const times = JSON.parse(fs.readFileSync(path.join(dir, 'cache', 'unit-times.json'), 'utf8')) as Record<string, number>
    assert.deepEqual(Object.keys(times).sort(), ['bad.test', 'first.test', 'good.test', 'second.test', 'timed.test'])
    assert.ok((times['timed.test'] ?? 0) >= 50, JSON.stringify(times))
  })
})
