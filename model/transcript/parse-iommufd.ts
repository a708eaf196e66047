/**
 * The iommufd and VFIO device-cdev lines of a transcript (docs/transcript-iommufd.md): their
 * calls and results. Structure fields (vSTE, CD, commands, event records) are read by their
 * names in the model's field tables (model/smmu/v3), so a name means the same bits everywhere.
 */
import { ERRNO, isErrno } from '../errno'
import { HW_INFO_TYPES, HWPT_ALLOC_FLAGS, HWPT_DATA_TYPES, HWPT_INVALIDATE_DATA_TYPES, IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE, VEVENTQ_TYPES, VIOMMU_TYPES } from '../iommufd/uapi'
import { CMD_LAYOUTS, CMDQ_OP, type CmdqOpName } from '../smmu/v3/commands'
import type { Field, Layout } from '../smmu/v3/fields'
import { V3_EVENT_ID, EVENT_LAYOUT } from '../smmu/v3/events'
import { CD_LAYOUT, STE_LAYOUT } from '../smmu/v3/structures'
import { suggestion } from '../suggest'
import type { VaddrSpec } from '../vfio/backend'
import type { Call, CallOp, DeviceAction, Expected, ExpectedKind, ExpectedRecord, GuestForm, InvalidateEntries, ObjectAction, ObjectKind, ObjectRef } from './syntax'
import { VSTE_ALIASES, VSTE_VALUES } from './iommufd-fields'
import { OBJECT_KINDS } from './syntax'
import { DMA_SIZE_MAX, keyValues, number, parseNumberText, problem, required, splitWords, U32_MAX, U64_MAX, type Word } from './words'

export const IOMMUFD_CALLS: readonly string[] = ['device', 'ioas', 'hwpt', 'viommu', 'vdevice', 'veventq', 'destroy', 'guest']

/** The result kinds of the iommufd calls (refined per action by iommufdResultKinds). */
export const IOMMUFD_RESULTS: Readonly<Record<Extract<CallOp, 'device' | 'object' | 'destroy' | 'guest'>, readonly ExpectedKind[]>> = {
  device: ['ok', 'errno'],
  object: ['ok', 'errno'],
  destroy: ['ok', 'errno'],
  guest: ['ok'],
}

const ERRNO_NAMES = Object.keys(ERRNO)
const IOAS_MAP_PERMISSIONS: Readonly<Record<string, number>> = {
  r: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
  w: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE,
  rw: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
}
const VADDR_KINDS: readonly VaddrSpec['kind'][] = ['buffer', 'misaligned', 'unmapped', 'pfnmap']
/** edu moves 1 to 4096 bytes (docs/transcript-iommufd.md 3.6). */
const DEVICE_DMA_MAX = 4096n

/** The line's call, or undefined when its verb is not an iommufd one. Throws LineProblem. */
export function parseIommufdCall(verb: Word, args: readonly Word[]): Call | undefined {
  switch (verb.text) {
    case 'device':
      return parseDevice(verb, args)
    case 'ioas':
    case 'hwpt':
    case 'viommu':
    case 'vdevice':
    case 'veventq':
      return parseObject(verb, verb.text, args)
    case 'destroy':
      return parseDestroy(verb, args)
    case 'guest':
      return parseGuest(verb, args)
    default:
      return undefined
  }
}

// ---- references ------------------------------------------------------------------------------

/** `1` (the default kind), `hwpt:2`, `id:0x7`. */
function parseRef(word: Word, defaultKind: ObjectKind | undefined, what: string): ObjectRef {
  const colon = word.text.indexOf(':')
  if (colon < 0) {
    if (defaultKind === undefined) throw problem('BAD_ARGUMENT', word, `${what} names an object with its kind: ioas:1, hwpt:2, viommu:1 (or id:<number>)`)
    return { kind: 'name', type: defaultKind, n: Number(number(word, U32_MAX)) }
  }
  const kind = word.text.slice(0, colon)
  const value: Word = { text: word.text.slice(colon + 1), column: word.column + colon + 1 }
  if (kind === 'id') return { kind: 'id', id: Number(number(value, U32_MAX)) }
  if (!(OBJECT_KINDS as readonly string[]).includes(kind)) throw problem('BAD_ARGUMENT', word, `unknown object kind "${kind}"${suggestion(kind, [...OBJECT_KINDS, 'id'], 'kinds')}`)
  return { kind: 'name', type: kind as ObjectKind, n: Number(number(value, U32_MAX)) }
}

/** A name from `table` (any case) or a number. */
function enumValue(word: Word, table: Readonly<Record<string, number>>, what: string): number {
  if (/^[0-9]/.test(word.text)) return Number(number(word, U32_MAX))
  const v = table[word.text.toUpperCase()]
  if (v === undefined) throw problem('BAD_ARGUMENT', word, `unknown ${what} "${word.text}"${suggestion(word.text.toUpperCase(), Object.keys(table), 'names')}`)
  return v
}

