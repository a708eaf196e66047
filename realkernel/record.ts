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
}

/** Call column width, as in the hand-written transcripts. */
const CALL_WIDTH = 45

export function formatRecording(header: RecordingHeader, source: ParsedTranscript, sourceText: string, results: ReadonlyMap<number, KernelResult>): string {
  const fixtures = [header.fixture, ...(header.moreFixtures ?? [])]
  const out: string[] = [
    `# Recorded on a real kernel: the calls of ${header.source}, run in a QEMU guest by`,
    '# realkernel/agent/agent.c, each with the result that kernel gave. Written by',
    '# `npm run real-kernel -- --record`, not by hand; why each call does what it does is explained in',
    '# the source transcript. "# transcript: X" marks a line where the source expected X instead.',
    '#',
    `#   Kernel:  ${header.kernel}`,
    `#   QEMU:    ${header.qemu}`,
    ...header.machineLines.map((l, i) => `#   ${i === 0 ? 'Machine: ' : '         '}${l}`),
    ...header.guest.map((l, i) => `#   ${i === 0 ? 'Guest:   ' : '         '}${l}`),
    `#   Groups:  ${header.groups}`,
    '#   DMA:     by edu\'s DMA engine; "fault" means the guest kernel logged an IOMMU fault report for it',
    '#',
    `#   Profile: ${header.profile}          Fixture: ${fixtures.join(' ')}`,
    `#   Replay:  npx smmu-nesting-tck replay --profile ${header.profile} ${fixtures.map((f) => `--fixture ${f}`).join(' ')} ${header.recordingPath}`,
    '',
  ]
  const byLine = new Map(source.lines.map((l) => [l.line, l]))
  const broken = new Set(source.errors.map((e) => e.line))
  sourceText.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1
    const line = byLine.get(lineNo)
    if (line === undefined) {
      if (broken.has(lineNo)) out.push(`# not run: source line ${lineNo} does not parse`)
      else if (raw.trim() === '' && out[out.length - 1] !== '' && out.length > 0) out.push('')
      return
    }
    const result = results.get(lineNo)
    if (result === undefined || !result.ok) {
      out.push(`# not run: ${line.callText} (${result === undefined ? 'no result' : result.problem})`)
      return
    }
    const expected = parseExpected(line.callText, result.text)
    const holds = expected !== undefined && expectationHolds(line.expected, expected)
    out.push(`${line.callText.padEnd(CALL_WIDTH)} = ${result.text}${holds ? '' : `   # transcript: ${line.expectedText}`}`)
  })
  while (out[out.length - 1] === '') out.pop()
  return `${out.join('\n')}\n`
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
