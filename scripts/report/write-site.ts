/**
 * Write the whole living-documentation site into one folder, and say which pages to check in the
 * browser and what each must show.
 *
 *   index.html               features x profiles, fixtures x areas x profiles (cells link on)
 *   <feature>.html           one per feature file (nest1-stage-selection.html, ...)
 *   kernel-history.html      the history questions x profiles
 *   changes.html             what changed between two profiles
 *   fixture-<name>.html      one per fixture: facts, explain, its scenarios per area
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { FeatureSet } from '../../model/hw'
import type { Explanation } from '../../model/survey'
import type { PageCheck } from './browser-check'
import { examplesAnchor, renderFeaturePage } from './feature-page'
import type { FeatureDoc } from './features'
import { historyRows, renderChangesPage, renderHistoryPage } from './history'
import type { ProfileResults } from './messages'
import { renderFixturePage, renderOverview } from './overview'
import { CHANGES, fixturePage, HISTORY, INDEX, type SiteProfile } from './site'

export interface SiteInput {
  readonly generated: string
  /** In kernel order. */
  readonly profiles: readonly SiteProfile[]
  readonly results: ReadonlyMap<string, ProfileResults>
  readonly features: readonly FeatureDoc[]
  readonly areas: readonly string[]
  readonly fixtures: readonly FeatureSet[]
  readonly explain: (hw: FeatureSet, profile: string) => Explanation
}

export interface Site {
  readonly pages: readonly string[]
  readonly history: { readonly questions: number; readonly cells: number }
  /** What the browser check looks for on each page (screenshots not set). */
  readonly checks: readonly PageCheck[]
}

/** Features in area order (AREA order of the index), then by file name. */
export function orderFeatures(features: readonly FeatureDoc[], areas: readonly string[]): FeatureDoc[] {
  const rank = (a: string): number => (areas.includes(a) ? areas.indexOf(a) : areas.length)
  return [...features].sort((a, b) => rank(a.area) - rank(b.area) || a.uri.localeCompare(b.uri))
}

export function writeSite(dir: string, input: SiteInput): Site {
  fs.mkdirSync(dir, { recursive: true })
  const features = orderFeatures(input.features, input.areas)
  const written: string[] = []
  const write = (name: string, html: string): string => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, html)
    written.push(file)
    return file
  }
  const rows = historyRows(features, input.profiles, input.results)
  const history = { questions: rows.length, cells: rows.reduce((n, r) => n + r.cells.size, 0) }
  const checks: PageCheck[] = []

  const index = write(INDEX, renderOverview({ ...input, features, history }))
  checks.push({ file: index, selector: '#matrix tbody tr', minCount: input.fixtures.length, also: [{ selector: '#features tbody tr a', minCount: features.length }] })

  features.forEach((feature, i) => {
    const file = write(feature.page, renderFeaturePage({ feature, profiles: input.profiles, results: input.results, ...(i > 0 ? { previous: features[i - 1] } : {}), ...(i + 1 < features.length ? { next: features[i + 1] } : {}) }))
    checks.push({ file, selector: 'section.scenario', minCount: feature.scenarios.length, also: [{ selector: `header.top a[href="${INDEX}"]`, minCount: 1 }] })
  })

  checks.push({ file: write(HISTORY, renderHistoryPage(rows, input.profiles, input.generated)), selector: '#history tbody tr', minCount: rows.length })
  const pairs = (input.profiles.length * (input.profiles.length - 1)) / 2
  checks.push({ file: write(CHANGES, renderChangesPage(rows, input.profiles)), selector: 'section.diff', minCount: pairs, also: pairs === 0 ? [] : [{ selector: 'section.diff.shown', minCount: 1 }] })

  for (const hw of input.fixtures) {
    const file = write(fixturePage(hw.name), renderFixturePage({ fixture: hw, profiles: input.profiles, results: input.results, areas: input.areas, features, explain: input.explain }))
    checks.push({ file, selector: 'table.stages tbody tr', minCount: input.profiles.length })
  }
  return { pages: written, history, checks }
}

/**
 * The seed's eight-row Requested x Supported -> Actual table: Nest1 [1]'s first Examples, with a
 * result for each of its profiles that ran.
 */
export function seedTableCheck(dir: string, features: readonly FeatureDoc[], results: ReadonlyMap<string, ProfileResults>): PageCheck | undefined {
  const nest1 = features.find((f) => f.name.startsWith('Nest1 '))
  const s1 = nest1?.scenarios.find((s) => s.number === 1)
  const table = s1?.examples[0]
  if (nest1 === undefined || s1 === undefined || table === undefined) return undefined
  const ran = [...results.entries()].filter(([, r]) => table.rows.every((row) => r.outcomes.has(`${nest1.uri}:${row.line}`))).map(([p]) => p)
  const rows = `#${examplesAnchor(s1, 0)} table.examples tbody tr[id]`
  return {
    file: path.join(dir, nest1.page),
    selector: rows,
    minCount: 8,
    scrollTo: `#${s1.anchor}`,
    also: ran.map((p) => ({ selector: `${rows} td.result:not(.none)[data-profile="${p}"]`, minCount: 8 })),
  }
}
