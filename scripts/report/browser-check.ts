/**
 * Open report pages in a real headless browser and check that they render: no console errors, no
 * uncaught page errors, and the element that proves the content is there.
 *
 * The browser is Debian's chromium (scripts/install-chromium.sh), driven by playwright-core with
 * its executable path; playwright's own browser downloads are not used. Without chromium the
 * check is skipped with a message saying how to install it.
 */
import * as fs from 'node:fs'
import { pathToFileURL } from 'node:url'

/** SMMU_TCK_CHROMIUM overrides the browser binary. */
export const CHROMIUM_PATH = process.env.SMMU_TCK_CHROMIUM ?? '/usr/bin/chromium'

/** Flags for a container: no sandbox (no user namespaces), no GPU, /tmp instead of a small /dev/shm. */
export const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']

export const SKIP_MESSAGE = `browser check skipped: ${CHROMIUM_PATH} not found (install it with: sudo bash scripts/install-chromium.sh)`

export interface PageCheck {
  readonly file: string
  /** A CSS selector that must match at least `minCount` elements once the page has rendered. */
  readonly selector: string
  readonly minCount?: number
  /** Further selectors that must match at least so many elements each. */
  readonly also?: readonly { readonly selector: string; readonly minCount: number }[]
  /** Write a screenshot of the page, as a laptop screen shows it (1440 x 900), to this file. */
  readonly screenshot?: string
  /** Scroll this element to the top of the screen before the screenshot. */
  readonly scrollTo?: string
  /** The whole page in the screenshot, not just the screen. */
  readonly fullPage?: boolean
}

/** A laptop screen. */
export const VIEWPORT = { width: 1440, height: 900 }

export interface PageResult {
  readonly file: string
  readonly consoleErrors: readonly string[]
  readonly pageErrors: readonly string[]
  /** Elements matching the selector. */
  readonly found: number
  /** Selectors of `also` that matched too few elements, with the count found. */
  readonly missing: readonly string[]
  readonly ok: boolean
}

export type BrowserCheck = { readonly skipped: string } | { readonly browser: string; readonly pages: readonly PageResult[] }

export function chromiumAvailable(): boolean {
  try {
    fs.accessSync(CHROMIUM_PATH, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

const RENDER_TIMEOUT_MS = 15_000

export async function checkInBrowser(checks: readonly PageCheck[]): Promise<BrowserCheck> {
  if (!chromiumAvailable()) return { skipped: SKIP_MESSAGE }
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS })
  try {
    const pages: PageResult[] = []
    for (const check of checks) {
      const page = await browser.newPage({ viewport: VIEWPORT })
      const consoleErrors: string[] = []
      const pageErrors: string[] = []
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(m.text())
      })
      page.on('pageerror', (e) => pageErrors.push(e.message))
      await page.goto(pathToFileURL(check.file).href, { waitUntil: 'load' })
      const min = check.minCount ?? 1
      try {
        await page.locator(check.selector).nth(min - 1).waitFor({ state: 'attached', timeout: RENDER_TIMEOUT_MS })
      } catch {
        // counted below: too few elements is the failure reported
      }
      const found = await page.locator(check.selector).count()
      const missing: string[] = []
      for (const a of check.also ?? []) {
        const n = await page.locator(a.selector).count()
        if (n < a.minCount) missing.push(`${a.selector}: ${n} of ${a.minCount}`)
      }
      if (check.screenshot !== undefined) {
        if (check.scrollTo !== undefined) {
          await page.locator(check.scrollTo).first().evaluate((el) => el.scrollIntoView({ block: 'start' }))
          await page.evaluate('window.scrollBy(0, -40)') // out from under the sticky bar
        }
        await page.screenshot({ path: check.screenshot, fullPage: check.fullPage === true })
      }
      const ok = consoleErrors.length === 0 && pageErrors.length === 0 && found >= min && missing.length === 0
      pages.push({ file: check.file, consoleErrors, pageErrors, found, missing, ok })
      await page.close()
    }
    return { browser: `${browser.browserType().name()} ${browser.version()}`, pages }
  } finally {
    await browser.close()
  }
}

export function formatBrowserCheck(r: BrowserCheck, selectors: ReadonlyMap<string, string> = new Map()): string[] {
  if ('skipped' in r) return [r.skipped]
  return [
    `browser check with ${r.browser}:`,
    ...r.pages.map((p) => {
      const what = selectors.get(p.file) ?? 'content'
      const problems = [...p.consoleErrors.map((e) => `console error: ${e}`), ...p.pageErrors.map((e) => `page error: ${e}`), ...p.missing.map((m) => `too few: ${m}`)]
      return `  ${p.ok ? 'ok' : 'FAILED'}: ${p.file} (${p.found} ${what}${problems.length === 0 ? '' : `; ${problems.join('; ')}`})`
    }),
  ]
}
