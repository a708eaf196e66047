/**
 * Living documentation: run the features once per behaviour profile with cucumber's HTML
 * formatter, then write an overview page and check every page in a headless browser.
 *
 *   npm run report                  # every profile
 *   npm run report -- merged        # some profiles
 *
 * Writes reports/html/cucumber-<profile>.html (cucumber's report) and reports/html/index.html
 * (the matrix of fixtures x feature areas x profiles, and the stage-selection table per fixture).
 * The browser check is skipped, with a message, when chromium is not installed.
 * Exit status: 0 written (scenario failures show in the report), 1 a page failed the browser
 * check, 2 usage or internal error.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { loadConfiguration, runCucumber, type ISupportCodeLibrary } from '@cucumber/cucumber/api'
import type { Envelope } from '@cucumber/messages'
import { formatFixtureError } from '../model/hw'
import { loadCatalogue } from '../model/hw/catalogue'
import { explainFixture } from '../model/survey'
import { getProfile, profilesFromArgs } from '../model/profiles'
import { checkInBrowser, formatBrowserCheck, type PageCheck } from './report/browser-check'
import { summarize, type ProfileResults } from './report/messages'
import { renderOverview } from './report/overview'

const OUT = path.join('reports', 'html')
/** Feature areas are the folders under features/; these come first, any others after them. */
const AREA_ORDER = ['nesting', 'vfio', 'fixtures']

function featureAreas(): string[] {
  const dirs = fs.readdirSync('features', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name)
  const rank = (a: string): number => (AREA_ORDER.includes(a) ? AREA_ORDER.indexOf(a) : AREA_ORDER.length)
  return dirs.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

async function main(): Promise<number> {
  const selected = profilesFromArgs(process.argv.slice(2))
  if ('error' in selected) {
    console.error(selected.error)
    return 2
  }
  const { profiles } = selected
  const catalogue = loadCatalogue()
  if (catalogue.errors.length > 0) {
    console.error(`invalid fixtures in the catalogue:\n${catalogue.errors.map(formatFixtureError).join('\n')}`)
    return 2
  }
  fs.mkdirSync(OUT, { recursive: true })

  let support: ISupportCodeLibrary | undefined
  const results: ProfileResults[] = []
  const links: Record<string, string> = {}
  for (const profile of profiles) {
    const html = `cucumber-${profile}.html`
    console.log(`== behaviour profile ${profile}: ${path.join(OUT, html)}`)
    const { runConfiguration } = await loadConfiguration({ profiles: [profile] })
    const config = { ...runConfiguration, formats: { ...runConfiguration.formats, stdout: 'summary', files: { [path.join(OUT, html)]: 'html' } } }
    const envelopes: Envelope[] = []
    const run = await runCucumber(support === undefined ? config : { ...config, support }, undefined, (e) => envelopes.push(e))
    support = run.support
    results.push(summarize(profile, envelopes))
    links[profile] = html
  }

  const titles = Object.fromEntries(profiles.map((p) => [p, getProfile(p).title]))
  const index = path.join(OUT, 'index.html')
  fs.writeFileSync(
    index,
    renderOverview({
      generated: new Date().toISOString(),
      profiles: results,
      titles,
      links,
      areas: featureAreas(),
      fixtures: catalogue.fixtures,
      explain: (hw, profile) => explainFixture(hw, getProfile(profile)),
    }),
  )
  console.log(`overview: ${index}`)

  const checks: PageCheck[] = [
    { file: path.resolve(index), selector: '#matrix tbody tr', minCount: catalogue.fixtures.length },
    ...profiles.map((p) => ({ file: path.resolve(OUT, links[p] as string), selector: '[data-testid="cucumber.summary.status"]', minCount: 1 })),
  ]
  const browser = await checkInBrowser(checks)
  for (const line of formatBrowserCheck(browser, new Map(checks.map((c) => [c.file, `match "${c.selector}"`])))) console.log(line)
  return 'pages' in browser && browser.pages.some((p) => !p.ok) ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e)
    process.exit(2)
  },
)
