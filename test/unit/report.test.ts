/**
 * The living-documentation report: cucumber messages folded into per-fixture results, the
 * overview page, and the page rendered in a real headless browser (Debian's chromium through
 * playwright-core; skipped with a message when chromium is not installed, except under CI, which
 * installs it and sets TCK_REQUIRE_BROWSER=1).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { Envelope } from '@cucumber/messages'
import { getProfile, PROFILE_NAMES, profilesFromArgs } from '../../model/profiles'
import { loadCatalogue } from '../../model/hw/catalogue'
import { explainFixture, type CatalogueCheck } from '../../model/survey'
import { checkInBrowser, chromiumAvailable, SKIP_MESSAGE } from '../../scripts/report/browser-check'
import { cell, fixturesMentioned, summarize, type ProfileResults } from '../../scripts/report/messages'
import { escapeHtml, renderOverview } from '../../scripts/report/overview'

/** A run of two scenarios (one failing) and one catalogue check, as cucumber's envelopes. */
function envelopes(): Envelope[] {
  const check: CatalogueCheck = {
    rule: 'a stage 1 request gets the stage its stage support gives',
    profile: 'merged',
    results: [
      { fixture: 'mmu-500', support: 'N', verdict: 'passed', expected: 'S1', actual: 'S1' },
      { fixture: 'qemu-smmuv3-7.2', support: 'S1', verdict: 'not applicable', expected: '-', actual: 'no driver (ENODEV)' },
    ],
  }
  const pickle = (id: string, uri: string, steps: string[]) => ({ pickle: { id, uri, name: id, language: 'en', steps: steps.map((text, i) => ({ id: `${id}-s${i}`, text, astNodeIds: [] })), tags: [], astNodeIds: [] } })
  const list = [
    pickle('p1', 'features/nesting/nest1-stage-selection.feature', ['an SMMU from fixture "mmu-500"', 'a nested domain is attached to stream 0x10']),
    pickle('p2', 'features/vfio/vfio3-attach.feature', ['an SMMU from fixture "mmu-500" with VFIO group 0 at stream 0x10']),
    pickle('p3', 'features/fixtures/fix1-catalogue.feature', ['every fixture in the catalogue']),
    ...['1', '2', '3'].flatMap((n) => [
      { testCase: { id: `tc${n}`, pickleId: `p${n}`, testSteps: [] } },
      { testCaseStarted: { id: `st${n}`, testCaseId: `tc${n}`, attempt: 0, timestamp: { seconds: 0, nanos: 0 } } },
      { testStepFinished: { testCaseStartedId: `st${n}`, testStepId: 'x', testStepResult: { status: n === '2' ? 'FAILED' : 'PASSED', duration: { seconds: 0, nanos: 0 } }, timestamp: { seconds: 0, nanos: 0 } } },
    ]),
    { attachment: { testCaseStartedId: 'st3', testStepId: 'x', body: JSON.stringify(check), mediaType: 'application/json', contentEncoding: 'IDENTITY' } },
    ...['1', '2', '3'].map((n) => ({ testCaseFinished: { testCaseStartedId: `st${n}`, willBeRetried: false, timestamp: { seconds: 0, nanos: 0 } } })),
  ]
  return list as unknown as Envelope[]
}

describe('behaviour-profile arguments (npm run features / report)', () => {
  it('none means all four; known names are kept in order; unknown ones are named in the error', () => {
    assert.deepEqual(profilesFromArgs([]), { profiles: ['rfc-v2', 'enforcing', 'merged', 'linux-6.1'] })
    assert.deepEqual(profilesFromArgs(['linux-6.1', 'rfc-v2']), { profiles: ['linux-6.1', 'rfc-v2'] })
    assert.deepEqual(profilesFromArgs(['merged', 'linux-9.9', 'x']), { error: 'unknown behaviour profile(s): linux-9.9, x (known: rfc-v2, enforcing, merged, linux-6.1)' })
  })
})

describe('report: messages', () => {
  it('a scenario counts for the fixtures its steps name, in its feature area', () => {
    assert.deepEqual(fixturesMentioned(['an SMMU from fixture "b"', 'VFIO group 1 is behind the same SMMU "a"', 'fixture "<fixture>"']), ['a', 'b'])
    const r = summarize('merged', envelopes())
    assert.deepEqual(r.scenarios.map((s) => [s.area, s.status, s.fixtures]), [['nesting', 'passed', ['mmu-500']], ['vfio', 'failed', ['mmu-500']], ['fixtures', 'passed', []]])
    assert.deepEqual(cell(r, 'mmu-500', 'nesting'), { passed: 1, failed: 0 })
    assert.deepEqual(cell(r, 'mmu-500', 'vfio'), { passed: 0, failed: 1 })
  })

  it('a catalogue check counts each fixture\'s own verdict; "not applicable" counts for nothing', () => {
    const r = summarize('merged', envelopes())
    assert.deepEqual(cell(r, 'mmu-500', 'fixtures'), { passed: 1, failed: 0 })
    assert.deepEqual(cell(r, 'qemu-smmuv3-7.2', 'fixtures'), { passed: 0, failed: 0 })
  })
})

describe('report: overview page', () => {
  const { fixtures } = loadCatalogue()
  const profiles: ProfileResults[] = PROFILE_NAMES.map((p) => ({ ...summarize(p, envelopes()), profile: p }))
  const html = renderOverview({
    generated: 'now',
    profiles,
    titles: Object.fromEntries(PROFILE_NAMES.map((p) => [p, getProfile(p).title])),
    links: Object.fromEntries(PROFILE_NAMES.map((p) => [p, `cucumber-${p}.html`])),
    areas: ['nesting', 'vfio', 'fixtures'],
    fixtures,
    explain: (hw, p) => explainFixture(hw, getProfile(p)),
  })
  let dir = ''
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-report-'))
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('has the matrix (a row per fixture, a column per area and profile) and a stage table per fixture', () => {
    assert.equal((html.match(/<tr data-fixture=/g) ?? []).length, fixtures.length)
    assert.ok(html.includes('<table id="matrix">'))
    assert.equal((html.match(/<table class="stages">/g) ?? []).length, fixtures.length)
    assert.ok(html.includes('<td class="fail">1 failed, 0 passed</td>'), 'the failing vfio scenario shows in the matrix')
    assert.ok(html.includes('<td class="none" colspan="6">no driver for smmuv3 in this kernel</td>'))
    assert.equal(escapeHtml('<a href="x">&'), '&lt;a href=&quot;x&quot;&gt;&amp;')
  })

  it('renders in headless chromium: no console or page errors, the matrix present', async (t) => {
    if (!chromiumAvailable()) {
      // CI installs chromium first and sets TCK_REQUIRE_BROWSER: there a missing browser fails.
      assert.notEqual(process.env.TCK_REQUIRE_BROWSER, '1', SKIP_MESSAGE)
      t.skip(SKIP_MESSAGE)
      return
    }
    const file = path.join(dir, 'index.html')
    fs.writeFileSync(file, html)
    const r = await checkInBrowser([{ file, selector: '#matrix tbody tr', minCount: fixtures.length }])
    assert.ok('pages' in r)
    assert.deepEqual(r.pages.map((p) => ({ ok: p.ok, found: p.found, console: p.consoleErrors, errors: p.pageErrors })), [{ ok: true, found: fixtures.length, console: [], errors: [] }])
  })
})
