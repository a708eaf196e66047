/**
 * Transcript text -> calls and expected results, collecting every problem with its line and
 * column instead of stopping at the first.
 *
 *   <call> = <result>     # comment
 *
 * `#` starts a comment anywhere; blank lines are skipped. Words are separated by blanks, and the
 * call ends at the first word that is exactly `=`. Numbers are hex (0x...) or decimal and may use
 * `_` between digits. Extension names are the uapi names without `VFIO_` (the prefix and the
 * `_IOMMU` suffix are optional); errnos are Linux names.
 */
import { ERRNO, isErrno } from '../errno'
import { closest, suggestion } from '../suggest'
import { printable } from '../textfile'
import { EXTENSION_NAMES, isKnownExtensionName, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_DMA_UNMAP_FLAG_ALL } from '../vfio/uapi'
import type { IovaRange, VaddrSpec } from '../vfio/backend'
import { INFO_VMM_KEYS, parseGetInfo, parseInfoVmmKeys, parseIovaRangesResult, parseRawResult, parseVmmCall, VMM_CALLS, VMM_RESULTS } from './parse-vmm'
import { IOMMUFD_CALLS, IOMMUFD_RESULTS, parseIommufdCall, parseIommufdResult } from './parse-iommufd'
import { textLines, type SourceLine } from './read'
import type { Call, CallOp, Expected, ExpectedKind, ExtensionRef, GroupAction, ParsedTranscript, TranscriptError, TranscriptLine } from './syntax'
import { DMA_SIZE_MAX, keyValues, LineProblem, number, problem, required, splitWords, U32_MAX, U64_MAX, type Word } from './words'

const ERRNO_NAMES = Object.keys(ERRNO)
export { DMA_SIZE_MAX } from './words'

/** Which results each call can have (the first is named in messages). */
const RESULTS: Readonly<Record<CallOp, readonly ExpectedKind[]>> = {
  open: ['ok', 'errno'],
  api_version: ['number', 'errno'],
  check_extension: ['number', 'errno'],
  group: ['ok', 'errno'], // status: see resultKinds()
  set_iommu: ['ok', 'errno'],
  get_info: ['info', 'ok', 'errno'],
  map: ['ok', 'errno'],
  unmap: ['unmapped', 'ok', 'errno'],
  dma: ['ok', 'fault', 'errno'],
  ...IOMMUFD_RESULTS,
  ...VMM_RESULTS,
}

function resultKinds(call: Call): readonly ExpectedKind[] {
  return call.op === 'group' && call.action === 'status' ? ['status', 'errno'] : RESULTS[call.op]
}

const RESULT_SHAPES: Readonly<Record<ExpectedKind, string>> = {
  ok: 'ok',
  errno: 'an errno name (EINVAL, ...)',
  number: 'a number',
  status: 'a comma list of viable, container_set (or none)',
  info: 'pgsizes=, dma_avail=, ranges= (any of them)',
  unmapped: 'ok unmapped=<size>',
  fault: 'fault',
  misplaced: 'misplaced',
  hwinfo: 'ok with key=value fields (type=, idr0=, ...)',
  records: 'empty or vEVENTQ records (F_TRANSLATION sid=0x8 ...)',
  raw: 'the kernel\'s answer as key=value words, a number or ok',
  iova_ranges: 'ok or an errno, then num_iovas= alignment= ranges=',
}

/** Parse a whole transcript. `file` names it in errors. */
export function parseTranscript(text: string, file: string): ParsedTranscript {
  const lines: TranscriptLine[] = []
  const errors: TranscriptError[] = []
  for (const item of parseLines(textLines(text), file)) {
    if ('code' in item) errors.push(item)
    else lines.push(item)
  }
  return { file, lines, errors }
}

/**
 * Parse lines as they come (./read.ts: from a text, or streamed from a file): each call line, or
 * the problem of a line that does not parse or could not be read, in file order; EMPTY at the end
 * when no line held a call or a problem. Holds nothing between lines.
 */
