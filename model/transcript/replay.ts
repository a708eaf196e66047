/**
 * Replay a parsed transcript against a VfioBackend, line by line, keeping the container state the
 * backend builds up: the same call can rightly expect different answers at different points
 * (CHECK_EXTENSION before a group, after SET_CONTAINER, after SET_IOMMU).
 *
 * The replay follows what the backend did, not what the transcript expected: after a line that
 * differs, later lines run against the backend's state.
 */
import type { Result } from '../errno'
import type { IommufdFile, IommuInfo, IovaRange, MigrationCap, VfioBackend, VfioContainer, VfioDeviceFile, VfioGroup } from '../vfio/backend'
import { mapResult as map, observed, Unrunnable, type Observed } from './observed'
import { IommufdSession, describeIommufd, iommufdAgrees } from './replay-iommufd'
import type { Call, Expected, ExtensionRef, GroupAction, ParsedTranscript, TranscriptError, TranscriptLine } from './syntax'

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
  /**
   * A device-level call (docs/transcript-vmm.md): kept as the kernel answered it, outside the
   * model; counted, neither agreeing nor differing.
   */
  | { readonly kind: 'outside'; readonly file: string; readonly line: number; readonly callText: string; readonly expectedText: string }

export interface ReplayReport {
  readonly file: string
  /** One per call line and per broken line, in file order. */
  readonly verdicts: readonly Verdict[]
  readonly agree: number
  /** Lines that differ plus lines in error. */
  readonly differ: number
  /** Device-level lines, outside the model. */
  readonly outside: number
}


