/**
 * Replay a parsed transcript against a VfioBackend, line by line, keeping the container state the
 * backend builds up: the same call can rightly expect different answers at different points
 * (CHECK_EXTENSION before a group, after SET_CONTAINER, after SET_IOMMU).
 *
 * The replay follows what the backend did, not what the transcript expected: after a line that
 * differs, later lines run against the backend's state.
 */
import type { Result } from '../errno'
import type { IommufdFile, IommuInfo, IovaRange, VfioBackend, VfioContainer, VfioDeviceFile, VfioGroup } from '../vfio/backend'
import { mapResult as map, observed, Unrunnable, type Observed } from './observed'
import { IommufdSession, describeIommufd, iommufdAgrees } from './replay-iommufd'
import type { Call, Expected, ExtensionRef, ParsedTranscript, TranscriptError, TranscriptLine } from './syntax'

export type Verdict =
  | { readonly kind: 'agree'; readonly file: string; readonly line: number; readonly callText: string; readonly expectedText: string }
  | {
      readonly kind: 'differ'
      readonly file: string
      readonly line: number
      readonly callText: string
      readonly expectedText: string
      /** What the backend answered, in the transcript's words (an errno name, a value, `fault`). */
      readonly actual: string
      /** The backend's explanation (error message, fault detail): for people, never compared. */
      readonly note?: string
    }
  /** The line could not be replayed (it does not parse, or the state does not allow it). */
  | { readonly kind: 'error'; readonly error: TranscriptError }

export interface ReplayReport {
  readonly file: string
  /** One per call line and per broken line, in file order. */
  readonly verdicts: readonly Verdict[]
  readonly agree: number
  /** Lines that differ plus lines in error. */
  readonly differ: number
}


/** Replay `transcript` on `backend`, which should be fresh (nothing opened yet). */
export function replayTranscript(transcript: ParsedTranscript, backend: VfioBackend): ReplayReport {
  const replay = new Replay(transcript.file, backend)
  const items: (TranscriptLine | TranscriptError)[] = [...transcript.lines, ...transcript.errors].sort((a, b) => a.line - b.line)
  const verdicts = items.map((item) => replay.verdict(item))
  return { file: transcript.file, verdicts, agree: replay.agree, differ: replay.differ }
}

/**
 * A replay fed one line at a time, in file order (parseLines' output, as a file is read): the
 * verdict of each, and the running counts. It keeps the session's state, not the lines or verdicts.
 */
export class Replay {
  private readonly session: Session
  agree = 0
  /** Lines that differ plus lines in error. */
  differ = 0

  constructor(
    readonly file: string,
    backend: VfioBackend,
  ) {
    this.session = new Session(backend)
  }

  /** The verdict of a call line, or the error verdict of a line that could not be parsed or read. */
  verdict(item: TranscriptLine | TranscriptError): Verdict {
    const v: Verdict = 'code' in item ? { kind: 'error', error: item } : judge(this.file, item, this.session)
    if (v.kind === 'agree') this.agree++
    else this.differ++
    return v
  }
}

/**
 * A replay that goes on line by line (features run a transcript's lines a step at a time): the
 * same session, the same verdicts as replayTranscript.
 */
export class TranscriptSession {
  private readonly session: Session

  constructor(
    backend: VfioBackend,
    readonly file = 'vmm.vfio',
  ) {
    this.session = new Session(backend)
  }

  /** /dev/iommu once a line opened it. */
  get iommufdFile(): IommufdFile | undefined {
    return this.session.iommufdFile
  }

  /** Device N's cdev as the lines opened it (opened now if no line did). */
  deviceFile(n: number): VfioDeviceFile {
    return this.session.deviceFile(n)
  }

  /** Run one parsed line; its verdict. */
  runLine(line: TranscriptLine): Verdict {
    return judge(this.file, line, this.session)
  }

  /** Run a call whose result is not stated: what it produced (a failure is a value). */
  runCall(call: Call): { readonly result: Result<Observed>; readonly entryNum?: number } {
    const result = this.session.run(call)
    const entryNum = this.session.lastEntryNum
    return entryNum === undefined ? { result } : { result, entryNum }
  }

  /** Does `expected` hold for what a call produced? */
  holds(expected: Expected, produced: { readonly result: Result<Observed>; readonly entryNum?: number }): boolean {
    return agrees(expected, produced.result, produced.entryNum)
  }

  /** What a call produced, in the transcript's words. */
  describe(produced: { readonly result: Result<Observed>; readonly entryNum?: number }, expected: Expected): string {
    return describe(produced.result, expected, produced.entryNum)
  }
}

