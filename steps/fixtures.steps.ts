/**
 * Catalogue steps: a rule, stated as a table in the feature, checked on every fixture in the
 * catalogue. The iteration and the observations are the model's (model/hw/survey.ts); a step
 * loads the catalogue, hands the table over, attaches the per-fixture verdicts and fails when
 * any fixture fails.
 *
 * World parameter `fixturesDir` runs these scenarios on another folder of fixtures:
 *   npx cucumber-js features/fixtures --world-parameters '{"fixturesDir":"/path/to/fixtures"}'
 */
import { Given, Then, type DataTable } from '@cucumber/cucumber'
import type { FeatureSet, RequestedStage } from '../model'
import { formatCatalogueErrors, loadCatalogue } from '../model/hw/catalogue'
import {
  checkDriverRule,
  checkFirstBankRule,
  checkIommufdNestingRule,
  checkRegisterRule,
  checkStageRule,
  checkVfioNestingRule,
  failures,
  formatCatalogueCheck,
  type CatalogueCheck,
} from '../model/survey'
import { check, ExpectationFailed } from './expect'
import type { ProfileRun, TckWorld } from './world'

const catalogues = new WeakMap<TckWorld, readonly FeatureSet[]>()

function catalogueOf(world: TckWorld): readonly FeatureSet[] {
  const fixtures = catalogues.get(world)
  if (fixtures === undefined) throw new Error('the scenario needs "Given every fixture in the catalogue" first')
  return fixtures
}

/** Run `check` under each profile; attach its per-fixture table (text and JSON); fail on a failed fixture. */
function checkEveryFixture(world: TckWorld, rule: (run: ProfileRun) => CatalogueCheck): void {
  world.each((run) => {
    const result = rule(run)
    world.attach(formatCatalogueCheck(result), 'text/plain')
    world.attach(JSON.stringify(result), 'application/json')
    check.ok(failures(result).length === 0, formatCatalogueCheck(result))
  })
}

/** The fixtures that load; the ones that do not fail "every fixture in the catalogue should load". */
Given('every fixture in the catalogue', function (this: TckWorld) {
  catalogues.set(this, loadCatalogue(this.parameters.fixturesDir).fixtures)
})

Then('every fixture in the catalogue should load', function (this: TckWorld) {
  const problems = formatCatalogueErrors(loadCatalogue(this.parameters.fixturesDir).errors)
  if (problems.length > 0) throw new ExpectationFailed(`fixtures in the catalogue that do not load:\n${problems.join('\n')}`)
})

Then('every fixture\'s ID registers should decode to its features', function (this: TckWorld) {
  checkEveryFixture(this, (run) => checkRegisterRule(catalogueOf(this), run.profile))
})

Then('the kernel should probe each fixture as its architecture says:', function (this: TckWorld, table: DataTable) {
  checkEveryFixture(this, (run) => checkDriverRule(catalogueOf(this), run.profile, table.hashes()))
})

Then('a {request} request should get, by stage support:', function (this: TckWorld, request: RequestedStage, table: DataTable) {
  checkEveryFixture(this, (run) => checkStageRule(catalogueOf(this), run.profile, request, table.hashes()))
})

Then('the first {request} domain should take, by stage support:', function (this: TckWorld, request: RequestedStage, table: DataTable) {
  checkEveryFixture(this, (run) => checkFirstBankRule(catalogueOf(this), run.profile, request, table.hashes()))
})

Then('a VFIO container with one group should answer, by stage support:', function (this: TckWorld, table: DataTable) {
  checkEveryFixture(this, (run) => checkVfioNestingRule(catalogueOf(this), run.profile, table.hashes()))
})

Then('a nested request through iommufd should end at the first check the fixture fails:', function (this: TckWorld, table: DataTable) {
  checkEveryFixture(this, (run) => checkIommufdNestingRule(catalogueOf(this), run.profile, table.hashes()))
})
