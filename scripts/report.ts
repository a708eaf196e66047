/**
 * Living documentation: run the features once per behaviour profile (cucumber's HTML report of
 * each run is kept), then write our own site from the features' Gherkin and the runs' messages,
 * and check every page in a headless browser.
 *
 *   npm run report                  # every profile
 *   npm run report -- merged        # some profiles
 *
 * Writes into reports/html/: index.html, one page per feature, kernel-history.html, changes.html,
 * one page per fixture (scripts/report/write-site.ts) and cucumber-<profile>.html (cucumber's).
 * The browser check writes screenshots to reports/: report-index.png, report-nest1.png,
 * report-kernel-history.png. It is skipped, with a message, when chromium is not installed.
 * Exit status: 0 every scenario passed and every page passed the browser check; 1 a scenario
 * failed or a page failed the check (the pages are written either way); 2 usage or internal error.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
// Before cucumber: its step matching gets the engine's match indices instead of a polyfill's.
import './match-indices'
import { loadConfiguration, runCucumber, type ISupportCodeLibrary } from '@cucumber/cucumber/api'
import type { Envelope } from '@cucumber/messages'
import { formatFixtureError } from '../model/hw'
import { loadCatalogue } from '../model/hw/catalogue'
import { explainFixture } from '../model/survey'
import { getProfile, PROFILE_NAMES, profilesFromArgs } from '../model/profiles'
import { checkInBrowser, formatBrowserCheck, type PageCheck } from './report/browser-check'
import { featuresFromEnvelopes, type FeatureDoc } from './report/features'
import { summarize, type ProfileResults } from './report/messages'
import { CHANGES, HISTORY, INDEX, withLinkBack, type SiteProfile } from './report/site'
import { seedTableCheck, writeSite } from './report/write-site'

const REPORTS = 'reports'
const OUT = path.join(REPORTS, 'html')
/** Feature areas are the folders under features/; these come first, any others after them. */
const AREA_ORDER = ['nesting', 'vfio', 'translation', 'fixtures']

function featureAreas(): string[] {
  const dirs = fs.readdirSync('features', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name)
  const rank = (a: string): number => (AREA_ORDER.includes(a) ? AREA_ORDER.indexOf(a) : AREA_ORDER.length)
  return dirs.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

/** The profiles given, in kernel order (the order of the profile list). */
function kernelOrder(names: readonly string[]): string[] {
  const rank = (p: string): number => (PROFILE_NAMES as readonly string[]).indexOf(p)
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b))
}

async function main(): Promise<number> {
  const selected = profilesFromArgs(process.argv.slice(2))
  if ('error' in selected) {
    console.error(selected.error)
    return 2
  }
  const profiles = kernelOrder(selected.profiles)
  const catalogue = loadCatalogue()
  if (catalogue.errors.length > 0) {
    console.error(`invalid fixtures in the catalogue:\n${catalogue.errors.map(formatFixtureError).join('\n')}`)
    return 2
  }
  fs.mkdirSync(OUT, { recursive: true })

  let support: ISupportCodeLibrary | undefined
  const results = new Map<string, ProfileResults>()
  const site: SiteProfile[] = []
  let features: FeatureDoc[] = []
  let success = true
  for (const profile of profiles) {
    const html = `cucumber-${profile}.html`
    console.log(`== behaviour profile ${profile}: ${path.join(OUT, html)}`)
    const { runConfiguration } = await loadConfiguration({ profiles: [profile] })
    const config = { ...runConfiguration, formats: { ...runConfiguration.formats, stdout: 'summary', files: { [path.join(OUT, html)]: 'html' } } }
    const envelopes: Envelope[] = []
    const run = await runCucumber(support === undefined ? config : { ...config, support }, undefined, (e) => envelopes.push(e))
    support = run.support
    success &&= run.success
    const cucumberFile = path.join(OUT, html)
    fs.writeFileSync(cucumberFile, withLinkBack(fs.readFileSync(cucumberFile, 'utf8'), profile))
    results.set(profile, summarize(profile, envelopes))
    if (features.length === 0) features = featuresFromEnvelopes(envelopes)
    site.push({ name: profile, title: getProfile(profile as (typeof PROFILE_NAMES)[number]).title, cucumber: html })
  }

  const written = writeSite(OUT, {
    generated: new Date().toISOString(),
    profiles: site,
    results,
    features,
    areas: featureAreas(),
    fixtures: catalogue.fixtures,
    explain: (hw, profile) => explainFixture(hw, getProfile(profile as (typeof PROFILE_NAMES)[number])),
  })
  console.log(`site: ${written.pages.length} pages in ${OUT} (start at ${path.join(OUT, INDEX)}); kernel history: ${written.history.questions} questions, ${written.history.cells} answers`)

  const shot = (name: string): string => path.resolve(REPORTS, name)
  const seed = seedTableCheck(OUT, features, results)
  const checks: PageCheck[] = [
    ...written.checks.map((c): PageCheck => {
      const file = path.resolve(c.file)
      const base = path.basename(c.file)
      if (base === INDEX) return { ...c, file, screenshot: shot('report-index.png'), fullPage: true }
      if (base === HISTORY) return { ...c, file, screenshot: shot('report-kernel-history.png'), fullPage: true }
      if (base === CHANGES) return { ...c, file, screenshot: shot('report-changes.png') }
      if (seed !== undefined && c.file === seed.file) return { ...c, file, also: [...(c.also ?? []), { selector: seed.selector, minCount: seed.minCount ?? 8 }, ...(seed.also ?? [])], screenshot: shot('report-nest1.png'), ...(seed.scrollTo === undefined ? {} : { scrollTo: seed.scrollTo }) }
      return { ...c, file }
    }),
    ...site.map((p) => ({ file: path.resolve(OUT, p.cucumber as string), selector: '[data-testid="cucumber.summary.status"]', minCount: 1, also: [{ selector: `#tck-link-back a[href="${INDEX}"]`, minCount: 1 }] })),
  ]
  if (seed === undefined) console.error('the seed table (Nest1 [1], first Examples) was not found')
  const browser = await checkInBrowser(checks)
  for (const line of formatBrowserCheck(browser, new Map(checks.map((c) => [c.file, `match "${c.selector}"`])))) console.log(line)
  if ('pages' in browser) console.log(`screenshots: ${checks.flatMap((c) => (c.screenshot === undefined ? [] : [path.relative('.', c.screenshot)])).join(', ')}`)
  const pagesOk = !('pages' in browser) || browser.pages.every((p) => p.ok)
  if (!success) console.error('some scenarios failed: the pages show which, with the expected and actual values')
  return success && pagesOk && seed !== undefined ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e)
    process.exit(2)
  },
)