/** `NEST_PARENT|DIRTY_TRACKING`, `0x1`. */
function flagsValue(word: Word, table: Readonly<Record<string, number>>): number {
  let v = 0
  let column = word.column
  for (const part of word.text.split('|')) {
    v |= enumValue({ text: part, column }, table, 'flag')
    column += part.length + 1
  }
  return v
}

// ---- device ----------------------------------------------------------------------------------

function parseDevice(verb: Word, args: readonly Word[]): Call {
  const [n, action, ...rest] = args
  if (n === undefined || action === undefined) throw problem('MISSING_ARGUMENT', verb, 'device N <bind|attach|detach|close|hw_info|dma> ...')
  const device = Number(number(n, U32_MAX))
  const none = (): void => {
    const extra = rest[0]
    if (extra !== undefined) throw problem('BAD_ARGUMENT', extra, `device ${action.text} takes no arguments`)
  }
  let a: DeviceAction
  switch (action.text) {
    case 'bind':
    case 'detach':
    case 'close':
      none()
      a = { kind: action.text }
      break
    case 'attach': {
      const { values, bare } = keyValues(rest, ['pt'], 'device attach')
      if (bare[0] !== undefined) throw problem('BAD_ARGUMENT', bare[0], 'device attach takes pt=<kind>:<n>')
      a = { kind: 'attach', pt: parseRef(required(values, 'pt', action, 'pt=hwpt:2'), undefined, 'pt=') }
      break
    }
    case 'hw_info': {
      const { values, bare } = keyValues(rest, ['type', 'data_len'], 'device hw_info')
      if (bare[0] !== undefined) throw problem('BAD_ARGUMENT', bare[0], 'device hw_info takes [type=] [data_len=]')
      const t = values.get('type')
      // data_len= (docs/transcript-vmm.md): the buffer a VMM gave, instead of 64 bytes.
      const len = values.get('data_len')
      a = {
        kind: 'hw_info',
        ...(t === undefined ? {} : { type: enumValue(t, HW_INFO_TYPES, 'hw_info type') }),
        ...(len === undefined ? {} : { dataLen: Number(number(len, 4096n)) }),
      }
      break
    }
    case 'dma': {
      const [dir, ...more] = rest
      if (dir === undefined || (dir.text !== 'read' && dir.text !== 'write')) throw problem('BAD_ARGUMENT', dir ?? action, 'device N dma read|write iova= size= [ipa=] [ioas=]')
      const { values, bare } = keyValues(more, ['iova', 'size', 'ipa', 'ioas'], `device dma ${dir.text}`)
      if (bare[0] !== undefined) throw problem('BAD_ARGUMENT', bare[0], `unexpected "${bare[0].text}"`)
      const example = `device 1 dma ${dir.text} iova=0x100000 size=0x10`
      const sizeWord = required(values, 'size', action, example)
      const size = number(sizeWord, DEVICE_DMA_MAX < DMA_SIZE_MAX ? DEVICE_DMA_MAX : DMA_SIZE_MAX)
      if (size === 0n) throw problem('BAD_NUMBER', sizeWord, 'a DMA moves at least one byte')
      const ipa = values.get('ipa')
      const ioas = values.get('ioas')
      a = {
        kind: 'dma',
        direction: dir.text,
        iova: number(required(values, 'iova', action, example), U64_MAX),
        size: Number(size),
        ...(ipa === undefined ? {} : { ipa: number(ipa, U64_MAX) }),
        ...(ioas === undefined ? {} : { ioas: Number(number(ioas, U32_MAX)) }),
      }
      break
    }
    default:
      throw problem('BAD_ARGUMENT', action, `unknown device action "${action.text}"${suggestion(action.text, ['bind', 'attach', 'detach', 'close', 'hw_info', 'dma'], 'actions')}`)
  }
  return { op: 'device', device, action: a }
}

// ---- objects ---------------------------------------------------------------------------------