export function* parseLines(source: Iterable<SourceLine>, file: string): Generator<TranscriptLine | TranscriptError> {
  let any = false
  for (const l of source) {
    if ('problem' in l) {
      any = true
      yield { code: l.problem.code, file, line: l.line, column: l.problem.column, message: printable(l.problem.message) }
      continue
    }
    try {
      const parsed = parseLine(l.text, l.line)
      if (parsed === undefined) continue
      any = true
      yield parsed
    } catch (e) {
      if (!(e instanceof LineProblem)) throw e
      any = true
      yield { code: e.code, file, line: l.line, column: e.column, message: printable(e.message) }
    }
  }
  if (!any) {
    yield { code: 'EMPTY', file, line: 1, column: 1, message: 'the transcript has no calls (each call is a line "<call> = <result>", e.g. "open = ok")' }
  }
}

/** One line; undefined for a blank or comment-only line. Throws LineProblem. */
function parseLine(raw: string, line: number): TranscriptLine | undefined {
  const hash = raw.indexOf('#')
  const code = hash < 0 ? raw : raw.slice(0, hash)
  const words = splitWords(code)
  if (words.length === 0) return undefined

  const eq = words.findIndex((w) => w.text === '=')
  if (eq < 0) {
    const glued = words.find((w) => w.text.startsWith('=') || w.text.endsWith('='))
    throw problem('SYNTAX', glued ?? words[words.length - 1] ?? 1, 'expected "<call> = <result>" (the "=" stands alone, with blanks around it)')
  }
  const callWords = words.slice(0, eq)
  const resultWords = words.slice(eq + 1)
  const eqWord = words[eq] as Word
  if (callWords.length === 0) throw problem('SYNTAX', eqWord, 'no call before "="')
  if (resultWords.length === 0) throw problem('SYNTAX', eqWord, 'no result after "="')

  const call = parseCall(callWords)
  const expected = parseResult(call, resultWords)
  return {
    line,
    callText: callWords.map((w) => w.text).join(' '),
    expectedText: resultWords.map((w) => w.text).join(' '),
    call,
    expected,
  }
}


// ---------------------------------------------------------------------------------------------
// Calls

function parseCall(words: readonly Word[]): Call {
  const [verb, ...args] = words as [Word, ...Word[]]
  switch (verb.text) {
    case 'open':
    case 'api_version':
      noArguments(verb, args)
      return { op: verb.text }
    case 'get_info':
      return parseGetInfo(args)
    case 'check_extension':
      return { op: 'check_extension', extension: oneExtension(verb, args) }
    case 'set_iommu':
      return { op: 'set_iommu', type: oneExtension(verb, args) }
    case 'group':
      return parseGroup(verb, args)
    case 'map':
      return parseMap(verb, args)
    case 'unmap':
      return parseUnmap(verb, args)
    case 'dma':
      return parseDma(verb, args)
    default: {
      const vmm = parseVmmCall(verb, args)
      if (vmm !== undefined) return vmm
      const iommufd = parseIommufdCall(verb, args)
      if (iommufd !== undefined) return iommufd
      throw problem('UNKNOWN_CALL', verb, `unknown call "${verb.text}"${suggestion(verb.text, CALLS, 'calls')}`)
    }
  }
}

const CALLS: readonly string[] = ['open', 'api_version', 'check_extension', 'group', 'set_iommu', 'get_info', 'map', 'unmap', 'dma', ...VMM_CALLS, ...IOMMUFD_CALLS]

function noArguments(verb: Word, args: readonly Word[]): void {
  const extra = args[0]
  if (extra !== undefined) throw problem('BAD_ARGUMENT', extra, `${verb.text} takes no arguments`)
}

