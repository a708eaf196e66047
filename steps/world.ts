/**
 * The World: per-scenario state, one ProfileRun for each behaviour profile the scenario runs under.
 *
 * A scenario names the profiles it holds for with tags (@rfc-v2 @enforcing @merged @linux-6.1, on
 * the feature, the scenario or an Examples table). A per-profile cucumber run (`-p merged`) keeps
 * one; the default run keeps every profile the scenario is tagged with and runs each step once per
 * profile, naming the profile in any failure.
 */
import { Before, BeforeAll, setWorldConstructor, World, type IWorldOptions } from '@cucumber/cucumber'
import {
  ContainerModel,
  createModelBackend,
  createSystem,
  formatFixtureError,
  getProfile,
  isProfileName,
  listFixtureNames,
  loadFixture,
  loadFixtureFile,
  ModelBackend,
  resolveFixturePath,
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

  /** Run `fn` under every profile; failures are collected and reported per profile. */
  each(fn: (run: ProfileRun) => void): void {
    const failures: string[] = []
    for (const run of this.runs) {
      try {
        fn(run)
      } catch (e) {
        failures.push(`[${run.profile.name}] ${e instanceof Error ? e.message : String(e)}`)
      }
    }
    if (failures.length > 0) throw new Error(failures.join('\n'))
  }
}

setWorldConstructor(TckWorld)

BeforeAll(function () {
  // Malformed fixtures are rejected before any scenario runs.
  const problems = listFixtureNames().flatMap((n) => loadFixtureFile(resolveFixturePath(n)).errors.map(formatFixtureError))
  if (problems.length > 0) throw new Error(`invalid fixtures in the catalogue:\n${problems.join('\n')}`)
})

Before(function (this: TckWorld, { pickle }) {
  const tagged = pickle.tags.map((t) => t.name.slice(1)).filter(isProfileName)
  const allowed = this.parameters.profiles
  const selected = [...new Set(tagged)].filter((p) => allowed === undefined || allowed.includes(p))
  if (selected.length === 0) {
    throw new Error(`scenario "${pickle.name}" names no behaviour profile (tag it @rfc-v2, @enforcing, @merged or @linux-6.1)`)
  }
  this.runs = selected.map((p) => new ProfileRun(getProfile(p)))
})
