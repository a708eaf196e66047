/**
 * The kernel-history page: one row per question a feature declares (`# history: <question> =>
 * <answer>`), one column per behaviour profile in kernel order, each cell the answer the
 * scenarios that ran under that profile proved, linked to the Examples row or scenario. And the
 * "what changed between two profiles" page: for every pair of profiles, the questions whose
 * answers differ, pre-rendered, with a plain script choosing the pair to show.
 */
import { anchors, checkRowAnchor, checksOf } from './feature-page'
import { isProfileName } from '../../model/profiles/names'
import { rowForKernel } from '../../model/profiles/tags'
import { historyClaims, substitute, type FeatureDoc, type HistoryClaim } from './features'
import type { ProfileResults, Status } from './messages'
import { CHANGES, escapeHtml, HISTORY, navBar, page, withPlaceholders, type SiteProfile } from './site'

export interface Answer {
  readonly answer: string
  readonly status: Status
  /** The feature page and anchor of the row or scenario that proved (or failed to prove) it. */
  readonly href: string
}

export interface HistoryRow {
  readonly feature: FeatureDoc
  readonly question: string
  /** Profile -> the distinct answers its executed scenarios gave; absent: not examined. */
  readonly cells: ReadonlyMap<string, readonly Answer[]>
}

/** The placeholders a per-fixture check offers a Scenario's history comment. */
export const CHECK_COLUMNS = ['fixture', 'support', 'expected', 'actual', 'rule'] as const

/**
 * The answer a history comment writes as `by kernel`: the scenario's own by-kernel tables (steps
 * whose data table starts with a `kernel` column) decide it, each profile reading the row that
 * names it (model/profiles/tags.ts, as the steps do); several tables are joined with " / ".
 */
export const BY_KERNEL = 'by kernel'

function byKernelAnswer(claim: HistoryClaim, profile: string): string {
  if (!isProfileName(profile)) throw new Error(`${claim.key}: "${profile}" is not a behaviour profile, so no by-kernel row names it`)
  const tables = claim.scenario.steps.flatMap((st) => (st.dataTable !== undefined && st.dataTable[0]?.[0] === 'kernel' ? [st.dataTable] : []))
  if (tables.length === 0) throw new Error(`${claim.key}: the history answer is "${BY_KERNEL}" but the scenario has no by-kernel table`)
  const fill = (text: string): string => (claim.row === undefined ? text : substitute(text, claim.row.header, claim.row.values))
  return tables
    .map((table) => {
      const [head = [], ...body] = table
      const rows = body.map((cells) => Object.fromEntries(head.map((h, i) => [h, cells[i] ?? ''])))
      const row = rowForKernel(rows, profile)
      return head
        .filter((h) => h !== 'kernel')
        .map((h) => fill(row[h] ?? ''))
        .join(', ')
    })
    .join(' / ')
}

export function historyRows(features: readonly FeatureDoc[], profiles: readonly SiteProfile[], results: ReadonlyMap<string, ProfileResults>): HistoryRow[] {
  const rows: HistoryRow[] = []
  for (const feature of features) {
    const where = anchors(feature)
    const byQuestion = new Map<string, Map<string, Answer[]>>()
    const add = (question: string, profile: string, answer: Answer): void => {
      let cells = byQuestion.get(question)
      if (cells === undefined) byQuestion.set(question, (cells = new Map()))
      const list = cells.get(profile) ?? []
      if (!list.some((a) => a.answer === answer.answer && a.status === answer.status)) list.push(answer)
      cells.set(profile, list)
    }
    for (const claim of historyClaims(feature)) {
      const perFixture = claim.scenario.examples.length === 0 && /<[^<>]+>/.test(`${claim.question}${claim.answer}`)
      for (const p of profiles) {
        const r = results.get(p.name)
        const o = r?.outcomes.get(claim.key)
        if (o === undefined) continue
        if (!perFixture) {
          const answer = claim.decl.answer === BY_KERNEL ? byKernelAnswer(claim, p.name) : claim.answer
          add(claim.question, p.name, { answer, status: o.status, href: `${feature.page}#${where.get(claim.key) ?? claim.scenario.anchor}` })
          continue
        }
        // A Scenario whose steps attach per-fixture checks: one question per fixture the rule applies to.
        for (const check of checksOf(claim.key, claim.scenario, claim.decl.step, r)) {
          const step = claim.scenario.steps.findIndex((st) => st.line === check.stepLine)
          for (const v of check.results) {
            // "not applicable" is an answer too (no driver, no context banks): the model's, not a rule's
            const values = [v.fixture, v.support, v.expected, v.actual, check.rule]
            const href = `${feature.page}#${checkRowAnchor(claim.scenario.anchor, Math.max(step, 0), v.fixture)}`
            add(substitute(claim.decl.question, CHECK_COLUMNS, values), p.name, { answer: substitute(claim.decl.answer, CHECK_COLUMNS, values), status: v.verdict === 'failed' ? 'failed' : 'passed', href })
          }
        }
      }
    }
    for (const [question, cells] of byQuestion) rows.push({ feature, question, cells })
  }
  return rows
}

