/**
 * The index of the living documentation (reports/html/index.html) and one page per fixture.
 *
 * The index has the features x profiles table (each cell links to the feature's page) and the
 * matrix of fixtures x feature areas x profiles (each cell links to the fixture's page, to the
 * list of that area's scenarios that ran on the fixture). A fixture page has the fixture's facts,
 * the stage selection the model gives under each profile (smmu-nesting-tck explain), and its
 * scenarios per area with their results, each linked to its row on its feature page.
 */
import { describeStages, type FeatureSet } from '../../model/hw'
import { hex32, type IdRegisterName } from '../../model/hw/registers'
import type { Explanation, RequestReport } from '../../model/survey'
import type { BankRange, DomainStage } from '../../model/smmu'
import { anchors, featureTally } from './feature-page'
import type { FeatureDoc } from './features'
import { cell, type ProfileResults, type Status, type Tally } from './messages'
import { CHANGES, escapeHtml, fixturePage, HISTORY, INDEX, navBar, page, type SiteProfile } from './site'

export { escapeHtml } from './site'

export interface OverviewInput {
  readonly generated: string
  /** The profiles run, in kernel order. */
  readonly profiles: readonly SiteProfile[]
  readonly results: ReadonlyMap<string, ProfileResults>
  readonly areas: readonly string[]
  readonly features: readonly FeatureDoc[]
  readonly fixtures: readonly FeatureSet[]
  /** Questions and answered cells on the kernel-history page. */
  readonly history?: { readonly questions: number; readonly cells: number }
}

function profileHeads(profiles: readonly SiteProfile[]): string {
  return profiles.map((p) => `<th class="profile" title="${escapeHtml(p.title)}">${escapeHtml(p.name)}</th>`).join('')
}

function tallyCell(t: Tally, href?: string): string {
  const link = (text: string): string => (href === undefined ? text : `<a href="${escapeHtml(href)}">${text}</a>`)
  if (t.passed + t.failed === 0) return '<td class="result none">–</td>'
  if (t.failed > 0) return `<td class="result fail">${link(`${t.failed} failed, ${t.passed} passed`)}</td>`
  return `<td class="result pass">${link(`${t.passed} passed`)}</td>`
}

export function renderOverview(input: OverviewInput): string {
  const results = (p: SiteProfile): ProfileResults | undefined => input.results.get(p.name)
  const totals = input.profiles.map((p) => {
    const r = results(p)
    const passed = r?.scenarios.filter((s) => s.status === 'passed').length ?? 0
    return tallyCell({ passed, failed: (r?.scenarios.length ?? 0) - passed }, p.cucumber)
  })
  const features = input.features.map((f) => {
    const cells = input.profiles.map((p) => tallyCell(featureTally(f, results(p)), f.page))
    return `<tr data-feature="${escapeHtml(f.uri)}"><th><a href="${escapeHtml(f.page)}">${escapeHtml(f.name)}</a></th><td>${escapeHtml(f.area)}</td>${cells.join('')}</tr>`
  })
  const history = input.history === undefined ? '' : ` (${input.history.questions} questions, ${input.history.cells} answers)`
  const body = `<h1>smmu-nesting-tck: living documentation</h1>
<p class="meta">Generated ${escapeHtml(input.generated)} · behaviour profiles (kernels), oldest first: ${input.profiles.map((p) => escapeHtml(p.name)).join(', ')}</p>
<div class="prose"><p>The features are the specification: each page shows a feature's prose, its scenarios under their stable [n]
numbers and every Examples row with its result under each profile. The <a href="${HISTORY}">kernel history</a>${history} puts
the answers the features prove side by side, one column per kernel; <a href="${CHANGES}">what changed</a> lists the differences
between two kernels. cucumber's own report of each run is linked from the totals.</p></div>
<h2>Scenarios per profile</h2>
<div class="scroll"><table id="totals"><thead><tr><th></th>${profileHeads(input.profiles)}</tr></thead><tbody><tr><th>all features (cucumber's report)</th>${totals.join('')}</tr></tbody></table></div>
<h2>Features</h2>
<div class="scroll"><table id="features"><thead><tr><th>feature</th><th>area</th>${profileHeads(input.profiles)}</tr></thead><tbody>${features.join('\n')}</tbody></table></div>
<h2 id="matrix-heading">Fixtures x feature areas x profiles</h2>
<div class="prose"><p>A cell counts the scenarios of that area naming the fixture, plus, for the catalogue rules (features/fixtures), the
fixture's own verdicts: the number passed, or the number failed (✗) and passed. It links to the fixture's page, where
each of them links to its row; – when nothing in that area ran on it under that profile.</p></div>
${renderMatrix(input)}`
  return page('smmu-nesting-tck: living documentation', navBar(INDEX), body)
}

