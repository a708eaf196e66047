/**
 * The overview page of the living documentation (reports/html/index.html): a matrix of fixtures x
 * feature areas x behaviour profiles with pass/fail counts, then per fixture its facts and the
 * stage-selection table the model produces under each profile. Static HTML, no script.
 */
import { describeStages, type FeatureSet } from '../../model/hw'
import { hex32, type IdRegisterName } from '../../model/hw/registers'
import type { Explanation, RequestReport } from '../../model/survey'
import type { BankRange, DomainStage } from '../../model/smmu'
import { cell, type ProfileResults, type Tally } from './messages'

export interface OverviewInput {
  readonly generated: string
  readonly profiles: readonly ProfileResults[]
  /** Profile name -> title, for headings. */
  readonly titles: Readonly<Record<string, string>>
  /** Profile name -> the cucumber HTML report of that profile (relative link). */
  readonly links: Readonly<Record<string, string>>
  readonly areas: readonly string[]
  readonly fixtures: readonly FeatureSet[]
  readonly explain: (hw: FeatureSet, profile: string) => Explanation
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; } h3 { font-size: 1rem; margin-bottom: .3rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .85rem; }
th, td { border: 1px solid #c8c8cc; padding: .2rem .45rem; text-align: left; vertical-align: top; }
th { background: #f2f2f5; }
td.pass { background: #dff3e3; } td.fail { background: #f8d7da; font-weight: bold; } td.none { color: #8e8e93; }
.facts { font-size: .85rem; margin: 0 0 .4rem; } .source { font-size: .8rem; color: #48484a; max-width: 70rem; }
nav a { margin-right: 1rem; }
`

export function renderOverview(input: OverviewInput): string {
  const total = input.profiles.map((p) => {
    const passed = p.scenarios.filter((s) => s.status === 'passed').length
    return { profile: p.profile, passed, failed: p.scenarios.length - passed }
  })
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>smmu-nesting-tck: living documentation</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<h1>smmu-nesting-tck: living documentation</h1>
<p>Generated ${escapeHtml(input.generated)}. Every feature runs under each behaviour profile it is tagged with; the full
scenario-by-scenario reports are cucumber's, one per profile:</p>
<nav>${input.profiles.map((p) => `<a href="${escapeHtml(input.links[p.profile] ?? '#')}">${escapeHtml(p.profile)}</a>`).join('')}</nav>
${renderTotals(total)}
<h2 id="matrix-heading">Fixtures x feature areas x profiles</h2>
<p>A cell counts the scenarios of that area naming the fixture, plus, for the catalogue rules (features/fixtures), the
fixture's own verdicts; "-" when nothing in that area ran on it under that profile.</p>
${renderMatrix(input)}
<h2>Stage selection per fixture</h2>
<p>What the model does on each fixture under each profile (smmu-nesting-tck explain): the stage a stage-1 and a nested
request get, the nesting request and attach, VFIO's answers for the nesting type, and the context-bank ranges.</p>
${input.fixtures.map((hw) => renderFixture(hw, input)).join('\n')}
</body>
</html>
`
}

function renderTotals(total: readonly { profile: string; passed: number; failed: number }[]): string {
  const rows = total.map((t) => `<tr><th>${escapeHtml(t.profile)}</th>${tallyCell({ passed: t.passed, failed: t.failed })}</tr>`)
  return `<table id="totals"><thead><tr><th>profile</th><th>scenarios</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
}

function tallyCell(t: Tally): string {
  if (t.passed + t.failed === 0) return '<td class="none">-</td>'
  if (t.failed > 0) return `<td class="fail">${t.failed} failed, ${t.passed} passed</td>`
  return `<td class="pass">${t.passed} passed</td>`
}

function renderMatrix(input: OverviewInput): string {
  const head1 = `<tr><th rowspan="2">fixture</th>${input.areas.map((a) => `<th colspan="${input.profiles.length}">${escapeHtml(a)}</th>`).join('')}</tr>`
  const head2 = `<tr>${input.areas.map(() => input.profiles.map((p) => `<th>${escapeHtml(p.profile)}</th>`).join('')).join('')}</tr>`
  const rows = input.fixtures.map((hw) => {
    const cells = input.areas.map((a) => input.profiles.map((p) => tallyCell(cell(p, hw.name, a))).join('')).join('')
    return `<tr data-fixture="${escapeHtml(hw.name)}"><th><a href="#fixture-${escapeHtml(hw.name)}">${escapeHtml(hw.name)}</a></th>${cells}</tr>`
  })
  return `<table id="matrix"><thead>${head1}${head2}</thead><tbody>${rows.join('\n')}</tbody></table>`
}

function renderFixture(hw: FeatureSet, input: OverviewInput): string {
  const banks = hw.arch === 'smmuv1' || hw.arch === 'smmuv2' ? `; ${hw.contextBanks} context banks, ${hw.s2OnlyContextBanks} stage-2-only` : ''
  const regs = Object.entries(hw.idRegisters ?? {}) as [IdRegisterName, number][]
  const facts = `${hw.kind} ${hw.arch}; ${describeStages(hw.translation)}${banks}; IAS ${hw.ias}, OAS ${hw.oas}; granules ${hw.granules.join('/')}` +
    (regs.length === 0 ? '' : `; ID registers ${regs.map(([r, v]) => `${r.toUpperCase()} ${hex32(v)}`).join(', ')}`)
  const head = ['profile', 'driver', 'stage 1 request', 'nested request', 'SET_IOMMU(nesting)', 'CHECK_EXTENSION(nesting) before / after', 'context banks']
  const rows = input.profiles.map((p) => {
    const e = input.explain(hw, p.profile)
    if (e.requests === undefined) return `<tr><th>${escapeHtml(p.profile)}</th><td class="none" colspan="${head.length - 1}">no driver for ${escapeHtml(hw.arch)} in this kernel</td></tr>`
    const v = e.vfio
    const cells = [
      'probed',
      request(e.requests.S1),
      request(e.requests.NESTED),
      v === undefined ? '-' : `${v.setIommu.ok ? 'ok' : v.setIommu.error.errno}${v.domainStage === undefined ? '' : ` (domain ${v.domainStage})`}`,
      v === undefined ? '-' : `${v.checkBefore} / ${v.checkAfter}`,
      e.bankRanges === undefined ? '-' : bankList(e.bankRanges),
    ]
    return `<tr><th>${escapeHtml(p.profile)}</th>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`
  })
  const source = hw.source === undefined ? '' : `<p class="source">Source: ${escapeHtml(hw.source)}</p>`
  const notes = hw.notes === undefined ? '' : `<p class="source">Notes: ${escapeHtml(hw.notes)}</p>`
  return `<section id="fixture-${escapeHtml(hw.name)}">
<h3>${escapeHtml(hw.name)}</h3>
<p class="facts">${escapeHtml(hw.description)}<br>${escapeHtml(facts)}</p>${source}${notes}
<table class="stages"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>
</section>`
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
