/**
 * The lines a real VMM adds (docs/transcript-vmm.md): `get_info argsz=N` and the keys of what it
 * received, `close`, `exit`, and the device-level `device N <action>` lines kept as the kernel
 * answered them. `group N open|close|get_device` are group actions (./parse.ts).
 */
import { ERRNO, isErrno, type Errno } from '../errno'
import { suggestion } from '../suggest'
import type { IovaRange, MigrationCap } from '../vfio/backend'
import type { Call, Expected } from './syntax'
import { DEVICE_IO_ACTIONS } from './vmm-syntax'
import { keyValues, number, problem, U32_MAX, U64_MAX, type Word } from './words'

const ERRNO_NAMES = Object.keys(ERRNO)

export const VMM_CALLS: readonly string[] = ['close', 'exit', 'iommufd']

/** The calls this module parses (their results: VMM_RESULTS). */
export const VMM_RESULTS = {
  close: ['ok', 'errno'],
  exit: ['ok'],
  device_io: ['raw', 'errno'],
  iommufd_open: ['ok', 'errno'],
  iommufd_close: ['ok'],
  device_open: ['ok', 'errno'],
  ioas_iova_ranges: ['iova_ranges'],
} as const

/**
 * `close`, `exit`, `iommufd open|close`, `device N open`, `ioas N iova_ranges [num_iovas=K]`, or
 * a device-level `device N <action> ...`; undefined for any other line (a `device N` or `ioas N`
 * line whose action is docs/transcript-iommufd.md's goes on to that parser).
 */
export function parseVmmCall(verb: Word, args: readonly Word[]): Call | undefined {
  const none = (from: number): void => {
    const extra = args[from]
    if (extra !== undefined) throw problem('BAD_ARGUMENT', extra, `unexpected "${extra.text}": this line takes no further arguments`)
  }
  if (verb.text === 'close' || verb.text === 'exit') {
    none(0)
    return { op: verb.text }
  }
  if (verb.text === 'iommufd') {
    const action = args[0]
    if (action === undefined || (action.text !== 'open' && action.text !== 'close')) throw problem('BAD_ARGUMENT', action ?? verb, 'iommufd open, or iommufd close')
    none(1)
    return { op: action.text === 'open' ? 'iommufd_open' : 'iommufd_close' }
  }
  if (verb.text === 'ioas' && args[1]?.text === 'iova_ranges') {
    const n = Number(number(args[0] as Word, U32_MAX))
    const { values, bare } = keyValues(args.slice(2), ['num_iovas'], 'ioas iova_ranges')
    if (bare[0] !== undefined) throw problem('BAD_ARGUMENT', bare[0], 'ioas N iova_ranges takes [num_iovas=K] (room for K ranges; default 64)')
    const num = values.get('num_iovas')
    return { op: 'ioas_iova_ranges', n, numIovas: num === undefined ? 64 : Number(number(num, U32_MAX)) }
  }
  if (verb.text !== 'device') return undefined
  if (args[1]?.text === 'open') {
    const n = Number(number(args[0] as Word, U32_MAX))
    none(2)
    return { op: 'device_open', device: n }
  }
  const [id, action, ...rest] = args
  const io = DEVICE_IO_ACTIONS.find((a) => a === action?.text)
  if (id === undefined || action === undefined || io === undefined) return undefined
  const device = Number(number(id, U32_MAX))
  const seen = new Set<string>()
  for (const w of rest) {
    const eq = w.text.indexOf('=')
    if (eq <= 0 || eq === w.text.length - 1) throw problem('BAD_ARGUMENT', w, `"${w.text}" is not key=value (device ${io} takes key=value arguments)`)
    const key = w.text.slice(0, eq)
    if (seen.has(key)) throw problem('DUPLICATE_ARGUMENT', w, `${key}= given twice`)
    seen.add(key)
  }
  return { op: 'device_io', device, action: io, args: rest.map((w) => w.text) }
}

/** The device-level actions, for the message of an unknown `device N` action. */
export const DEVICE_IO_ACTION_NAMES: readonly string[] = DEVICE_IO_ACTIONS

/** `get_info [argsz=N]`: the caller's argsz (a VMM's first call asks with the bare struct). */
export function parseGetInfo(args: readonly Word[]): Call {
  const { values, bare } = keyValues(args, ['argsz'], 'get_info')
  const stray = bare[0]
  if (stray !== undefined) throw problem('BAD_ARGUMENT', stray, `unexpected "${stray.text}" (get_info takes nothing, or argsz=N)`)
  const argsz = values.get('argsz')
  return argsz === undefined ? { op: 'get_info' } : { op: 'get_info', argsz: Number(number(argsz, U32_MAX)) }
}

/** get_info's result keys for what a VMM sees: argsz= flags= caps= migration=. */
export const INFO_VMM_KEYS = ['argsz', 'flags', 'caps', 'migration'] as const