function parseObject(verb: Word, kind: ObjectKind, args: readonly Word[]): Call {
  const [nWord, action, ...rest] = args
  if (nWord === undefined || action === undefined) throw problem('MISSING_ARGUMENT', verb, `${kind} N <action> ...`)
  const n = Number(number(nWord, U32_MAX))
  const key = `${kind} ${action.text}`
  let a: ObjectAction
  switch (key) {
    case 'ioas alloc':
      noMore(rest, key)
      a = { kind: 'alloc_ioas' }
      break
    case 'ioas map':
      a = parseIoasMap(action, rest)
      break
    case 'ioas unmap':
      a = parseIoasUnmap(action, rest)
      break
    case 'hwpt alloc':
      a = parseHwptAlloc(action, rest)
      break
    case 'hwpt invalidate':
    case 'viommu invalidate':
      a = { kind: 'invalidate', entries: parseInvalidate(action, rest, kind) }
      break
    case 'viommu alloc': {
      const { values, bare } = keyValues(rest, ['device', 'hwpt', 'type', 'flags'], key)
      noBare(bare, key)
      const example = 'viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3'
      const flags = values.get('flags')
      a = {
        kind: 'alloc_viommu',
        device: parseRef(required(values, 'device', action, example), 'device', 'device='),
        hwpt: parseRef(required(values, 'hwpt', action, example), 'hwpt', 'hwpt='),
        type: enumValue(required(values, 'type', action, example), VIOMMU_TYPES, 'vIOMMU type'),
        flags: flags === undefined ? 0 : Number(number(flags, U32_MAX)),
      }
      break
    }
    case 'vdevice alloc': {
      const { values, bare } = keyValues(rest, ['viommu', 'device', 'virt_id'], key)
      noBare(bare, key)
      const example = 'vdevice 1 alloc viommu=1 device=1 virt_id=0x8'
      a = {
        kind: 'alloc_vdevice',
        viommu: parseRef(required(values, 'viommu', action, example), 'viommu', 'viommu='),
        device: parseRef(required(values, 'device', action, example), 'device', 'device='),
        virtId: number(required(values, 'virt_id', action, example), U64_MAX),
      }
      break
    }
    case 'veventq alloc': {
      const { values, bare } = keyValues(rest, ['viommu', 'type', 'depth', 'flags'], key)
      noBare(bare, key)
      const example = 'veventq 1 alloc viommu=1 type=ARM_SMMUV3 depth=4'
      const flags = values.get('flags')
      a = {
        kind: 'alloc_veventq',
        viommu: parseRef(required(values, 'viommu', action, example), 'viommu', 'viommu='),
        type: enumValue(required(values, 'type', action, example), VEVENTQ_TYPES, 'vEVENTQ type'),
        depth: Number(number(required(values, 'depth', action, example), U32_MAX)),
        flags: flags === undefined ? 0 : Number(number(flags, U32_MAX)),
      }
      break
    }
    case 'veventq read':
      noMore(rest, key)
      a = { kind: 'read' }
      break
    case 'veventq close':
      noMore(rest, key)
      a = { kind: 'close' }
      break
    default: {
      const actions: Record<string, string[]> = { ioas: ['alloc', 'map', 'unmap'], hwpt: ['alloc', 'invalidate'], viommu: ['alloc', 'invalidate'], vdevice: ['alloc'], veventq: ['alloc', 'read', 'close'] }
      throw problem('BAD_ARGUMENT', action, `unknown ${kind} action "${action.text}"${suggestion(action.text, actions[kind] ?? [], 'actions')}`)
    }
  }
  return { op: 'object', kind, n, action: a }
}

function noMore(rest: readonly Word[], what: string): void {
  if (rest[0] !== undefined) throw problem('BAD_ARGUMENT', rest[0], `${what} takes no arguments`)
}

function noBare(bare: readonly Word[], what: string): void {
  if (bare[0] !== undefined) throw problem('BAD_ARGUMENT', bare[0], `unexpected "${bare[0].text}" (${what} takes key=value arguments)`)
}

function parseIoasMap(action: Word, rest: readonly Word[]): ObjectAction {
  const { values, bare } = keyValues(rest, ['iova', 'size', 'flags', 'vaddr'], 'ioas map')
  const example = 'ioas 1 map iova=0x40000000 size=0x200000 rw'
  const [perm, extra] = bare
  if (extra !== undefined) throw problem('BAD_ARGUMENT', extra, `unexpected "${extra.text}" (ioas map takes one of r, w, rw or flags=)`)
  if (perm !== undefined && IOAS_MAP_PERMISSIONS[perm.text] === undefined) throw problem('BAD_ARGUMENT', perm, `unknown permission "${perm.text}" (r, w, rw, or flags=0x..)`)
  const raw = values.get('flags')
  if (perm !== undefined && raw !== undefined) throw problem('BAD_ARGUMENT', raw.column, 'give r, w, rw or flags=, not both')
  if (perm === undefined && raw === undefined) throw problem('MISSING_ARGUMENT', action, `ioas map needs a permission: r, w, rw or flags=0x.. (e.g. ${example})`)
  const flags = perm !== undefined ? (IOAS_MAP_PERMISSIONS[perm.text] as number) : Number(number(raw as Word, U32_MAX))
  const vaddrWord = values.get('vaddr')
  let vaddr: VaddrSpec = { kind: 'buffer' }
  if (vaddrWord !== undefined) {
    const kind = VADDR_KINDS.find((k) => k === vaddrWord.text)
    if (kind === undefined) throw problem('BAD_ARGUMENT', vaddrWord, `vaddr= is one of ${VADDR_KINDS.join(', ')}`)
    vaddr = { kind }
  }
  return { kind: 'map', request: { iova: number(required(values, 'iova', action, example), U64_MAX), size: number(required(values, 'size', action, example), U64_MAX), flags, vaddr } }
}