function oneExtension(verb: Word, args: readonly Word[]): ExtensionRef {
  const [arg, extra] = args
  if (arg === undefined) throw problem('MISSING_ARGUMENT', verb.column + verb.text.length, `${verb.text} needs an extension name or number (e.g. TYPE1v2_IOMMU)`)
  if (extra !== undefined) throw problem('BAD_ARGUMENT', extra, `${verb.text} takes one extension`)
  if (/^[0-9]/.test(arg.text)) return { kind: 'number', value: Number(number(arg, U32_MAX)) }
  if (!/^(__)?[A-Za-z][A-Za-z0-9_]*$/.test(arg.text)) throw problem('BAD_ARGUMENT', arg, `"${arg.text}" is neither an extension name nor a number`)
  if (!isKnownExtensionName(arg.text)) {
    const guess = closest(arg.text.replace(/^VFIO_/, ''), EXTENSION_SPELLINGS)
    const hint = guess === undefined ? 'write the uapi name, e.g. TYPE1_NESTING_IOMMU, or a number' : `did you mean "${guess}"?`
    throw problem('UNKNOWN_EXTENSION', arg, `no kernel has an extension named "${arg.text}" (${hint})`)
  }
  return { kind: 'name', name: arg.text }
}

/** Extension names as a line may write them: with and without `_IOMMU` (`VFIO_` is dropped first). */
const EXTENSION_SPELLINGS: readonly string[] = EXTENSION_NAMES.flatMap((n) => (n.endsWith('_IOMMU') ? [n, n.slice(0, -'_IOMMU'.length)] : [n]))

const GROUP_ACTIONS: readonly GroupAction[] = ['status', 'set_container', 'unset_container', 'open', 'close', 'get_device']

function parseGroup(verb: Word, args: readonly Word[]): Call {
  const [id, action, extra] = args
  if (id === undefined) throw problem('MISSING_ARGUMENT', verb.column + verb.text.length, 'group needs a group number and an action: group N status')
  const group = Number(number(id, U32_MAX))
  if (action === undefined) throw problem('MISSING_ARGUMENT', id.column + id.text.length, `group ${id.text} needs an action: ${GROUP_ACTIONS.join(', ')}`)
  if (!(GROUP_ACTIONS as readonly string[]).includes(action.text)) {
    throw problem('BAD_ARGUMENT', action, `unknown group action "${action.text}"${suggestion(action.text, GROUP_ACTIONS, 'actions')}`)
  }
  if (extra !== undefined) throw problem('BAD_ARGUMENT', extra, `group ${action.text} takes no further arguments`)
  return { op: 'group', group, action: action.text as GroupAction }
}

const PERMISSIONS: Readonly<Record<string, number>> = {
  r: VFIO_DMA_MAP_FLAG_READ,
  w: VFIO_DMA_MAP_FLAG_WRITE,
  rw: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
}

const VADDR_KINDS: readonly VaddrSpec['kind'][] = ['buffer', 'misaligned', 'unmapped', 'pfnmap']

function parseMap(verb: Word, args: readonly Word[]): Call {
  const { values, bare } = keyValues(args, ['iova', 'size', 'flags', 'vaddr'], 'map')
  const example = 'map iova=0x100000 size=0x4000 rw'
  const iova = number(required(values, 'iova', verb, example), U64_MAX)
  const size = number(required(values, 'size', verb, example), U64_MAX)

  const [perm, extra] = bare
  if (extra !== undefined) throw problem('BAD_ARGUMENT', extra, `unexpected "${extra.text}" (map takes one of r, w, rw or flags=)`)
  if (perm !== undefined && PERMISSIONS[perm.text] === undefined) throw problem('BAD_ARGUMENT', perm, `unknown permission "${perm.text}" (r, w, rw, or flags=0x..)`)
  const rawFlags = values.get('flags')
  if (perm !== undefined && rawFlags !== undefined) throw problem('BAD_ARGUMENT', rawFlags.column, 'give r, w, rw or flags=, not both')
  if (perm === undefined && rawFlags === undefined) throw problem('MISSING_ARGUMENT', verb, `map needs a permission: r, w, rw or flags=0x.. (e.g. ${example})`)
  const flags = perm !== undefined ? (PERMISSIONS[perm.text] as number) : Number(number(rawFlags as Word, U32_MAX))

  const vaddrWord = values.get('vaddr')
  let vaddr: VaddrSpec = { kind: 'buffer' }
  if (vaddrWord !== undefined) {
    const kind = VADDR_KINDS.find((k) => k === vaddrWord.text)
    if (kind === undefined) throw problem('BAD_ARGUMENT', vaddrWord, `vaddr= is one of ${VADDR_KINDS.join(', ')}, not "${vaddrWord.text}"`)
    vaddr = { kind }
  }
  return { op: 'map', request: { iova, size, flags, vaddr } }
}

