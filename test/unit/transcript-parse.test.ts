/**
 * Transcript parser: every line form the grammar has, and bad lines reported with their code,
 * line and column (all problems of a file collected, none thrown).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parseTranscript, type Call, type Expected, type TranscriptError } from '../../model/transcript'

/** Parse one line that must be valid. */
function one(text: string): { call: Call; expected: Expected; callText: string; expectedText: string } {
  const parsed = parseTranscript(text, 't.vfio')
  assert.deepEqual(parsed.errors, [], `"${text}" should parse`)
  assert.equal(parsed.lines.length, 1)
  const [l] = parsed.lines
  assert.ok(l !== undefined)
  return l
}

/** Parse one line that must be rejected; returns code, line and column. */
function bad(text: string): Pick<TranscriptError, 'code' | 'line' | 'column'> {
  const parsed = parseTranscript(text, 't.vfio')
  assert.equal(parsed.lines.length, 0, `"${text}" should not parse`)
  assert.equal(parsed.errors.length, 1)
  const [e] = parsed.errors as [TranscriptError]
  assert.equal(e.file, 't.vfio')
  assert.ok(e.message.length > 0)
  return { code: e.code, line: e.line, column: e.column }
}

describe('transcript parser: line forms', () => {
  const GOOD: [string, Call, Expected][] = [
    ['open = ok', { op: 'open' }, { kind: 'ok' }],
    ['open = ENOENT', { op: 'open' }, { kind: 'errno', errno: 'ENOENT' }],
    ['api_version = 0', { op: 'api_version' }, { kind: 'number', value: 0n }],
    ['check_extension TYPE1_NESTING = 1', { op: 'check_extension', extension: { kind: 'name', name: 'TYPE1_NESTING' } }, { kind: 'number', value: 1n }],
    ['check_extension TYPE1_NESTING_IOMMU = 0x1', { op: 'check_extension', extension: { kind: 'name', name: 'TYPE1_NESTING_IOMMU' } }, { kind: 'number', value: 1n }],
    ['check_extension VFIO_TYPE1_NESTING_IOMMU = 0', { op: 'check_extension', extension: { kind: 'name', name: 'VFIO_TYPE1_NESTING_IOMMU' } }, { kind: 'number', value: 0n }],
    ['check_extension 6 = 1', { op: 'check_extension', extension: { kind: 'number', value: 6 } }, { kind: 'number', value: 1n }],
    ['group 0 status = viable,container_set', { op: 'group', group: 0, action: 'status' }, { kind: 'status', viable: true, containerSet: true }],
    ['group 12 status = container_set,viable', { op: 'group', group: 12, action: 'status' }, { kind: 'status', viable: true, containerSet: true }],
    ['group 1 status = viable', { op: 'group', group: 1, action: 'status' }, { kind: 'status', viable: true, containerSet: false }],
    ['group 1 status = none', { op: 'group', group: 1, action: 'status' }, { kind: 'status', viable: false, containerSet: false }],
    ['group 1 status = ENOENT', { op: 'group', group: 1, action: 'status' }, { kind: 'errno', errno: 'ENOENT' }],
    ['group 0 set_container = ok', { op: 'group', group: 0, action: 'set_container' }, { kind: 'ok' }],
    ['group 0 unset_container = EBUSY', { op: 'group', group: 0, action: 'unset_container' }, { kind: 'errno', errno: 'EBUSY' }],
    ['set_iommu TYPE1_NESTING = ok', { op: 'set_iommu', type: { kind: 'name', name: 'TYPE1_NESTING' } }, { kind: 'ok' }],
    ['set_iommu TYPE1v2_IOMMU = EINVAL', { op: 'set_iommu', type: { kind: 'name', name: 'TYPE1v2_IOMMU' } }, { kind: 'errno', errno: 'EINVAL' }],
    ['set_iommu 99 = ENODEV', { op: 'set_iommu', type: { kind: 'number', value: 99 } }, { kind: 'errno', errno: 'ENODEV' }],
    [
      'get_info = pgsizes=0x40201000 dma_avail=65535 ranges=0x0-0x7ffffff,0x8100000-0xffffffffffff',
      { op: 'get_info' },
      {
        kind: 'info',
        pgsizes: 0x40201000n,
        dmaAvail: 65535,
        ranges: [
          { start: 0n, end: 0x7ffffffn },
          { start: 0x8100000n, end: 0xffffffffffffn },
        ],
      },
    ],
    ['get_info = dma_avail=none ranges=none', { op: 'get_info' }, { kind: 'info', dmaAvail: 'none', ranges: 'none' }],
    ['get_info = ok', { op: 'get_info' }, { kind: 'ok' }],
    ['get_info = EINVAL', { op: 'get_info' }, { kind: 'errno', errno: 'EINVAL' }],
    ['map iova=0x100000 size=0x4000 rw = ok', { op: 'map', request: { iova: 0x100000n, size: 0x4000n, flags: 3, vaddr: { kind: 'buffer' } } }, { kind: 'ok' }],
    ['map iova=0x100000 size=0x4000 r = EEXIST', { op: 'map', request: { iova: 0x100000n, size: 0x4000n, flags: 1, vaddr: { kind: 'buffer' } } }, { kind: 'errno', errno: 'EEXIST' }],
    ['map w iova=4096 size=8192 = ok', { op: 'map', request: { iova: 4096n, size: 8192n, flags: 2, vaddr: { kind: 'buffer' } } }, { kind: 'ok' }],
    ['map iova=0x1000 size=0x1000 flags=0x83 = EINVAL', { op: 'map', request: { iova: 0x1000n, size: 0x1000n, flags: 0x83, vaddr: { kind: 'buffer' } } }, { kind: 'errno', errno: 'EINVAL' }],
    ['map iova=0x800000 size=0x1000 rw vaddr=misaligned = EINVAL', { op: 'map', request: { iova: 0x800000n, size: 0x1000n, flags: 3, vaddr: { kind: 'misaligned' } } }, { kind: 'errno', errno: 'EINVAL' }],
    ['map iova=0x800000 size=0x1000 rw vaddr=unmapped = EFAULT', { op: 'map', request: { iova: 0x800000n, size: 0x1000n, flags: 3, vaddr: { kind: 'unmapped' } } }, { kind: 'errno', errno: 'EFAULT' }],
    ['map iova=0x80_0000 size=0x1000 rw vaddr=buffer = ok', { op: 'map', request: { iova: 0x800000n, size: 0x1000n, flags: 3, vaddr: { kind: 'buffer' } } }, { kind: 'ok' }],
    ['unmap iova=0x101000 size=0x1000 = EINVAL', { op: 'unmap', request: { iova: 0x101000n, size: 0x1000n, flags: 0 } }, { kind: 'errno', errno: 'EINVAL' }],
    ['unmap iova=0x101000 size=0x1000 = ok unmapped=0x0', { op: 'unmap', request: { iova: 0x101000n, size: 0x1000n, flags: 0 } }, { kind: 'unmapped', size: 0n }],
    ['unmap iova=0x1000 size=0 flags=0x2 = EINVAL', { op: 'unmap', request: { iova: 0x1000n, size: 0n, flags: 2 } }, { kind: 'errno', errno: 'EINVAL' }],
    ['unmap iova=0x1000 size=0x1000 = ok', { op: 'unmap', request: { iova: 0x1000n, size: 0x1000n, flags: 0 } }, { kind: 'ok' }],
    ['unmap all = ok unmapped=0x9000', { op: 'unmap', request: { iova: 0n, size: 0n, flags: 2 } }, { kind: 'unmapped', size: 0x9000n }],
    ['dma read iova=0x3000000 size=0x40 = ok', { op: 'dma', direction: 'read', iova: 0x3000000n, size: 0x40 }, { kind: 'ok' }],
    ['dma write iova=0x5000000 size=64 = fault', { op: 'dma', direction: 'write', iova: 0x5000000n, size: 64 }, { kind: 'fault' }],
    ['dma write iova=0x5000000 size=64 group=3 = ENODEV', { op: 'dma', direction: 'write', iova: 0x5000000n, size: 64, group: 3 }, { kind: 'errno', errno: 'ENODEV' }],
  ]
  for (const [text, call, expected] of GOOD) {
    it(text, () => {
      const l = one(text)
      assert.deepEqual(l.call, call)
      assert.deepEqual(l.expected, expected)
    })
  }

  it('keeps the call and result as written, comment removed and blanks collapsed', () => {
    const l = one('  map   iova=0x1000  size=0x1000 rw      =   EEXIST    # overlaps the first mapping')
    assert.equal(l.callText, 'map iova=0x1000 size=0x1000 rw')
    assert.equal(l.expectedText, 'EEXIST')
  })

  it('skips blank and comment-only lines and numbers lines from 1', () => {
    const parsed = parseTranscript('# header\n\n   \nopen = ok # the container\r\n  # more\napi_version = 0\n', 't.vfio')
    assert.deepEqual(parsed.errors, [])
    assert.deepEqual(
      parsed.lines.map((l) => [l.line, l.callText]),
      [
        [4, 'open'],
        [6, 'api_version'],
      ],
    )
  })

  it('an empty transcript (no calls, only comments or blank lines) is an error at 1:1', () => {
    for (const text of ['', '\n\n', '# only a comment\n   \n# another\n']) {
      const t = parseTranscript(text, 'e.vfio')
      assert.deepEqual(t.lines, [])
      assert.deepEqual(t.errors.map((e) => [e.code, e.line, e.column]), [['EMPTY', 1, 1]])
    }
  })
})

