/**
 * One page per feature: the description as prose, each scenario under its stable [n] anchor with
 * its steps once (placeholders kept), `#` comments where they were written, and every Examples row
 * with its result under each profile side by side; failures with the expected and actual values.
 */
import type { BackgroundDoc, Comment, ExamplesDoc, FeatureDoc, RuleDoc, ScenarioDoc, StepDoc } from './features'
import { HISTORY_COMMENT } from './features'
import type { CatalogueResult, Failure, Outcome, ProfileResults } from './messages'
import { escapeHtml, fixturePage, HISTORY, markdown, navBar, page, tagList, withPlaceholders, type SiteProfile } from './site'

export interface FeaturePageInput {
  readonly feature: FeatureDoc
  readonly profiles: readonly SiteProfile[]
  readonly results: ReadonlyMap<string, ProfileResults>
  readonly previous?: FeatureDoc
  readonly next?: FeatureDoc
}

/** Anchor of an Examples table and of one of its rows (1-based). */
export function examplesAnchor(s: ScenarioDoc, e: number): string {
  return `${s.anchor}-e${e + 1}`
}
export function rowAnchor(s: ScenarioDoc, e: number, r: number): string {
  return `${examplesAnchor(s, e)}-r${r + 1}`
}

/** Anchor of one fixture's row in the per-fixture table a step attached. */
export function checkRowAnchor(scenarioAnchor: string, step: number, fixture: string): string {
  return `${scenarioAnchor}-st${step + 1}-${fixture.replace(/[^A-Za-z0-9_-]/g, '_')}`
}

/** The per-fixture checks a scenario's step attached under a profile (every step's when step is undefined). */
export function checksOf(key: string, scenario: ScenarioDoc, step: number | undefined, r: ProfileResults | undefined): CatalogueResult[] {
  const line = step === undefined ? undefined : scenario.steps[step]?.line
  return (r?.catalogue ?? []).filter((c) => c.key === key && (line === undefined || c.stepLine === line))
}

/**
 * The per-fixture tables a scenario's steps attached (the catalogue rules of features/fixtures):
 * one per step, a row per fixture, the model's answer under each profile.
 */
function checkTables(input: FeaturePageInput, s: ScenarioDoc): string {
  const key = `${input.feature.uri}:${s.line}`
  return s.steps
    .map((st, i) => {
      const per = input.profiles.map((p) => ({ p: p.name, checks: checksOf(key, s, i, input.results.get(p.name)) }))
      if (per.every((x) => x.checks.length === 0)) return ''
      const fixtures: { fixture: string; support: string }[] = []
      for (const x of per) for (const c of x.checks) for (const v of c.results) if (!fixtures.some((f) => f.fixture === v.fixture)) fixtures.push({ fixture: v.fixture, support: v.support })
      const rows = fixtures.map(({ fixture, support }) => {
        const cells = per.map(({ p, checks }) => {
          const v = checks.flatMap((c) => c.results).find((r) => r.fixture === fixture)
          if (v === undefined) return `<td class="result none" data-profile="${escapeHtml(p)}">–</td>`
          const cls = v.verdict === 'passed' ? 'pass' : v.verdict === 'failed' ? 'fail' : 'none'
          const title = v.verdict === 'not applicable' ? 'not applicable' : v.verdict === 'failed' ? `FAILED: expected ${v.expected}` : `expected ${v.expected}: passed`
          return `<td class="result ${cls}" data-profile="${escapeHtml(p)}" title="${escapeHtml(title)}">${v.verdict === 'failed' ? '✗ ' : ''}${escapeHtml(v.actual)}</td>`
        })
        return `<tr id="${checkRowAnchor(s.anchor, i, fixture)}"><th><a href="${escapeHtml(fixturePage(fixture))}">${escapeHtml(fixture)}</a></th><td>${escapeHtml(support)}</td>${cells.join('')}</tr>`
      })
      const rule = per.flatMap((x) => x.checks)[0]?.rule ?? ''
      return `<p class="meta">Per fixture, what the model gave (step “${escapeHtml(st.text.replace(/:$/, ''))}”: ${escapeHtml(rule)}); grey: the rule does not apply.</p>
<div class="scroll"><table class="checks"><thead><tr><th>fixture</th><th>stage support</th>${profileHeads(input.profiles)}</tr></thead><tbody>${rows.join('\n')}</tbody></table></div>`
    })
    .join('\n')
}

/** uri:line (the key of a pickle's outcome) -> the anchor of its Examples row or scenario. */
export function anchors(feature: FeatureDoc): Map<string, string> {
  const out = new Map<string, string>()
  for (const s of feature.scenarios) {
    out.set(`${feature.uri}:${s.line}`, s.anchor)
    s.examples.forEach((ex, e) => ex.rows.forEach((r, i) => out.set(`${feature.uri}:${r.line}`, rowAnchor(s, e, i))))
  }
  return out
}

