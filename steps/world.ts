/**
 * The World: per-scenario state, one ProfileRun for each behaviour profile the scenario runs under.
 *
 * A scenario names the profiles it holds for with tags (@<profile>, @since-<profile>,
 * @until-<profile>, on the feature, the scenario or an Examples table; model/profiles/tags.ts); a
 * scenario with none holds for every profile. A per-profile cucumber run (`-p merged`) keeps one; the default run keeps every profile the
 * scenario holds for and runs each step once per profile, naming the profile in any failure.
 */
import { Before, BeforeStep, setWorldConstructor, World, type IWorldOptions } from '@cucumber/cucumber'
import type { GherkinDocument, Pickle, PickleStep } from '@cucumber/messages'
import {
  ContainerModel,
  createModelBackend,
  createSystem,
  getProfile,
  loadFixture,
  ModelBackend,
  PROFILE_NAMES,
  profilesOfTags,
  type DmaResult,
  type GuestMemory,
  type IommuDomain,
  type Profile,
  type ProfileName,
  type FeatureSet,
  type Result,
  type SmmuInstance,
  type System,
  type VfioBackend,
  type VfioContainer,
  type VfioGroup,
  type VfioGroupSpec,
} from '../model'
import { ExpectationFailed } from './expect'

export interface TckParameters {
  /** Restrict the run to these behaviour profiles (set by the per-profile cucumber profiles). */
  readonly profiles?: readonly ProfileName[]
  /** Run the catalogue features (features/fixtures) on another folder of fixtures. */
  readonly fixturesDir?: string
}

/** One behaviour profile's view of the scenario. */
export class ProfileRun {
  readonly domains = new Map<string, IommuDomain>()
  /** Result of the last operation a When-step performed. */
  last?: Result<unknown>
  private systemOf?: System

  constructor(readonly profile: Profile) {}

  /** The machine for SMMU/iommu-level steps (VFIO steps build their own through the backend). */
  get system(): System {
    this.systemOf ??= createSystem(this.profile)
    return this.systemOf
  }

  addSmmu(name: string, fixture: string): void {
    const added = this.system.addSmmu(name, loadFixture(fixture))
    if (!added.ok) throw new Error(`SMMU "${name}" from fixture "${fixture}": ${added.error.errno}: ${added.error.message}`)
  }

  /** The scenario's only SMMU. */
  theSmmu(): SmmuInstance {
    const all = this.system.smmus()
    if (all.length !== 1) throw new Error(`the scenario has ${all.length} SMMUs; name the one meant`)
    return all[0] as SmmuInstance
  }

  domain(name: string): IommuDomain {
    const d = this.domains.get(name)
    if (d === undefined) throw new Error(name === '' ? 'the scenario has no domain yet' : `no domain "${name}"`)
    return d
  }

  // ---- VFIO: the machine is described first, the backend is built on the first VFIO call ----

  /** Fixtures of the VFIO machine, with the groups the scenario added. */
  private readonly machine: FeatureSet[] = []
  private backendOf?: VfioBackend
  private containerOf?: VfioContainer
  private readonly openGroups = new Map<number, VfioGroup>()

  /** Add an IOMMU from `fixture` to the VFIO machine, with extra groups on it. */
  addMachineIommu(fixture: string, groups: readonly VfioGroupSpec[] = []): void {
    if (this.backendOf !== undefined) throw new Error('the machine is already running: describe it before any VFIO call')
    const hw = loadFixture(fixture)
    this.machine.push({ ...hw, vfio: { ...hw.vfio, groups: [...hw.vfio.groups, ...groups] } })
  }

  /** Add a group to the machine's IOMMU built from `fixture` (which must be there already). */
  addMachineGroup(fixture: string, group: VfioGroupSpec): void {
    this.editMachine(fixture, (hw) => ({ ...hw, vfio: { ...hw.vfio, groups: [...hw.vfio.groups, group] } }))
  }

  /** Change the machine description before it boots (reserved regions, module parameters). */
  editMachine(fixture: string, edit: (hw: FeatureSet) => FeatureSet): void {
    const i = this.machine.findIndex((hw) => hw.name === fixture)
    const hw = this.machine[i]
    if (hw === undefined || this.backendOf !== undefined) throw new Error(`no IOMMU from fixture "${fixture}" in the machine yet`)
    this.machine[i] = edit(hw)
  }