function judge(file: string, line: TranscriptLine, session: Session): Verdict {
  let result: Result<Observed>
  try {
    result = session.run(line.call)
  } catch (e) {
    if (e instanceof Unrunnable) return { kind: 'error', error: { code: e.code, file, line: line.line, column: 1, message: e.message } }
    const reason = e instanceof Error ? e.message : String(e)
    return { kind: 'error', error: { code: 'BACKEND_EXCEPTION', file, line: line.line, column: 1, message: `the ${session.backendName} backend threw: ${reason}` } }
  }
  const base = { file, line: line.line, callText: line.callText, expectedText: line.expectedText }
  const entryNum = session.lastEntryNum
  if (agrees(line.expected, result, entryNum)) return { kind: 'agree', ...base }
  const note = noteOf(result)
  return { kind: 'differ', ...base, actual: describe(result, line.expected, entryNum), ...(note === undefined || note === '' ? {} : { note }) }
}

/** The open container and groups of one transcript. */
class Session {
  private container: VfioContainer | undefined
  private readonly groups = new Map<number, VfioGroup>()
  private readonly iommufd: IommufdSession

  constructor(private readonly backend: VfioBackend) {
    this.iommufd = new IommufdSession(backend)
  }

  get backendName(): string {
    return this.backend.name
  }

  /** entry_num as the last invalidate wrote it back (undefined after any other call). */
  get lastEntryNum(): number | undefined {
    return this.iommufd.lastEntryNum
  }

  get iommufdFile(): IommufdFile | undefined {
    return this.iommufd.iommufd
  }

  deviceFile(n: number): VfioDeviceFile {
    const d = this.iommufd.openDevice(n)
    if (!d.ok) throw new Error(`device ${n}: ${d.error.errno}: ${d.error.message}`)
    return d.value
  }

  run(call: Call): Result<Observed> {
    this.iommufd.lastEntryNum = undefined
    switch (call.op) {
      case 'device':
      case 'object':
      case 'destroy':
      case 'guest':
        return this.iommufd.run(call)
      case 'open': {
        const opened = this.backend.openContainer()
        if (!opened.ok) return opened
        this.container = opened.value
        return observed({ kind: 'ok' })
      }
      case 'api_version':
        return map(this.theContainer().getApiVersion(), (v) => ({ kind: 'number', value: BigInt(v) }))
      case 'check_extension': {
        const container = this.theContainer()
        return map(container.checkExtension(this.extension(call.extension)), (v) => ({ kind: 'number', value: BigInt(v) }))
      }
      case 'set_iommu': {
        const container = this.theContainer()
        return map(container.setIommu(this.extension(call.type)), () => ({ kind: 'ok' }))
      }
      case 'get_info':
        return map(this.theContainer().getInfo(), (info) => ({ kind: 'info', info }))
      case 'map':
        return map(this.theContainer().mapDma(call.request), () => ({ kind: 'ok' }))
      case 'unmap':
        return map(this.theContainer().unmapDma(call.request), (r) => ({ kind: 'unmapped', size: r.unmapped }))
      case 'group':
        return this.groupCall(call.group, call.action)
      case 'dma': {
        const group = this.dmaGroup(call.group)
        if (!group.ok) return group
        return map(group.value.dma(call.direction, call.iova, call.size), (outcome) => ({ kind: 'dma', outcome }))
      }
    }
  }

  private groupCall(id: number, action: 'status' | 'set_container' | 'unset_container'): Result<Observed> {
    if (action === 'set_container') {
      const container = this.theContainer()
      const group = this.group(id)
      return group.ok ? map(group.value.setContainer(container), () => ({ kind: 'ok' })) : group
    }
    const group = this.group(id)
    if (!group.ok) return group
    return action === 'status' ? map(group.value.getStatus(), (status) => ({ kind: 'status', status })) : map(group.value.unsetContainer(), () => ({ kind: 'ok' }))
  }

  /** open("/dev/vfio/N") the first time a line names group N; a failed open is the line's result. */
  private group(id: number): Result<VfioGroup> {
    const known = this.groups.get(id)
    if (known !== undefined) return { ok: true, value: known }
    const opened = this.backend.openGroup(id)
    if (opened.ok) this.groups.set(id, opened.value)
    return opened
  }

  private dmaGroup(id: number | undefined): Result<VfioGroup> {
    if (id !== undefined) return this.group(id)
    const open = [...this.groups.values()]
    if (open.length === 1) return { ok: true, value: open[0] as VfioGroup }
    throw new Unrunnable(
      'NO_GROUP',
      open.length === 0 ? 'no group is in use yet: whose device does the DMA? (name one with group=N)' : `${open.length} groups are in use: say whose device does the DMA with group=N`,
    )
  }

  private theContainer(): VfioContainer {
    if (this.container === undefined) throw new Unrunnable('NO_CONTAINER', 'no container is open (the transcript needs an "open = ok" line first)')
    return this.container
  }

  private extension(ref: ExtensionRef): number {
    if (ref.kind === 'number') return ref.value
    const value = this.backend.extension(ref.name)
    if (value === undefined) throw new Unrunnable('NO_SUCH_EXTENSION', `this kernel has no extension named ${ref.name} (write its number to ask anyway)`)
    return value
  }
}


// ---------------------------------------------------------------------------------------------
// Comparing and describing

