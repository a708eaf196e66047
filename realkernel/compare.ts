/**
 * A recorded transcript (the kernel's results) replayed against the model: one row per call with
 * the kernel's result, the model's and the verdict, where a difference listed in
 * realkernel/known-differences.json (documented, with its reason) is reported as known.
 *
 * Shared by `npm run real-kernel` and test/unit/recorded-transcripts.test.ts; needs no QEMU.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { formatFixtureError, loadFixtureFile, resolveFixturePath } from '../model/hw'
import { isProfileName } from '../model/profiles'
import { parseTranscript, replayTranscript, type Verdict } from '../model/transcript'
import { createModelBackend } from '../model/vfio'
import { ROOT } from '../model/root'

export const KNOWN_DIFFERENCES_FILE = path.join(ROOT, 'realkernel', 'known-differences.json')

export interface KnownDifference {
  readonly id: string
  /** Basename of the recorded transcript. */
  readonly recording: string
  /** The call as the transcript writes it. */
  readonly call: string
  readonly kernel: string
  readonly model: string
  /** What the kernel does and why (the rule, with its source). */
  readonly reason: string
  /** Where it stands: reported to the model's owner, a decision, a fix planned... */
  readonly status: string
}

export function loadKnownDifferences(file: string = KNOWN_DIFFERENCES_FILE): KnownDifference[] {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { differences?: KnownDifference[] }
  return json.differences ?? []
}

/** `Profile: X   Fixture: Y` in a recording's header. */
export function recordingSetup(text: string): { profile: string; fixture: string } | undefined {
  const m = /^#\s+Profile:\s+(\S+)\s+Fixture:\s+(\S+)/m.exec(text)
  return m === null ? undefined : { profile: m[1] as string, fixture: m[2] as string }
}

/**
 * Every fixture a recording's header names: `Fixture: A` or, for a machine with several SMMUs,
 * `Fixture: A B` (one SMMU each); undefined without a Profile/Fixture line.
 */
export function recordingFixtures(text: string): string[] | undefined {
  const m = /^#\s+Profile:\s+\S+\s+Fixture:[ \t]+(\S[^\n]*?)[ \t]*$/m.exec(text)
  return m === null ? undefined : (m[1] as string).split(/[ \t]+/)
}

export type RowVerdict = 'agree' | 'differ' | 'known' | 'error' | 'outside'

export interface Row {
  readonly line: number
  readonly call: string
  readonly kernel: string
  readonly model: string
  readonly verdict: RowVerdict
  readonly known?: KnownDifference
  /** The model's explanation when it differs. */
  readonly note?: string
}

export interface Comparison {
  readonly file: string
  readonly profile: string
  /** The fixture, or the fixtures separated by blanks (a machine with several SMMUs). */
  readonly fixture: string
  readonly rows: readonly Row[]
}

/** Replays a recording (its text, `file` naming it) on the model named in its header. */
export function compareWithModel(text: string, file: string, known: readonly KnownDifference[]): Comparison {
  const setup = recordingSetup(text)
  if (setup === undefined) throw new Error(`${file}: no "Profile: ... Fixture: ..." line in the header`)
  if (!isProfileName(setup.profile)) throw new Error(`${file}: unknown profile ${setup.profile}`)
  const names = recordingFixtures(text) ?? [setup.fixture]
  const fixtures = names.map((name) => {
    const { fixture, errors } = loadFixtureFile(resolveFixturePath(name))
    if (fixture === undefined) throw new Error(`${file}: fixture ${name} does not load: ${errors.map(formatFixtureError).join('; ')}`)
    return fixture
  })
  const report = replayTranscript(parseTranscript(text, file), createModelBackend({ profile: setup.profile, fixtures }))
  const base = path.basename(file)
  const rows = report.verdicts.map((v) => row(v, base, known))
  return { file, profile: setup.profile, fixture: names.join(' '), rows }
}

function row(v: Verdict, recording: string, known: readonly KnownDifference[]): Row {
  if (v.kind === 'error') return { line: v.error.line, call: '', kernel: '', model: `error: ${v.error.message}`, verdict: 'error' }
  if (v.kind === 'outside') return { line: v.line, call: v.callText, kernel: v.expectedText, model: 'outside the model', verdict: 'outside' }
  if (v.kind === 'agree') return { line: v.line, call: v.callText, kernel: v.expectedText, model: v.expectedText, verdict: 'agree' }
  const k = known.find((d) => d.recording === recording && d.call === v.callText && d.kernel === v.expectedText && d.model === v.actual)
  return {
    line: v.line,
    call: v.callText,
    kernel: v.expectedText,
    model: v.actual,
    verdict: k === undefined ? 'differ' : 'known',
    ...(k === undefined ? {} : { known: k }),
    ...(v.note === undefined ? {} : { note: v.note }),
  }
}

/** One printed line per row: `file:line  verdict  call  kernel: X  model: Y`. */
export function formatRow(file: string, r: Row): string {
  const tag = { agree: 'agree ', differ: 'DIFFER', known: 'known ', error: 'ERROR ', outside: 'device' }[r.verdict]
  if (r.verdict === 'error') return `  ${tag} ${file}:${r.line}  ${r.model}`
  const same = r.verdict === 'agree' || r.verdict === 'outside'
  const tail = r.known !== undefined ? `  [${r.known.id}]` : r.note !== undefined && !same ? `  (model: ${r.note})` : ''
  return `  ${tag} ${file}:${r.line}  ${r.call.padEnd(44)} kernel: ${r.kernel}${same ? '' : `  model: ${r.model}`}${tail}`
}