  editMachineAll(edit: (hw: FeatureSet) => FeatureSet): void {
    for (const hw of [...this.machine]) this.editMachine(hw.name, edit)
  }

  backend(): VfioBackend {
    this.backendOf ??= createModelBackend({ profile: this.profile, fixtures: this.machine })
    return this.backendOf
  }

  /** The container's type1 instance: model-only introspection (a real kernel cannot show it). */
  modelType1() {
    const c = this.container()
    if (!(c instanceof ContainerModel)) throw new Error('this step inspects the model; the backend is not the model')
    return c.iommu
  }

  /** The uapi value of `name` in this profile's kernel. */
  extension(name: string): number {
    const v = this.backend().extension(name)
    if (v === undefined) throw new Error(`${name} does not exist in ${this.profile.name}'s uapi`)
    return v
  }

  container(): VfioContainer {
    if (this.containerOf === undefined) {
      const c = this.backend().openContainer()
      if (!c.ok) throw new Error(`opening the container: ${c.error.errno}`)
      this.containerOf = c.value
    }
    return this.containerOf
  }

  group(id: number): VfioGroup {
    let g = this.openGroups.get(id)
    if (g === undefined) {
      const opened = this.backend().openGroup(id)
      if (!opened.ok) throw new Error(`opening group ${id}: ${opened.error.errno}: ${opened.error.message}`)
      g = opened.value
      this.openGroups.set(id, g)
    }
    return g
  }

  // ---- translation (steps/translation.steps.ts) ----

  /** The last DMA a translation step performed. */
  lastDma?: DmaResult

  /**
   * The machine translation steps act on: the VFIO machine when the scenario described one (it
   * boots on first use), the SMMU-level system otherwise.
   */
  translationSystem(): System {
    if (this.machine.length === 0 && this.backendOf === undefined) return this.system
    const backend = this.backend()
    if (!(backend instanceof ModelBackend)) throw new Error('translation steps inspect the model; the backend is not the model')
    return backend.system
  }

  /** The guest memory behind stream `sid`'s NESTED domain (a scenario naming another stream is a bug). */
  guestMemory(sid: number): GuestMemory {
    const g = this.translationSmmu().guestMemory(sid)
    if (!g.ok) throw new Error(`guest memory of stream 0x${sid.toString(16)}: ${g.error.errno}: ${g.error.message}`)
    return g.value
  }

  /** The one SMMU of the translation machine. */
  translationSmmu(): SmmuInstance {
    const all = this.translationSystem().smmus()
    if (all.length !== 1) throw new Error(`the scenario has ${all.length} SMMUs; translation steps need exactly one`)
    return all[0] as SmmuInstance
  }
}

export class TckWorld extends World<TckParameters> {
  runs: ProfileRun[] = []

  constructor(options: IWorldOptions<TckParameters>) {
    super(options)
  }

  /** The scenario and step running now (set before each step), for failure messages. */
  where?: StepPlace

  /**
   * Run `fn` under every profile. Failures are collected and reported per profile, each with the
   * profile, scenario and step, and without a stack trace (a TypeError or the like, a bug in the
   * TCK, keeps its own).
   */
  each(fn: (run: ProfileRun) => void): void {
    const failures: string[] = []
    for (const run of this.runs) {
      try {
        fn(run)
      } catch (e) {
        failures.push(describeFailure(e, run.profile.name, this.where))
      }
    }
    if (failures.length > 0) throw new StepFailed(failures.join('\n'))
  }
}

/** Where a step is: what failure messages name. */
export interface StepPlace {
  readonly scenario: string
  /** `features/x.feature:41`: the scenario's line, or its Examples row's (what cucumber-js runs). */
  readonly location: string
  /** With its keyword: `Then the domain should have stage S2`. */
  readonly step: string
}

/** A step that failed under one or more profiles: the message says it all, no stack trace. */
export class StepFailed extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StepFailed'
    this.stack = message
  }
}

