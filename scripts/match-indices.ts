/**
 * Cucumber matches every step's text with `regexp-match-indices` (through
 * @cucumber/cucumber-expressions), a polyfill for the match indices of RegExp's `d` flag. The
 * polyfill uses the engine's own indices only when a match without the `d` flag has them, which
 * no engine does, so on every Node it falls back to its JavaScript version: it parses each step
 * pattern with regexp-tree, runs a second, rewritten regular expression, and works the indices out
 * from that. That was an eighth of the features run's CPU time.
 *
 * Imported before @cucumber/cucumber, this module puts in the polyfill's place (in Node's module
 * cache) the same function done by the engine: `exec` of a copy of the pattern with the `d` flag,
 * whose `indices` the language defines (ES2022 RegExpBuiltinExec). The matches are the polyfill's,
 * and so are the indices but for one case where the polyfill is wrong: a group inside a repetition
 * holds the text of its last repetition, and the polyfill gives the place of its first
 * (test/unit/match-indices.test.ts shows both). `lastIndex` is read and written on the caller's
 * regular expression, as the polyfill does.
 */
import Module from 'node:module'

/** Copies with the `d` flag of the patterns cucumber has matched. */
const withIndices = new WeakMap<RegExp, RegExp>()

/** `regexp.exec(text)`, with the match's `indices` (undefined for a group that did not take part). */
export function execWithIndices(regexp: RegExp, text: string): RegExpExecArray | null {
  let d = withIndices.get(regexp)
  if (d === undefined) {
    d = new RegExp(regexp.source, regexp.hasIndices ? regexp.flags : `${regexp.flags}d`)
    withIndices.set(regexp, d)
  }
  d.lastIndex = regexp.lastIndex
  const match = d.exec(text)
  regexp.lastIndex = d.lastIndex
  return match
}

/** Where `require('regexp-match-indices')` leads from the cucumber-expressions @cucumber/cucumber uses. */
export function polyfillPath(): string {
  const cucumber = require.resolve('@cucumber/cucumber')
  const expressions = require.resolve('@cucumber/cucumber-expressions', { paths: [cucumber] })
  return require.resolve('regexp-match-indices', { paths: [expressions] })
}

/**
 * Makes `require('regexp-match-indices')`, as cucumber's @cucumber/cucumber-expressions resolves
 * it, return execWithIndices. Returns false (and changes nothing) when the polyfill is not
 * installed where cucumber would find it, or was already loaded: then cucumber keeps the
 * polyfill, slower only.
 */
export function useNativeMatchIndices(): boolean {
  let id: string
  try {
    id = polyfillPath()
  } catch {
    return false
  }
  if (require.cache[id] !== undefined) return false
  const m = new Module(id)
  m.filename = id
  m.exports = execWithIndices
  m.loaded = true
  require.cache[id] = m
  return true
}

useNativeMatchIndices()
