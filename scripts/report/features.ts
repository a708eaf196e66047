/**
 * The features as documents: Gherkin ASTs (cucumber's gherkinDocument messages, or
 * @cucumber/gherkin on a file) turned into what the feature pages and the kernel-history page show.
 *
 * Scenarios are numbered `[n]` in their names; n is the stable anchor (`#s<n>`). Comments (`# ...`)
 * stay where they were written: each belongs to the step, Examples table or scenario that follows
 * it. A comment of the form
 *
 *     # history: <question> => <answer>
 *
 * inside a scenario declares that the scenario answers a kernel-history question; in a Scenario
 * Outline, <placeholders> in either side take each Examples row's values (see docs/report.md,
 * "Kernel history").
 */
import * as fs from 'node:fs'
import { generateMessages } from '@cucumber/gherkin'
import { IdGenerator, SourceMediaType, type Envelope, type GherkinDocument, type Scenario, type Step, type TableRow } from '@cucumber/messages'

export interface Comment {
  readonly line: number
  /** The comment's text after '#', trimmed. */
  readonly text: string
}

export interface HistoryDecl {
  readonly question: string
  readonly answer: string
  readonly line: number
  /** The step the comment stands above (its index in the scenario's steps), if it does. */
  readonly step?: number
}

export interface StepDoc {
  readonly keyword: string
  readonly text: string
  readonly line: number
  readonly comments: readonly Comment[]
  readonly docString?: string
  readonly dataTable?: readonly (readonly string[])[]
}

export interface RowDoc {
  /** Where the row is: results of the pickle made from it are keyed by uri:line. */
  readonly line: number
  readonly values: readonly string[]
}

export interface ExamplesDoc {
  readonly name: string
  readonly description: string
  readonly tags: readonly string[]
  readonly comments: readonly Comment[]
  readonly header: readonly string[]
  readonly rows: readonly RowDoc[]
  readonly line: number
}

export interface ScenarioDoc {
  /** The [n] of the name; undefined when the name has none. */
  readonly number?: number
  /** The anchor: s<n>, or line-<line> for a scenario without a number. */
  readonly anchor: string
  readonly keyword: string
  readonly name: string
  readonly description: string
  readonly tags: readonly string[]
  readonly line: number
  /** Comments above the scenario (after the previous one ended). */
  readonly comments: readonly Comment[]
  readonly steps: readonly StepDoc[]
  readonly examples: readonly ExamplesDoc[]
  readonly history: readonly HistoryDecl[]
  /** The rule the scenario is under, if any. */
  readonly rule?: string
}

export interface BackgroundDoc {
  readonly name: string
  readonly description: string
  readonly steps: readonly StepDoc[]
}

export interface RuleDoc {
  readonly name: string
  readonly description: string
  readonly background?: BackgroundDoc
}

export interface FeatureDoc {
  readonly uri: string
  /** The page: features/nesting/nest1-stage-selection.feature -> nest1-stage-selection.html */
  readonly page: string
  /** The folder under features/ (nesting, vfio, ...). */
  readonly area: string
  readonly name: string
  readonly description: string
  readonly tags: readonly string[]
  readonly comments: readonly Comment[]
  /** The feature's own Background (its description often holds a worked example). */
  readonly background?: BackgroundDoc
  /** The Rules, in file order, each with its description and Background. */
  readonly rules: readonly RuleDoc[]
  readonly scenarios: readonly ScenarioDoc[]
  /** Comments after the last scenario. */
  readonly trailing: readonly Comment[]
}

const NUMBER = /^\[(\d+)\]/
export const HISTORY_COMMENT = /^history:\s*(.+?)\s*=>\s*(.+?)\s*$/

export function pageOf(uri: string): string {
  const base = uri.split(/[\\/]/).pop() ?? uri
  return `${base.replace(/\.feature$/, '')}.html`
}

export function areaOfUri(uri: string): string {
  const parts = uri.split(/[\\/]/)
  const i = parts.indexOf('features')
  return i >= 0 && i + 2 < parts.length ? (parts[i + 1] as string) : 'other'
}

