/**
 * The tag scheme (model/profiles/tags.ts): which profiles a scenario's tags select, and that the
 * cucumber tag expression of each profile selects exactly the same scenarios.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { parse } from '@cucumber/tag-expressions'
import { PROFILE_NAMES, profilesOfTags, tagExpressionFor } from '../../model/profiles'

const first = PROFILE_NAMES[0]
const last = PROFILE_NAMES[PROFILE_NAMES.length - 1]

describe('profile tags', () => {
  it('@<profile> selects that profile only', () => {
    assert.deepEqual(profilesOfTags(['@merged']), { profiles: ['merged'] })
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

  it('every since/until tag in the features names a profile', () => {
    const files = fs.readdirSync('features', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.feature'))
    for (const f of files) {
      const tags = fs.readFileSync(path.join('features', f), 'utf8').match(/@(since|until)-[^\s]+/g) ?? []
      for (const t of tags) assert.ok(!('error' in profilesOfTags([t])), `${f}: ${t}`)
    }
  })
})
