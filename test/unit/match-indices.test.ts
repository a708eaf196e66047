/**
 * scripts/match-indices.ts: cucumber's step matching with the engine's match indices (the `d`
 * flag) in place of the regexp-match-indices polyfill, which must give the same matches.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { describe, it } from 'node:test'
import { ROOT } from '../../model/root'
import { execWithIndices } from '../../scripts/match-indices'

// The polyfill's own JavaScript version, which cucumber used: `exec` with the pattern as `this`.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const polyfill = require(require.resolve('regexp-match-indices/implementation', { paths: [require.resolve('@cucumber/cucumber-expressions')] })) as (this: RegExp, text: string) => RegExpExecArray | null

/** What a match says apart from the indices: the groups and where the search goes on from. */
function outcome(m: RegExpExecArray | null, re: RegExp): unknown {
  if (m === null) return { match: null, lastIndex: re.lastIndex }
  return { groups: [...m], index: m.index, lastIndex: re.lastIndex }
}

/**
 * The groups whose indices do not select their text (the property that defines match indices:
 * text.slice(start, end) is the group, and a group that took no part has none).
 */
function misplaced(m: RegExpExecArray | null, text: string): number[] {
  if (m === null) return []
  const indices = m.indices
  if (indices === undefined) return m.map((_, i) => i)
  return m.flatMap((group, i) => {
    const at = indices[i]
    const right = group === undefined ? at === undefined : at !== undefined && text.slice(at[0], at[1]) === group
    return right ? [] : [i]
  })
}

const plain = (m: RegExpExecArray | null): unknown => m?.indices?.map((p) => (p === undefined ? undefined : [...p]))

/**
 * Patterns and texts; the third element says whether a group is repeated (inside `*` or `+`),
 * where the polyfill places the group at its first repetition and the language at the last one,
 * whose text the group holds (see the test after these).
 */
const CASES: [RegExp, string, 'repeated group'?][] = [
  // What cucumber expressions compile to: a quoted string with escapes (either quote), numbers.
  [/^an SMMU from fixture (?:"([^"\\]*(\\.[^"\\]*)*)"|'([^'\\]*(\\.[^'\\]*)*)') with VFIO group (-?\d+) at stream (0x[0-9a-f]+)$/, 'an SMMU from fixture "mmu-500" with VFIO group 0 at stream 0x10'],
  [/^an SMMU from fixture (?:"([^"\\]*(\\.[^"\\]*)*)"|'([^'\\]*(\\.[^'\\]*)*)')$/, "an SMMU from fixture 'qemu \\'smmuv3\\''", 'repeated group'],
  // Optional and nested groups that take no part, alternatives, lookarounds, named groups.
  [/^(a(b)?)+(c|(d))(?=e)(?<tail>e?)$/, 'abd'],
  [/^(a(b)?)+(c|(d))(?=e)(?<tail>e?)$/, 'abade', 'repeated group'],
  [/(?<!x)(\d+)(?:px)?/, 'x12 34px'],
  [/^stage (S1|S2|NESTED)( bypass)?$/, 'stage S2'],
  // Unicode, and a pattern that does not match.
  [/(é+)(\u{1F600})?/u, 'caféé \u{1F600}'],
  [/^no$/, 'yes'],
]

describe('step matching with the engine\'s match indices', () => {
  for (const [re, text, repeated] of CASES) {
    it(`${re} on ${JSON.stringify(text)}: the polyfill's groups and lastIndex, indices that select each group${repeated === undefined ? ', the polyfill\'s indices' : ''}`, () => {
      const ours = new RegExp(re.source, re.flags)
      const theirs = new RegExp(re.source, re.flags)
      const mine = execWithIndices(ours, text)
      const polyfilled = polyfill.call(theirs, text)
      assert.deepEqual(outcome(mine, ours), outcome(polyfilled, theirs))
      assert.deepEqual(misplaced(mine, text), [])
      if (repeated === undefined) assert.deepEqual(plain(mine), plain(polyfilled))
    })
  }

  it('a repeated group: the polyfill places it at its first repetition, the engine (and the language) at the last, whose text it captured', () => {
    const re = /^(a(b)?)+(c|(d))$/
    const polyfilled = polyfill.call(new RegExp(re.source), 'abad')
    const mine = execWithIndices(new RegExp(re.source), 'abad')
    assert.deepEqual([polyfilled?.[1], polyfilled?.indices?.[1]], ['a', [0, 1]])
    assert.deepEqual([mine?.[1], mine?.indices?.[1]], ['a', [2, 3]])
    assert.deepEqual(misplaced(polyfilled, 'abad'), [])
    // 'a' at [0, 1] selects an "a", so the property above cannot tell; a repeated group whose
    // repetitions differ can: the escaped quote of the second repetition, at the first one's place.
    const quoted = /^'([^'\\]*(\\.[^'\\]*)*)'$/
    const text = "'a\\'bb\\\"c'"
    assert.deepEqual(misplaced(polyfill.call(new RegExp(quoted.source), text), text), [2])
    assert.deepEqual(misplaced(execWithIndices(new RegExp(quoted.source), text), text), [])
  })

  it('a global pattern goes on from its lastIndex, and leaves it where the polyfill does', () => {
    const ours = /(\d)(x)?/g
    const theirs = /(\d)(x)?/g
    for (let i = 0; i < 4; i++) assert.deepEqual(outcome(execWithIndices(ours, '1x 2 3x'), ours), outcome(polyfill.call(theirs, '1x 2 3x'), theirs), `match ${i + 1}`)
  })

  it('the cucumber-expressions cucumber uses, loaded after it, matches through it', () => {
    const script = `
      const { polyfillPath } = require(${JSON.stringify(path.join(ROOT, 'dist', 'scripts', 'match-indices.js'))})
      const cx = require.resolve('@cucumber/cucumber-expressions', { paths: [require.resolve('@cucumber/cucumber')] })
      const id = polyfillPath()
      const { CucumberExpression, ParameterTypeRegistry } = require(cx)
      const args = new CucumberExpression('group {int} at {string}', new ParameterTypeRegistry()).match('group 7 at "x y"')
      console.log(JSON.stringify({ ours: require.cache[id].exports.name, args: args.map((a) => a.getValue(null)) }))`
    const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), { ours: 'execWithIndices', args: [7, 'x y'] })
  })
})
