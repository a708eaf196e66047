/**
 * `smmu-nesting-tck replay`: replay transcripts against a profile + fixtures and print a verdict
 * per line, then `N agree, N differ`.
 *
 * Exit status: 0 when every line agrees, 1 when a line differs or does not parse, 2 for a usage
 * error (unknown profile or backend, a fixture that does not load, an unreadable transcript).
 */
import { formatFixtureError, listFixtureNames, loadFixtureFile, resolveFixturePath, type FeatureSet } from '../model/hw'
import { getProfile, isProfileName, unknownProfileMessage } from '../model/profiles'
import { printable } from '../model/textfile'
import { formatSummary, formatVerdict, openTranscriptFile, parseLines, Replay, type TranscriptFile } from '../model/transcript'
import type { VfioBackend } from '../model/vfio/backend'
import { closest } from '../model/suggest'
import { BACKENDS, backendNames } from './backends'

export const EXIT = { AGREE: 0, DIFFER: 1, USAGE: 2 } as const

export interface Io {
  out(line: string): void
  err(line: string): void
  /** Write out what `out` buffered (main calls it before it returns). */
  flush?(): void
}

export interface ReplayOptions {
  readonly profile: string
  readonly fixtures: readonly string[]
  readonly backend: string
  /** Print only lines that differ or are in error (and the summary). */
  readonly quiet: boolean
  readonly transcripts: readonly string[]
}

export async function runReplay(opts: ReplayOptions, io: Io): Promise<number> {
  if (!isProfileName(opts.profile)) {
    io.err(`smmu-nesting-tck: ${unknownProfileMessage(opts.profile)}`)
    return EXIT.USAGE
  }
  const backend = BACKENDS[opts.backend]
  if (backend === undefined) {
    io.err(`smmu-nesting-tck: unknown backend "${opts.backend}" (backends: ${backendNames().join(', ')})`)
    return EXIT.USAGE
  }
  const fixtures = loadFixtures(opts.fixtures, io)
  if (fixtures === undefined) return EXIT.USAGE

  // Every transcript is a regular file (a usage error otherwise), opened before any is replayed.
  // Each is then read as a stream, a line at a time: a line that is too long or not UTF-8 is
  // that line's error, and the file's size is no limit.
  const files: { file: string; source: TranscriptFile }[] = []
  for (const file of opts.transcripts) {
    const opened = openTranscriptFile(file)
    if ('problem' in opened) {
      for (const f of files) f.source.close()
      const p = opened.problem
      io.err(`smmu-nesting-tck: ${printable(file)}:${p.line}:${p.column}: ${printable(p.message)} [${p.code}]`)
      return EXIT.USAGE
    }
    files.push({ file, source: opened })
  }

  const profile = getProfile(opts.profile)
  const totals = { agree: 0, differ: 0, outside: 0 }
  try {
    for (const { file, source } of files) {
      let machine: VfioBackend
      try {
        machine = await backend.create({ profile, fixtures })
      } catch (e) {
        io.err(`smmu-nesting-tck: the ${backend.name} backend cannot build this machine: ${e instanceof Error ? e.message : String(e)}`)
        return EXIT.USAGE
      }
      const replay = new Replay(file, machine)
      for (const item of parseLines(source.lines(), file)) {
        const v = replay.verdict(item)
        if (!opts.quiet || (v.kind !== 'agree' && v.kind !== 'outside')) io.out(formatVerdict(v, machine.name))
      }
      totals.agree += replay.agree
      totals.differ += replay.differ
      totals.outside += replay.outside
    }
  } finally {
    for (const f of files) f.source.close()
  }
  io.out(formatSummary(totals))
  return totals.differ === 0 ? EXIT.AGREE : EXIT.DIFFER
}

/** What to say when fixtures are not found: the catalogue, and the name meant when one is close. */
export function notInCatalogue(names: readonly string[]): string {
  const known = listFixtureNames()
  const guesses = names.flatMap((n) => {
    const g = closest(n, known)
    return g === undefined ? [] : [`did you mean "${g}"? `]
  })
  return `${guesses.join('')}fixtures in the catalogue: ${known.join(', ')} (or give a path to a .yaml file)`
}

/** Every fixture, or undefined after printing every problem (file:line:column: field: reason). */
function loadFixtures(names: readonly string[], io: Io): FeatureSet[] | undefined {
  const fixtures: FeatureSet[] = []
  const problems: string[] = []
  const missing: string[] = []
  for (const name of names) {
    const { fixture, errors } = loadFixtureFile(resolveFixturePath(name))
    if (fixture !== undefined) fixtures.push(fixture)
    problems.push(...errors.map(formatFixtureError))
    if (errors.some((e) => e.code === 'NOT_FOUND')) missing.push(name)
  }
  if (problems.length === 0) return fixtures
  io.err(`smmu-nesting-tck: ${names.length === 1 ? 'the fixture does' : 'the fixtures do'} not load:`)
  for (const p of problems) io.err(`  ${p}`)
  if (missing.length > 0) io.err(notInCatalogue(missing))
  return undefined
}
