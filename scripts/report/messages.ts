/**
 * Cucumber messages (the envelopes a run emits) -> per-scenario and per-fixture results for the
 * overview page.
 *
 * A scenario counts for every fixture its steps name (`fixture "mmu-500"`, `SMMU "synthetic-nested"`).
 * A catalogue scenario (features/fixtures/) attaches, per step and profile, a JSON CatalogueCheck
 * whose per-fixture verdicts count for each fixture in the catalogue.
 */
import type { Envelope } from '@cucumber/messages'
import type { CatalogueCheck, FixtureCheck } from '../../model/survey'
import { areaOfUri } from './features'

export type Status = 'passed' | 'failed'

export interface ScenarioResult {
  readonly uri: string
  /** uri:line of the Examples row or scenario the pickle came from (see ProfileResults.outcomes). */
  readonly key: string
  /** The folder under features/: nesting, vfio, fixtures. */
  readonly area: string
  readonly name: string
  readonly status: Status
  /** Fixtures the scenario's steps name. */
  readonly fixtures: readonly string[]
}

export interface CatalogueResult {
  readonly area: string
  readonly scenario: string
  /** uri:line of the scenario, as in ProfileResults.outcomes. */
  readonly key: string
  /** The line of the step that attached the check. */
  readonly stepLine: number
  readonly rule: string
  readonly results: readonly FixtureCheck[]
}

/** Why a scenario failed: its first step that did not pass. */
export interface Failure {
  /** The step's text (with the row's values), or the hook. */
  readonly step: string
  /** PASSED is never here: FAILED, UNDEFINED, PENDING, AMBIGUOUS, SKIPPED... */
  readonly status: string
  /** The error message without its stack trace. */
  readonly message: string
}

export interface Outcome {
  readonly status: Status
  readonly name: string
  readonly failure?: Failure
}

export interface ProfileResults {
  readonly profile: string
  readonly scenarios: readonly ScenarioResult[]
  readonly catalogue: readonly CatalogueResult[]
  /**
   * Per executed pickle, keyed by `uri:line` of what it was made from: the Examples row of an
   * outline, or the scenario. The key is the same in every run (ids are not).
   */
  readonly outcomes: ReadonlyMap<string, Outcome>
}

/** An error message without the stack trace cucumber appends. */
export function stripStack(message: string): string {
  const lines = message.split('\n')
  const at = lines.findIndex((l) => /^\s+at /.test(l))
  return (at < 0 ? lines : lines.slice(0, at)).join('\n').trim()
}

const FIXTURE_MENTION = /(?:fixture|SMMU) "([^"<>]+)"/g

export const areaOf = areaOfUri

export function fixturesMentioned(texts: readonly string[]): string[] {
  return [...new Set(texts.flatMap((t) => [...t.matchAll(FIXTURE_MENTION)].map((m) => m[1] as string)))].sort()
}

function isCatalogueCheck(v: unknown): v is CatalogueCheck {
  if (typeof v !== 'object' || v === null) return false
  const o = v as Record<string, unknown>
  return typeof o.rule === 'string' && typeof o.profile === 'string' && Array.isArray(o.results)
}

