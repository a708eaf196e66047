/**
 * Replay engine against a small fake VfioBackend: what it calls with which arguments, how it
 * compares and prints, and that it keeps the container state between lines.
 *
 * The fake is deliberately simple (a handful of type1 rules, written here); it tests the engine,
 * not the kernel. The model backend is exercised by the shipped transcripts (test/unit/cli*).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { fail, ok, type Errno, type Result } from '../../model/errno'
import { extensionValue, UAPI_6_1, UAPI_RFC, VFIO_DMA_UNMAP_FLAG_ALL, type UapiTable } from '../../model/vfio/uapi'
import type { DmaMapRequest, DmaOutcome, DmaUnmapRequest, GroupStatus, IommuInfo, VfioBackend, VfioContainer, VfioGroup } from '../../model/vfio/backend'
import { formatSummary, formatVerdict, parseTranscript, replayTranscript, type ReplayReport } from '../../model/transcript'

interface FakeOptions {
  uapi?: UapiTable
  /** Group ids that exist. */
  groups?: number[]
  /** SET_IOMMU of this type fails with this errno (e.g. nesting on VT-d). */
  failingType?: { type: number; errno: Errno }
  /** The backend throws on this call. */
  throwOn?: 'getInfo'
}

/** A toy type1 container: enough rules to see state carried between lines. */
class FakeBackend implements VfioBackend {
  readonly name = 'fake'
  readonly log: string[] = []
  iommuType: number | undefined
  readonly attached = new Set<number>()
  readonly mappings: DmaMapRequest[] = []

  constructor(readonly opts: FakeOptions = {}) {}

  extension(name: string): number | undefined {
    return extensionValue(this.opts.uapi ?? UAPI_6_1, name)
  }

  openContainer(): Result<VfioContainer> {
    this.log.push('openContainer')
    return ok(this.container())
  }

  openGroup(id: number): Result<VfioGroup> {
    this.log.push(`openGroup ${id}`)
    if (!(this.opts.groups ?? [1]).includes(id)) return fail('ENOENT', `no /dev/vfio/${id}`)
    return ok(this.group(id))
  }