/** What a cell says, for comparing two profiles: the answers, with failures marked. */
export function cellText(answers: readonly Answer[] | undefined): string | undefined {
  if (answers === undefined || answers.length === 0) return undefined
  return answers.map((a) => (a.status === 'passed' ? a.answer : `${a.answer} (FAILED)`)).join(' | ')
}

function cell(profile: string, answers: readonly Answer[] | undefined, changed: boolean): string {
  const attrs = `data-profile="${escapeHtml(profile)}"`
  if (answers === undefined || answers.length === 0) return `<td class="result none" ${attrs} title="no scenario answering this ran under ${escapeHtml(profile)}">–</td>`
  const failed = answers.some((a) => a.status === 'failed')
  const links = answers.map((a) => `<a href="${escapeHtml(a.href)}"${a.status === 'failed' ? ' title="this scenario FAILED: the answer is not proved"' : ''}>${a.status === 'failed' ? '✗ ' : ''}${escapeHtml(a.answer)}</a>`)
  return `<td class="result ${failed ? 'fail' : 'pass'}${changed ? ' changed' : ''}" ${attrs}>${links.join('<br>')}</td>`
}

function profileHeads(profiles: readonly SiteProfile[]): string {
  return profiles.map((p) => `<th class="profile" title="${escapeHtml(p.title)}">${escapeHtml(p.name)}</th>`).join('')
}

export function renderHistoryTable(rows: readonly HistoryRow[], profiles: readonly SiteProfile[]): string {
  const body: string[] = []
  let current: FeatureDoc | undefined
  for (const row of rows) {
    if (row.feature !== current) {
      current = row.feature
      body.push(`<tr class="group" id="h-${escapeHtml(row.feature.page.replace(/\.html$/, ''))}"><th colspan="${profiles.length + 1}"><a href="${escapeHtml(row.feature.page)}">${escapeHtml(row.feature.name)}</a></th></tr>`)
    }
    let before: string | undefined
    let changes = false
    const cells = profiles.map((p) => {
      const answers = row.cells.get(p.name)
      const text = cellText(answers)
      const changed = text !== undefined && before !== undefined && text !== before
      if (text !== undefined) before = text
      changes ||= changed
      return cell(p.name, answers, changed)
    })
    body.push(`<tr${changes ? ' class="changes"' : ''}><th class="question">${withPlaceholders(row.question)}</th>${cells.join('')}</tr>`)
  }
  return `<div class="scroll"><table class="history" id="history"><thead><tr><th>question</th>${profileHeads(profiles)}</tr></thead><tbody>${body.join('\n')}</tbody></table></div>`
}

