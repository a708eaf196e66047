// Cucumber profiles: one per behaviour profile, plus `default`, which runs every scenario under
// every behaviour profile it is tagged with. `npm run features` runs the four profiles one after
// the other and reports per profile (scripts/run-features.ts).
const PROFILES = ['rfc-v2', 'enforcing', 'merged', 'linux-6.1']

const common = {
  paths: ['features/**/*.feature'],
  requireModule: ['ts-node/register/transpile-only'],
  require: ['steps/**/*.ts'],
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
