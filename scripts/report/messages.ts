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

export type Status = 'passed' | 'failed'

export interface ScenarioResult {
  readonly uri: string
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
  readonly rule: string
  readonly results: readonly FixtureCheck[]
}

export interface ProfileResults {
  readonly profile: string
  readonly scenarios: readonly ScenarioResult[]
  readonly catalogue: readonly CatalogueResult[]
}

const FIXTURE_MENTION = /(?:fixture|SMMU) "([^"<>]+)"/g

export function areaOf(uri: string): string {
  const parts = uri.split(/[\\/]/)
  const i = parts.indexOf('features')
  return i >= 0 && i + 2 < parts.length ? (parts[i + 1] as string) : 'other'
}

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
  const pickles = new Map<string, { uri: string; name: string; steps: string[] }>()
  const testCases = new Map<string, string>() // testCase id -> pickle id
  const started = new Map<string, string>() // testCaseStarted id -> testCase id
  const failed = new Set<string>() // testCaseStarted ids with a non-passing step
  const finished: string[] = []
  const checks: { startedId: string; check: CatalogueCheck }[] = []

  for (const e of envelopes) {
    if (e.pickle) pickles.set(e.pickle.id, { uri: e.pickle.uri, name: e.pickle.name, steps: e.pickle.steps.map((s) => s.text) })
    if (e.testCase) testCases.set(e.testCase.id, e.testCase.pickleId)
    if (e.testCaseStarted) started.set(e.testCaseStarted.id, e.testCaseStarted.testCaseId)
    if (e.testStepFinished && e.testStepFinished.testStepResult.status !== 'PASSED') failed.add(e.testStepFinished.testCaseStartedId)
    if (e.testCaseFinished && !e.testCaseFinished.willBeRetried) finished.push(e.testCaseFinished.testCaseStartedId)
    if (e.attachment && e.attachment.mediaType === 'application/json' && e.attachment.testCaseStartedId !== undefined) {
      const body = e.attachment.contentEncoding === 'BASE64' ? Buffer.from(e.attachment.body, 'base64').toString('utf8') : e.attachment.body
      const parsed: unknown = JSON.parse(body)
      if (isCatalogueCheck(parsed)) checks.push({ startedId: e.attachment.testCaseStartedId, check: parsed })
    }
  }

  const pickleOf = (startedId: string) => pickles.get(testCases.get(started.get(startedId) ?? '') ?? '')
  const scenarios = finished.flatMap((id): ScenarioResult[] => {
    const p = pickleOf(id)
    if (p === undefined) return []
    return [{ uri: p.uri, area: areaOf(p.uri), name: p.name, status: failed.has(id) ? 'failed' : 'passed', fixtures: fixturesMentioned(p.steps) }]
  })
  const catalogue = checks.flatMap(({ startedId, check }): CatalogueResult[] => {
    const p = pickleOf(startedId)
    return p === undefined ? [] : [{ area: areaOf(p.uri), scenario: p.name, rule: check.rule, results: check.results }]
  })
  return { profile, scenarios, catalogue }
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