describe('transcript parser: bad lines', () => {
  const BAD: [string, TranscriptError['code'], number][] = [
    ['open', 'SYNTAX', 1],
    ['open =ok', 'SYNTAX', 6],
    ['open= ok', 'SYNTAX', 1],
    ['= ok', 'SYNTAX', 1],
    ['open =', 'SYNTAX', 6],
    ['opne = ok', 'UNKNOWN_CALL', 1],
    ['open now = ok', 'BAD_ARGUMENT', 6],
    ['api_version = zero', 'BAD_RESULT', 15],
    ['open = EWHATEVER', 'UNKNOWN_ERRNO', 8],
    ['open = EINVAL EPERM', 'BAD_RESULT', 15],
    ['check_extension = 1', 'MISSING_ARGUMENT', 16],
    ['check_extension TYPE1_NESTNG = 1', 'UNKNOWN_EXTENSION', 17],
    ['check_extension nesting! = 1', 'BAD_ARGUMENT', 17],
    ['check_extension TYPE1_IOMMU TYPE1v2_IOMMU = 1', 'BAD_ARGUMENT', 29],
    ['check_extension 0x1_0000_0000 = 0', 'BAD_NUMBER', 17],
    ['check_extension TYPE1_IOMMU = ok', 'BAD_RESULT', 31],
    ['set_iommu = ok', 'MISSING_ARGUMENT', 10],
    ['set_iommu TYPE1_IOMMU = 1', 'BAD_RESULT', 25],
    ['group status = viable', 'BAD_NUMBER', 7],
    ['group 0 = ok', 'MISSING_ARGUMENT', 8],
    ['group 0 attach = ok', 'BAD_ARGUMENT', 9],
    ['group 0 status now = viable', 'BAD_ARGUMENT', 16],
    ['group 0 status = viable,bound', 'BAD_RESULT', 25],
    ['group 0 status = viable,viable', 'BAD_RESULT', 25],
    ['group 0 status = ok', 'BAD_RESULT', 18],
    ['group 0 set_container = viable', 'BAD_RESULT', 25],
    ['map size=0x1000 rw = ok', 'MISSING_ARGUMENT', 1],
    ['map iova=0x1000 rw = ok', 'MISSING_ARGUMENT', 1],
    ['map iova=0x1000 size=0x1000 = ok', 'MISSING_ARGUMENT', 1],
    ['map iova=0x1000 size=0x1000 rwx = ok', 'BAD_ARGUMENT', 29],
    ['map iova=0x1000 size=0x1000 r w = ok', 'BAD_ARGUMENT', 31],
    ['map iova=0x1000 size=0x1000 rw flags=3 = ok', 'BAD_ARGUMENT', 38],
    ['map iova=0x1000 iova=0x2000 size=0x1000 rw = ok', 'DUPLICATE_ARGUMENT', 17],
    ['map iova=0x1000 size=0x1000 rw prot=3 = ok', 'BAD_ARGUMENT', 32],
    ['map iova=0x1000 size=0x1000 rw vaddr=0x1234 = ok', 'BAD_ARGUMENT', 38],
    ['map iova=0xfoo size=0x1000 rw = ok', 'BAD_NUMBER', 10],
    ['map iova= size=0x1000 rw = ok', 'BAD_NUMBER', 10],
    ['map iova=0x1_0000_0000_0000_0000 size=0x1000 rw = ok', 'BAD_NUMBER', 10],
    ['map iova=0x1000 size=0x1000 flags=0x100000000 = ok', 'BAD_NUMBER', 35],
    ['map iova=0x1000 size=0x1000 rw = fault', 'BAD_RESULT', 34],
    ['map iova=0x1000 size=0x1000 rw = ok unmapped=0x1000', 'BAD_RESULT', 34],
    ['unmap all iova=0 = ok', 'BAD_ARGUMENT', 11],
    ['unmap iova=0x1000 = ok', 'MISSING_ARGUMENT', 1],
    ['unmap iova=0x1000 size=0x1000 rw = ok', 'BAD_ARGUMENT', 31],
    ['unmap all = ok unmapped=lots', 'BAD_NUMBER', 25],
    ['unmap all = ok 0x9000', 'BAD_RESULT', 13],
    ['dma iova=0x1000 size=4 = ok', 'BAD_ARGUMENT', 5],
    ['dma = ok', 'BAD_ARGUMENT', 1],
    ['dma copy iova=0x1000 size=4 = ok', 'BAD_ARGUMENT', 5],
    ['dma read iova=0x1000 = ok', 'MISSING_ARGUMENT', 1],
    ['dma read iova=0x1000 size=0 = ok', 'BAD_NUMBER', 27],
    ['dma read iova=0x1000 size=0x100000001 = ok', 'BAD_NUMBER', 27],
    ['dma read iova=0x1000 size=4 = ok unmapped=0x0', 'BAD_RESULT', 31],
    ['dma read iova=0x1000 size=4 = 0', 'BAD_RESULT', 31],
    ['get_info = pgsizes=0x1000 colour=blue', 'BAD_ARGUMENT', 27],
    ['get_info = pgsizes=0x1000 pgsizes=0x2000', 'DUPLICATE_ARGUMENT', 27],
    ['get_info = ranges=0x0-0xfff,0x2000', 'BAD_RESULT', 29],
    ['get_info = ranges=0x0-0xfff,0x2fff-0x2000', 'BAD_RESULT', 29],
    ['get_info = ranges=0x0-0xfff,0x800-0x2000', 'BAD_RESULT', 29],
    ['get_info = ranges=0x0-0xfff,0x2000-0x2fffz', 'BAD_NUMBER', 36],
    ['get_info = 0x40201000', 'BAD_RESULT', 12],
  ]
  for (const [text, code, column] of BAD) {
    it(`${code} at column ${column}: ${text}`, () => {
      assert.deepEqual(bad(text), { code, line: 1, column })
    })
  }

  it('collects every bad line of a file, with its line number, and keeps the good ones', () => {
    const text = ['open = ok', 'opne = ok', '', 'api_version = 0', 'map iova=0x1000 = ok  # no size', 'group 0 status = viable'].join('\n')
    const parsed = parseTranscript(text, 'dir/vmm.vfio')
    assert.deepEqual(
      parsed.lines.map((l) => l.line),
      [1, 4, 6],
    )
    assert.deepEqual(
      parsed.errors.map((e) => [e.file, e.line, e.code]),
      [
        ['dir/vmm.vfio', 2, 'UNKNOWN_CALL'],
        ['dir/vmm.vfio', 5, 'MISSING_ARGUMENT'],
      ],
    )
  })

  it('a "#" inside what looks like an argument still starts a comment', () => {
    assert.deepEqual(bad('map iova=0x1000#1 size=0x1000 rw = ok'), { code: 'SYNTAX', line: 1, column: 5 })
  })
})