export const DECLARING = `<h2 id="declaring">How a feature declares a question</h2>
<div class="prose"><p>A scenario answers a question when it carries a comment</p>
<pre class="doc"># history: &lt;question&gt; =&gt; &lt;answer&gt;</pre>
<p>anywhere inside it (above its tags, between its steps, above an Examples table). In a Scenario Outline the
&lt;placeholders&gt; of the question and the answer take each Examples row's values, so one comment gives one
row per distinct question and one answer per row; the profiles a row runs under (its tags) decide the columns it
fills. A plain Scenario gives its answer as written. Several scenarios may answer the same question (the same
text after substitution) for different profiles. A cell shows the answer only when a scenario making that claim
ran under that profile: green when it passed, red (✗) when it failed, – when none ran.</p>
<p>A plain Scenario whose step checks every fixture in the catalogue (features/fixtures) offers &lt;fixture&gt;,
&lt;support&gt;, &lt;expected&gt;, &lt;actual&gt; and &lt;rule&gt; of each fixture's verdict instead: the comment above that step
gives one question per fixture (Fix1 [5]: <code># history: a nested request on &lt;fixture&gt; (&lt;support&gt;) =&gt; &lt;actual&gt;</code>).</p>
<p>A scenario that gives one question's answer for every kernel in by-kernel tables (a data table whose first
column is <code>kernel</code>, as in Vfio3 [8]) writes the answer as <code>by kernel</code>: each profile's cell is the
row of each such table that names it, several tables joined with " / ".</p>
<p>Example, from Nest1 [1]:</p>
<pre class="doc">  Scenario Outline: [1] A &lt;requested&gt; request on &lt;supported&gt; hardware gives stage &lt;stage&gt;
    # history: a &lt;requested&gt; request on &lt;fixture&gt; (&lt;supported&gt;) =&gt; &lt;stage&gt;
    Given an SMMU from fixture "&lt;fixture&gt;"</pre></div>`

/** The checkbox that keeps only the rows whose answer changes somewhere (with script; without, every row shows). */
const HISTORY_SCRIPT = `
var only = document.getElementById('only-changes'), table = document.getElementById('history');
only.hidden = false;
only.querySelector('input').addEventListener('change', function (e) { table.classList.toggle('only-changes', e.target.checked); });
`

export function renderHistoryPage(rows: readonly HistoryRow[], profiles: readonly SiteProfile[], generated: string): string {
  const cells = rows.reduce((n, r) => n + r.cells.size, 0)
  const groups: { id: string; name: string; n: number }[] = []
  for (const r of rows) {
    const id = `h-${r.feature.page.replace(/\.html$/, '')}`
    const last = groups[groups.length - 1]
    if (last?.id === id) last.n++
    else groups.push({ id, name: r.feature.name, n: 1 })
  }
  const toc = groups.map((g) => `<li><a href="#${escapeHtml(g.id)}">${escapeHtml(g.name)}</a> (${g.n})</li>`).join('')
  const legend = profiles.map((p) => `<tr><th>${escapeHtml(p.name)}</th><td>${escapeHtml(p.title)}</td></tr>`).join('')
  const body = `<h1>Kernel history</h1>
<p class="meta">Generated ${escapeHtml(generated)} · ${rows.length} questions, ${cells} answered cells, ${profiles.length} behaviour profiles in kernel order</p>
<div class="prose"><p>Each row is a question the features answer; each column a behaviour profile (a kernel), oldest first. A cell is
the answer the executed scenarios proved under that profile and links to the Examples row or scenario that proved
it. An orange bar marks an answer that differs from the one before it. <a href="${CHANGES}">What changed between two
profiles</a> lists only the differences. <a href="#declaring">How a feature declares a question</a>.</p></div>
<details><summary>The profiles</summary><table>${legend}</table></details>
<ul class="toc">${toc}</ul>
<form class="pick" id="only-changes" hidden><label><input type="checkbox"> only the questions whose answer changes between kernels</label></form>
${renderHistoryTable(rows, profiles)}
${DECLARING}`
  return page('Kernel history - smmu-nesting-tck', navBar(HISTORY), body, HISTORY_SCRIPT)
}

export function pairId(a: string, b: string): string {
  return `diff-${a}--${b}`
}