/** Expected and actual, read from the two assertion styles the steps produce. */
export function expectedActual(message: string): { expected: string; actual: string } | undefined {
  const ours = /expected (.+?), the model gave (.+?)(?:\s*\(|$)/im.exec(message)
  if (ours !== null) return { expected: (ours[1] as string).trim(), actual: (ours[2] as string).trim() }
  // node:assert strictEqual(actual, expected): "... strictly equal:\n\n'NESTED' !== 'S2'"
  const node = /^(.+) !== (.+)$/m.exec(message)
  if (node !== null) return { expected: (node[2] as string).trim(), actual: (node[1] as string).trim() }
  return undefined
}

export function renderFailure(profile: string, f: Failure): string {
  const ea = expectedActual(f.message)
  const pair = ea === undefined ? '' : ` <span class="ea">expected <b>${escapeHtml(ea.expected)}</b>, actual <b>${escapeHtml(ea.actual)}</b></span>`
  return `<div class="failure" data-profile="${escapeHtml(profile)}"><b>${escapeHtml(profile)}</b>: ${escapeHtml(f.status.toLowerCase())} at step “${escapeHtml(f.step)}”.${pair}${f.message === '' ? '' : `<pre>${escapeHtml(f.message)}</pre>`}</div>`
}

export function comments(cs: readonly Comment[]): string {
  return cs
    .map((c) => {
      const history = HISTORY_COMMENT.test(c.text)
      const text = history ? `<a href="${HISTORY}">${withPlaceholders(`# ${c.text}`)}</a>` : withPlaceholders(`# ${c.text}`)
      return `<p class="comment${history ? ' history' : ''}">${text}</p>`
    })
    .join('')
}

function stepsList(steps: readonly StepDoc[]): string {
  const items = steps.map((st) => {
    const table = st.dataTable === undefined ? '' : `<table class="data">${st.dataTable.map((r) => `<tr>${r.map((c) => `<td>${withPlaceholders(c)}</td>`).join('')}</tr>`).join('')}</table>`
    const doc = st.docString === undefined ? '' : `<pre class="doc">${withPlaceholders(st.docString)}</pre>`
    return `${st.comments.length === 0 ? '' : `<li>${comments(st.comments)}</li>`}<li><span class="kw">${escapeHtml(st.keyword)}</span>${withPlaceholders(st.text)}${table}${doc}</li>`
  })
  return `<ol class="steps">${items.join('')}</ol>`
}

function resultCell(profile: string, o: Outcome | undefined): string {
  if (o === undefined) return `<td class="result none" data-profile="${escapeHtml(profile)}" title="not run under ${escapeHtml(profile)}">–</td>`
  return o.status === 'passed'
    ? `<td class="result pass" data-profile="${escapeHtml(profile)}" title="passed under ${escapeHtml(profile)}">✓</td>`
    : `<td class="result fail" data-profile="${escapeHtml(profile)}" title="FAILED under ${escapeHtml(profile)}: see below">✗ FAILED</td>`
}

function profileHeads(profiles: readonly SiteProfile[]): string {
  return profiles.map((p) => `<th class="profile" title="${escapeHtml(p.title)}">${escapeHtml(p.name)}</th>`).join('')
}

function examplesTable(input: FeaturePageInput, s: ScenarioDoc, ex: ExamplesDoc, e: number): string {
  const outcome = (p: SiteProfile, line: number): Outcome | undefined => input.results.get(p.name)?.outcomes.get(`${input.feature.uri}:${line}`)
  const width = ex.header.length + input.profiles.length
  const rows = ex.rows.map((r, i) => {
    const cells = r.values.map((v) => `<td>${escapeHtml(v)}</td>`).join('')
    const results = input.profiles.map((p) => resultCell(p.name, outcome(p, r.line))).join('')
    const failures = input.profiles.flatMap((p) => {
      const f = outcome(p, r.line)?.failure
      return f === undefined ? [] : [renderFailure(p.name, f)]
    })
    const more = failures.length === 0 ? '' : `<tr class="failure-row"><td colspan="${width}">${failures.join('')}</td></tr>`
    return `<tr id="${rowAnchor(s, e, i)}" data-line="${r.line}">${cells}${results}</tr>${more}`
  })
  const title = `${escapeHtml('Examples')}${ex.name === '' ? '' : `: ${escapeHtml(ex.name)}`}`
  return `${comments(ex.comments)}<div class="examples-block" id="${examplesAnchor(s, e)}"><h3>${title}</h3>${tagList(ex.tags)}${markdown(ex.description)}
<div class="scroll"><table class="examples" data-scenario="${escapeHtml(s.anchor)}"><thead><tr>${ex.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}${profileHeads(input.profiles)}</tr></thead><tbody>${rows.join('\n')}</tbody></table></div></div>`
}

function scenarioResults(input: FeaturePageInput, s: ScenarioDoc): string {
  const outcomes = input.profiles.map((p) => ({ p: p.name, o: input.results.get(p.name)?.outcomes.get(`${input.feature.uri}:${s.line}`) }))
  const failures = outcomes.flatMap(({ p, o }) => (o?.failure === undefined ? [] : [renderFailure(p, o.failure)]))
  return `<div class="scroll"><table class="results" data-scenario="${escapeHtml(s.anchor)}"><thead><tr>${profileHeads(input.profiles)}</tr></thead><tbody><tr>${outcomes.map(({ p, o }) => resultCell(p, o)).join('')}</tr></tbody></table></div>${failures.join('')}`
}

function scenarioSection(input: FeaturePageInput, s: ScenarioDoc): string {
  const num = s.number === undefined ? '' : `<a class="num" href="#${s.anchor}">[${s.number}]</a>`
  const title = withPlaceholders(s.name.replace(/^\[\d+\]\s*/, ''))
  const body = s.examples.length === 0 ? `${scenarioResults(input, s)}${checkTables(input, s)}` : s.examples.map((ex, e) => examplesTable(input, s, ex, e)).join('\n')
  return `${comments(s.comments)}<section class="scenario" id="${s.anchor}">
<h2>${num}${title}</h2>${tagList(s.tags)}${s.rule === undefined ? '' : `<p class="meta">Rule: ${escapeHtml(s.rule)}</p>`}${markdown(s.description)}
${stepsList(s.steps)}
${body}
</section>`
}

/** A Background: its description (often a worked example) and its steps. */
function backgroundSection(b: BackgroundDoc, id: string, heading: 'h2' | 'h3'): string {
  return `<section class="scenario background" id="${id}"><${heading}>Background${b.name === '' ? '' : `: ${escapeHtml(b.name)}`}</${heading}>${markdown(b.description)}${b.steps.length === 0 ? '' : stepsList(b.steps)}</section>`
}

/** A Rule's heading before its first scenario: its name, description and Background. */
function ruleSection(rule: RuleDoc, k: number): string {
  return `<section class="rule" id="rule-${k}"><h2>Rule: ${escapeHtml(rule.name)}</h2>${markdown(rule.description)}${rule.background === undefined ? '' : backgroundSection(rule.background, `rule-${k}-background`, 'h3')}</section>`
}

/** The scenarios, each Rule's section before the first scenario under it. */
function scenarioSections(input: FeaturePageInput): string {
  const f = input.feature
  let current: string | undefined
  return f.scenarios
    .map((s) => {
      const k = s.rule === undefined ? -1 : f.rules.findIndex((r) => r.name === s.rule)
      const head = s.rule !== current && k >= 0 ? ruleSection(f.rules[k] as RuleDoc, k + 1) : ''
      current = s.rule
      return `${head}${scenarioSection(input, s)}`
    })
    .join('\n')
}

/** Per profile, how many of the feature's pickles passed and failed. */
export function featureTally(feature: FeatureDoc, r: ProfileResults | undefined): { passed: number; failed: number } {
  const t = { passed: 0, failed: 0 }
  if (r === undefined) return t
  for (const [key, o] of r.outcomes) if (key.startsWith(`${feature.uri}:`)) t[o.status]++
  return t
}

export function renderFeaturePage(input: FeaturePageInput): string {
  const f = input.feature
  const toc = f.scenarios.map((s) => `<li><a href="#${s.anchor}">${withPlaceholders(s.name)}</a></li>`).join('')
  const tallies = input.profiles
    .map((p) => {
      const t = featureTally(f, input.results.get(p.name))
      const cls = t.failed > 0 ? 'fail' : t.passed > 0 ? 'pass' : 'none'
      const text = t.failed > 0 ? `${t.failed} failed, ${t.passed} passed` : t.passed > 0 ? `${t.passed} passed` : '–'
      return `<td class="result ${cls}" data-profile="${escapeHtml(p.name)}">${p.cucumber === undefined ? text : `<a href="${escapeHtml(p.cucumber)}" title="cucumber's report for ${escapeHtml(p.name)}">${text}</a>`}</td>`
    })
    .join('')
  const extra = [
    ...(input.previous === undefined ? [] : [{ href: input.previous.page, text: `← ${input.previous.name.split(' - ')[0] ?? ''}` }]),
    ...(input.next === undefined ? [] : [{ href: input.next.page, text: `${input.next.name.split(' - ')[0] ?? ''} →` }]),
  ]
  const background = f.background === undefined ? '' : backgroundSection(f.background, 'background', 'h2')
  const body = `${comments(f.comments)}<h1>${escapeHtml(f.name)}</h1>
<p class="meta">${escapeHtml(f.uri)} · every Examples row and scenario with its result per behaviour profile, oldest kernel first: ✓ passed, ✗ failed, – not run under that profile</p>
${tagList(f.tags)}${markdown(f.description)}
<div class="scroll"><table class="tally"><thead><tr>${profileHeads(input.profiles)}</tr></thead><tbody><tr>${tallies}</tr></tbody></table></div>
<ol class="toc">${toc}</ol>
${background}
${scenarioSections(input)}
${comments(f.trailing)}`
  return page(`${f.name} - smmu-nesting-tck`, navBar(f.page, extra), body)
}