function parseIoasUnmap(action: Word, rest: readonly Word[]): ObjectAction {
  if (rest[0]?.text === 'all') {
    noMore(rest.slice(1), 'ioas unmap all')
    return { kind: 'unmap', iova: 0n, size: U64_MAX }
  }
  const { values, bare } = keyValues(rest, ['iova', 'size'], 'ioas unmap')
  noBare(bare, 'ioas unmap')
  const example = 'ioas 1 unmap iova=0x40000000 size=0x200000'
  return { kind: 'unmap', iova: number(required(values, 'iova', action, example), U64_MAX), size: number(required(values, 'size', action, example), U64_MAX) }
}

function parseHwptAlloc(action: Word, rest: readonly Word[]): ObjectAction {
  const { values, bare } = keyValues(rest, ['device', 'pt', 'flags', 'vste', 'vtd_s1', 'data_type', 'data_len'], 'hwpt alloc')
  noBare(bare, 'hwpt alloc')
  const example = 'hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT'
  const flagsWord = values.get('flags')
  const vste = values.get('vste')
  const vtd = values.get('vtd_s1')
  if (vste !== undefined && vtd !== undefined) throw problem('BAD_ARGUMENT', vtd, 'give vste= or vtd_s1=, not both')
  let dataType = 0
  let data: Uint8Array | undefined
  if (vste !== undefined) {
    dataType = HWPT_DATA_TYPES.ARM_SMMUV3
    data = wordsToBytes(structWords(vste, STE_LAYOUT, 2, VSTE_ALIASES, VSTE_VALUES, 'vste'))
  } else if (vtd !== undefined) {
    dataType = HWPT_DATA_TYPES.VTD_S1
    data = vtdS1(vtd)
  }
  const dt = values.get('data_type')
  if (dt !== undefined) dataType = enumValue(dt, HWPT_DATA_TYPES, 'data type')
  const dl = values.get('data_len')
  if (dl !== undefined) {
    const len = Number(number(dl, 64n))
    const full = new Uint8Array(64)
    if (data !== undefined) full.set(data.subarray(0, Math.min(data.length, 64)))
    data = full.subarray(0, len)
  }
  return {
    kind: 'alloc_hwpt',
    device: parseRef(required(values, 'device', action, example), 'device', 'device='),
    pt: parseRef(required(values, 'pt', action, example), undefined, 'pt='),
    flags: flagsWord === undefined ? 0 : flagsValue(flagsWord, HWPT_ALLOC_FLAGS),
    dataType,
    ...(data === undefined || data.length === 0 ? {} : { data }),
  }
}

function parseInvalidate(action: Word, rest: readonly Word[], kind: ObjectKind): InvalidateEntries {
  const entries: Uint8Array[] = []
  let dataType: number | undefined
  let entryLen: number | undefined
  let entryKind: 'cmd' | 'vtd' | undefined
  for (const w of rest) {
    const eq = w.text.indexOf('=')
    const key = eq < 0 ? w.text : w.text.slice(0, eq)
    const value: Word = { text: eq < 0 ? '' : w.text.slice(eq + 1), column: w.column + eq + 1 }
    if (key === 'cmd' || key === 'vtd') {
      if (entryKind !== undefined && entryKind !== key) throw problem('BAD_ARGUMENT', w, 'a line uses cmd= or vtd= entries, not both')
      entryKind = key
      entries.push(key === 'cmd' ? wordsToBytes(commandWords(value)) : vtdInvalidate(value))
    } else if (key === 'type') dataType = enumValue(value, HWPT_INVALIDATE_DATA_TYPES, 'invalidate data type')
    else if (key === 'entry_len') entryLen = Number(number(value, U32_MAX))
    else throw problem('BAD_ARGUMENT', w, `${kind} invalidate takes cmd="..." (or vtd="..."), type= and entry_len=`)
  }
  void action
  const vtd = entryKind === 'vtd'
  return {
    dataType: dataType ?? (vtd ? HWPT_INVALIDATE_DATA_TYPES.VTD_S1 : HWPT_INVALIDATE_DATA_TYPES.ARM_SMMUV3),
    entryLen: entryLen ?? (vtd ? 24 : 16),
    entries,
  }
}

// ---- destroy ---------------------------------------------------------------------------------

function parseDestroy(verb: Word, args: readonly Word[]): Call {
  const [a, b, extra] = args
  if (a === undefined) throw problem('MISSING_ARGUMENT', verb, 'destroy <kind> <n>, or destroy id=<number>')
  if (a.text.startsWith('id=')) {
    if (b !== undefined) throw problem('BAD_ARGUMENT', b, 'destroy id=<number> takes nothing else')
    return { op: 'destroy', target: { kind: 'id', id: Number(number({ text: a.text.slice(3), column: a.column + 3 }, U32_MAX)) } }
  }
  if (!(OBJECT_KINDS as readonly string[]).includes(a.text) || a.text === 'device') {
    throw problem('BAD_ARGUMENT', a, `destroy takes ioas, hwpt, viommu, vdevice or veventq (a device goes with "device N close")${suggestion(a.text, [...OBJECT_KINDS], 'kinds')}`)
  }
  if (b === undefined) throw problem('MISSING_ARGUMENT', a, `destroy ${a.text} needs its number`)
  if (extra !== undefined) throw problem('BAD_ARGUMENT', extra, 'destroy takes a kind and a number')
  return { op: 'destroy', target: { kind: 'name', type: a.text as ObjectKind, n: Number(number(b, U32_MAX)) } }
}

