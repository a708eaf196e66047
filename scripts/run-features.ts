/**
 * Run the features once per behaviour profile (the cucumber profiles in cucumber.js), in one
 * process, and report per profile. Writes reports/features-summary.json for .ci/run.
 *
 *   npm run features                                         # every profile, every feature
 *   npm run features -- merged linux-6.1                     # some profiles
 *   npm run features -- --profile merged features/nesting/nest1-stage-selection.feature:41
 *   npm run features -- features/vfio --tags @linux-6.1     # a folder; a tag expression
 *
 * Exit status: 0 every scenario passed, 1 a scenario failed (or none was selected), 2 usage error.
 */
import * as fs from 'node:fs'
// Before cucumber: its step matching gets the engine's match indices instead of a polyfill's.
import './match-indices'
import { loadConfiguration, runCucumber, type ISupportCodeLibrary } from '@cucumber/cucumber/api'
import type { Envelope } from '@cucumber/messages'
import { formatCatalogueErrors, loadCatalogue } from '../model/hw/catalogue'
import { FEATURES_USAGE, parseFeatureArgs } from './feature-args'

interface Tally {
  passed: number
  failed: number
}

function tallyFrom(onTally: Tally): (e: Envelope) => void {
  const failedCases = new Set<string>()
  return (e) => {
    if (e.testStepFinished && e.testStepFinished.testStepResult.status !== 'PASSED') {
      failedCases.add(e.testStepFinished.testCaseStartedId)
    }
    if (e.testCaseFinished && !e.testCaseFinished.willBeRetried) {
      if (failedCases.has(e.testCaseFinished.testCaseStartedId)) onTally.failed++
      else onTally.passed++
    }
  }
}

async function main(): Promise<number> {
  const selected = parseFeatureArgs(process.argv.slice(2))
  if ('help' in selected) {
    console.log(FEATURES_USAGE)
    return 0
  }
  if ('error' in selected) {
    console.error(`${selected.error}\n\n${FEATURES_USAGE}`)
    return 2
  }
  const { profiles, paths, tags } = selected
  fs.mkdirSync('reports', { recursive: true })

  // A fixture in the catalogue that does not load fails Fix1 [1] under every profile (and every
  // scenario that uses it); the other scenarios still run. Its problems are repeated at the end.
  const broken = formatCatalogueErrors(loadCatalogue().errors)

  let support: ISupportCodeLibrary | undefined
  const results: Record<string, Tally & { success: boolean }> = {}
  for (const profile of profiles) {
    console.log(`\n== behaviour profile ${profile} ==`)
    const provided = { ...(paths.length > 0 ? { paths: [...paths] } : {}), ...(tags === undefined ? {} : { tags }) }
    const { runConfiguration } = await loadConfiguration({ profiles: [profile], provided })
    const tally: Tally = { passed: 0, failed: 0 }
    const run = await runCucumber(support === undefined ? runConfiguration : { ...runConfiguration, support }, undefined, tallyFrom(tally))
    support = run.support
    results[profile] = { ...tally, success: run.success }
  }

  console.log('\nbehaviour profile   scenarios passed   failed')
  for (const [profile, r] of Object.entries(results)) {
    console.log(`${profile.padEnd(20)}${String(r.passed).padStart(16)}${String(r.failed).padStart(9)}`)
  }
  const passed = Object.values(results).reduce((n, r) => n + r.passed, 0)
  const failed = Object.values(results).reduce((n, r) => n + r.failed, 0)
  const success = Object.values(results).every((r) => r.success) && broken.length === 0
  fs.writeFileSync('reports/features-summary.json', JSON.stringify({ passed, failed, success, profiles: results }, null, 2))
  if (broken.length > 0) {
    console.error(`\nthe fixture catalogue does not load (${broken.length} problem${broken.length === 1 ? '' : 's'}):`)
    for (const line of broken) console.error(line)
  }
  if (passed + failed === 0) {
    console.error(`no scenario matched ${[...paths, ...(tags === undefined ? [] : [`--tags ${tags}`])].join(' ') || 'the selection'} under ${profiles.join(', ')} (a :LINE must be a Scenario, an Examples row or a scenario's tag line; a scenario runs only under the profiles its tags allow; one without a profile tag runs under all)`)
    return 1
  }
  return success ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e)
    process.exit(2)
  },
)