function describeFailure(e: unknown, profile: string, where: StepPlace | undefined): string {
  const message = e instanceof Error ? e.message : String(e)
  const place = where === undefined ? `profile ${profile}` : `profile ${profile}, scenario "${where.scenario}" (${where.location}), step "${where.step}"`
  const bug = e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError
  const stack = bug && e.stack !== undefined ? `\n${e.stack.split('\n').slice(1).join('\n')}` : ''
  return e instanceof ExpectationFailed || !bug ? `${message}\n  ${place}` : `${message}\n  ${place}${stack}`
}

/** The step's keyword and text, and the line of the scenario or Examples row, from the Gherkin. */
export function stepPlace(doc: GherkinDocument, pickle: Pickle, step: PickleStep): StepPlace {
  const { lines, keywords } = documentIndex(doc)
  const line = [...pickle.astNodeIds].reverse().map((id) => lines.get(id)).find((l) => l !== undefined)
  const keyword = step.astNodeIds.map((id) => keywords.get(id)).find((k) => k !== undefined) ?? ''
  return { scenario: pickle.name, location: line === undefined ? pickle.uri : `${pickle.uri}:${line}`, step: `${keyword}${step.text}`.trim() }
}

/** A Gherkin document's scenario and Examples-row lines and step keywords, by AST node id. */
interface DocumentIndex {
  readonly lines: ReadonlyMap<string, number>
  readonly keywords: ReadonlyMap<string, string>
}

/** Built once per document (cucumber passes the same object to every step of a feature file). */
const indexes = new WeakMap<GherkinDocument, DocumentIndex>()

function documentIndex(doc: GherkinDocument): DocumentIndex {
  const known = indexes.get(doc)
  if (known !== undefined) return known
  const lines = new Map<string, number>()
  const keywords = new Map<string, string>()
  const visit = (children: readonly { background?: { steps: readonly { id: string; keyword: string }[] }; scenario?: ScenarioNode; rule?: { children: readonly unknown[] } }[]): void => {
    for (const c of children) {
      for (const st of [...(c.background?.steps ?? []), ...(c.scenario?.steps ?? [])]) keywords.set(st.id, st.keyword)
      if (c.scenario !== undefined) {
        lines.set(c.scenario.id, c.scenario.location.line)
        for (const ex of c.scenario.examples) for (const row of ex.tableBody) lines.set(row.id, row.location.line)
      }
      if (c.rule !== undefined) visit(c.rule.children as Parameters<typeof visit>[0])
    }
  }
  visit((doc.feature?.children ?? []) as Parameters<typeof visit>[0])
  const index = { lines, keywords }
  indexes.set(doc, index)
  return index
}

interface ScenarioNode {
  readonly id: string
  readonly location: { readonly line: number }
  readonly steps: readonly { id: string; keyword: string }[]
  readonly examples: readonly { tableBody: readonly { id: string; location: { line: number } }[] }[]
}

setWorldConstructor(TckWorld)

// A fixture in the catalogue that does not load fails Fix1 [1] ("every fixture in the catalogue
// should load") under every profile, and the scenarios that use it; the others run.

Before(function (this: TckWorld, { pickle }) {
  const tagged = profilesOfTags(pickle.tags.map((t) => t.name))
  if ('error' in tagged) throw new Error(`scenario "${pickle.name}": ${tagged.error}`)
  const allowed = this.parameters.profiles
  const selected = tagged.profiles.filter((p) => allowed === undefined || allowed.includes(p))
  if (selected.length === 0) {
    throw new Error(
      `scenario "${pickle.name}" holds for no behaviour profile${allowed === undefined ? '' : ` of ${allowed.join(', ')}`}: its tags ${pickle.tags.map((t) => t.name).join(' ')} select ${tagged.profiles.length === 0 ? 'none (an @until- before its @since-?)' : tagged.profiles.join(', ')} (profiles, oldest first: ${PROFILE_NAMES.join(', ')})`,
    )
  }
  this.runs = selected.map((p) => new ProfileRun(getProfile(p)))
})

BeforeStep(function (this: TckWorld, { gherkinDocument, pickle, pickleStep }) {
  this.where = stepPlace(gherkinDocument, pickle, pickleStep)
})