/** A matrix cell: the number passed, or failed ✗ and passed; the words in its title. */
function compactCell(t: Tally, href: string, profile: string): string {
  if (t.passed + t.failed === 0) return `<td class="result none" title="nothing ran under ${escapeHtml(profile)}">–</td>`
  const words = t.failed > 0 ? `${t.failed} failed, ${t.passed} passed` : `${t.passed} passed`
  const text = t.failed > 0 ? `${t.failed}✗ ${t.passed}` : `${t.passed}`
  return `<td class="result ${t.failed > 0 ? 'fail' : 'pass'}" title="${escapeHtml(`${profile}: ${words}`)}"><a href="${escapeHtml(href)}">${text}</a></td>`
}

function renderMatrix(input: OverviewInput): string {
  const head1 = `<tr><th rowspan="2">fixture</th>${input.areas.map((a) => `<th class="area" colspan="${input.profiles.length}">${escapeHtml(a)}</th>`).join('')}</tr>`
  const head2 = `<tr>${input.areas.map((_, i) => input.profiles.map((p, j) => `<th class="profile vertical${j === 0 && i > 0 ? ' first' : ''}" title="${escapeHtml(p.title)}"><span>${escapeHtml(p.name)}</span></th>`).join('')).join('')}</tr>`
  const rows = input.fixtures.map((hw) => {
    const cells = input.areas.map((a) =>
      input.profiles
        .map((p) => {
          const r = input.results.get(p.name)
          return compactCell(r === undefined ? { passed: 0, failed: 0 } : cell(r, hw.name, a), `${fixturePage(hw.name)}#area-${a}`, p.name)
        })
        .join(''),
    )
    return `<tr data-fixture="${escapeHtml(hw.name)}"><th class="fixture"><a href="${escapeHtml(fixturePage(hw.name))}">${escapeHtml(hw.name)}</a></th>${cells.join('')}</tr>`
  })
  return `<div class="scroll"><table id="matrix"><thead>${head1}${head2}</thead><tbody>${rows.join('\n')}</tbody></table></div>`
}

export interface FixturePageInput {
  readonly fixture: FeatureSet
  readonly profiles: readonly SiteProfile[]
  readonly results: ReadonlyMap<string, ProfileResults>
  readonly areas: readonly string[]
  readonly features: readonly FeatureDoc[]
  readonly explain: (hw: FeatureSet, profile: string) => Explanation
}

function statusCell(profile: string, s: Status | undefined, text?: string): string {
  if (s === undefined) return `<td class="result none" data-profile="${escapeHtml(profile)}">–</td>`
  return `<td class="result ${s === 'passed' ? 'pass' : 'fail'}" data-profile="${escapeHtml(profile)}">${escapeHtml(text ?? (s === 'passed' ? 'passed' : 'FAILED'))}</td>`
}

export function renderFixturePage(input: FixturePageInput): string {
  const hw = input.fixture
  const where = new Map<string, string>()
  const pageOfUri = new Map(input.features.map((f) => [f.uri, f.page]))
  for (const f of input.features) for (const [k, a] of anchors(f)) where.set(k, `${f.page}#${a}`)
  const sections = input.areas.map((area) => {
    // scenarios (rows) naming the fixture, in file and line order, with each profile's status
    const rows = new Map<string, { name: string; uri: string; line: number; status: Map<string, Status> }>()
    for (const p of input.profiles) {
      for (const s of input.results.get(p.name)?.scenarios ?? []) {
        if (s.area !== area || !s.fixtures.includes(hw.name)) continue
        const line = Number(s.key.slice(s.key.lastIndexOf(':') + 1))
        const row = rows.get(s.key) ?? { name: s.name, uri: s.uri, line, status: new Map<string, Status>() }
        row.status.set(p.name, s.status)
        rows.set(s.key, row)
      }
    }
    const sorted = [...rows.entries()].sort(([, a], [, b]) => a.uri.localeCompare(b.uri) || a.line - b.line)
    const lines = sorted.map(([key, r]) => {
      const href = where.get(key) ?? pageOfUri.get(r.uri) ?? INDEX
      return `<tr><th><a href="${escapeHtml(href)}">${escapeHtml(r.name)}</a></th>${input.profiles.map((p) => statusCell(p.name, r.status.get(p.name))).join('')}</tr>`
    })
    // catalogue rules: this fixture's own verdict per rule
    const rules = new Map<string, Map<string, { status: Status; text: string }>>()
    for (const p of input.profiles) {
      for (const c of input.results.get(p.name)?.catalogue ?? []) {
        if (c.area !== area) continue
        for (const v of c.results) {
          if (v.fixture !== hw.name || v.verdict === 'not applicable') continue
          const m = rules.get(c.rule) ?? new Map<string, { status: Status; text: string }>()
          m.set(p.name, { status: v.verdict, text: v.verdict === 'passed' ? v.actual : `expected ${v.expected}, actual ${v.actual}` })
          rules.set(c.rule, m)
        }
      }
    }
    const ruleLines = [...rules.entries()].map(([rule, m]) => `<tr><th>${escapeHtml(rule)}</th>${input.profiles.map((p) => statusCell(p.name, m.get(p.name)?.status, m.get(p.name)?.text)).join('')}</tr>`)
    const all = [...lines, ...ruleLines]
    const table = all.length === 0 ? '<p class="meta">Nothing in this area ran on this fixture.</p>' : `<div class="scroll"><table class="scenarios"><thead><tr><th>scenario</th>${profileHeads(input.profiles)}</tr></thead><tbody>${all.join('\n')}</tbody></table></div>`
    return `<section id="area-${escapeHtml(area)}"><h2>${escapeHtml(area)}</h2>${table}</section>`
  })
  const body = `${renderFixture(hw, input)}
${sections.join('\n')}`
  return page(`${hw.name} - smmu-nesting-tck`, navBar(fixturePage(hw.name)), body)
}