// ---- guest memory ----------------------------------------------------------------------------

/** Stage-1 descriptor bits (DDI 0487 D8.3): AF, SH inner, AP[2:1], nG, AttrIndx. */
const DESC_AF = 1n << 10n
const DESC_SH_INNER = 3n << 8n
const DESC_NG = 1n << 11n
const DESC_AP_SHIFT = 6n
/** AP[2:1]: 0b01 EL0 read/write, 0b11 EL0 read-only. */
const AP_OF: Readonly<Record<string, bigint>> = { rw: 0b01n, r: 0b11n }
const OA_MASK = ((1n << 48n) - 1n) & ~0xfffn

function parseGuest(verb: Word, args: readonly Word[]): Call {
  const [form, ...rest] = args
  const forms: GuestForm[] = ['write64', 'cd', 'table', 'page', 'block']
  if (form === undefined || !(forms as string[]).includes(form.text)) throw problem('BAD_ARGUMENT', form ?? verb, `guest ${forms.join('|')} ipa= ...`)
  const f = form.text as GuestForm
  if (f === 'cd') {
    const fieldWords = rest.filter((w) => !w.text.startsWith('ipa=') && !w.text.startsWith('ioas='))
    const { values } = keyValues(rest.filter((w) => w.text.startsWith('ipa=') || w.text.startsWith('ioas=')), ['ipa', 'ioas'], 'guest cd')
    const ipa = number(required(values, 'ipa', form, 'guest cd ipa=0x40001000 asid=1 ttb0=0x40002000 t0sz=25 tg0=4K ips=44'), U64_MAX)
    if (ipa % 64n !== 0n) throw problem('BAD_NUMBER', values.get('ipa') as Word, 'a CD is 64-byte aligned')
    const words = fieldsToWords(fieldWords, CD_LAYOUT, 8, CD_ALIASES, CD_VALUES, 'cd', CD_GRAMMAR_DEFAULTS)
    return { op: 'guest', form: f, ipa, words, ...ioasOf(values) }
  }
  const keys = f === 'write64' ? ['ipa', 'value', 'ioas'] : f === 'table' ? ['ipa', 'index', 'next', 'ioas'] : ['ipa', 'index', 'out', 'perm', 'attr', 'ioas']
  const { values, bare } = keyValues(rest, keys, `guest ${f}`)
  noBare(bare, `guest ${f}`)
  const ipaWord = required(values, 'ipa', form, `guest ${f} ipa=0x40002000 ...`)
  let ipa = number(ipaWord, U64_MAX)
  let value: bigint
  if (f === 'write64') value = number(required(values, 'value', form, 'guest write64 ipa=0x40002000 value=0x40003003'), U64_MAX)
  else {
    const index = number(required(values, 'index', form, `guest ${f} ipa=0x40002000 index=0 ...`), 511n)
    ipa += index * 8n
    if (f === 'table') value = address(required(values, 'next', form, 'guest table ipa= index= next=0x40003000'), 0x1000n) | 0b11n
    else {
      const perm = values.get('perm')?.text ?? 'rw'
      const ap = AP_OF[perm]
      if (ap === undefined) throw problem('BAD_ARGUMENT', values.get('perm') as Word, 'perm= is rw or r')
      const attr = values.get('attr')
      const attrIndx = attr === undefined ? 0n : number(attr, 7n)
      const out = address(required(values, 'out', form, `guest ${f} ipa= index= out=0x40005000`), 0x1000n)
      value = out | (f === 'page' ? 0b11n : 0b01n) | (attrIndx << 2n) | (ap << DESC_AP_SHIFT) | DESC_SH_INNER | DESC_AF | DESC_NG
    }
  }
  if (ipa % 8n !== 0n) throw problem('BAD_NUMBER', ipaWord, 'guest words are written at 8-byte aligned IPAs')
  return { op: 'guest', form: f, ipa, words: [value], ...ioasOf(values) }
}

function ioasOf(values: Map<string, Word>): { ioas?: number } {
  const w = values.get('ioas')
  return w === undefined ? {} : { ioas: Number(number(w, U32_MAX)) }
}

/** An output address of a descriptor: aligned to `align`, below 2^48. */
function address(word: Word, align: bigint): bigint {
  const a = number(word, U64_MAX)
  if (a % align !== 0n || (a & ~OA_MASK) !== 0n) throw problem('BAD_NUMBER', word, `0x${a.toString(16)} is not a 0x${align.toString(16)}-aligned address below 2^48`)
  return a
}

