// Cucumber profiles: one per behaviour profile, plus `default`, which runs every scenario under
// every behaviour profile it holds for. `npm run features` runs the behaviour profiles one after
// the other and reports per profile (scripts/run-features.ts). The profile list and the tag scheme
// (@<profile>, @since-<profile>, @until-<profile>) come from model/profiles: nothing is repeated here.
// The step definitions and this file's model imports run compiled (dist/); emit whatever
// changed since the last run first.
require('./bin/build').ensureBuilt()
const { PROFILE_NAMES } = require('./dist/model/profiles/names')
const { anyProfileTagExpression, tagExpressionFor } = require('./dist/model/profiles/tags')

// No `paths` here: cucumber then reads features/**/*.feature, and a path given on the command line
// (`npx cucumber-js -p merged features/nesting/nest1-stage-selection.feature:41`) replaces it
// instead of being added to it.
const common = {
  require: ['dist/steps/**/*.js'],
  strict: true,
  format: ['progress'],
}

module.exports = {
  default: { ...common, tags: anyProfileTagExpression() },
  ...Object.fromEntries(
    PROFILE_NAMES.map((p) => [
      p,
      {
        ...common,
        tags: tagExpressionFor(p),
        worldParameters: { profiles: [p] },
        format: ['progress', `json:reports/cucumber-${p}.json`, `junit:reports/cucumber-${p}.xml`],
      },
    ]),
  ),
}
