/**
 * Run the features once per behaviour profile (the cucumber profiles in cucumber.js), in one
 * process, and report per profile. Writes reports/features-summary.json for .ci/run.
 *
 *   npm run features                 # every profile
 *   npm run features -- merged       # some profiles
 */
import * as fs from 'node:fs'
import { loadConfiguration, runCucumber, type ISupportCodeLibrary } from '@cucumber/cucumber/api'
import type { Envelope } from '@cucumber/messages'
import { profilesFromArgs } from '../model/profiles'

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
  const selected = profilesFromArgs(process.argv.slice(2))
  if ('error' in selected) {
    console.error(selected.error)
    return 2
  }
  const { profiles } = selected
  fs.mkdirSync('reports', { recursive: true })

  let support: ISupportCodeLibrary | undefined
  const results: Record<string, Tally & { success: boolean }> = {}
  for (const profile of profiles) {
    console.log(`\n== behaviour profile ${profile} ==`)
    const { runConfiguration } = await loadConfiguration({ profiles: [profile] })
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
  const success = Object.values(results).every((r) => r.success)
  fs.writeFileSync('reports/features-summary.json', JSON.stringify({ passed, failed, success, profiles: results }, null, 2))
  return success ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e)
    process.exit(2)
  },
)