/** Fold one profile run's envelopes into results. */
export function summarize(profile: string, envelopes: readonly Envelope[]): ProfileResults {
  const pickles = new Map<string, { uri: string; name: string; line: number; steps: string[]; stepText: Map<string, string> }>()
  const testCases = new Map<string, string>() // testCase id -> pickle id
  const testSteps = new Map<string, string>() // testStep id -> step text or hook
  const started = new Map<string, string>() // testCaseStarted id -> testCase id
  const failed = new Map<string, Failure>() // testCaseStarted ids with a non-passing step: the first
  const finished: string[] = []
  const checks: { startedId: string; stepId: string; check: CatalogueCheck }[] = []
  const astLines = new Map<string, number>() // Gherkin step id -> its line
  const pickleStepLine = new Map<string, number>() // pickle step id -> the line of its Gherkin step
  const testStepLine = new Map<string, number>() // test step id -> the line of its Gherkin step

  for (const e of envelopes) {
    if (e.gherkinDocument?.feature) {
      const visit = (children: readonly { scenario?: { steps: readonly { id: string; location: { line: number } }[] }; background?: { steps: readonly { id: string; location: { line: number } }[] }; rule?: { children: readonly unknown[] } }[]): void => {
        for (const c of children) {
          for (const st of [...(c.scenario?.steps ?? []), ...(c.background?.steps ?? [])]) astLines.set(st.id, st.location.line)
          if (c.rule) visit(c.rule.children as Parameters<typeof visit>[0])
        }
      }
      visit(e.gherkinDocument.feature.children)
    }
    if (e.pickle) {
      for (const st of e.pickle.steps) {
        const line = astLines.get(st.astNodeIds[0] ?? '')
        if (line !== undefined) pickleStepLine.set(st.id, line)
      }
      const stepText = new Map(e.pickle.steps.map((s) => [s.id, s.text]))
      pickles.set(e.pickle.id, { uri: e.pickle.uri, name: e.pickle.name, line: e.pickle.location?.line ?? 0, steps: e.pickle.steps.map((s) => s.text), stepText })
    }
    if (e.testCase) {
      testCases.set(e.testCase.id, e.testCase.pickleId)
      const p = pickles.get(e.testCase.pickleId)
      for (const ts of e.testCase.testSteps) {
        testSteps.set(ts.id, ts.pickleStepId === undefined ? 'a hook' : (p?.stepText.get(ts.pickleStepId) ?? 'a step'))
        const line = pickleStepLine.get(ts.pickleStepId ?? '')
        if (line !== undefined) testStepLine.set(ts.id, line)
      }
    }
    if (e.testCaseStarted) started.set(e.testCaseStarted.id, e.testCaseStarted.testCaseId)
    const f = e.testStepFinished
    if (f && f.testStepResult.status !== 'PASSED' && !failed.has(f.testCaseStartedId)) {
      const r = f.testStepResult
      failed.set(f.testCaseStartedId, { step: testSteps.get(f.testStepId) ?? 'a step', status: r.status, message: stripStack(r.exception?.message ?? r.message ?? '') })
    }
    if (e.testCaseFinished && !e.testCaseFinished.willBeRetried) finished.push(e.testCaseFinished.testCaseStartedId)
    if (e.attachment && e.attachment.mediaType === 'application/json' && e.attachment.testCaseStartedId !== undefined) {
      const body = e.attachment.contentEncoding === 'BASE64' ? Buffer.from(e.attachment.body, 'base64').toString('utf8') : e.attachment.body
      const parsed: unknown = JSON.parse(body)
      if (isCatalogueCheck(parsed)) checks.push({ startedId: e.attachment.testCaseStartedId, stepId: e.attachment.testStepId ?? '', check: parsed })
    }
  }

  const pickleOf = (startedId: string) => pickles.get(testCases.get(started.get(startedId) ?? '') ?? '')
  const scenarios = finished.flatMap((id): ScenarioResult[] => {
    const p = pickleOf(id)
    if (p === undefined) return []
    return [{ uri: p.uri, key: `${p.uri}:${p.line}`, area: areaOf(p.uri), name: p.name, status: failed.has(id) ? 'failed' : 'passed', fixtures: fixturesMentioned(p.steps) }]
  })
  const outcomes = new Map<string, Outcome>()
  for (const id of finished) {
    const p = pickleOf(id)
    if (p === undefined) continue
    const failure = failed.get(id)
    outcomes.set(`${p.uri}:${p.line}`, { status: failure === undefined ? 'passed' : 'failed', name: p.name, ...(failure === undefined ? {} : { failure }) })
  }
  const catalogue = checks.flatMap(({ startedId, stepId, check }): CatalogueResult[] => {
    const p = pickleOf(startedId)
    return p === undefined ? [] : [{ area: areaOf(p.uri), scenario: p.name, key: `${p.uri}:${p.line}`, stepLine: testStepLine.get(stepId) ?? 0, rule: check.rule, results: check.results }]
  })
  return { profile, scenarios, catalogue, outcomes }
}

export interface Tally {
  passed: number
  failed: number
}

/** Passed/failed counts for one (profile, fixture, area) cell of the matrix. */
export function cell(results: ProfileResults, fixture: string, area: string): Tally {
  const t: Tally = { passed: 0, failed: 0 }
  for (const s of results.scenarios) {
    if (s.area === area && s.fixtures.includes(fixture)) t[s.status]++
  }
  for (const c of results.catalogue) {
    if (c.area !== area) continue
    for (const r of c.results) {
      if (r.fixture === fixture && r.verdict !== 'not applicable') t[r.verdict]++
    }
  }
  return t
}