const CAP_NAMES: readonly string[] = ['migration', 'dma_avail', 'iova_range']

export function parseInfoVmmKeys(values: Map<string, Word>): Partial<Extract<Expected, { kind: 'info' }>> {
  const argsz = values.get('argsz')
  const flags = values.get('flags')
  const caps = values.get('caps')
  const migration = values.get('migration')
  return {
    ...(argsz === undefined ? {} : { argsz: Number(number(argsz, U32_MAX)) }),
    ...(flags === undefined ? {} : { flags: Number(number(flags, U32_MAX)) }),
    ...(caps === undefined ? {} : { caps: caps.text === 'none' ? 'none' : parseCapList(caps) }),
    ...(migration === undefined ? {} : { migration: migration.text === 'none' ? 'none' : parseMigration(migration) }),
  }
}

/** `caps=migration,dma_avail,iova_range`: the chain's capabilities in order. */
function parseCapList(word: Word): string[] {
  let column = word.column
  return word.text.split(',').map((name) => {
    if (!CAP_NAMES.includes(name)) throw problem('BAD_RESULT', column, `"${name}" is not a GET_INFO capability (${CAP_NAMES.join(', ')}; or caps=none)`)
    column += name.length + 1
    return name
  })
}

/** `migration=flags:0x0,pgsizes:0x1000,max_bitmap:0x10000000`. */
function parseMigration(word: Word): MigrationCap {
  const fields = new Map<string, bigint>()
  let column = word.column
  for (const part of word.text.split(',')) {
    const colon = part.indexOf(':')
    const key = part.slice(0, colon)
    if (colon < 0 || !['flags', 'pgsizes', 'max_bitmap'].includes(key)) {
      throw problem('BAD_RESULT', column, `"${part}" is not a migration field (migration=flags:F,pgsizes:P,max_bitmap:M, or none)`)
    }
    if (fields.has(key)) throw problem('DUPLICATE_ARGUMENT', column, `${key} given twice`)
    fields.set(key, number({ text: part.slice(colon + 1), column: column + colon + 1 }, U64_MAX))
    column += part.length + 1
  }
  const missing = ['flags', 'pgsizes', 'max_bitmap'].find((k) => !fields.has(k))
  if (missing !== undefined) throw problem('BAD_RESULT', word, `migration= needs ${missing}: (migration=flags:F,pgsizes:P,max_bitmap:M)`)
  return { flags: Number(fields.get('flags')), pgsizeBitmap: fields.get('pgsizes') as bigint, maxDirtyBitmapSize: fields.get('max_bitmap') as bigint }
}

/** `ok|EMSGSIZE|<errno> [num_iovas=N] [alignment=A] [ranges=...]`: what IOMMU_IOAS_IOVA_RANGES wrote back. */
export function parseIovaRangesResult(words: readonly Word[], parseRanges: (w: Word) => IovaRange[]): Expected {
  const first = words[0] as Word
  let errno: Errno | undefined
  if (/^E[A-Z0-9]+$/.test(first.text)) {
    if (!isErrno(first.text)) throw problem('UNKNOWN_ERRNO', first, `unknown errno name "${first.text}"${suggestion(first.text, ERRNO_NAMES)}`)
    errno = first.text
  } else if (first.text !== 'ok') throw problem('BAD_RESULT', first, 'ioas iova_ranges results are ok or an errno (EMSGSIZE), then num_iovas= alignment= ranges=')
  const { values, bare } = keyValues(words.slice(1), ['num_iovas', 'alignment', 'ranges'], 'ioas iova_ranges result')
  if (bare[0] !== undefined) throw problem('BAD_RESULT', bare[0], `unexpected "${bare[0].text}" (num_iovas= alignment= ranges=)`)
  const num = values.get('num_iovas')
  const alignment = values.get('alignment')
  const ranges = values.get('ranges')
  return {
    kind: 'iova_ranges',
    ...(errno === undefined ? {} : { errno }),
    ...(num === undefined ? {} : { numIovas: Number(number(num, U32_MAX)) }),
    ...(alignment === undefined ? {} : { alignment: number(alignment, U64_MAX) }),
    ...(ranges === undefined ? {} : { ranges: ranges.text === 'none' ? 'none' : parseRanges(ranges) }),
  }
}

/** A device-level call's answer: an errno name, or the words the kernel's answer was written as. */
export function parseRawResult(words: readonly Word[]): Expected {
  const first = words[0] as Word
  if (/^E[A-Z0-9]+$/.test(first.text)) {
    if (words.length > 1) throw problem('BAD_RESULT', words[1] as Word, 'an errno result is one word')
    if (!isErrno(first.text)) throw problem('UNKNOWN_ERRNO', first, `unknown errno name "${first.text}"${suggestion(first.text, ERRNO_NAMES)}`)
    return { kind: 'errno', errno: first.text }
  }
  return { kind: 'raw', text: words.map((w) => w.text).join(' ') }
}