function parseUnmap(verb: Word, args: readonly Word[]): Call {
  if (args[0]?.text === 'all') {
    const extra = args[1]
    if (extra !== undefined) throw problem('BAD_ARGUMENT', extra, '"unmap all" takes no further arguments (write iova= size= flags= for anything else)')
    return { op: 'unmap', request: { iova: 0n, size: 0n, flags: VFIO_DMA_UNMAP_FLAG_ALL } }
  }
  const { values, bare } = keyValues(args, ['iova', 'size', 'flags'], 'unmap')
  const stray = bare[0]
  if (stray !== undefined) throw problem('BAD_ARGUMENT', stray, `unexpected "${stray.text}" (unmap takes iova= size= [flags=], or "all")`)
  const example = 'unmap iova=0x100000 size=0x4000'
  const iova = number(required(values, 'iova', verb, example), U64_MAX)
  const size = number(required(values, 'size', verb, example), U64_MAX)
  const flagsWord = values.get('flags')
  const flags = flagsWord === undefined ? 0 : Number(number(flagsWord, U32_MAX))
  return { op: 'unmap', request: { iova, size, flags } }
}

function parseDma(verb: Word, args: readonly Word[]): Call {
  const [dir, ...rest] = args
  if (dir === undefined || (dir.text !== 'read' && dir.text !== 'write')) {
    throw problem('BAD_ARGUMENT', dir ?? verb, 'dma is "dma read ..." or "dma write ..." (the device reads or writes memory)')
  }
  const { values, bare } = keyValues(rest, ['iova', 'size', 'group'], `dma ${dir.text}`)
  const stray = bare[0]
  if (stray !== undefined) throw problem('BAD_ARGUMENT', stray, `unexpected "${stray.text}" (dma ${dir.text} takes iova= size= [group=])`)
  const example = `dma ${dir.text} iova=0x100000 size=0x40`
  const iova = number(required(values, 'iova', verb, example), U64_MAX)
  const sizeWord = required(values, 'size', verb, example)
  const size = number(sizeWord, DMA_SIZE_MAX)
  if (size === 0n) throw problem('BAD_NUMBER', sizeWord, 'a DMA moves at least one byte')
  const groupWord = values.get('group')
  const group = groupWord === undefined ? undefined : Number(number(groupWord, U32_MAX))
  return { op: 'dma', direction: dir.text, iova, size: Number(size), ...(group === undefined ? {} : { group }) }
}

// ---------------------------------------------------------------------------------------------
// Results

function parseResult(call: Call, words: readonly Word[]): Expected {
  if (call.op === 'device_io') return parseRawResult(words)
  if (call.op === 'ioas_iova_ranges') return parseIovaRangesResult(words, parseRanges)
  if (call.op === 'device' || call.op === 'object' || call.op === 'destroy' || call.op === 'guest') return parseIommufdResult(call, words)
  const kinds = resultKinds(call)
  const first = words[0] as Word
  const wrong = (): LineProblem =>
    problem('BAD_RESULT', first, `${describeCall(call)} results are ${kinds.map((k) => RESULT_SHAPES[k]).join(' or ')}; not "${words.map((w) => w.text).join(' ')}"`)

  if (/^E[A-Z0-9]+$/.test(first.text)) {
    if (words.length > 1) throw problem('BAD_RESULT', words[1] as Word, 'an errno result is one word')
    if (!isErrno(first.text)) throw problem('UNKNOWN_ERRNO', first, `unknown errno name "${first.text}"${suggestion(first.text, ERRNO_NAMES)}`)
    return { kind: 'errno', errno: first.text }
  }
  if (first.text === 'ok') {
    if (words.length === 1 && kinds.includes('ok')) return { kind: 'ok' }
    const second = words[1]
    if (kinds.includes('unmapped') && words.length === 2 && second !== undefined && second.text.startsWith('unmapped=')) {
      return { kind: 'unmapped', size: number({ text: second.text.slice('unmapped='.length), column: second.column + 'unmapped='.length }, U64_MAX) }
    }
    throw wrong()
  }
  if (first.text === 'fault' && words.length === 1 && kinds.includes('fault')) return { kind: 'fault' }
  if (kinds.includes('number') && words.length === 1 && /^[0-9]/.test(first.text)) return { kind: 'number', value: number(first, U64_MAX) }
  if (kinds.includes('status') && words.length === 1) return parseStatus(first)
  if (kinds.includes('info') && first.text.includes('=')) return parseInfo(words)
  throw wrong()
}

