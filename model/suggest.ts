/**
 * "Did you mean": the one place that picks the nearest known name for a misspelt one (fixture
 * keys, transcript calls, errno names, extension names, behaviour profile names).
 *
 * Distance is optimal string alignment (Levenshtein plus swapping two adjacent characters),
 * compared without case and with `-` and `_` treated alike, so `Linux-6.1`, `linux_6.1` and
 * `lniux-6.1` all find `linux-6.1`. A name is suggested only when it is close (about a third of
 * the word; words under three characters only for case and separators) and no other name is as close.
 */

/** Edits (insert, delete, substitute, swap adjacent) between `a` and `b`. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0
  // rows i-2, i-1 and i of the alignment table
  let before: number[] = []
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] as number) + 1)
      current.push(d)
    }
    before = previous
    previous = current
  }
  return previous[b.length] as number
}

function normalise(s: string): string {
  return s.toLowerCase().replace(/-/g, '_')
}

/** A list of known names, normalised once (a fixture with 40,000 unknown keys asks 40,000 times). */
interface Prepared {
  readonly normal: readonly string[]
  readonly digits: readonly string[]
}
const preparedLists = new WeakMap<readonly string[], Prepared>()

function prepared(known: readonly string[]): Prepared {
  let p = preparedLists.get(known)
  if (p === undefined) {
    const normal = known.map(normalise)
    p = { normal, digits: normal.map((n) => n.replace(/\D/g, '')) }
    preparedLists.set(known, p)
  }
  return p
}

/** The known name nearest to `word`, when one is close enough to be a likely typo. */
export function closest(word: string, known: readonly string[]): string | undefined {
  const w = normalise(word)
  const limit = w.length < 3 ? 0 : Math.max(1, Math.floor(w.length / 3))
  let best: { name: string; distance: number } | undefined
  let tie = false
  const digits = w.replace(/\D/g, '')
  const { normal, digits: knownDigits } = prepared(known)
  for (let k = 0; k < known.length; k++) {
    const name = known[k] as string
    const n = normal[k] as string
    // Other digits are another version or register (`linux-9.9`, `idr3`), not a typo.
    if (digits !== '' && knownDigits[k] !== digits) continue
    // A word that is a known name's start or end with a few characters missing (`TYPE1` for
    // `TYPE1v2`, `NESTING` for `TYPE1_NESTING`) counts as one edit away.
    const affix = w.length >= 3 && (n.startsWith(w) || n.endsWith(w))
    // Lengths further apart than the limit are further apart in edits too.
    if (!affix && Math.abs(n.length - w.length) > limit) continue
    const distance = n === w ? 0 : Math.min(editDistance(w, n), affix ? 1 : Infinity)
    if (distance > limit) continue
    if (best === undefined || distance < best.distance) {
      best = { name, distance }
      tie = false
    } else if (distance === best.distance) tie = true
  }
  // Two names equally close (`smmuv4`: smmuv1, smmuv2 or smmuv3?) is no guess at all.
  return tie ? undefined : best?.name
}

/**
 * The parenthesis a message ends with: ` (did you mean "open"? calls: open, map, ...)`. Without a
 * `label` the known names are not listed; with nothing close and no label it is ''.
 */
export function suggestion(word: string, known: readonly string[], label?: string): string {
  const guess = closest(word, known)
  const parts = [...(guess === undefined ? [] : [`did you mean "${guess}"?`]), ...(label === undefined ? [] : [`${label}: ${known.join(', ')}`])]
  return parts.length === 0 ? '' : ` (${parts.join(' ')})`
}
