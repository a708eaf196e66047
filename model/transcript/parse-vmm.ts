/**
 * The lines a real VMM adds (docs/transcript-vmm.md): `get_info argsz=N` and the keys of what it
 * received, `close`, `exit`, and the device-level `device N <action>` lines kept as the kernel
 * answered them. `group N open|close|get_device` are group actions (./parse.ts).
 */
import { ERRNO, isErrno } from '../errno'
import { suggestion } from '../suggest'
import type { MigrationCap } from '../vfio/backend'
import type { Call, Expected } from './syntax'
import { DEVICE_IO_ACTIONS } from './vmm-syntax'
import { keyValues, number, problem, U32_MAX, U64_MAX, type Word } from './words'

const ERRNO_NAMES = Object.keys(ERRNO)

export const VMM_CALLS: readonly string[] = ['close', 'exit']

/**
 * `close`, `exit`, or a device-level `device N <action> ...`; undefined for any other line (a
 * `device N` line whose action is docs/transcript-iommufd.md's goes on to that parser).
 */
export function parseVmmCall(verb: Word, args: readonly Word[]): Call | undefined {
  if (verb.text === 'close' || verb.text === 'exit') {
    const extra = args[0]
    if (extra !== undefined) throw problem('BAD_ARGUMENT', extra, `${verb.text} takes no arguments`)
    return { op: verb.text }
  }
  if (verb.text !== 'device') return undefined
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