function describeCall(call: Call): string {
  if (call.op === 'group') return `group ${call.action}`
  if (call.op === 'dma') return `dma ${call.direction}`
  return call.op
}

const STATUS_FLAGS = ['viable', 'container_set'] as const

function parseStatus(word: Word): Expected {
  if (word.text === 'none') return { kind: 'status', viable: false, containerSet: false }
  const flags = new Set<string>()
  let column = word.column
  for (const f of word.text.split(',')) {
    if (!(STATUS_FLAGS as readonly string[]).includes(f)) {
      throw problem('BAD_RESULT', column, `"${f}" is not a group status flag (flags: ${STATUS_FLAGS.join(', ')}; or none)`)
    }
    if (flags.has(f)) throw problem('BAD_RESULT', column, `${f} listed twice`)
    flags.add(f)
    column += f.length + 1
  }
  return { kind: 'status', viable: flags.has('viable'), containerSet: flags.has('container_set') }
}

function parseInfo(words: readonly Word[]): Expected {
  const { values, bare } = keyValues(words, ['pgsizes', 'dma_avail', 'ranges', ...INFO_VMM_KEYS], 'get_info')
  const stray = bare[0]
  if (stray !== undefined) throw problem('BAD_RESULT', stray, `unexpected "${stray.text}" (get_info results are pgsizes= dma_avail= ranges= ${INFO_VMM_KEYS.map((k) => `${k}=`).join(' ')})`)
  const pgsizes = values.get('pgsizes')
  const dmaAvail = values.get('dma_avail')
  const ranges = values.get('ranges')
  return {
    kind: 'info',
    ...(pgsizes === undefined ? {} : { pgsizes: number(pgsizes, U64_MAX) }),
    ...(dmaAvail === undefined ? {} : { dmaAvail: dmaAvail.text === 'none' ? 'none' : Number(number(dmaAvail, U32_MAX)) }),
    ...(ranges === undefined ? {} : { ranges: ranges.text === 'none' ? 'none' : parseRanges(ranges) }),
    ...parseInfoVmmKeys(values),
  }
}

/** `0x0-0x7ffffff,0x8100000-0xffffffffffff`: inclusive start-end pairs, ascending. */
function parseRanges(word: Word): IovaRange[] {
  const ranges: IovaRange[] = []
  let column = word.column
  for (const pair of word.text.split(',')) {
    const dash = pair.indexOf('-')
    if (dash < 0) throw problem('BAD_RESULT', column, `"${pair}" is not a start-end range (ranges=0x0-0xfff,0x2000-0x2fff, or ranges=none)`)
    const start = number({ text: pair.slice(0, dash), column }, U64_MAX)
    const end = number({ text: pair.slice(dash + 1), column: column + dash + 1 }, U64_MAX)
    if (end < start) throw problem('BAD_RESULT', column, `range ${pair} ends before it starts`)
    const prev = ranges[ranges.length - 1]
    if (prev !== undefined && start <= prev.end) throw problem('BAD_RESULT', column, `range ${pair} overlaps or precedes the one before it`)
    ranges.push({ start, end })
    column += pair.length + 1
  }
  return ranges
}

