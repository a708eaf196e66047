/**
 * Which behaviour profiles a scenario holds for, read from its tags. The one place the tag scheme
 * is expanded: cucumber.js builds each profile's tag expression here, the World selects the
 * profiles of a scenario here, so both always agree.
 *
 *   (no profile tag)      every profile: a behaviour no kernel has changed is written untagged,
 *                         and a profile added later holds it too
 *   @<profile>            that profile (e.g. @linux-6.1)
 *   @since-<profile>      that profile and every later one in kernel order (PROFILE_NAMES)
 *   @until-<profile>      every profile up to and including that one
 *
 * Tags gather from the feature, the rule, the scenario and the Examples table, so a tag on the
 * Feature line speaks for every scenario in the file. Several since/until tags narrow: a scenario
 * runs from its latest @since- to its earliest @until-. Plain profile tags add to that range. A new
 * profile therefore inherits every untagged scenario and every one tagged @since-<an older
 * profile> without an @until- before it, and only rows whose answer changed need new Examples.
 *
 * Because no tag means every profile, a misspelt profile tag would widen a scenario silently: a tag
 * close to one of the scheme's (@sinse-merged, @linux-6.2) is an error naming the one meant.
 */
import { closest } from '../suggest'
import { isProfileName, PROFILE_NAMES, type ProfileName } from './names'

export const SINCE_PREFIX = 'since-'
export const UNTIL_PREFIX = 'until-'

/** Every tag of the scheme, without the @. */
const SCHEME_TAGS: readonly string[] = PROFILE_NAMES.flatMap((p) => [p, `${SINCE_PREFIX}${p}`, `${UNTIL_PREFIX}${p}`])

export type TagProfiles = { readonly profiles: ProfileName[] } | { readonly error: string }

/** The profiles of a scenario with these tags (with or without the leading @), in kernel order. */
export function profilesOfTags(tags: readonly string[]): TagProfiles {
  const names = tags.map((t) => (t.startsWith('@') ? t.slice(1) : t))
  const explicit = new Set(names.filter(isProfileName))
  let from = -1
  let to: number = PROFILE_NAMES.length
  let ranged = false
  const unknown: string[] = []
  const misspelt: string[] = []
  for (const n of names) {
    const bound = n.startsWith(SINCE_PREFIX) ? 'since' : n.startsWith(UNTIL_PREFIX) ? 'until' : undefined
    if (bound === undefined) {
      const meant = isProfileName(n) ? undefined : closest(n, SCHEME_TAGS)
      if (meant !== undefined) misspelt.push(`@${n} (did you mean @${meant}?)`)
      continue
    }
    const p = n.slice((bound === 'since' ? SINCE_PREFIX : UNTIL_PREFIX).length)
    const i = (PROFILE_NAMES as readonly string[]).indexOf(p)
    if (i < 0) {
      unknown.push(`@${n}`)
      continue
    }
    ranged = true
    if (bound === 'since') from = Math.max(from, i)
    else to = Math.min(to, i)
  }
  if (unknown.length > 0) {
    return { error: `${unknown.join(', ')} ${unknown.length === 1 ? 'names' : 'name'} no behaviour profile (profiles, oldest first: ${PROFILE_NAMES.join(', ')})` }
  }
  if (misspelt.length > 0) {
    return { error: `${misspelt.join(', ')}: not a profile tag, and a scenario without one would run under every profile` }
  }
  if (!ranged && explicit.size === 0) return { profiles: [...PROFILE_NAMES] }
  const profiles = PROFILE_NAMES.filter((p, i) => explicit.has(p) || (ranged && i >= Math.max(from, 0) && i <= Math.min(to, PROFILE_NAMES.length - 1)))
  return { profiles }
}

/** The cucumber tag expression selecting exactly the scenarios profilesOfTags gives `profile`. */
export function tagExpressionFor(profile: ProfileName): string {
  const at = PROFILE_NAMES.indexOf(profile)
  const allow: string[] = []
  const forbid: string[] = []
  PROFILE_NAMES.forEach((p, i) => {
    ;(i <= at ? allow : forbid).push(`@${SINCE_PREFIX}${p}`)
    ;(i >= at ? allow : forbid).push(`@${UNTIL_PREFIX}${p}`)
  })
  const ranged = forbid.length > 0 ? `((${allow.join(' or ')}) and not (${forbid.join(' or ')}))` : `(${allow.join(' or ')})`
  return `@${profile} or ${ranged} or not (${SCHEME_TAGS.map((t) => `@${t}`).join(' or ')})`
}

/** A tag expression selecting every scenario that holds for at least one profile (untagged ones included). */
export function anyProfileTagExpression(): string {
  return PROFILE_NAMES.map((p) => `(${tagExpressionFor(p)})`).join(' or ')
}

/**
 * The profiles a "kernel" cell of a by-kernel table names: `<profile>`, `<profile> and later`, or
 * `<profile> to <profile>` (both ends included), in kernel order. A by-kernel table shows one
 * question's answer through the kernels' history in one place; a new profile falls into an
 * `and later` row unless its answer changed.
 */
export function kernelsOfCell(cell: string): { readonly profiles: ProfileName[] } | { readonly error: string } {
  const text = cell.trim()
  const later = /^(\S+) and later$/.exec(text)
  const range = /^(\S+) to (\S+)$/.exec(text)
  const [from, to] = later !== null ? [later[1], PROFILE_NAMES[PROFILE_NAMES.length - 1]] : range !== null ? [range[1], range[2]] : [text, text]
  const i = (PROFILE_NAMES as readonly string[]).indexOf(from as string)
  const j = (PROFILE_NAMES as readonly string[]).indexOf(to as string)
  if (i < 0 || j < 0 || j < i) {
    return { error: `"${cell}" is not a kernel range: write <profile>, <profile> and later, or <profile> to <profile> (profiles, oldest first: ${PROFILE_NAMES.join(', ')})` }
  }
  return { profiles: PROFILE_NAMES.slice(i, j + 1) }
}

/** The one row of a by-kernel table (column `kernel`) whose range holds `profile`; throws otherwise. */
export function rowForKernel<T extends Readonly<Record<string, string>>>(rows: readonly T[], profile: ProfileName): T {
  const matching = rows.filter((row) => {
    const k = kernelsOfCell(row.kernel ?? '')
    if ('error' in k) throw new Error(k.error)
    return k.profiles.includes(profile)
  })
  if (matching.length !== 1) {
    throw new Error(`the by-kernel table has ${matching.length === 0 ? 'no row' : `${matching.length} rows`} for ${profile} (kernels: ${rows.map((r) => r.kernel).join('; ')})`)
  }
  return matching[0] as T
}