/** Replay `transcript` on `backend`, which should be fresh (nothing opened yet). */
export function replayTranscript(transcript: ParsedTranscript, backend: VfioBackend): ReplayReport {
  const replay = new Replay(transcript.file, backend)
  const items: (TranscriptLine | TranscriptError)[] = [...transcript.lines, ...transcript.errors].sort((a, b) => a.line - b.line)
  const verdicts = items.map((item) => replay.verdict(item))
  return { file: transcript.file, verdicts, agree: replay.agree, differ: replay.differ, outside: replay.outside }
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
  /** Lines outside the model (a VMM's device-level calls), counted, never compared. */
  outside = 0

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
    else if (v.kind === 'outside') this.outside++
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
  if (line.call.op === 'device_io') return { kind: 'outside', file, line: line.line, callText: line.callText, expectedText: line.expectedText }
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

/** The open container, groups and devices of one transcript. */
class Session {
  private container: VfioContainer | undefined
  private readonly groups = new Map<number, VfioGroup>()
  /** Devices open through `group N get_device`, by N: the group that gave each. */
  private readonly groupDevices = new Map<number, VfioGroup>()
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
        // `device N close` of a device a group handed out (docs/transcript-vmm.md); else the cdev's.
        if (call.action.kind === 'close' && this.groupDevices.has(call.device)) return this.vmmCall({ op: 'device_close', device: call.device })
        return this.iommufd.run(call)
      case 'object':
      case 'destroy':
      case 'guest':
        return this.iommufd.run(call)
      case 'close':
      case 'exit':
        return this.vmmCall(call)
      case 'iommufd_open':
        return this.iommufd.openIommufd()
      case 'iommufd_close':
        this.iommufd.closeIommufd()
        return observed({ kind: 'ok' })
      case 'iommufd_change_process':
        return this.iommufd.changeProcess()
      case 'device_open':
        return this.iommufd.openDeviceLine(call.device)
      case 'ioas_iova_ranges':
        return this.iommufd.iovaRanges(call.n, call.numIovas)
      case 'device_io':
        throw new Error('device-level lines are not run (judge() counts them outside the model)')
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
        return map(this.theContainer().getInfo(call.argsz), (info) => ({ kind: 'info', info }))
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

  // ---- What a VMM adds (docs/transcript-vmm.md) ----

  private vmmCall(call: { readonly op: 'close' } | { readonly op: 'exit' } | { readonly op: 'device_close'; readonly device: number }): Result<Observed> {
    switch (call.op) {
      case 'close':
        this.theContainer().close()
        this.container = undefined
        return observed({ kind: 'ok' })
      case 'exit':
        // The kernel closes every fd the process still has; a device file keeps its group's file
        // until it goes, so the order does not change what is released.
        for (const [id, group] of this.groupDevices) {
          group.closeDevice()
          this.groupDevices.delete(id)
        }
        for (const [id, group] of this.groups) {
          group.close()
          this.groups.delete(id)
        }
        this.container?.close()
        this.container = undefined
        this.iommufd.closeAll()
        return observed({ kind: 'ok' })
      case 'device_close': {
        const group = this.groupDevices.get(call.device) as VfioGroup
        group.closeDevice()
        this.groupDevices.delete(call.device)
        return observed({ kind: 'ok' })
      }
    }
  }

  /** `group N open`: open("/dev/vfio/N") again, explicitly; `group N close`; `group N get_device`. */
  private vmmGroupCall(id: number, action: 'open' | 'close' | 'get_device'): Result<Observed> {
    if (action === 'open') {
      const opened = this.backend.openGroup(id)
      if (!opened.ok) return opened
      this.groups.set(id, opened.value)
      return observed({ kind: 'ok' })
    }
    if (action === 'close') {
      const group = this.groups.get(id)
      if (group === undefined) throw new Unrunnable('NO_GROUP', `group ${id} is not open`)
      group.close()
      this.groups.delete(id)
      return observed({ kind: 'ok' })
    }
    const group = this.group(id)
    if (!group.ok) return group
    if (this.groupDevices.has(id)) throw new Unrunnable('NO_DEVICE', `device ${id} is open already (one device a group in a transcript; "device ${id} close" first)`)
    const got = group.value.getDevice()
    if (got.ok) this.groupDevices.set(id, group.value)
    return map(got, () => ({ kind: 'ok' }))
  }

  private groupCall(id: number, action: GroupAction): Result<Observed> {
    if (action === 'open' || action === 'close' || action === 'get_device') return this.vmmGroupCall(id, action)
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
    case 'raw':
      return false // device-level lines are outside the model (judge() never compares them)
    case 'iova_ranges':
      return o.kind === 'iova_ranges' && iovaRangesAgree(expected, o)
  }
}

function iovaRangesAgree(e: Extract<Expected, { kind: 'iova_ranges' }>, o: Extract<Observed, { kind: 'iova_ranges' }>): boolean {
  if (e.errno !== o.errno) return false
  if (e.numIovas !== undefined && e.numIovas !== o.numIovas) return false
  if (e.alignment !== undefined && e.alignment !== o.alignment) return false
  if (e.ranges !== undefined) {
    if (e.ranges === 'none') return o.ranges.length === 0
    return e.ranges.length === o.ranges.length && e.ranges.every((r, i) => r.start === o.ranges[i]?.start && r.end === o.ranges[i]?.end)
  }
  return true
}

function infoAgrees(expected: Extract<Expected, { kind: 'info' }>, full: IommuInfo): boolean {
  const info = visibleInfo(full)
  if (expected.pgsizes !== undefined && expected.pgsizes !== info.iovaPgsizes) return false
  if (expected.dmaAvail !== undefined && expected.dmaAvail !== (info.dmaAvail ?? 'none')) return false
  if (expected.argsz !== undefined && expected.argsz !== info.argsz) return false
  if (expected.flags !== undefined && expected.flags !== info.flags) return false
  if (expected.caps !== undefined && describeCaps(info) !== (expected.caps === 'none' ? 'none' : expected.caps.join(','))) return false
  if (expected.migration !== undefined && describeMigration(info) !== (expected.migration === 'none' ? 'none' : migrationText(expected.migration))) return false
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
    case 'iova_ranges': {
      const named = expected.kind === 'iova_ranges'
      const parts = [o.errno ?? 'ok']
      if (!named || expected.numIovas !== undefined) parts.push(`num_iovas=${o.numIovas ?? 'none'}`)
      if (!named || expected.alignment !== undefined) parts.push(`alignment=${o.alignment === undefined ? 'none' : hex(o.alignment)}`)
      if (!named || expected.ranges !== undefined) parts.push(`ranges=${describeRanges(o.ranges)}`)
      return parts.join(' ')
    }
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

function describeInfo(full: IommuInfo, expected: Expected): string {
  const info = visibleInfo(full)
  const named = expected.kind === 'info'
  const want = (key: 'pgsizes' | 'dmaAvail' | 'ranges' | 'argsz' | 'flags' | 'caps' | 'migration'): boolean => (named ? expected[key] !== undefined : ['pgsizes', 'dmaAvail', 'ranges'].includes(key))
  const parts: string[] = []
  if (want('argsz')) parts.push(`argsz=${info.argsz === undefined ? 'none' : `0x${info.argsz.toString(16)}`}`)
  if (want('flags')) parts.push(`flags=0x${info.flags.toString(16)}`)
  if (want('pgsizes')) parts.push(`pgsizes=${hex(info.iovaPgsizes)}`)
  if (want('caps')) parts.push(`caps=${describeCaps(info)}`)
  if (want('migration')) parts.push(`migration=${describeMigration(info)}`)
  if (want('dmaAvail')) parts.push(`dma_avail=${info.dmaAvail ?? 'none'}`)
  if (want('ranges')) parts.push(`ranges=${describeRanges(info.iovaRanges)}`)
  return parts.join(' ')
}

/**
 * What the caller's buffer holds: when a call with argsz did not fit the chain, none of the
 * capabilities reached it (docs/transcript-vmm.md, "get_info argsz=N").
 */
function visibleInfo(info: IommuInfo): IommuInfo {
  if (info.capsCopied !== false) return info
  return { flags: info.flags, iovaPgsizes: info.iovaPgsizes, caps: [], ...(info.argsz === undefined ? {} : { argsz: info.argsz }), capsCopied: false }
}

function describeCaps(info: IommuInfo): string {
  return info.caps === undefined || info.caps.length === 0 ? 'none' : info.caps.join(',')
}

function describeMigration(info: IommuInfo): string {
  return info.migration === undefined ? 'none' : migrationText(info.migration)
}

function migrationText(m: MigrationCap): string {
  return `flags:0x${m.flags.toString(16)},pgsizes:${hex(m.pgsizeBitmap)},max_bitmap:${hex(m.maxDirtyBitmapSize)}`
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
    case 'outside':
      return `${v.file}:${v.line}: outside the model: ${v.callText} = ${v.expectedText}`
  }
}

/** `N agree, N differ`, and `, N outside the model` when device-level lines were replayed. */
export function formatSummary(totals: { readonly agree: number; readonly differ: number; readonly outside?: number }): string {
  return `${totals.agree} agree, ${totals.differ} differ${totals.outside ? `, ${totals.outside} outside the model` : ''}`
}