function diffSection(rows: readonly HistoryRow[], a: SiteProfile, b: SiteProfile): string {
  const changed: string[] = []
  const onlyOne: string[] = []
  for (const row of rows) {
    const ta = cellText(row.cells.get(a.name))
    const tb = cellText(row.cells.get(b.name))
    if (ta === tb) continue
    const line = `<tr><td><a href="${escapeHtml(row.feature.page)}">${escapeHtml(row.feature.name.split(' - ')[0] ?? '')}</a></td><th class="question">${withPlaceholders(row.question)}</th>${cell(a.name, row.cells.get(a.name), false)}${cell(b.name, row.cells.get(b.name), false)}</tr>`
    if (ta !== undefined && tb !== undefined) changed.push(line)
    else onlyOne.push(line)
  }
  const head = `<thead><tr><th>feature</th><th>question</th>${profileHeads([a, b])}</tr></thead>`
  const table = (lines: string[]): string => `<div class="scroll"><table class="diff">${head}<tbody>${lines.join('\n')}</tbody></table></div>`
  return `<section class="diff" id="${escapeHtml(pairId(a.name, b.name))}" data-from="${escapeHtml(a.name)}" data-to="${escapeHtml(b.name)}">
<h2>${escapeHtml(a.name)} → ${escapeHtml(b.name)}: ${changed.length} answers changed</h2>
<p class="meta">${escapeHtml(a.title)} → ${escapeHtml(b.title)}</p>
${changed.length === 0 ? '<p>No question examined under both has a different answer.</p>' : table(changed)}
${onlyOne.length === 0 ? '' : `<details><summary>${onlyOne.length} questions examined under only one of the two</summary>${table(onlyOne)}</details>`}
</section>`
}

/** Shows the section of the chosen pair (from the selects or the address's #diff-a--b); without script every section shows. */
const CHANGES_SCRIPT = `
document.documentElement.classList.add('js');
var from = document.getElementById('from'), to = document.getElementById('to'), same = document.getElementById('same');
function show(remember) {
  var ids = ['diff-' + from.value + '--' + to.value, 'diff-' + to.value + '--' + from.value];
  var found = null;
  document.querySelectorAll('section.diff').forEach(function (s) {
    var on = ids.indexOf(s.id) >= 0;
    s.classList.toggle('shown', on);
    if (on) found = s.id;
  });
  same.hidden = found !== null;
  if (remember && found !== null) history.replaceState(null, '', '#' + found);
}
function fromHash() {
  var m = /^#diff-(.+)--(.+)$/.exec(location.hash);
  if (m) { from.value = m[1]; to.value = m[2]; }
  show(false);
}
from.addEventListener('change', function () { show(true); });
to.addEventListener('change', function () { show(true); });
window.addEventListener('hashchange', fromHash);
fromHash();
`

export function renderChangesPage(rows: readonly HistoryRow[], profiles: readonly SiteProfile[]): string {
  const options = (selected: string): string => profiles.map((p) => `<option value="${escapeHtml(p.name)}"${p.name === selected ? ' selected' : ''}>${escapeHtml(p.name)}</option>`).join('')
  const first = profiles[0]?.name ?? ''
  const last = profiles[profiles.length - 1]?.name ?? ''
  const sections: string[] = []
  for (let i = 0; i < profiles.length; i++) {
    for (let j = i + 1; j < profiles.length; j++) sections.push(diffSection(rows, profiles[i] as SiteProfile, profiles[j] as SiteProfile))
  }
  const adjacent = profiles.slice(1).map((p, i) => {
    const a = profiles[i] as SiteProfile
    return `<a href="#${escapeHtml(pairId(a.name, p.name))}">${escapeHtml(a.name)} → ${escapeHtml(p.name)}</a>`
  })
  const body = `<h1>What changed between two profiles</h1>
<div class="prose"><p>The <a href="${HISTORY}">kernel-history</a> questions whose answers differ between two behaviour profiles. Each answer links
to the scenario that proved it.</p></div>
<form class="pick" onsubmit="return false"><label>from<select id="from">${options(first)}</select></label><label>to<select id="to">${options(last)}</select></label></form>
<p id="same" hidden>Pick two different profiles.</p>
<p class="meta">Next to each other: ${adjacent.join(' · ')}</p>
${sections.join('\n')}`
  return page('What changed - smmu-nesting-tck', navBar(CHANGES), body, CHANGES_SCRIPT)
}
