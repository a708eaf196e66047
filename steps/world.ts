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
  createSystem,
  formatFixtureError,
  getProfile,
  isProfileName,
  listFixtureNames,
  loadFixture,
  loadFixtureFile,
  resolveFixturePath,
  type IommuDomain,
  type Profile,
  type ProfileName,
  type Result,
  type SmmuInstance,
  type System,
} from '../model'

export interface TckParameters {
  /** Restrict the run to these behaviour profiles (set by the per-profile cucumber profiles). */
  readonly profiles?: readonly ProfileName[]
}

/** One behaviour profile's view of the scenario. */
export class ProfileRun {
  readonly system: System
  readonly domains = new Map<string, IommuDomain>()
  /** Result of the last operation a When-step performed. */
  last?: Result<unknown>

  constructor(readonly profile: Profile) {
    this.system = createSystem(profile)
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