  private container(): VfioContainer {
    return {
      getApiVersion: () => ok(0),
      checkExtension: (ext: number): Result<number> => {
        this.log.push(`checkExtension ${ext}`)
        if (ext === 10) return ok(this.iommuType === undefined ? 0 : 1) // UPDATE_VADDR
        return ok([1, 3, 6, 9].includes(ext) ? 1 : 0)
      },
      setIommu: (type: number): Result<void> => {
        this.log.push(`setIommu ${type}`)
        if (this.attached.size === 0 || this.iommuType !== undefined) return fail('EINVAL', 'no group, or already set')
        if (![1, 3, 6].includes(type)) return fail('ENODEV', 'no driver')
        if (this.opts.failingType?.type === type) return fail(this.opts.failingType.errno, 'attach failed')
        this.iommuType = type
        return ok()
      },
      getInfo: (): Result<IommuInfo> => {
        if (this.opts.throwOn === 'getInfo') throw new Error('boom')
        if (this.iommuType === undefined) return fail('EINVAL', 'no iommu')
        return ok({ flags: 3, iovaPgsizes: 0x1000n, dmaAvail: 100 - this.mappings.length, iovaRanges: [{ start: 0n, end: 0xffffn }] })
      },
      mapDma: (req: DmaMapRequest): Result<void> => {
        this.log.push(`mapDma ${req.iova.toString(16)} ${req.size.toString(16)} ${req.flags} ${req.vaddr.kind}`)
        if (this.iommuType === undefined) return fail('EINVAL', 'no iommu')
        if (this.mappings.some((m) => req.iova < m.iova + m.size && m.iova < req.iova + req.size)) return fail('EEXIST', 'overlap')
        this.mappings.push(req)
        return ok()
      },
      unmapDma: (req: DmaUnmapRequest): Result<{ unmapped: bigint }> => {
        this.log.push(`unmapDma ${req.iova.toString(16)} ${req.size.toString(16)} ${req.flags}`)
        const all = (req.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0
        const gone = this.mappings.filter((m) => all || (m.iova >= req.iova && m.iova + m.size <= req.iova + req.size))
        for (const g of gone) this.mappings.splice(this.mappings.indexOf(g), 1)
        return ok({ unmapped: gone.reduce((n, m) => n + m.size, 0n) })
      },
      close: (): void => {
        this.log.push('closeContainer')
      },
    }
  }

  private group(id: number): VfioGroup {
    return {
      id,
      getStatus: (): Result<GroupStatus> => ok({ viable: true, containerSet: this.attached.has(id) }),
      setContainer: (): Result<void> => {
        this.log.push(`setContainer ${id}`)
        this.attached.add(id)
        return ok()
      },
      unsetContainer: (): Result<void> => {
        if (!this.attached.delete(id)) return fail('EINVAL', 'not set')
        return ok()
      },
      getDevice: (): Result<void> => {
        this.log.push(`getDevice ${id}`)
        return this.attached.has(id) && this.iommuType !== undefined ? ok() : fail('EINVAL', 'no container with an iommu')
      },
      closeDevice: (): void => {
        this.log.push(`closeDevice ${id}`)
      },
      close: (): void => {
        this.log.push(`closeGroup ${id}`)
        this.attached.delete(id)
      },
      dma: (op: 'read' | 'write', iova: bigint, size: number): Result<DmaOutcome> => {
        this.log.push(`dma ${id} ${op} ${iova.toString(16)} ${size}`)
        const m = this.mappings.find((x) => iova >= x.iova && iova + BigInt(size) <= x.iova + x.size)
        if (m === undefined) return ok({ kind: 'fault', detail: 'translation fault' })
        const allowed = op === 'read' ? (m.flags & 1) !== 0 : (m.flags & 2) !== 0
        return ok(allowed ? { kind: 'ok' } : { kind: 'fault' })
      },
    }
  }
}

function replay(text: string, backend: VfioBackend = new FakeBackend()): ReplayReport {
  return replayTranscript(parseTranscript(text, 't.vfio'), backend)
}

function printed(report: ReplayReport): string[] {
  return report.verdicts.map((v) => formatVerdict(v))
}

const SETUP = ['open = ok', 'group 1 set_container = ok', 'set_iommu TYPE1v2_IOMMU = ok'].join('\n')

describe('transcript replay', () => {
  it('prints one verdict per line and a summary; differing lines show what the backend said', () => {
    const report = replay(['open = ok', 'api_version = 0', 'api_version = 1   # wrong on purpose', 'set_iommu TYPE1v2_IOMMU = ok'].join('\n'))
    assert.deepEqual(printed(report), [
      't.vfio:1: agree: open = ok',
      't.vfio:2: agree: api_version = 0',
      't.vfio:3: differ: api_version = 1 (model: 0)',
      't.vfio:4: differ: set_iommu TYPE1v2_IOMMU = ok (model: EINVAL: no group, or already set)',
    ])
    assert.equal(report.agree, 2)
    assert.equal(report.differ, 2)
    assert.equal(formatSummary(report), '2 agree, 2 differ')
    assert.equal(formatVerdict(report.verdicts[2] as never, 'kernel'), 't.vfio:3: differ: api_version = 1 (kernel: 0)')
    // The answer in the transcript's words, apart from the backend's explanation (never compared).
    const v = report.verdicts[3]
    assert.deepEqual(v?.kind === 'differ' ? [v.actual, v.note] : [], ['EINVAL', 'no group, or already set'])
  })

  it('keeps the container state: the same line can rightly expect different answers', () => {
    const report = replay(
      [
        'open = ok',
        'check_extension UPDATE_VADDR = 0     # no iommu yet',
        'group 1 status = viable',
        'group 1 set_container = ok',
        'group 1 status = viable,container_set',
        'check_extension UPDATE_VADDR = 0',
        'set_iommu TYPE1v2_IOMMU = ok',
        'check_extension UPDATE_VADDR = 1     # now it has one',
        'set_iommu TYPE1v2_IOMMU = EINVAL     # only once',
      ].join('\n'),
    )
    assert.deepEqual(
      report.verdicts.map((v) => v.kind),
      Array(9).fill('agree'),
    )
  })

  it('resolves extension names through the backend (each kernel its own values); numbers pass through', () => {
    const b6 = new FakeBackend()
    replay(['open = ok', 'check_extension TYPE1_NESTING = 1', 'check_extension VFIO_TYPE1_NESTING_IOMMU = 1', 'check_extension 5 = 0'].join('\n'), b6)
    assert.deepEqual(
      b6.log.filter((l) => l.startsWith('checkExtension')),
      ['checkExtension 6', 'checkExtension 6', 'checkExtension 5'],
    )
    const rfc = new FakeBackend({ uapi: UAPI_RFC })
    const report = replay(['open = ok', 'check_extension TYPE1_NESTING_IOMMU = 0', 'check_extension UNMAP_ALL = 1', 'check_extension 9 = 1', 'set_iommu UNMAP_ALL = ENODEV'].join('\n'), rfc)
    assert.deepEqual(rfc.log.filter((l) => l.startsWith('checkExtension')), ['checkExtension 5', 'checkExtension 9'])
    assert.deepEqual(printed(report), [
      't.vfio:1: agree: open = ok',
      't.vfio:2: agree: check_extension TYPE1_NESTING_IOMMU = 0',
      't.vfio:3: error: this kernel has no extension named UNMAP_ALL (write its number to ask anyway)',
      't.vfio:4: agree: check_extension 9 = 1',
      't.vfio:5: error: this kernel has no extension named UNMAP_ALL (write its number to ask anyway)',
    ])
    assert.deepEqual(
      report.verdicts.flatMap((v) => (v.kind === 'error' ? [v.error.code] : [])),
      ['NO_SUCH_EXTENSION', 'NO_SUCH_EXTENSION'],
    )
    assert.equal(report.differ, 2)
  })

  it('passes map, unmap and dma arguments through as the uapi has them', () => {
    const b = new FakeBackend({ groups: [1, 2] })
    const report = replay(
      [
        SETUP,
        'map iova=0x100000 size=0x4000 rw = ok',
        'map iova=0x200000 size=0x1000 r vaddr=misaligned = ok',
        'map iova=0x300000 size=0x1000 flags=0x83 vaddr=unmapped = ok',
        'dma read iova=0x100000 size=0x40 = ok',
        'dma write iova=0x200000 size=64 = fault',
        'group 2 set_container = ok',
        'dma read iova=0x100000 size=8 group=2 = ok',
        'unmap iova=0x100000 size=0x4000 flags=0x4 = ok unmapped=0x4000',
        'unmap all = ok unmapped=0x2000',
      ].join('\n'),
      b,
    )
    assert.deepEqual(
      report.verdicts.filter((v) => v.kind !== 'agree'),
      [],
    )
    assert.deepEqual(
      b.log.filter((l) => /^(mapDma|unmapDma|dma)/.test(l)),
      [
        'mapDma 100000 4000 3 buffer',
        'mapDma 200000 1000 1 misaligned',
        'mapDma 300000 1000 131 unmapped',
        'dma 1 read 100000 64',
        'dma 1 write 200000 64',
        'dma 2 read 100000 8',
        'unmapDma 100000 4000 4',
        `unmapDma 0 0 ${VFIO_DMA_UNMAP_FLAG_ALL}`,
      ],
    )
  })

  it('compares only the get_info keys a line names, and prints those', () => {
    const report = replay(
      [
        SETUP,
        'get_info = pgsizes=0x1000 dma_avail=100 ranges=0x0-0xffff',
        'get_info = dma_avail=100',
        'get_info = ok',
        'get_info = pgsizes=0x40201000',
        'get_info = dma_avail=99 ranges=none',
        'map iova=0 size=0x1000 rw = ok',
        'get_info = dma_avail=99',
      ].join('\n'),
    )
    assert.deepEqual(printed(report).slice(3), [
      't.vfio:4: agree: get_info = pgsizes=0x1000 dma_avail=100 ranges=0x0-0xffff',
      't.vfio:5: agree: get_info = dma_avail=100',
      't.vfio:6: agree: get_info = ok',
      't.vfio:7: differ: get_info = pgsizes=0x40201000 (model: pgsizes=0x1000)',
      't.vfio:8: differ: get_info = dma_avail=99 ranges=none (model: dma_avail=100 ranges=0x0-0xffff)',
      't.vfio:9: agree: map iova=0 size=0x1000 rw = ok',
      't.vfio:10: agree: get_info = dma_avail=99',
    ])
  })

  it('status compares as a set; unmapped sizes and dma faults are printed in the same words', () => {
    const report = replay(
      [
        'open = ok',
        'group 1 status = viable,container_set',
        'group 1 set_container = ok',
        'group 1 status = container_set,viable',
        'set_iommu 3 = ok',
        'map iova=0x1000 size=0x1000 rw = ok',
        'unmap iova=0x0 size=0x10000 = ok unmapped=0x2000',
        'dma read iova=0x1000 size=4 = ok',
        'dma read iova=0x9000 size=4 = fault',
      ].join('\n'),
    )
    assert.deepEqual(
      report.verdicts.filter((v) => v.kind === 'differ').map((v) => formatVerdict(v)),
      [
        't.vfio:2: differ: group 1 status = viable,container_set (model: viable)',
        't.vfio:7: differ: unmap iova=0x0 size=0x10000 = ok unmapped=0x2000 (model: ok unmapped=0x1000)',
        't.vfio:8: differ: dma read iova=0x1000 size=4 = ok (model: fault: translation fault)',
      ],
    )
  })

  it('an errno expectation agrees only with that errno; a failure never agrees with ok', () => {
    const report = replay([SETUP, 'map iova=0x1000 size=0x1000 rw = ok', 'map iova=0x1000 size=0x1000 rw = EEXIST', 'map iova=0x1000 size=0x1000 rw = EINVAL', 'map iova=0x1000 size=0x1000 rw = ok'].join('\n'))
    assert.deepEqual(
      report.verdicts.slice(3).map((v) => v.kind),
      ['agree', 'agree', 'differ', 'differ'],
    )
  })

  it('follows the backend after a differing line, not the transcript', () => {
    const b = new FakeBackend({ failingType: { type: 6, errno: 'EINVAL' } })
    const report = replay(
      [
        'open = ok',
        'group 1 set_container = ok',
        'set_iommu TYPE1_NESTING = ok        # a transcript from other hardware',
        'map iova=0x1000 size=0x1000 rw = ok # so this now fails: no iommu',
        'set_iommu TYPE1v2_IOMMU = ok        # the VMM falls back',
        'map iova=0x1000 size=0x1000 rw = ok',
      ].join('\n'),
      b,
    )
    assert.deepEqual(
      report.verdicts.map((v) => v.kind),
      ['agree', 'agree', 'differ', 'differ', 'agree', 'agree'],
    )
    assert.equal(b.iommuType, 3)
  })

  it('opens groups on first use; a failed open is the line result', () => {
    const b = new FakeBackend()
    const report = replay(['group 7 status = ENOENT', 'group 1 status = viable', 'group 1 status = viable', 'open = ok', 'group 7 set_container = ENOENT'].join('\n'), b)
    assert.equal(report.differ, 0)
    assert.deepEqual(
      b.log.filter((l) => l.startsWith('openGroup')),
      ['openGroup 7', 'openGroup 1', 'openGroup 7'],
    )
  })

  it('lines the state does not allow are errors: no container, no group for dma', () => {
    const report = replay(
      ['api_version = 0', 'group 1 set_container = ok', 'dma read iova=0 size=4 = fault', 'open = ok', 'group 1 status = viable', 'group 2 status = viable', 'dma read iova=0 size=4 = fault'].join('\n'),
      new FakeBackend({ groups: [1, 2] }),
    )
    assert.deepEqual(
      report.verdicts.map((v) => (v.kind === 'error' ? `${v.error.line} ${v.error.code}` : `${v.line} ${v.kind}`)),
      ['1 NO_CONTAINER', '2 NO_CONTAINER', '3 NO_GROUP', '4 agree', '5 agree', '6 agree', '7 NO_GROUP'],
    )
    assert.equal(report.differ, 4)
  })

  it('parse errors are verdicts in line order and count as differing', () => {
    const report = replay(['open = ok', 'opne = ok', 'api_version = 0'].join('\n'))
    assert.deepEqual(printed(report), ['t.vfio:1: agree: open = ok', 't.vfio:2: error: unknown call "opne" (did you mean "open"? calls: open, api_version, check_extension, group, set_iommu, get_info, map, unmap, dma, close, exit, iommufd, device, ioas, hwpt, viommu, vdevice, veventq, destroy, guest)', 't.vfio:3: agree: api_version = 0'])
    assert.deepEqual({ agree: report.agree, differ: report.differ }, { agree: 2, differ: 1 })
  })

  it('a backend that throws is reported against the line, and the replay goes on', () => {
    const report = replay([SETUP, 'get_info = ok', 'api_version = 0'].join('\n'), new FakeBackend({ throwOn: 'getInfo' }))
    const v = report.verdicts[3]
    assert.equal(v?.kind, 'error')
    assert.equal(v.kind === 'error' ? v.error.code : '', 'BACKEND_EXCEPTION')
    assert.equal(formatVerdict(v), 't.vfio:4: error: the fake backend threw: boom')
    assert.equal(report.verdicts[4]?.kind, 'agree')
  })
})
