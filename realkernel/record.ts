/**
 * A recorded transcript: the calls of a source transcript with the results a real kernel gave,
 * in transcript syntax, under a header that says which kernel, QEMU and machine produced them.
 */
import { parseTranscript, type Expected, type ParsedTranscript } from '../model/transcript'
import type { KernelResult } from './protocol'

export interface RecordingHeader {
  /** Repository-relative path of the transcript whose calls were run. */
  readonly source: string
  readonly kernel: string
  readonly qemu: string
  /** The QEMU command line, one string per printed line. */
  readonly machineLines: readonly string[]
  readonly guest: readonly string[]
  readonly groups: string
  readonly profile: string
  readonly fixture: string
  /** The machine's further SMMUs' fixtures (a machine with several SMMUs). */
  readonly moreFixtures?: readonly string[]
  readonly recordingPath: string
  /** For a kernel given as an image (--kernel-image): its version string and checksum. */
  readonly image?: readonly string[]
  /** What a DMA's result means on this machine (default: edu's DMA, fault = a fault report logged). */
  readonly dma?: string
}

/** Call column width, as in the hand-written transcripts. */
const CALL_WIDTH = 45

/** The header lines of a recording, up to and including the blank line after it. */
export function recordingHeader(header: RecordingHeader): string[] {
  const fixtures = [header.fixture, ...(header.moreFixtures ?? [])]
  return [
    `# Recorded on a real kernel: the calls of ${header.source}, run in a QEMU guest by`,
    '# realkernel/agent/agent.c, each with the result that kernel gave. Written by',
    '# `npm run real-kernel -- --record`, not by hand; why each call does what it does is explained in',
    '# the source transcript. "# transcript: X" marks a line where the source expected X instead.',
    '#',
    `#   Kernel:  ${header.kernel}`,
    ...(header.image ?? []).map((l, i) => `#   ${i === 0 ? 'Image:   ' : '         '}${l}`),
    `#   QEMU:    ${header.qemu}`,
    ...header.machineLines.map((l, i) => `#   ${i === 0 ? 'Machine: ' : '         '}${l}`),
    ...header.guest.map((l, i) => `#   ${i === 0 ? 'Guest:   ' : '         '}${l}`),
    `#   Groups:  ${header.groups}`,
    `#   DMA:     ${header.dma ?? 'by edu\'s DMA engine; "fault" means the guest kernel logged an IOMMU fault report for it'}`,
    '#',
    `#   Profile: ${header.profile}          Fixture: ${fixtures.join(' ')}`,
    `#   Replay:  npx smmu-nesting-tck replay --profile ${header.profile} ${fixtures.map((f) => `--fixture ${f}`).join(' ')} ${header.recordingPath}`,
    '',
  ]
}

/**
 * A recording: the header, then the source's lines in order, each line with a call written by
 * `render` (undefined: no call on that line), blank lines kept (one at a time), comments dropped,
 * lines that did not parse (`broken`) marked.
 */
export function recordingText(header: RecordingHeader, sourceText: string, broken: ReadonlySet<number>, render: (lineNo: number) => string | undefined): string {
  const out: string[] = recordingHeader(header)
  sourceText.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1
    const line = render(lineNo)
    if (line !== undefined) out.push(line)
    else if (broken.has(lineNo)) out.push(`# not run: source line ${lineNo} does not parse`)
    else if (raw.trim() === '' && out[out.length - 1] !== '' && out.length > 0) out.push('')
  })
  while (out[out.length - 1] === '') out.pop()
  return `${out.join('\n')}\n`
}

/** A call with the kernel's result, or why it did not run; "# transcript: X" where the source expected X. */
export function recordedLine(callText: string, result: { ok: true; text: string } | { ok: false; problem: string } | undefined, holds: (kernel: string) => boolean, expectedText: string, width: number): string {
  if (result === undefined || !result.ok) return `# not run: ${callText} (${result === undefined ? 'no result' : result.problem})`
  return `${callText.padEnd(width)} = ${result.text}${holds(result.text) ? '' : `   # transcript: ${expectedText}`}`
}

export function formatRecording(header: RecordingHeader, source: ParsedTranscript, sourceText: string, results: ReadonlyMap<number, KernelResult>): string {
  const byLine = new Map(source.lines.map((l) => [l.line, l]))
  return recordingText(header, sourceText, new Set(source.errors.map((e) => e.line)), (lineNo) => {
    const line = byLine.get(lineNo)
    if (line === undefined) return undefined
    return recordedLine(
      line.callText,
      results.get(lineNo),
      (kernel) => {
        const expected = parseExpected(line.callText, kernel)
        return expected !== undefined && expectationHolds(line.expected, expected)
      },
      line.expectedText,
      CALL_WIDTH,
    )
  })
}

/** The kernel's result as the parser reads it, for comparing with the source's expectation. */
function parseExpected(callText: string, resultText: string): Expected | undefined {
  const parsed = parseTranscript(`${callText} = ${resultText}`, 'recorded')
  return parsed.lines[0]?.expected
}

/**
 * Does what the source transcript expected hold for what the kernel did? The comparison rules of
 * the replay: `ok` accepts any unmapped size, get_info compares only the keys the source wrote.
 */
export function expectationHolds(source: Expected, kernel: Expected): boolean {
  switch (source.kind) {
    case 'errno':
      return kernel.kind === 'errno' && kernel.errno === source.errno
    case 'ok':
      return (kernel.kind === 'ok' || kernel.kind === 'unmapped') && (source.id === undefined || (kernel.kind === 'ok' && kernel.id === source.id))
    case 'fault':
    case 'misplaced':
      return kernel.kind === source.kind
    case 'hwinfo':
      return kernel.kind === 'hwinfo' && [...source.fields].every(([k, v]) => kernel.fields.get(k) === v)
    case 'records':
      return kernel.kind === 'records' && kernel.records.length === source.records.length && source.records.every((r, i) => r.name === kernel.records[i]?.name)
    case 'number':
      return kernel.kind === 'number' && kernel.value === source.value
    case 'status':
      return kernel.kind === 'status' && kernel.viable === source.viable && kernel.containerSet === source.containerSet
    case 'unmapped':
      return kernel.kind === 'unmapped' && kernel.size === source.size
    case 'raw':
      return kernel.kind === 'raw' && kernel.text === source.text
    case 'iova_ranges':
      return kernel.kind === 'iova_ranges' && kernel.errno === source.errno && (source.numIovas === undefined || kernel.numIovas === source.numIovas)
    case 'info': {
      if (kernel.kind !== 'info') return false
      if (source.pgsizes !== undefined && source.pgsizes !== kernel.pgsizes) return false
      if (source.dmaAvail !== undefined && source.dmaAvail !== kernel.dmaAvail) return false
      if (source.ranges === undefined) return true
      if (source.ranges === 'none' || kernel.ranges === 'none' || kernel.ranges === undefined) return source.ranges === kernel.ranges
      const k = kernel.ranges
      return source.ranges.length === k.length && source.ranges.every((r, i) => r.start === k[i]?.start && r.end === k[i]?.end)
    }
  }
}
