/**
 * bin/build.js and its transform, bin/inline-constants.js, on a small checkout of their own: a
 * compile-time constant is emitted as its value wherever it is read (through imports and
 * re-exports), anything else is read at run time as written, a local that shadows a constant is
 * its own variable, changing a constant re-emits the files that inlined it, and changing the build
 * re-emits everything.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ROOT } from '../../model/root'

const BITS = `
export const A = 1 << 4
export const NEG = -3
export const HALF = 1 / 2
export const BIG = 0xffn << 8n
export const FIELDS = { X: 1 << (40 - 32), Y: A | 1, NAMED: 0x7ff_ffff_ffff } as const
export const NOT_CONST = Math.max(1, 2)
export const PLAIN = { X: 5 }
`
const INDEX = `export { A, FIELDS } from './bits'\n`
const USE = `
import { A, FIELDS } from './lib'
import { BIG, HALF, NEG, NOT_CONST, PLAIN } from './lib/bits'

function shadowed(): number {
  const A = 7
  return A
}

export function values() {
  return {
    a: A,
    x: FIELDS.X,
    y: FIELDS.Y,
    named: FIELDS.NAMED,
    neg: NEG,
    minusNeg: -NEG,
    power: 2 ** NEG,
    negText: NEG.toString(),
    half: HALF,
    big: BIG,
    notConst: NOT_CONST,
    plain: PLAIN.X,
    shadow: shadowed(),
    label: { A }.A,
  }
}
`

describe('bin/build.js: constants inlined where they are read', () => {
  let dir = ''
  const build = (...args: string[]) => spawnSync(process.execPath, [path.join(dir, 'bin', 'build.js'), ...args], { cwd: dir, encoding: 'utf8' })
  const load = () => {
    const file = path.join(dir, 'dist', 'use.js')
    delete require.cache[file]
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(file) as { values: () => Record<string, unknown> }).values()
  }
  const emitted = () => fs.readFileSync(path.join(dir, 'dist', 'use.js'), 'utf8')
  /** Dates the sources 20 s back and what the last build wrote 10 s back, so a source written now is newer. */
  const age = () => {
    const date = (rel: string, seconds: number) => {
      const t = new Date(Date.now() - seconds * 1000)
      fs.utimesSync(path.join(dir, rel), t, t)
    }
    for (const f of ['lib/bits', 'lib/index', 'use']) {
      date(`${f}.ts`, 20)
      date(`dist/${f}.js`, 10)
    }
  }

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-build-'))
    fs.mkdirSync(path.join(dir, 'bin'))
    for (const f of ['build.js', 'inline-constants.js']) fs.copyFileSync(path.join(ROOT, 'bin', f), path.join(dir, 'bin', f))
    fs.copyFileSync(path.join(ROOT, 'tsconfig.json'), path.join(dir, 'tsconfig.json'))
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
    fs.mkdirSync(path.join(dir, 'lib'))
    fs.writeFileSync(path.join(dir, 'lib', 'bits.ts'), BITS)
    fs.writeFileSync(path.join(dir, 'lib', 'index.ts'), INDEX)
    fs.writeFileSync(path.join(dir, 'use.ts'), USE)
    const r = build()
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /build: emitted 3 TypeScript file\(s\)/)
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('emits each compile-time constant as its value, with its name in a comment', () => {
    const js = emitted()
    for (const inlined of ['16 /* A */', '256 /* FIELDS.X */', '17 /* FIELDS.Y */', '8796093022207 /* FIELDS.NAMED */', '(-3) /* NEG */', '0.5 /* HALF */', '65280n /* BIG */']) {
      assert.ok(js.includes(inlined), `dist/use.js has ${inlined}:\n${js}`)
    }
  })

  it('reads anything else at run time, as written', () => {
    const js = emitted()
    assert.match(js, /bits_1\.NOT_CONST/)
    assert.match(js, /bits_1\.PLAIN\.X/)
  })

  it('keeps the values the source means, shadowing and property names included', () => {
    assert.deepEqual(load(), {
      a: 16,
      x: 256,
      y: 17,
      named: 8796093022207,
      neg: -3,
      minusNeg: 3,
      power: 0.125,
      negText: '-3',
      half: 0.5,
      big: 65280n,
      notConst: 2,
      plain: 5,
      shadow: 7,
      label: 16,
    })
  })

  it('records where the inlined values came from, and re-emits a reader when one changes', () => {
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'dist', '.constants.json'), 'utf8')) as { constants: Record<string, string[]> }
    assert.deepEqual(record.constants['use.ts'], ['lib/bits.ts', 'lib/index.ts'])
    assert.equal(build('--check').status, 0, 'up to date after the build')

    age()
    fs.writeFileSync(path.join(dir, 'lib', 'bits.ts'), BITS.replace('export const A = 1 << 4', 'export const A = 1 << 5'))
    const check = build('--check')
    assert.equal(check.status, 1)
    assert.deepEqual(check.stdout.trim().split('\n').sort(), ['stale: lib/bits.ts', 'stale: use.ts'])
    const r = build()
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /build: emitted 2 TypeScript file\(s\)/)
    const v = load()
    assert.equal(v.a, 32)
    assert.equal(v.y, 33)
    assert.equal(build('--check').status, 0, 'up to date again')
  })

  it('emits everything again when the build itself changes (its options here)', () => {
    const tsconfig = path.join(dir, 'tsconfig.json')
    fs.appendFileSync(tsconfig, '\n')
    const check = build('--check')
    assert.equal(check.status, 1)
    assert.deepEqual(check.stdout.trim().split('\n').sort(), ['stale: lib/bits.ts', 'stale: lib/index.ts', 'stale: use.ts'])
    const r = build()
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /build: emitted 3 TypeScript file\(s\)/)
  })
})
