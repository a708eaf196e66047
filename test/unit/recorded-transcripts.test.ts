/**
 * Transcripts recorded on real kernels (transcripts/recorded/, written by
 * `npm run real-kernel -- --record`) replayed against the model with the profile and fixture their
 * header names: every call must agree, except the differences documented with their reasons in
 * realkernel/known-differences.json. So the model's linux-6.1 profile is held to what Linux 6.1
 * did in QEMU, and a known difference that no longer occurs is reported (drop it from the list).
 *
 * Also checks the harness's pure parts: agent replies -> transcript results, and a recording's
 * header and format.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { parseTranscript } from '../../model/transcript'
import { UAPI_6_1 } from '../../model/vfio/uapi'
import { resolveFixturePath } from '../../model/hw'
import { isProfileName } from '../../model/profiles'
import { compareWithModel, formatRow, loadKnownDifferences, recordingFixtures, recordingSetup } from '../../realkernel/compare'
import { iommufdTranscriptsFor, KERNELS, machineByName, transcriptsFor, type Machine } from '../../realkernel/machines'
import { compileSession, parseReplies, resultText, type KernelResult } from '../../realkernel/protocol'
import { formatRecording } from '../../realkernel/record'
import { isIommufdCall, splitTranscript } from '../../realkernel/iommufd-lines'
import { ROOT } from '../../model/root'

const RECORDED = path.join(ROOT, 'transcripts', 'recorded')
const recordings = fs.existsSync(RECORDED) ? fs.readdirSync(RECORDED).filter((f) => f.endsWith('.vfio')).sort() : []
const known = loadKnownDifferences()

describe('recorded real-kernel transcripts replay against the model', () => {
  it('there is a recording of every transcript on every kernel and machine', () => {
    // Each kernel line on its own machines: Debian's run the container transcripts, the kernel
    // built with IOMMUFD the iommufd ones.
    const expected = KERNELS.flatMap((k) =>
      k.machines.map((n) => machineByName(n) as Machine).flatMap((m) => (k.transcripts === 'iommufd' ? iommufdTranscriptsFor(m, k.profile, ROOT) : transcriptsFor(m, k.profile, ROOT)).map((t) => t.recording)),
    )
    assert.deepEqual(
      expected.filter((f) => !recordings.includes(f)),
      [],
      'missing recordings: npm run real-kernel -- --record',
    )
  })

  for (const file of recordings) {
    const text = fs.readFileSync(path.join(RECORDED, file), 'utf8')
    const setup = recordingSetup(text)
    // A recording of iommufd calls (docs/transcript-iommufd.md) is replayed once the model's
    // transcript reader takes them; until then it is held to its own form.
    const split = splitTranscript(text)
    const iommufd = split.lines.some((l) => isIommufdCall(l.callText))
    const modelReads = !iommufd || parseTranscript(text, file).errors.length === 0
    const inModel = setup !== undefined && isProfileName(setup.profile) && (recordingFixtures(text) ?? [setup.fixture]).every((f) => fs.existsSync(resolveFixturePath(f))) && modelReads
    const title = inModel
      ? `${file}: 0 differ beyond realkernel/known-differences.json`
      : !modelReads
        ? `${file}: a well-formed recording of iommufd calls (the model's transcript reader does not take them yet)`
        : `${file}: a well-formed recording (the model has no ${setup !== undefined && isProfileName(setup.profile) ? `fixture ${setup.fixture}` : `profile ${setup?.profile}`} to replay it on yet)`
    it(title, () => {
      assert.match(text, /^# {3}Kernel: {2}Linux \S+/m, 'the header names the kernel')
      assert.match(text, /^# {3}QEMU: {4}QEMU emulator version /m, 'the header names QEMU')
      assert.match(text, /^# {3}Machine: qemu-system-\S+ -M /m, 'the header gives the machine line')
      if (!modelReads) {
        assert.ok(setup !== undefined, 'the header names its profile and fixture')
        assert.ok(isProfileName(setup.profile) && fs.existsSync(resolveFixturePath(setup.fixture)), `profile ${setup.profile} and fixture ${setup.fixture} exist`)
        assert.deepEqual(split.errors, [], 'every line is a call and its result')
        assert.ok(split.lines.length > 10 && split.lines.every((l) => isIommufdCall(l.callText)), 'a recording holds iommufd calls')
        assert.ok(!text.includes('# not run:'), 'every call ran on the kernel')
        return
      }
      if (!inModel) {
        assert.ok(setup !== undefined, 'the header names its profile and fixture')
        const parsed = parseTranscript(text, file)
        assert.deepEqual(parsed.errors, [], 'the recording parses')
        assert.ok(parsed.lines.length > 10, 'a recording holds calls')
        return
      }
      const comparison = compareWithModel(text, `transcripts/recorded/${file}`, known)
      assert.ok(comparison.rows.length > 10, 'a recording holds calls')
      const bad = comparison.rows.filter((r) => r.verdict === 'differ' || r.verdict === 'error')
      assert.deepEqual(bad.map((r) => formatRow(file, r)), [], 'kernel and model differ where no known difference says why')
    })
  }

  it('every known difference still occurs in its recording', () => {
    for (const k of known) {
      assert.ok(k.reason.length > 40 && k.status.length > 0, `${k.id} gives its reason and status`)
      const file = path.join(RECORDED, k.recording)
      assert.ok(fs.existsSync(file), `${k.id}: no recording ${k.recording}`)
      const text = fs.readFileSync(file, 'utf8')
      const setup = recordingSetup(text)
      if (setup === undefined || !isProfileName(setup.profile) || !fs.existsSync(resolveFixturePath(setup.fixture))) {
        // Listed before the model has the recording's profile or fixture: the kernel's side holds.
        const line = parseTranscript(text, k.recording).lines.find((l) => l.callText === k.call)
        assert.equal(line?.expectedText, k.kernel, `${k.id}: ${k.recording} has no line "${k.call} = ${k.kernel}"`)
        continue
      }
      const rows = compareWithModel(text, k.recording, known).rows
      assert.ok(
        rows.some((r) => r.known?.id === k.id),
        `${k.id} (${k.call}: kernel ${k.kernel}, model ${k.model}) no longer occurs: remove it from realkernel/known-differences.json`,
      )
    }
  })
})

describe('real-kernel harness: agent protocol and recording format', () => {
  const source = [
    'open                             = ok',
    'check_extension TYPE1_NESTING    = 1',
    'group 1 set_container            = ok',
    'set_iommu TYPE1_NESTING          = ok',
    'get_info                         = dma_avail=65535',
    'map iova=0x1000 size=0x1000 w vaddr=unmapped = EFAULT',
    'unmap all                        = ok',
    'dma read iova=0x1000 size=0x40   = ok',
    'group 1 status                   = viable,container_set',
  ].join('\n')
  const parsed = parseTranscript(source, 'example.vfio')

  it('compiles calls to agent commands: uapi numbers, hex, "-" for the one open group', () => {
    const session = compileSession(parsed, UAPI_6_1, { 1: '0000:00:01.0' })
    assert.deepEqual(session.preamble, ['session example.vfio', 'alias 1 0000:00:01.0'])
    assert.deepEqual(
      session.lines.map((l) => l.command),
      ['open', 'check_extension 6', 'group 1 set_container', 'set_iommu 6', 'get_info', 'map 0x1000 0x1000 0x2 unmapped', 'unmap 0x0 0x0 0x2', 'dma read 0x1000 0x40 -', 'group 1 status'],
    )
  })

  it('turns replies into transcript results, and says why when it cannot', () => {
    const replies = parseReplies(
      [
        'noise @@ 1 = 0 OK',
        '@@ 2 = 1 OK',
        '@@ 5 = 0 OK flags=0x3 pgsizes=0x40201000 dma_avail=65535 ranges=0x0-0x7ffffff,0x8100000-0xffffffffffff\r',
        '[    3.1] kernel message',
        '@@ 6 = -1 EFAULT',
        '@@ 7 = 0 OK unmapped=0x3000',
        '@@ 8 = 0 OK fault=10 landed=unknown',
        '@@ 9 = 0 OK flags=0x3',
        '@@ 10 = -1 E123',
        '@@ 11 ! the device is not QEMU\'s edu',
        '@@ 12 = 0 OK fault=0 landed=no',
      ].join('\n'),
    )
    const call = (i: number) => (parsed.lines[i] as (typeof parsed.lines)[number]).call
    const text = (i: number, seq: number) => {
      const r = resultText(call(i), replies.get(seq))
      return r.ok ? r.text : `!${r.problem}`
    }
    assert.equal(text(0, 1), 'ok')
    assert.equal(text(1, 2), '1')
    assert.equal(text(4, 5), 'pgsizes=0x40201000 dma_avail=65535 ranges=0x0-0x7ffffff,0x8100000-0xffffffffffff')
    assert.equal(text(5, 6), 'EFAULT')
    assert.equal(text(6, 7), 'ok unmapped=0x3000')
    assert.equal(text(7, 8), 'fault')
    assert.equal(text(8, 9), 'viable,container_set')
    assert.match(text(5, 10), /^!the kernel answered E123/)
    assert.match(text(7, 11), /^!the agent could not run it/)
    assert.match(text(7, 12), /no IOMMU fault/)
    assert.match(text(0, 99), /no reply/)
  })

  it('writes a recording that parses, names its setup, and marks where the source expected otherwise', () => {
    const results = new Map<number, KernelResult>(parsed.lines.map((l) => [l.line, { ok: true, text: l.line === 8 ? 'fault' : l.expectedText }]))
    results.set(5, { ok: true, text: 'pgsizes=0x1000 dma_avail=65535 ranges=none' })
    results.set(6, { ok: false, problem: 'not run' })
    const text = formatRecording(
      {
        source: 'example.vfio',
        kernel: 'Linux 6.1.0-0-test',
        qemu: 'QEMU emulator version 7.2.0, TCG',
        machineLines: ['qemu-system-aarch64 -M virt'],
        guest: ['test'],
        groups: 'group 1 = edu',
        profile: 'linux-6.1',
        fixture: 'qemu-smmuv3-7.2',
        recordingPath: 'transcripts/recorded/example.vfio',
      },
      parsed,
      source,
      results,
    )
    assert.deepEqual(recordingSetup(text), { profile: 'linux-6.1', fixture: 'qemu-smmuv3-7.2' })
    const reparsed = parseTranscript(text, 'recorded.vfio')
    assert.deepEqual(reparsed.errors, [])
    assert.equal(reparsed.lines.length, parsed.lines.length - 1)
    assert.match(text, /^get_info +=  ?pgsizes=0x1000 dma_avail=65535 ranges=none$/m, 'get_info keeps every key, and agrees with the source on the one it names')
    assert.match(text, /^# not run: map iova=0x1000 size=0x1000 w vaddr=unmapped \(not run\)$/m)
    assert.match(text, /^dma read iova=0x1000 size=0x40 += fault {3}# transcript: ok$/m)
  })

  it('names the fixture of every SMMU of a machine with several, and replays with all of them', () => {
    const two = [
      'open                                          = ok',
      'group 1 set_container                         = ok',
      'group 2 set_container                         = ok',
      'set_iommu TYPE1v2_IOMMU                       = ok',
      'map iova=0x100000 size=0x1000 rw              = ok',
      'dma read iova=0x100000 size=0x40 group=1      = ok',
      'dma read iova=0x100000 size=0x40 group=2      = ok',
      'unmap all                                     = ok unmapped=0x1000',
      'dma read iova=0x100000 size=0x40 group=2      = fault',
      'group 2 status                                = viable,container_set',
      'group 1 unset_container                       = ok',
      'group 2 unset_container                       = ok',
    ].join('\n')
    const parsedTwo = parseTranscript(two, 'two.vfio')
    const text = formatRecording(
      {
        source: 'two.vfio',
        kernel: 'Linux 6.12.0-test',
        qemu: 'QEMU emulator version 11.1.3, TCG',
        machineLines: ['qemu-system-aarch64 -M virt'],
        guest: ['test'],
        groups: 'group 1 = edu; group 2 = edu',
        profile: 'linux-6.12',
        fixture: 'qemu-smmuv3-11.1-s1',
        moreFixtures: ['qemu-smmuv3-11.1-nested'],
        recordingPath: 'transcripts/recorded/two.vfio',
      },
      parsedTwo,
      two,
      new Map<number, KernelResult>(parsedTwo.lines.map((l) => [l.line, { ok: true, text: l.expectedText }])),
    )
    assert.match(text, /^# {3}Profile: linux-6\.12 +Fixture: qemu-smmuv3-11\.1-s1 qemu-smmuv3-11\.1-nested$/m)
    assert.match(text, /--fixture qemu-smmuv3-11\.1-s1 --fixture qemu-smmuv3-11\.1-nested transcripts\/recorded\/two\.vfio$/m)
    assert.deepEqual(recordingFixtures(text), ['qemu-smmuv3-11.1-s1', 'qemu-smmuv3-11.1-nested'])
    assert.deepEqual(recordingFixtures('#   Profile: linux-6.1          Fixture: qemu-smmuv3-7.2\n'), ['qemu-smmuv3-7.2'])
    assert.equal(recordingFixtures('no header\n'), undefined)
    // Groups 1 and 2 come from the two fixtures (one SMMU each): every call agrees.
    const comparison = compareWithModel(text, 'two.vfio', [])
    assert.equal(comparison.fixture, 'qemu-smmuv3-11.1-s1 qemu-smmuv3-11.1-nested')
    assert.deepEqual(comparison.rows.filter((r) => r.verdict !== 'agree').map((r) => formatRow('two.vfio', r)), [])
    assert.equal(comparison.rows.length, parsedTwo.lines.length)
  })
})