/** Remove the indentation common to every non-blank line (Gherkin keeps it in descriptions). */
export function dedent(text: string): string {
  const lines = text.split('\n')
  const indents = lines.filter((l) => l.trim() !== '').map((l) => (/^\s*/.exec(l) as RegExpExecArray)[0].length)
  const cut = indents.length === 0 ? 0 : Math.min(...indents)
  return lines.map((l) => l.slice(cut)).join('\n').trim()
}

/** Placeholders of an outline: `<name>` -> the row's value for that column. */
export function substitute(template: string, header: readonly string[], values: readonly string[]): string {
  return template.replace(/<([^<>]+)>/g, (whole, name: string) => {
    const i = header.indexOf(name)
    return i < 0 ? whole : (values[i] as string)
  })
}

/**
 * Comments are handed out in line order to the first element starting after them: a cursor
 * walks the AST in document order and takes every comment above the element it reaches.
 */
class Comments {
  private i = 0
  constructor(private readonly all: readonly Comment[]) {}
  /** Comments above `line` not handed out yet. */
  before(line: number): Comment[] {
    const out: Comment[] = []
    while (this.i < this.all.length && (this.all[this.i] as Comment).line < line) out.push(this.all[this.i++] as Comment)
    return out
  }
  rest(): Comment[] {
    return this.before(Number.POSITIVE_INFINITY)
  }
}

function firstLine(tags: readonly { location: { line: number } }[], line: number): number {
  return Math.min(line, ...tags.map((t) => t.location.line))
}

function stepDoc(step: Step, comments: Comments): StepDoc {
  return {
    keyword: step.keyword.trim(),
    text: step.text,
    line: step.location.line,
    comments: comments.before(step.location.line),
    ...(step.docString === undefined ? {} : { docString: step.docString.content }),
    ...(step.dataTable === undefined ? {} : { dataTable: step.dataTable.rows.map((r: TableRow) => r.cells.map((c) => c.value)) }),
  }
}

function scenarioDoc(s: Scenario, comments: Comments, rule: string | undefined): ScenarioDoc {
  const above = comments.before(firstLine(s.tags, s.location.line))
  const steps = s.steps.map((st) => stepDoc(st, comments))
  const examples = s.examples.map((ex): ExamplesDoc => {
    const cs = comments.before(firstLine(ex.tags, ex.location.line))
    return {
      name: ex.name,
      description: dedent(ex.description),
      tags: ex.tags.map((t) => t.name),
      comments: cs,
      header: ex.tableHeader?.cells.map((c) => c.value) ?? [],
      rows: ex.tableBody.map((r) => ({ line: r.location.line, values: r.cells.map((c) => c.value) })),
      line: ex.location.line,
    }
  })
  const own: { c: Comment; step?: number }[] = [
    ...above.map((c) => ({ c })),
    ...steps.flatMap((st, step) => st.comments.map((c) => ({ c, step }))),
    ...examples.flatMap((ex) => ex.comments.map((c) => ({ c }))),
  ]
  const history = own.flatMap(({ c, step }): HistoryDecl[] => {
    const m = HISTORY_COMMENT.exec(c.text)
    return m === null ? [] : [{ question: m[1] as string, answer: m[2] as string, line: c.line, ...(step === undefined ? {} : { step }) }]
  })
  const n = NUMBER.exec(s.name)
  const number = n === null ? undefined : Number(n[1])
  return {
    ...(number === undefined ? {} : { number }),
    anchor: number === undefined ? `line-${s.location.line}` : `s${number}`,
    keyword: s.keyword,
    name: s.name,
    description: dedent(s.description),
    tags: s.tags.map((t) => t.name),
    line: s.location.line,
    comments: above,
    steps,
    examples,
    history,
    ...(rule === undefined ? {} : { rule }),
  }
}

