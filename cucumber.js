// Cucumber profiles: one per behaviour profile, plus `default`, which runs every scenario under
// every behaviour profile it is tagged with. `npm run features` runs the four profiles one after
// the other and reports per profile (scripts/run-features.ts).
const PROFILES = ['rfc-v2', 'enforcing', 'merged', 'linux-6.1']

// The step definitions run compiled (dist/steps); transpile whatever changed since the last run.
require('./bin/build').ensureBuilt()

// No `paths` here: cucumber then reads features/**/*.feature, and a path given on the command line
// (`npx cucumber-js -p merged features/nesting/nest1-stage-selection.feature:41`) replaces it
// instead of being added to it.
const common = {
  require: ['dist/steps/**/*.js'],
  strict: true,
  format: ['progress'],
}

module.exports = {
  default: { ...common, tags: PROFILES.map((p) => `@${p}`).join(' or ') },
  ...Object.fromEntries(
    PROFILES.map((p) => [
      p,
      {
        ...common,
        tags: `@${p}`,
        worldParameters: { profiles: [p] },
        format: ['progress', `json:reports/cucumber-${p}.json`, `junit:reports/cucumber-${p}.xml`],
      },
    ]),
  ),
}