// ---- structures by field name ----------------------------------------------------------------

const CD_ALIASES: Readonly<Record<string, string>> = {}
const CD_VALUES: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  tg0: { '4K': 0b00, '64K': 0b01, '16K': 0b10 },
  tg1: { '16K': 0b01, '4K': 0b10, '64K': 0b11 },
  ips: { '32': 0, '36': 1, '40': 2, '42': 3, '44': 4, '48': 5, '52': 6 },
}
/** The fields a `guest cd` line sets unless it writes them (docs/transcript-iommufd.md 7). */
const CD_GRAMMAR_DEFAULTS: Readonly<Record<string, bigint>> = { v: 1n, aa64: 1n, r: 1n, a: 1n, epd1: 1n }

/** A layout's fields by their transcript name: the IHI 0070 name in lower case. */
function byName(layout: Layout): Map<string, Field> {
  return new Map(Object.values(layout).map((f) => [f.name.toLowerCase(), f]))
}

/** `key="f=v f2 ..."`: the words of a structure of `count` words (fields, or raw `w0=` .. ). */
function structWords(word: Word, layout: Layout, count: number, aliases: Readonly<Record<string, string>>, named: Readonly<Record<string, Readonly<Record<string, number>>>>, what: string): bigint[] {
  const inner = unquote(word)
  return fieldsToWords(splitWords(inner.text, inner.column - 1), layout, count, aliases, named, what, {})
}

function fieldsToWords(
  fields: readonly Word[],
  layout: Layout,
  count: number,
  aliases: Readonly<Record<string, string>>,
  named: Readonly<Record<string, Readonly<Record<string, number>>>>,
  what: string,
  defaults: Readonly<Record<string, bigint>>,
): bigint[] {
  const table = byName(layout)
  const words = new Array<bigint>(count).fill(0n)
  const given = new Map<string, bigint>()
  for (const w of fields) {
    const eq = w.text.indexOf('=')
    const rawName = (eq < 0 ? w.text : w.text.slice(0, eq)).toLowerCase()
    const value: Word = { text: eq < 0 ? '1' : w.text.slice(eq + 1), column: w.column + eq + 1 }
    const raw = /^w([0-9])$/.exec(rawName)
    if (raw !== null) {
      const i = Number(raw[1])
      if (i >= count) throw problem('BAD_ARGUMENT', w, `${what} has words w0..w${count - 1}`)
      words[i] = (words[i] as bigint) | number(value, U64_MAX)
      continue
    }
    const name = aliases[rawName] ?? rawName
    const f = table.get(name)
    if (f === undefined || f.word >= count) throw problem('BAD_ARGUMENT', w, `${what} has no field "${rawName}"${suggestion(rawName, [...table.keys()].filter((k) => (table.get(k) as Field).word < count), 'fields')}`)
    if (given.has(name)) throw problem('DUPLICATE_ARGUMENT', w, `${rawName} given twice`)
    const names = named[name]
    const v = names !== undefined && names[value.text] !== undefined ? BigInt(names[value.text] as number) : number(value, U64_MAX)
    given.set(name, v)
    words[f.word] = (words[f.word] as bigint) | place(f, v, value)
  }
  for (const [name, v] of Object.entries(defaults)) {
    if (given.has(name)) continue
    const f = table.get(name) as Field
    words[f.word] = (words[f.word] as bigint) | place(f, v, { text: String(v), column: 1 })
  }
  return words
}

/** A field's value in place: an address as is (aligned to its low bit), others shifted; it must fit. */
function place(f: Field, v: bigint, at: Word): bigint {
  const lo = BigInt(f.lo)
  const mask = ((1n << BigInt(f.width)) - 1n) << lo
  const placed = f.kind === 'address' ? v : v << lo
  if (f.kind === 'address' && v % (1n << lo) !== 0n) throw problem('BAD_NUMBER', at, `${f.name} is an address aligned to bit ${f.lo}`)
  if ((placed & ~mask) !== 0n) throw problem('BAD_NUMBER', at, `${at.text} does not fit ${f.name} [${f.lo + f.width - 1}:${f.lo}]`)
  return placed
}