export function featureDoc(doc: GherkinDocument): FeatureDoc | undefined {
  const f = doc.feature
  if (f === undefined) return undefined
  const uri = doc.uri ?? 'unknown.feature'
  const comments = new Comments(doc.comments.map((c) => ({ line: c.location.line, text: c.text.trim().replace(/^#\s?/, '').trim() })))
  const head = comments.before(f.location.line)
  let background: BackgroundDoc | undefined
  const rules: RuleDoc[] = []
  const scenarios: ScenarioDoc[] = []
  const visit = (children: typeof f.children, rule: { name: string; description: string } | undefined): void => {
    let ruleBackground: BackgroundDoc | undefined
    for (const child of children) {
      if (child.background !== undefined) {
        const b = child.background
        const doc = { name: b.name, description: dedent(b.description), steps: b.steps.map((st) => stepDoc(st, comments)) }
        if (rule === undefined) background = doc
        else ruleBackground = doc
      }
      if (child.scenario !== undefined) scenarios.push(scenarioDoc(child.scenario, comments, rule?.name))
      if (child.rule !== undefined) visit(child.rule.children as typeof f.children, { name: child.rule.name, description: dedent(child.rule.description) })
    }
    if (rule !== undefined) rules.push({ ...rule, ...(ruleBackground === undefined ? {} : { background: ruleBackground }) })
  }
  visit(f.children, undefined)
  const trailing = comments.rest()
  return {
    uri,
    page: pageOf(uri),
    area: areaOfUri(uri),
    name: f.name,
    description: dedent(f.description),
    tags: f.tags.map((t) => t.name),
    comments: head,
    ...(background === undefined ? {} : { background }),
    rules,
    scenarios,
    trailing,
  }
}

/** The features of a run, from its gherkinDocument messages, in file order. */
export function featuresFromEnvelopes(envelopes: readonly Envelope[]): FeatureDoc[] {
  const docs = envelopes.flatMap((e) => (e.gherkinDocument === undefined ? [] : [featureDoc(e.gherkinDocument)]))
  return docs.filter((d): d is FeatureDoc => d !== undefined).sort((a, b) => a.uri.localeCompare(b.uri))
}

/** Parse Gherkin text (tests, and features not in a run). */
export function parseFeature(text: string, uri: string): { feature: FeatureDoc | undefined; envelopes: readonly Envelope[] } {
  const envelopes = generateMessages(text, uri, SourceMediaType.TEXT_X_CUCUMBER_GHERKIN_PLAIN, {
    includeGherkinDocument: true,
    includePickles: true,
    includeSource: false,
    newId: IdGenerator.incrementing(),
  })
  const doc = envelopes.find((e) => e.gherkinDocument !== undefined)?.gherkinDocument
  return { feature: doc === undefined ? undefined : featureDoc(doc), envelopes }
}

export function parseFeatureFile(file: string): FeatureDoc | undefined {
  return parseFeature(fs.readFileSync(file, 'utf8'), file).feature
}

/** One history answer: a question and answer with the row's values put in, and where it was proved. */
export interface HistoryClaim {
  readonly decl: HistoryDecl
  readonly question: string
  readonly answer: string
  /** The pickle it was proved by: uri:line of the Examples row, or of the scenario. */
  readonly key: string
  readonly scenario: ScenarioDoc
  /** The Examples row the claim was made from (header and values), for texts still to fill in. */
  readonly row?: { readonly header: readonly string[]; readonly values: readonly string[] }
}

/**
 * Every history claim of a feature: per declaration, one per Examples row (or one for a Scenario;
 * history.ts expands a Scenario's claim per fixture when the scenario attached per-fixture checks).
 */
export function historyClaims(feature: FeatureDoc): HistoryClaim[] {
  return feature.scenarios.flatMap((s) =>
    s.history.flatMap((h): HistoryClaim[] => {
      if (s.examples.length === 0) return [{ decl: h, question: h.question, answer: h.answer, key: `${feature.uri}:${s.line}`, scenario: s }]
      return s.examples.flatMap((ex) =>
        ex.rows.map((r) => ({
          decl: h,
          question: substitute(h.question, ex.header, r.values),
          answer: substitute(h.answer, ex.header, r.values),
          key: `${feature.uri}:${r.line}`,
          scenario: s,
          row: { header: ex.header, values: r.values },
        })),
      )
    }),
  )
}
