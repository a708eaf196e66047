/**
 * The tag scheme (model/profiles/tags.ts): which profiles a scenario's tags select (none: every
 * profile), and that the cucumber tag expression of each profile selects exactly the same scenarios.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { parse } from '@cucumber/tag-expressions'
import { kernelsOfCell, PROFILE_NAMES, profilesOfTags, rowForKernel, tagExpressionFor } from '../../model/profiles'
import { extensionValue, UAPI_6_1, UAPI_6_13, UAPI_RFC } from '../../model/uapi/vfio'

const first = PROFILE_NAMES[0]
const last = PROFILE_NAMES[PROFILE_NAMES.length - 1]

describe('profile tags', () => {
  it('@<profile> selects that profile only', () => {
    assert.deepEqual(profilesOfTags(['@merged']), { profiles: ['merged'] })
  })

  it('no profile tag selects every profile; other tags do not count', () => {
    assert.deepEqual(profilesOfTags([]), { profiles: [...PROFILE_NAMES] })
    assert.deepEqual(profilesOfTags(['@slow', '@wip']), { profiles: [...PROFILE_NAMES] })
  })

  it('a tag close to a profile tag is an error naming the one meant (untagged would mean every profile)', () => {
    for (const [tag, meant] of [
      ['@sinse-merged', '@since-merged'],
      ['@mereged', '@merged'],
      ['@untill-linux-6.12', '@until-linux-6.12'],
    ]) {
      const r = profilesOfTags([tag as string])
      assert.ok('error' in r, tag)
      assert.equal(r.error, `${tag} (did you mean ${meant}?): not a profile tag, and a scenario without one would run under every profile`)
    }
  })

  it('@since-<p> selects p and every later profile; @until-<p> every profile up to p', () => {
    assert.deepEqual(profilesOfTags(['@since-merged']), { profiles: PROFILE_NAMES.slice(PROFILE_NAMES.indexOf('merged')) })
    assert.deepEqual(profilesOfTags(['@until-enforcing']), { profiles: ['rfc-v2', 'enforcing'] })
    assert.deepEqual(profilesOfTags([`@since-${first}`]), { profiles: [...PROFILE_NAMES] })
  })

  it('since and until together give the range between them; several narrow it; plain tags add', () => {
    assert.deepEqual(profilesOfTags(['@since-enforcing', '@until-merged']), { profiles: ['enforcing', 'merged'] })
    assert.deepEqual(profilesOfTags(['@since-rfc-v2', '@since-merged', '@until-linux-6.1']), { profiles: ['merged', 'linux-6.1'] })
    assert.deepEqual(profilesOfTags(['@since-merged', '@until-merged', '@rfc-v2']), { profiles: ['rfc-v2', 'merged'] })
    assert.deepEqual(profilesOfTags(['@since-linux-6.1', '@until-merged']), { profiles: [] })
  })

  it('a since/until tag naming no profile is an error naming it', () => {
    const r = profilesOfTags(['@since-linux-9.9'])
    assert.ok('error' in r)
    assert.match(r.error, /@since-linux-9\.9 names no behaviour profile \(profiles, oldest first: rfc-v2, /)
  })

  it('each profile\'s tag expression agrees with profilesOfTags on every combination of bounds', () => {
    const bounds = ['', ...PROFILE_NAMES.flatMap((p) => [`@since-${p}`, `@until-${p}`])]
    for (const a of bounds) {
      for (const b of bounds) {
        for (const plain of ['', `@${first}`, `@${last}`]) {
          const tags = [a, b, plain, '@other'].filter((t) => t !== '')
          const r = profilesOfTags(tags)
          assert.ok(!('error' in r))
          for (const p of PROFILE_NAMES) {
            assert.equal(parse(tagExpressionFor(p)).evaluate(tags), r.profiles.includes(p), `${p} on ${tags.join(' ')}`)
          }
        }
      }
    }
  })

  it('every tag in the features is a profile tag, and none says "every profile" (no tag does)', () => {
    const files = fs.readdirSync('features', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.feature'))
    const scheme = new Set(PROFILE_NAMES.flatMap((p) => [`@${p}`, `@since-${p}`, `@until-${p}`]))
    for (const f of files) {
      const tags = fs.readFileSync(path.join('features', f), 'utf8').match(/^\s*@[^#\n]*/gm)?.flatMap((l) => l.trim().split(/\s+/)) ?? []
      for (const t of tags) assert.ok(scheme.has(t), `${f}: ${t} is not a profile tag`)
      assert.ok(!tags.includes(`@since-${first}`), `${f}: @since-${first} is every profile, which an untagged scenario already is`)
    }
  })
})

describe('by-kernel tables', () => {
  it('a kernel cell is a profile, "<p> and later" or "<p> to <q>"', () => {
    assert.deepEqual(kernelsOfCell('merged'), { profiles: ['merged'] })
    assert.deepEqual(kernelsOfCell('linux-6.12 and later'), { profiles: PROFILE_NAMES.slice(PROFILE_NAMES.indexOf('linux-6.12')) })
    assert.deepEqual(kernelsOfCell('enforcing to linux-6.1'), { profiles: ['enforcing', 'merged', 'linux-6.1'] })
    assert.match((kernelsOfCell('linux-6.1 to merged') as { error: string }).error, /is not a kernel range/)
    assert.match((kernelsOfCell('linux-9.9') as { error: string }).error, /profiles, oldest first: rfc-v2/)
  })

  it('each profile finds exactly one row; none or two is an error naming the profile', () => {
    const rows = [{ kernel: 'rfc-v2 to linux-6.1', v: 'a' }, { kernel: 'linux-6.12 and later', v: 'b' }]
    assert.deepEqual(PROFILE_NAMES.map((p) => rowForKernel(rows, p).v), PROFILE_NAMES.map((p) => (PROFILE_NAMES.indexOf(p) <= PROFILE_NAMES.indexOf('linux-6.1') ? 'a' : 'b')))
    assert.throws(() => rowForKernel([{ kernel: 'merged' }], 'rfc-v2'), /no row for rfc-v2/)
    assert.throws(() => rowForKernel([{ kernel: 'merged' }, { kernel: 'rfc-v2 and later' }], 'merged'), /2 rows for merged/)
  })
})

describe('uapi names across kernels', () => {
  it('VFIO_TYPE1_NESTING_IOMMU is 5 in the RFC, 6 in 6.1, and still 6 (the reserved name) from 6.13', () => {
    assert.equal(extensionValue(UAPI_RFC, 'VFIO_TYPE1_NESTING_IOMMU'), 5)
    assert.equal(extensionValue(UAPI_6_1, 'TYPE1_NESTING'), 6)
    assert.equal(extensionValue(UAPI_6_13, 'VFIO_TYPE1_NESTING_IOMMU'), 6)
    assert.equal(extensionValue(UAPI_6_13, '__VFIO_RESERVED_TYPE1_NESTING_IOMMU'), 6)
    assert.equal(extensionValue(UAPI_6_1, '__VFIO_RESERVED_TYPE1_NESTING_IOMMU'), undefined)
  })
})