function agrees(expected: Expected, result: Result<Observed>, entryNum: number | undefined): boolean {
  if (expected.kind === 'errno') return !result.ok && result.error.errno === expected.errno && (expected.entryNum === undefined || expected.entryNum === entryNum)
  if (!result.ok) return false
  const o = result.value
  switch (expected.kind) {
    case 'ok':
      if (o.kind === 'dma') return o.outcome.kind === 'ok' && o.misplaced !== true
      return (expected.id === undefined || (o.kind === 'ok' && o.id === expected.id)) && (expected.entryNum === undefined || expected.entryNum === entryNum)
    case 'misplaced':
    case 'hwinfo':
    case 'records':
      return iommufdAgrees(expected, o)
    case 'fault':
      return o.kind === 'dma' && o.outcome.kind === 'fault'
    case 'number':
      return o.kind === 'number' && o.value === expected.value
    case 'status':
      return o.kind === 'status' && o.status.viable === expected.viable && o.status.containerSet === expected.containerSet
    case 'unmapped':
      return o.kind === 'unmapped' && o.size === expected.size
    case 'info':
      return o.kind === 'info' && infoAgrees(expected, o.info)
  }
}

function infoAgrees(expected: Extract<Expected, { kind: 'info' }>, info: IommuInfo): boolean {
  if (expected.pgsizes !== undefined && expected.pgsizes !== info.iovaPgsizes) return false
  if (expected.dmaAvail !== undefined && expected.dmaAvail !== (info.dmaAvail ?? 'none')) return false
  if (expected.ranges !== undefined) {
    const actual = info.iovaRanges === undefined || info.iovaRanges.length === 0 ? 'none' : info.iovaRanges
    if (expected.ranges === 'none' || actual === 'none') return expected.ranges === actual
    if (expected.ranges.length !== actual.length) return false
    return expected.ranges.every((r, i) => r.start === actual[i]?.start && r.end === actual[i]?.end)
  }
  return true
}

/** The backend's answer in the transcript's vocabulary (for get_info: the keys the line names). */
function describe(result: Result<Observed>, expected: Expected, entryNum: number | undefined): string {
  const withEntryNum = (text: string): string => (entryNum === undefined ? text : `${text} entry_num=${entryNum}`)
  if (!result.ok) return withEntryNum(result.error.errno)
  const o = result.value
  switch (o.kind) {
    case 'ok':
      return withEntryNum(o.id === undefined || expected.kind !== 'ok' || expected.id === undefined ? 'ok' : `ok id=${o.id}`)
    case 'hwinfo':
    case 'records':
      return describeIommufd(o, expected)
    case 'number':
      return o.value.toString()
    case 'status': {
      const flags = [o.status.viable ? 'viable' : '', o.status.containerSet ? 'container_set' : ''].filter((f) => f !== '')
      return flags.length === 0 ? 'none' : flags.join(',')
    }
    case 'unmapped':
      return `ok unmapped=${hex(o.size)}`
    case 'dma':
      return o.misplaced === true ? 'misplaced' : o.outcome.kind
    case 'info':
      return describeInfo(o.info, expected)
  }
}

function noteOf(result: Result<Observed>): string | undefined {
  if (!result.ok) return result.error.message
  const o = result.value
  if (o.kind !== 'dma') return undefined
  return o.outcome.kind === 'fault' ? o.outcome.detail : o.note
}

function describeInfo(info: IommuInfo, expected: Expected): string {
  const named = expected.kind === 'info'
  const want = (key: 'pgsizes' | 'dmaAvail' | 'ranges'): boolean => !named || expected[key] !== undefined
  const parts: string[] = []
  if (want('pgsizes')) parts.push(`pgsizes=${hex(info.iovaPgsizes)}`)
  if (want('dmaAvail')) parts.push(`dma_avail=${info.dmaAvail ?? 'none'}`)
  if (want('ranges')) parts.push(`ranges=${describeRanges(info.iovaRanges)}`)
  return parts.join(' ')
}

function describeRanges(ranges: readonly IovaRange[] | undefined): string {
  if (ranges === undefined || ranges.length === 0) return 'none'
  return ranges.map((r) => `${hex(r.start)}-${hex(r.end)}`).join(',')
}

function hex(n: bigint): string {
  return `0x${n.toString(16)}`
}

// ---------------------------------------------------------------------------------------------
// Printing

/** `file:line: agree: <call> = <expected>`, with ` (model: <actual>)` when it differs. */
export function formatVerdict(v: Verdict, backendName = 'model'): string {
  switch (v.kind) {
    case 'agree':
      return `${v.file}:${v.line}: agree: ${v.callText} = ${v.expectedText}`
    case 'differ':
      return `${v.file}:${v.line}: differ: ${v.callText} = ${v.expectedText} (${backendName}: ${v.actual}${v.note === undefined ? '' : `: ${v.note}`})`
    case 'error':
      return `${v.error.file}:${v.error.line}: error: ${v.error.message}`
  }
}

export function formatSummary(totals: { readonly agree: number; readonly differ: number }): string {
  return `${totals.agree} agree, ${totals.differ} differ`
}