/** `cmd="TLBI_NH_VA vmid=0 asid=1 addr=0x10000"` or `cmd="w0=.. w1=.."`. */
function commandWords(word: Word): bigint[] {
  const inner = unquote(word)
  const parts = splitWords(inner.text, inner.column - 1)
  const [head, ...fields] = parts
  if (head === undefined) throw problem('MISSING_ARGUMENT', word, 'cmd="<OPCODE> field=value ..." or cmd="w0=0x.. w1=0x.."')
  if (head.text.includes('=')) return fieldsToWords(parts, { opcode: CMD_LAYOUTS.CMD_SYNC.opcode as Field }, 2, {}, {}, 'cmd', {})
  let op: number
  let layout: Layout
  if (/^[0-9]/.test(head.text)) {
    op = Number(number(head, 0xffn))
    layout = { opcode: CMD_LAYOUTS.CMD_SYNC.opcode as Field, ssv: CMD_LAYOUTS.CMD_SYNC.ssv as Field }
  } else {
    const name = head.text.toUpperCase() === 'CFGI_ALL' ? 'CFGI_STE_RANGE' : head.text.toUpperCase()
    const known = CMDQ_OP[name as CmdqOpName]
    if (known === undefined) throw problem('BAD_ARGUMENT', head, `unknown command "${head.text}"${suggestion(head.text.toUpperCase(), [...Object.keys(CMDQ_OP), 'CFGI_ALL'], 'opcodes')}`)
    op = known
    layout = CMD_LAYOUTS[name as CmdqOpName]
    if (head.text.toUpperCase() === 'CFGI_ALL') fields.push({ text: 'range=31', column: head.column })
  }
  const words = fieldsToWords(fields, renameByKey(layout), 2, {}, {}, `cmd ${head.text}`, {})
  words[0] = (words[0] as bigint) | BigInt(op)
  return words
}

/** Command fields are named by their table keys (sid, asid, addr, ...), not IHI names. */
function renameByKey(layout: Layout): Layout {
  return Object.fromEntries(Object.entries(layout).map(([k, f]) => [k, { ...f, name: k }]))
}

function vtdS1(word: Word): Uint8Array {
  const inner = unquote(word)
  const { values, bare } = keyValues(splitWords(inner.text, inner.column - 1), ['pgtbl', 'addr_width'], 'vtd_s1')
  let flags = 0
  for (const b of bare) {
    const bit = { sre: 1, eafe: 2, wpe: 4 }[b.text]
    if (bit === undefined) throw problem('BAD_ARGUMENT', b, 'vtd_s1 flags are sre, eafe, wpe')
    flags |= bit
  }
  const out = new Uint8Array(24)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(flags), true)
  view.setBigUint64(8, number(required(values, 'pgtbl', word, 'vtd_s1="pgtbl=0x40002000 addr_width=48"'), U64_MAX), true)
  view.setUint32(16, Number(number(required(values, 'addr_width', word, 'vtd_s1="pgtbl=0x40002000 addr_width=48"'), U32_MAX)), true)
  return out
}

function vtdInvalidate(word: Word): Uint8Array {
  const inner = unquote(word)
  const { values, bare } = keyValues(splitWords(inner.text, inner.column - 1), ['addr', 'npages'], 'vtd')
  let flags = 0
  for (const b of bare) {
    if (b.text !== 'leaf') throw problem('BAD_ARGUMENT', b, 'the vtd flag is leaf')
    flags |= 1
  }
  const npagesWord = required(values, 'npages', word, 'vtd="addr=0x100000 npages=1"')
  const out = new Uint8Array(24)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, number(required(values, 'addr', word, 'vtd="addr=0x100000 npages=1"'), U64_MAX), true)
  view.setBigUint64(8, npagesWord.text === 'all' ? U64_MAX : number(npagesWord, U64_MAX), true)
  view.setUint32(16, flags, true)
  return out
}

function unquote(word: Word): Word {
  if (!word.text.startsWith('"') || !word.text.endsWith('"') || word.text.length < 2) throw problem('BAD_ARGUMENT', word, 'the value is quoted: key="field=value ..."')
  return { text: word.text.slice(1, -1), column: word.column + 1 }
}

function wordsToBytes(words: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(words.length * 8)
  const view = new DataView(out.buffer)
  words.forEach((w, i) => view.setBigUint64(i * 8, w, true))
  return out
}

// ---- results ---------------------------------------------------------------------------------

/** The event fields a record result may compare: transcript name -> EVENT_LAYOUT key (or the header's seq). */
export const EVENT_FIELD_NAMES: Readonly<Record<string, string>> = {
  ...Object.fromEntries(Object.entries(EVENT_LAYOUT).map(([key, f]) => [f.name.toLowerCase(), key])),
  sid: 'streamId',
  ssid: 'substreamId',
  addr: 'inputAddr',
  fetch_addr: 'fetchAddr',
  seq: 'seq',
}

const HW_INFO_KEYS = ['type', 'data_len', 'caps', 'max_pasid_log2', 'flags', 'idr0', 'idr1', 'idr2', 'idr3', 'idr4', 'idr5', 'iidr', 'aidr', 'cap_reg', 'ecap_reg']

