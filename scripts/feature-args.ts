/**
 * The command line of `npm run features` (scripts/run-features.ts): profiles, tags and feature
 * paths (with `:LINE`), checked before anything runs.
 */
import * as fs from 'node:fs'
import { parseArgs } from 'node:util'
import { isProfileName, PROFILE_NAMES, unknownProfileMessage, type ProfileName } from '../model/profiles'

export const FEATURES_USAGE = `Usage: npm run features -- [--profile NAME]... [--tags EXPRESSION] [PROFILE...] [PATH[:LINE]...]

  --profile, -p NAME   run under this behaviour profile (repeatable; default: all of them)
  --tags, -t EXPR      only scenarios matching a cucumber tag expression, e.g. "@linux-6.1 and not @slow"
  PROFILE              a profile name, as --profile (profiles: ${PROFILE_NAMES.join(', ')})
  PATH[:LINE]          a feature file or folder; :LINE picks the scenario or Examples row on that line

Examples:
  npm run features -- --profile merged features/nesting/nest1-stage-selection.feature:41
  npm run features -- features/vfio/vfio3-attach.feature
  npm run features -- --tags @enforcing`

export interface FeatureSelection {
  readonly profiles: readonly ProfileName[]
  readonly paths: readonly string[]
  readonly tags?: string
}

/** The command line, or the message that says why it is wrong. */
export function parseFeatureArgs(argv: readonly string[]): FeatureSelection | { readonly error: string } | { readonly help: true } {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        profile: { type: 'string', short: 'p', multiple: true },
        tags: { type: 'string', short: 't', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) }
  }
  if (parsed.values.help === true) return { help: true }
  const profiles: string[] = [...(parsed.values.profile ?? [])]
  const paths: string[] = []
  const problems: string[] = []
  for (const arg of parsed.positionals) {
    if (isProfileName(arg)) profiles.push(arg)
    else if (looksLikePath(arg)) paths.push(arg)
    else problems.push(`${unknownProfileMessage(arg)}; a feature path is a file or folder that exists`)
  }
  for (const p of paths) {
    const file = p.replace(/(:\d+)+$/, '')
    if (!fs.existsSync(file)) problems.push(`no feature file or folder "${file}"`)
  }
  for (const p of profiles) if (!isProfileName(p)) problems.push(unknownProfileMessage(p))
  if (problems.length > 0) return { error: problems.join('\n') }
  const tags = parsed.values.tags ?? []
  return {
    profiles: profiles.length === 0 ? [...PROFILE_NAMES] : [...new Set(profiles as ProfileName[])],
    paths: paths.map(examplesRows),
    ...(tags.length === 0 ? {} : { tags: tags.map((t) => `(${t})`).join(' and ') }),
  }
}

/**
 * `file:LINE` where LINE is an `Examples:` line or its table's header: the lines of the table's rows
 * (cucumber selects a scenario or a row by its line, and would run nothing).
 */
export function examplesRows(arg: string): string {
  const m = /^(.*?)((?::\d+)+)$/.exec(arg)
  if (m === null || !(m[1] as string).endsWith('.feature') || !fs.existsSync(m[1] as string)) return arg
  const file = m[1] as string
  const text = fs.readFileSync(file, 'utf8').split(/\r?\n/)
  const lines = (m[2] as string).slice(1).split(':').map(Number).flatMap((n) => {
    let i = n - 1
    const at = (text[i] ?? '').trim()
    if (/^(Examples|Scenarios)\s*:/.test(at)) {
      i++
      while (i < text.length && !(text[i] ?? '').trim().startsWith('|')) i++
    } else if (!(at.startsWith('|') && isHeaderRow(text, i))) {
      return [n]
    }
    const rows: number[] = []
    for (let j = i + 1; j < text.length && (text[j] ?? '').trim().startsWith('|'); j++) rows.push(j + 1)
    return rows.length === 0 ? [n] : rows
  })
  return `${file}:${lines.join(':')}`
}

/** Whether the table line `i` is the first row of its table (an Examples table's header). */
function isHeaderRow(text: readonly string[], i: number): boolean {
  for (let j = i - 1; j >= 0; j--) {
    const t = (text[j] ?? '').trim()
    if (t === '' || t.startsWith('#')) continue
    return /^(Examples|Scenarios)\s*:/.test(t)
  }
  return false
}

function looksLikePath(arg: string): boolean {
  return arg.includes('/') || /\.feature(:\d+)*$/.test(arg) || fs.existsSync(arg.replace(/(:\d+)+$/, ''))
}
