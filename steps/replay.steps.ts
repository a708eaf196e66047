/**
 * Transcript replay steps: replay a transcript on the scenario's VFIO machine (see vfio.steps.ts,
 * "the machine of fixture ...") and look at the verdicts.
 */
import * as fs from 'node:fs'
import { defineParameterType, Then, When, type DataTable } from '@cucumber/cucumber'
import { formatSummary, formatVerdict, parseTranscript, replayTranscript, type ReplayReport, type Verdict } from '../model/transcript'
import { check } from './expect'
import type { ProfileRun, TckWorld } from './world'

/** The last replay of each profile's run. */
const reports = new WeakMap<ProfileRun, ReplayReport>()

function reportOf(run: ProfileRun): ReplayReport {
  const r = reports.get(run)
  if (r === undefined) throw new Error('no transcript has been replayed in this scenario')
  return r
}

function verdictAt(run: ProfileRun, line: number): Verdict {
  const v = reportOf(run).verdicts.find((x) => (x.kind === 'error' ? x.error.line : x.line) === line)
  if (v === undefined) throw new Error(`line ${line} has no verdict (blank, a comment, or past the end)`)
  return v
}

/** A verdict as the feature spells it: `agree`, `differ`, or `error`, and what goes with it. */
function spelled(v: Verdict): { verdict: string; detail: string } {
  if (v.kind === 'agree') return { verdict: 'agree', detail: '' }
  if (v.kind === 'differ') return { verdict: 'differ', detail: v.actual }
  if (v.kind === 'outside') return { verdict: 'outside', detail: '' }
  return { verdict: 'error', detail: v.error.code }
}

/** `agree`, or `differ (model: <answer>)`. */
defineParameterType({
  name: 'verdict',
  regexp: /agree|differ \(model: [^()]+\)/,
  transformer: (s: string): { verdict: string; detail: string } =>
    s === 'agree' ? { verdict: 'agree', detail: '' } : { verdict: 'differ', detail: s.slice('differ (model: '.length, -1) },
})

When('this transcript is replayed:', function (this: TckWorld, text: string) {
  this.each((run) => reports.set(run, replayTranscript(parseTranscript(text, 'vmm.vfio'), run.backend())))
})

When('the transcript file {string} is replayed', function (this: TckWorld, file: string) {
  const text = fs.readFileSync(file, 'utf8')
  this.each((run) => reports.set(run, replayTranscript(parseTranscript(text, file), run.backend())))
})

Then('every line should agree', function (this: TckWorld) {
  this.each((run) => allAgree(reportOf(run).verdicts, 'every line'))
})

/** Verdicts that are not agreements, printed as `smmu-nesting-tck replay` prints them. */
function allAgree(verdicts: readonly Verdict[], which: string): void {
  const others = verdicts.filter((v) => v.kind !== 'agree').map((v) => formatVerdict(v))
  check.ok(others.length === 0, `expected ${which} to agree, the model gave:\n${others.join('\n')}`)
}

Then('lines {int} to {int} should agree', function (this: TckWorld, from: number, to: number) {
  this.each((run) => {
    const lines = reportOf(run).verdicts.filter((v) => v.kind !== 'error' && v.line >= from && v.line <= to)
    check.equal(lines.length, to - from + 1, `lines ${from} to ${to} should all be calls`)
    allAgree(lines, `lines ${from} to ${to}`)
  })
})

Then('line {int} should {verdict}', function (this: TckWorld, line: number, expected: { verdict: string; detail: string }) {
  this.each((run) => check.deepEqual(spelled(verdictAt(run, line)), expected))
})

Then('line {int} should be outside the model', function (this: TckWorld, line: number) {
  this.each((run) => check.deepEqual(spelled(verdictAt(run, line)), { verdict: 'outside', detail: '' }))
})

Then('the replay should report:', function (this: TckWorld, table: DataTable) {
  const expected = table.hashes().map((r) => ({ line: Number(r.line), verdict: r.verdict, detail: r.detail }))
  this.each((run) =>
    check.deepEqual(
      reportOf(run).verdicts.map((v) => ({ line: v.kind === 'error' ? v.error.line : v.line, ...spelled(v) })),
      expected,
    ),
  )
})

Then('the summary should be {string}', function (this: TckWorld, summary: string) {
  this.each((run) => check.equal(formatSummary(reportOf(run)), summary))
})