/** The result of an iommufd line. */
export function parseIommufdResult(call: Extract<Call, { op: 'device' | 'object' | 'destroy' | 'guest' }>, words: readonly Word[]): Expected {
  const first = words[0] as Word
  const what = call.op === 'object' ? `${call.kind} ${call.action.kind.replace(/_.*/, '')}` : call.op === 'device' ? `device ${call.action.kind}` : call.op
  if (/^E[A-Z0-9]+$/.test(first.text)) {
    if (!isErrno(first.text)) throw problem('UNKNOWN_ERRNO', first, `unknown errno name "${first.text}"${suggestion(first.text, ERRNO_NAMES)}`)
    const rest = words.slice(1)
    const entryNum = entryNumOf(rest, call)
    return { kind: 'errno', errno: first.text, ...(entryNum === undefined ? {} : { entryNum }) }
  }
  if (call.op === 'object' && call.action.kind === 'read') return parseRecords(words)
  if (call.op === 'device' && call.action.kind === 'dma') {
    if (words.length === 1 && (first.text === 'ok' || first.text === 'fault' || first.text === 'misplaced')) return { kind: first.text }
    throw problem('BAD_RESULT', first, 'device dma results are ok, fault, misplaced or an errno')
  }
  if (first.text !== 'ok') throw problem('BAD_RESULT', first, `${what} results are ok [key=value ...] or an errno`)
  const rest = words.slice(1)
  if (call.op === 'device' && call.action.kind === 'hw_info') {
    const { values, bare } = keyValues(rest, HW_INFO_KEYS, 'hw_info result')
    noBare(bare, 'hw_info result')
    const fields = new Map<string, bigint>()
    for (const [k, w] of values) fields.set(k, k === 'type' ? BigInt(enumValue(w, { ...HW_INFO_TYPES, NONE: 0 }, 'hw_info type')) : number(w, U64_MAX))
    return { kind: 'hwinfo', fields }
  }
  if (call.op === 'object' && call.action.kind === 'unmap') {
    const { values, bare } = keyValues(rest, ['unmapped'], 'ioas unmap result')
    noBare(bare, 'ioas unmap result')
    const u = values.get('unmapped')
    return u === undefined ? { kind: 'ok' } : { kind: 'unmapped', size: number(u, U64_MAX) }
  }
  const keys = ['id', ...(call.op === 'object' && call.action.kind === 'invalidate' ? ['entry_num'] : [])]
  const { values, bare } = keyValues(rest, keys, `${what} result`)
  noBare(bare, `${what} result`)
  const id = values.get('id')
  const entryNum = values.get('entry_num')
  return { kind: 'ok', ...(id === undefined ? {} : { id: Number(number(id, U32_MAX)) }), ...(entryNum === undefined ? {} : { entryNum: Number(number(entryNum, U32_MAX)) }) }
}

function entryNumOf(rest: readonly Word[], call: Call): number | undefined {
  if (rest.length === 0) return undefined
  const isInvalidate = call.op === 'object' && call.action.kind === 'invalidate'
  if (!isInvalidate) throw problem('BAD_RESULT', rest[0] as Word, 'an errno result is one word (entry_num= only after an invalidate)')
  const { values, bare } = keyValues(rest, ['entry_num'], 'invalidate result')
  noBare(bare, 'invalidate result')
  return Number(number(values.get('entry_num') as Word, U32_MAX))
}

/** `empty`, or records: `NAME [field=value ...]`, a new record at each word without `=`. */
function parseRecords(words: readonly Word[]): Expected {
  if (words.length === 1 && (words[0] as Word).text === 'empty') return { kind: 'records', records: [] }
  const records: ExpectedRecord[] = []
  let cur: { name: string; fields: Map<string, bigint> } | undefined
  for (const w of words) {
    const eq = w.text.indexOf('=')
    if (eq < 0) {
      const name = w.text
      const known = name === 'LOST_EVENTS' || name in V3_EVENT_ID || ['F_STREAM_DISABLED', 'C_BAD_SUBSTREAMID'].includes(name) || /^EVT_0x[0-9a-fA-F]{1,2}$/.test(name)
      if (!known) throw problem('BAD_RESULT', w, `"${name}" is not an event name (F_TRANSLATION, C_BAD_STE, ..., EVT_0x<id>, LOST_EVENTS, or empty)`)
      cur = { name, fields: new Map() }
      records.push(cur)
      continue
    }
    if (cur === undefined) throw problem('BAD_RESULT', w, 'a record starts with its event name')
    const key = w.text.slice(0, eq).toLowerCase()
    const value: Word = { text: w.text.slice(eq + 1), column: w.column + eq + 1 }
    if (!(key in EVENT_FIELD_NAMES) && !/^w[0-3]$/.test(key)) throw problem('BAD_RESULT', w, `records have no field "${key}"${suggestion(key, Object.keys(EVENT_FIELD_NAMES), 'fields')}`)
    const v = key === 'class' && /^(CD|TT|IN)$/.test(value.text) ? BigInt({ CD: 0, TT: 1, IN: 2 }[value.text as 'CD'] ?? 0) : parseNumberText(value.text)
    if (v === undefined) throw problem('BAD_NUMBER', value, `"${value.text}" is not a number`)
    cur.fields.set(key, v)
  }
  return { kind: 'records', records }
}
