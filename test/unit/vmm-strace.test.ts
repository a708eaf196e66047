/**
 * strace's count of a VMM's VFIO and iommufd ioctls against the capture library's
 * (realkernel/vmm-strace.ts): strace's lines are read as strace 6.1 writes them with
 * `-f -e raw=ioctl -o FILE`, the capture's names turned into numbers, and the two compared per
 * number; the committed runs (transcripts/recorded/captures/*.strace beside their .capture) agree,
 * and their recording says so.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { ROOT } from '../../model/root'
import { parseCapture } from '../../realkernel/capture/convert'
import { captureIoctlCounts, compareIoctlCounts, describeComparison, IOCTL_NUMBERS, ioctlLabel, isVfioIommufdIoctl, parseStrace } from '../../realkernel/vmm-strace'
import { parseVmmOutput } from '../../realkernel/vmm'

const CAPTURES = path.join(ROOT, 'transcripts', 'recorded', 'captures')
const straced = fs.existsSync(CAPTURES) ? fs.readdirSync(CAPTURES).filter((f) => f.endsWith('.strace')).sort() : []

function capture(...lines: string[]): string {
  return ['# smmu-nesting-tck capture 1 pid=7 exe=/usr/bin/vmm log_fd=1000', ...lines.map((l, i) => `7 ${i + 1} ${l}`)].join('\n')
}

describe('the ioctl numbers', () => {
  it('VFIO and iommufd ioctls are _IO(\';\', nr): VFIO from 100 (0x3b64), iommufd from 0x80', () => {
    // include/uapi/linux/vfio.h: VFIO_TYPE ';', VFIO_BASE 100; iommufd.h: IOMMUFD_TYPE ';', IOMMUFD_CMD_BASE 0x80.
    assert.equal(IOCTL_NUMBERS.VFIO_GET_API_VERSION, 0x3b64)
    assert.equal(IOCTL_NUMBERS.VFIO_IOMMU_MAP_DMA, 0x3b71)
    assert.equal(IOCTL_NUMBERS.VFIO_DEVICE_DETACH_IOMMUFD_PT, 0x3b78)
    assert.equal(IOCTL_NUMBERS.IOMMU_DESTROY, 0x3b80)
    assert.equal(IOCTL_NUMBERS.IOMMU_HWPT_INVALIDATE, 0x3b8d)
    assert.equal(IOCTL_NUMBERS.IOMMU_VEVENTQ_ALLOC, 0x3b93)
    // One number, two calls: a container's and a device's.
    assert.equal(IOCTL_NUMBERS.VFIO_IOMMU_GET_INFO, IOCTL_NUMBERS.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO)
    assert.equal(ioctlLabel(0x3b70), '0x3b70 VFIO_DEVICE_GET_PCI_HOT_RESET_INFO/VFIO_IOMMU_GET_INFO')
    assert.equal(ioctlLabel(0x3bfe), '0x3bfe')
  })

  it('every number is the one the capture library decodes it by (its #defines in capture.c)', () => {
    const c = fs.readFileSync(path.join(ROOT, 'realkernel', 'capture', 'capture.c'), 'utf8')
    let checked = 0
    for (const m of c.matchAll(/^#define ((?:VFIO|IOMMU)_[A-Z0-9_]+) (VFIO|SEMI)\((0x[0-9a-f]+|\d+)\)/gm)) {
      const n = Number(m[3])
      const number = m[2] === 'VFIO' ? 0x3b00 + 100 + n : 0x3b00 + n
      assert.equal(IOCTL_NUMBERS[m[1] as string], number, m[1])
      checked++
    }
    assert.equal(checked, Object.keys(IOCTL_NUMBERS).length, 'capture.c defines every one')
  })

  it('only ";" 0x64-0xff are VFIO\'s or iommufd\'s: KVM\'s and the tty\'s are not', () => {
    assert.ok(isVfioIommufdIoctl(0x3b64))
    assert.ok(isVfioIommufdIoctl(0x3b94))
    assert.ok(!isVfioIommufdIoctl(0x3b63))
    assert.ok(!isVfioIommufdIoctl(0xae80)) // KVM_RUN
    assert.ok(!isVfioIommufdIoctl(0x4018aee1)) // KVM_SET_DEVICE_ATTR
    assert.ok(!isVfioIommufdIoctl(0x5401)) // TCGETS
  })
})

describe('strace\'s lines', () => {
  it('counts each call once, where it starts, by its number; other ioctls count only in the total', () => {
    const text = [
      '131   ioctl(0x9, 0x3b67, 0xffffea1a80b0) = 0',
      '131   ioctl(0xa, 0x3b64, 0)             = 0',
      '131   ioctl(0xa, 0x3b65, 0x3)           = 0x1',
      '133   ioctl(0x10, 0xae80, 0) = 0',
      // Another thread interrupted it: the start carries the request, the resumed half does not.
      '131   ioctl(0x10, 0x3b8d, 0xffffc0de0000 <unfinished ...>',
      '133   ioctl(0x11, 0xae80, 0 <unfinished ...>',
      '131   <... ioctl resumed>)               = 0',
      '133   <... ioctl resumed>)               = 0',
      '131   ioctl(0xa, 0x3b65, 0x8)           = -1 EINVAL (Invalid argument)',
      '131   --- SIGCHLD {si_signo=SIGCHLD} ---',
      '131   +++ exited with 0 +++',
    ].join('\n')
    const s = parseStrace(text)
    assert.equal(s.ioctls, 7)
    assert.deepEqual([...s.counts.entries()].sort(), [
      [0x3b64, 1],
      [0x3b65, 2],
      [0x3b67, 1],
      [0x3b8d, 1],
    ])
    assert.deepEqual(s.unreadable, [])
  })

  it('reads a decimal descriptor and strace\'s "[pid N]" prefix; a decoded request is not read, and says so', () => {
    const s = parseStrace(['[pid   140] ioctl(16, 0x3b80, 0xffff0000) = 0', 'ioctl(3, 0x3b6a, 0x1) = 0', '140 ioctl(16</dev/iommu>, IOMMU_DESTROY, {size=8, id=3}) = 0'].join('\n'))
    assert.deepEqual([...s.counts.entries()].sort(), [
      [0x3b6a, 1],
      [0x3b80, 1],
    ])
    assert.deepEqual(s.unreadable, ['140 ioctl(16</dev/iommu>, IOMMU_DESTROY, {size=8, id=3}) = 0'])
  })

  it('the guest\'s lines: "@@ st" are strace\'s, "@@ strace ioctls" its total; without them there was no strace', () => {
    const out = parseVmmOutput(['@@ vmm exit 0', '@@ cap 7 1 exit open=none', '@@ strace ioctls 9', '@@ st 131   ioctl(0x9, 0x3b67, 0x1) = 0'].join('\n'))
    assert.equal(out.straceIoctls, 9)
    assert.equal(out.strace, '131   ioctl(0x9, 0x3b67, 0x1) = 0\n')
    assert.equal(parseVmmOutput('@@ vmm exit 0\n@@ cap 7 1 exit open=none').strace, undefined)
  })
})

describe('the capture\'s count', () => {
  it('names become numbers; KVM\'s calls and the other calls are not counted; a number the library did not know counts as written', () => {
    const c = parseCapture(
      capture(
        'open path=/dev/vfio/vfio flags=0x2 = 3 kind=container',
        'ioctl container:3 VFIO_GET_API_VERSION = 0',
        'ioctl container:3 VFIO_IOMMU_GET_INFO argsz=0x18 = 0 argsz=0x78 flags=0x3',
        'ioctl device:9 VFIO_DEVICE_GET_PCI_HOT_RESET_INFO argsz=0xc = -1 ENODEV',
        'ioctl kvm-vm:10 KVM_CREATE_DEVICE type=4 flags=0x0 = 0',
        'ioctl device:9 cmd=0x3b76 arg=0xffff0000 = -1 ENOTTY',
        'pread device:9 offset=0x70000000000 size=0x4 = 4 data=3412e811',
        'exit open=container:3',
      ),
    )
    const { counts, unknown } = captureIoctlCounts(c)
    assert.deepEqual([...counts.entries()].sort(), [
      [0x3b64, 1],
      [0x3b70, 2],
      [0x3b76, 1],
    ])
    assert.deepEqual(unknown, [])
  })

  it('an ioctl name it has no number for is reported, not dropped', () => {
    const { unknown } = captureIoctlCounts(parseCapture(capture('open path=/dev/iommu flags=0x2 = 3 kind=iommufd', 'ioctl iommufd:3 IOMMU_SOMETHING_NEW size=8 = 0')))
    assert.deepEqual(unknown, ['capture line 3: IOMMU_SOMETHING_NEW'])
  })
})

describe('the comparison', () => {
  it('agrees when every number has the same count, and says so', () => {
    const a = new Map([
      [0x3b64, 1],
      [0x3b70, 2],
    ])
    const c = compareIoctlCounts(a, new Map(a))
    assert.equal(c.agree, true)
    assert.equal(describeComparison(c), '3 VFIO/iommufd ioctls, the capture 3; the same count for each of the 2 ioctl numbers')
  })

  it('the same totals are not enough: a count that differs for a number fails, with both counts', () => {
    const c = compareIoctlCounts(
      new Map([
        [0x3b80, 2],
        [0x3b8d, 4],
      ]),
      new Map([
        [0x3b80, 3],
        [0x3b8d, 3],
      ]),
    )
    assert.equal(c.agree, false)
    assert.equal(c.straceTotal, 6)
    assert.equal(c.captureTotal, 6)
    assert.equal(describeComparison(c), '6 VFIO/iommufd ioctls, the capture 6; they differ for 0x3b80 IOMMU_DESTROY (strace 2, capture 3), 0x3b8d IOMMU_HWPT_INVALIDATE (strace 4, capture 3)')
  })

  it('a number only one side saw is a difference', () => {
    const c = compareIoctlCounts(new Map([[0x3b6a, 1]]), new Map())
    assert.deepEqual(c.mismatches, [{ cmd: 0x3b6a, strace: 1, capture: 0 }])
  })
})

describe('the committed runs under strace', () => {
  it('there is a strace log beside the capture of QEMU 11\'s accelerated run and of a legacy run', () => {
    assert.ok(straced.includes('vmm-qemu11-accel-virt10-acpi-el2-linux-7.3.strace'), 'the accel run')
    assert.ok(
      straced.some((f) => f.includes('-legacy-')),
      'a legacy run',
    )
  })

  for (const file of straced) {
    it(`${file}: strace counted what the capture counted, for each number, and the recording's header says the totals`, () => {
      const strace = parseStrace(fs.readFileSync(path.join(CAPTURES, file), 'utf8'))
      const cap = captureIoctlCounts(parseCapture(fs.readFileSync(path.join(CAPTURES, file.replace(/\.strace$/, '.capture')), 'utf8')))
      assert.deepEqual(strace.unreadable, [])
      assert.deepEqual(cap.unknown, [])
      const c = compareIoctlCounts(strace.counts, cap.counts)
      assert.deepEqual(c.mismatches, [])
      assert.ok(c.straceTotal > 0, 'strace saw VFIO calls')
      const recording = fs.readFileSync(path.join(CAPTURES, '..', file.replace(/\.strace$/, '.vfio')), 'utf8')
      const header = /^# {3}strace: {2}(\d+) VFIO\/iommufd ioctls, the capture (\d+);/m.exec(recording)
      assert.ok(header !== null, 'the header has the strace line')
      assert.deepEqual([Number(header[1]), Number(header[2])], [c.straceTotal, c.captureTotal])
    })
  }
})
