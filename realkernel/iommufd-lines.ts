/**
 * iommufd transcripts on a real kernel (docs/transcript-iommufd.md). The guest agent reads these
 * lines' calls as they are written (`ifd <call>`) and answers each with its result in transcript
 * words (`@@ <seq> > <result>`), so the harness needs only to split lines into call and expected
 * result: what each call does in the kernel is the agent's (realkernel/agent/agent.c), what the
 * model does is model/transcript's, both from the same document.
 *
 * A recording of such a transcript is written here (the calls as in the source, each with the
 * kernel's result, "# transcript: X" where the source expected X) and compared with the model by
 * realkernel/compare.ts once the model's parser reads these lines.
 */
import { recordedLine, recordingText, type RecordingHeader } from './record'

/** The first word of an iommufd-grammar call (docs/transcript-iommufd.md sections 3 and 7). */
export const IOMMUFD_CALL_WORDS: readonly string[] = ['device', 'ioas', 'hwpt', 'viommu', 'vdevice', 'veventq', 'destroy', 'guest']

export interface SplitLine {
  /** 1-based. */
  readonly line: number
  /** The call, comment removed and blanks collapsed (quoted values kept as written). */
  readonly callText: string
  readonly expectedText: string
}

export interface SplitTranscript {
  readonly lines: readonly SplitLine[]
  readonly errors: readonly { readonly line: number; readonly message: string }[]
}

/** Blanks collapsed outside quotes. */
function collapse(s: string): string {
  let out = ''
  let quoted = false
  for (const ch of s.trim()) {
    if (ch === '"') quoted = !quoted
    if (!quoted && /\s/.test(ch)) {
      if (!out.endsWith(' ')) out += ' '
    } else out += ch
  }
  return out
}

/**
 * The lines of a transcript as call = result pairs: `#` starts a comment outside quotes; the
 * result follows the first `=` that has a blank on both sides (a `key=value` has none).
 */
export function splitTranscript(text: string): SplitTranscript {
  const lines: SplitLine[] = []
  const errors: { line: number; message: string }[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    let quoted = false
    let cut = raw.length
    let eq = -1
    for (let j = 0; j < raw.length; j++) {
      const ch = raw[j]
      if (ch === '"') quoted = !quoted
      else if (!quoted && ch === '#') {
        cut = j
        break
      } else if (!quoted && ch === '=' && eq < 0 && /\s/.test(raw[j - 1] ?? '') && /\s/.test(raw[j + 1] ?? '')) eq = j
    }
    const body = raw.slice(0, cut)
    if (body.trim() === '') return
    if (quoted) errors.push({ line: i + 1, message: 'unbalanced "' })
    else if (eq < 0 || eq > cut) errors.push({ line: i + 1, message: 'no " = <result>"' })
    else {
      const callText = collapse(body.slice(0, eq))
      const expectedText = collapse(body.slice(eq + 1))
      if (callText === '' || expectedText === '') errors.push({ line: i + 1, message: 'empty call or result' })
      else lines.push({ line: i + 1, callText, expectedText })
    }
  })
  return { lines, errors }
}

/** Is this call one of the iommufd grammar's (and not a container/group line)? */
export function isIommufdCall(callText: string): boolean {
  return IOMMUFD_CALL_WORDS.includes(callText.split(' ')[0] ?? '')
}

/** The agent's command for an iommufd call: the call as written. */
export function iommufdCommand(callText: string): string {
  return `ifd ${callText}`
}

/** `@@ <seq> > <result>` lines of the guest's console: the agent's results in transcript words. */
export function parseResultReplies(output: string): Map<number, string> {
  const out = new Map<number, string>()
  for (const raw of output.split(/\r?\n/)) {
    const m = /@@ (\d+) > (.*)$/.exec(raw)
    if (m !== null) out.set(Number(m[1]), (m[2] as string).trim())
  }
  return out
}

interface ResultRecord {
  readonly name: string
  readonly fields: ReadonlyMap<string, string>
}

/** A result as records: a word without `=` starts one, `key=value` words are its fields. */
export function resultRecords(text: string): ResultRecord[] {
  const records: { name: string; fields: Map<string, string> }[] = []
  for (const word of text.split(' ').filter((w) => w !== '')) {
    const eq = word.indexOf('=')
    if (eq < 0) records.push({ name: word, fields: new Map() })
    else if (records.length > 0) (records[records.length - 1] as { fields: Map<string, string> }).fields.set(word.slice(0, eq), word.slice(eq + 1))
    else records.push({ name: '', fields: new Map([[word.slice(0, eq), word.slice(eq + 1)]]) })
  }
  return records
}

function sameValue(a: string, b: string): boolean {
  if (a === b) return true
  try {
    return BigInt(a) === BigInt(b)
  } catch {
    return false
  }
}

/**
 * Does what the source expected hold for what the kernel said? The same records (names, in
 * order), and for each only the fields the source wrote (docs/transcript-iommufd.md: `id=`,
 * `entry_num=`, hw_info keys and event fields are compared when written).
 */
export function iommufdExpectationHolds(expected: string, kernel: string): boolean {
  const e = resultRecords(expected)
  const k = resultRecords(kernel)
  if (e.length !== k.length) return false
  return e.every((r, i) => {
    const kr = k[i] as ResultRecord
    if (r.name !== kr.name) return false
    for (const [key, value] of r.fields) {
      const kv = kr.fields.get(key)
      if (kv === undefined || !sameValue(value, kv)) return false
    }
    return true
  })
}

/** Width of the call column in recordings of iommufd transcripts (their calls are longer). */
const CALL_WIDTH = 60

/**
 * The recording of an iommufd transcript: its lines, each call with the kernel's result (or
 * "# not run: ..." with why), comments and blank lines of the source dropped as formatRecording
 * does. `results` maps a source line number to the kernel's result text, or to a problem.
 */
export function formatIommufdRecording(header: RecordingHeader, sourceText: string, results: ReadonlyMap<number, { ok: true; text: string } | { ok: false; problem: string }>): string {
  const split = splitTranscript(sourceText)
  const byLine = new Map(split.lines.map((l) => [l.line, l]))
  return recordingText(header, sourceText, new Set(split.errors.map((e) => e.line)), (lineNo) => {
    const line = byLine.get(lineNo)
    return line === undefined ? undefined : recordedLine(line.callText, results.get(lineNo), (kernel) => iommufdExpectationHolds(line.expectedText, kernel), line.expectedText, CALL_WIDTH)
  })
}