function renderFixture(hw: FeatureSet, input: FixturePageInput): string {
  const banks = hw.arch === 'smmuv1' || hw.arch === 'smmuv2' ? `; ${hw.contextBanks} context banks, ${hw.s2OnlyContextBanks} stage-2-only` : ''
  const regs = Object.entries(hw.idRegisters ?? {}) as [IdRegisterName, number][]
  const facts = `${hw.kind} ${hw.arch}; ${describeStages(hw.translation)}${banks}; IAS ${hw.ias}, OAS ${hw.oas}; granules ${hw.granules.join('/')}` +
    (regs.length === 0 ? '' : `; ID registers ${regs.map(([r, v]) => `${r.toUpperCase()} ${hex32(v)}`).join(', ')}`)
  const head = ['profile', 'driver', 'stage 1 request', 'nested request', 'SET_IOMMU(nesting)', 'CHECK_EXTENSION(nesting) before / after', 'context banks']
  const rows = input.profiles.map((p) => {
    const e = input.explain(hw, p.name)
    if (e.requests === undefined) return `<tr><th>${escapeHtml(p.name)}</th><td class="none" colspan="${head.length - 1}">no driver for ${escapeHtml(hw.arch)} in this kernel</td></tr>`
    const v = e.vfio
    const cells = [
      'probed',
      request(e.requests.S1),
      request(e.requests.NESTED),
      v === undefined ? '-' : `${v.setIommu.ok ? 'ok' : v.setIommu.error.errno}${v.domainStage === undefined ? '' : ` (domain ${v.domainStage})`}`,
      v === undefined ? '-' : `${v.checkBefore} / ${v.checkAfter}`,
      e.bankRanges === undefined ? '-' : bankList(e.bankRanges),
    ]
    return `<tr><th>${escapeHtml(p.name)}</th>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`
  })
  const source = hw.source === undefined ? '' : `<p class="meta">Source: ${escapeHtml(hw.source)}</p>`
  const notes = hw.notes === undefined ? '' : `<p class="meta">Notes: ${escapeHtml(hw.notes)}</p>`
  return `<h1>Fixture ${escapeHtml(hw.name)}</h1>
<p>${escapeHtml(hw.description)}<br><span class="meta">${escapeHtml(facts)}</span></p>${source}${notes}
<h2>What the model does with it, per profile</h2>
<p class="meta">smmu-nesting-tck explain: the stage a stage-1 and a nested request get, the nesting request and attach, VFIO's answers for the nesting type, the context-bank ranges.</p>
<div class="scroll"><table class="stages"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`
}

function request(r: RequestReport): string {
  const asked = r.nestingRequest === undefined ? '' : r.nestingRequest.ok ? '' : `request ${r.nestingRequest.error.errno}, `
  const attached = r.attach.ok ? '' : `attach ${r.attach.error.errno}, `
  const where = r.context?.kind === 'context-bank' ? ` (bank ${r.context.bank})` : ''
  return `${asked}${attached}${r.stage}${where}`
}

function bankList(ranges: Readonly<Partial<Record<DomainStage, BankRange>>>): string {
  return (['S1', 'S2', 'NESTED'] as const)
    .flatMap((s) => {
      const r = ranges[s]
      return r === undefined ? [] : [`${s} ${range(r)}`]
    })
    .join('; ')
}

function range(r: BankRange): string {
  if (r.first > r.last) return 'none'
  return r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`
}
