/**
 * Load a YAML hardware fixture, validate it (JSON Schema, then consistency rules the schema
 * cannot say), and produce a typed FeatureSet.
 *
 * Problems are collected, not thrown: every error names the file, the 1-based line and column,
 * the field path and a reason, with a stable `code` for tests.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { default as AjvClass, ErrorObject, ValidateFunction } from 'ajv'
import type * as Yaml from 'yaml'
import type { Document, Node, Pair } from 'yaml'
import { FIXTURE_MAX_BYTES, printable, readTextFile } from '../textfile'
import { GRANULE_PAGE_SIZES, type FeatureSet, type GranuleName, type ReservedRegion, type SmmuArch } from './features'
import { ROOT } from '../root'
import { closest, suggestion } from '../suggest'
import { decodeIdRegisters, DECODABLE_FIELDS, hex32, REGISTER_HINT, REGISTERS_FOR, sameDecodedValue, type DecodableField, type DecodedValue, type IdRegisterName, type IdRegisters } from './registers'

export type FixtureCode =
  | 'NOT_FOUND'
  | 'YAML_SYNTAX'
  | 'NOT_A_MAPPING'
  | 'UNKNOWN_KEY'
  | 'MISSING_FIELD'
  | 'WRONG_TYPE'
  | 'BAD_VALUE'
  | 'OUT_OF_RANGE'
  | 'NAME_MISMATCH'
  | 'INCONSISTENT'
  /** A field declared in the fixture disagrees with what its `id_registers` decode to. */
  | 'REGISTER_MISMATCH'
  /** Not a regular file (a FIFO, a device, a directory). */
  | 'NOT_A_FILE'
  /** Beyond a stated limit: file size, YAML alias expansions. */
  | 'TOO_LARGE'
  /** Not valid UTF-8. */
  | 'ENCODING'
  /** A mapping key that is not a plain field name (a list, a mapping, null, an alias). */
  | 'BAD_KEY'

export interface FixtureError {
  readonly code: FixtureCode
  readonly file: string
  /** 1-based. */
  readonly line: number
  /** 1-based. */
  readonly column: number
  /** Dotted field path, e.g. `translation.nested`; empty for the whole document. */
  readonly field: string
  readonly message: string
  /** Internal while loading: the JSON Schema found it (never set on a returned error). */
  readonly schema?: true
}

export interface FixtureResult {
  readonly fixture?: FeatureSet
  readonly errors: readonly FixtureError[]
}

/** The folder holding the shipped catalogue. */
export const FIXTURES_DIR = path.join(ROOT, 'fixtures')
/** The JSON Schema every fixture is checked against first. */
export const FIXTURE_SCHEMA_FILE = path.join(FIXTURES_DIR, 'schema', 'fixture.schema.json')

// yaml and ajv are loaded, and the schema compiled, when the first fixture is read: together they
// cost more than the rest of the CLI's start-up, which `--help` or a usage error need not pay.
let yamlModule: typeof Yaml | undefined
let compiledSchema: ValidateFunction | undefined

function yaml(): typeof Yaml {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (above)
  return (yamlModule ??= require('yaml') as typeof Yaml)
}

/** The schema's validator. */
function validateSchema(): ValidateFunction {
  if (compiledSchema === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (above)
    const Ajv = (require('ajv') as { default: typeof AjvClass }).default
    const ajv = new Ajv({ allErrors: true, strict: true, verbose: true })
    compiledSchema = ajv.compile(JSON.parse(fs.readFileSync(FIXTURE_SCHEMA_FILE, 'utf8')) as object)
  }
  return compiledSchema
}

/** A fixture once its registers are decoded: every field the feature set needs is there. */
type ResolvedFixture = RawFixture & Required<Pick<RawFixture, 'translation' | 'ias' | 'oas' | 'granules' | 'stream_id_bits'>>

/** Raw shape after schema validation (snake_case, as written in YAML). */
interface RawFixture {
  name: string
  description: string
  kind: 'real' | 'synthetic'
  source?: string
  notes?: string
  architecture: SmmuArch
  compatible?: string
  id_registers?: IdRegisters
  // The fields below may come from id_registers instead (schema: required only without them).
  translation?: { stage1: boolean; stage2: boolean; nested: boolean }
  context_banks?: number
  s2_only_context_banks?: number
  asid_bits?: 8 | 16
  vmid_bits?: 8 | 16
  ias?: number
  oas?: number
  granules?: GranuleName[]
  stream_id_bits?: number
  coherent_walk?: boolean
  s2fwb?: boolean
  ats?: boolean
  firmware?: { iort_canwbs?: boolean }
  vfio?: {
    groups?: { id: number; streams: number[]; viable?: boolean; device?: string }[]
    reserved_regions?: { start: number; end: number; type: ReservedRegion['type'] }[]
    dma_entry_limit?: number
  }
}

export function formatFixtureError(e: FixtureError): string {
  const where = e.field === '' ? '' : ` ${e.field}:`
  return `${e.file}:${e.line}:${e.column}:${where} ${e.message} [${e.code}]`
}

/** YAML alias expansions a fixture may make (the yaml library's own guard, reported as TOO_LARGE). */
export const FIXTURE_MAX_ALIAS_COUNT = 100

/** Parse fixture text. `file` is used for messages and for the name check. */
export function parseFixture(text: string, file: string): FixtureResult {
  const { isMap, LineCounter, parseDocument } = yaml()
  const lineCounter = new LineCounter()
  // Integers as bigint, so that none is rounded; duplicate keys are found below in linear time
  // (the library's own check compares each key with every earlier one).
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: false, intAsBigInt: true })
  const errorAt = (code: FixtureCode, offset: number, field: string, message: string): FixtureError => {
    const { line, col } = lineCounter.linePos(offset)
    return { code, file, line, column: col, field: printable(field), message: printable(message) }
  }

  if (doc.errors.length > 0) {
    return {
      errors: doc.errors.map((e) => errorAt('YAML_SYNTAX', e.pos[0], '', yamlReason(e.message))),
    }
  }
  if (!isMap(doc.contents)) {
    const offset = doc.contents?.range?.[0] ?? 0
    return { errors: [errorAt('NOT_A_MAPPING', offset, '', 'a fixture is a YAML mapping of field: value')] }
  }

  const nodeProblems = checkNodes(doc, errorAt)
  if (nodeProblems.errors.length > 0) return { errors: sortByLine(nodeProblems.errors) }
  let js: unknown
  try {
    js = doc.toJS({ maxAliasCount: FIXTURE_MAX_ALIAS_COUNT })
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e
    const offset = nodeProblems.firstAlias ?? 0
    return { errors: [errorAt('TOO_LARGE', offset, '', `YAML aliases expand to more than ${FIXTURE_MAX_ALIAS_COUNT} times the nodes they name (the limit); write the values out`)] }
  }
  const exact = new Map<string, bigint>()
  const data = exactIntegers(js, '', exact)
  const errors: FixtureError[] = []
  let raw = data as RawFixture
  const validate = validateSchema()
  if (!validate(data)) {
    // `if` only reports that its `else` failed; the `required` errors under it say what. A value of
    // the wrong type also fails its enum ("48" is not 48): the type error alone says why.
    const all = (validate.errors ?? []).filter((e) => e.keyword !== 'if')
    const wrongType = new Set(all.filter((e) => e.keyword === 'type').map((e) => e.instancePath))
    errors.push(...all.filter((e) => e.keyword !== 'enum' || !wrongType.has(e.instancePath)).map((e) => schemaError(e, doc, errorAt)))
    raw = withoutFields(data as Record<string, unknown>, errors)
  }
  // Top-level fields with a schema problem; a broken id_registers leaves every field it would give undecided.
  const bad = new Set(errors.map((e) => topLevel(e.field)))
  if (bad.has('id_registers')) for (const f of DECODABLE_FIELDS) bad.add(topLevel(f))
  // Every problem in one pass: the rules below run on what the schema accepted (a top-level field
  // with a schema problem is left out of them, so it is reported once).
  const registers = raw.architecture === undefined ? undefined : resolveRegisters(raw, doc, errorAt)
  if (registers?.undecoded === true) for (const f of DECODABLE_FIELDS) bad.add(topLevel(f))
  if (registers !== undefined) {
    errors.push(...registers.errors, ...consistencyErrors(registers.out, file, doc, errorAt, registers.origin, bad))
  } else if (raw.name !== undefined) {
    errors.push(...nameErrors(raw, file, doc, errorAt))
  }
  const reported = errors.filter((e) => e.schema === true || !bad.has(topLevel(e.field)))
  // Integers past 2^53 the schema did not already refuse (a field without a maximum).
  if (reported.length === 0) reported.push(...nodeProblems.unsafe)
  if (reported.length > 0 || registers?.resolved === undefined) return { errors: sortByLine(dedupe(reported)) }
  return { fixture: toFeatureSet(registers.resolved, file, registers.origin, exact), errors: [] }
}

/** The fixture without the top-level fields a schema problem is in (they take no further checks). */
function withoutFields(data: Record<string, unknown>, errors: readonly FixtureError[]): RawFixture {
  const bad = new Set(errors.map((e) => topLevel(e.field)))
  return Object.fromEntries(Object.entries(data).filter(([k]) => !bad.has(k))) as unknown as RawFixture
}

function topLevel(field: string): string {
  return field.split('.')[0] ?? ''
}

/** By line, then column; problems at one place keep the order they were found in. */
function sortByLine(errors: readonly FixtureError[]): FixtureError[] {
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.line - b.e.line || a.e.column - b.e.column || a.i - b.i)
    .map(({ e }) => stripSchemaMark(e))
}

function stripSchemaMark(e: FixtureError): FixtureError {
  const { schema, ...rest } = e
  return schema === undefined ? e : rest
}

/**
 * Load a fixture from a file path: a regular file of at most FIXTURE_MAX_BYTES, in UTF-8
 * (NOT_FOUND, NOT_A_FILE, TOO_LARGE, ENCODING otherwise). Messages name it `shownAs`.
 */
export function loadFixtureFile(file: string, shownAs: string = file): FixtureResult {
  const read = readTextFile(file, FIXTURE_MAX_BYTES, 'fixture')
  if ('problem' in read) {
    const p = read.problem
    return { errors: [{ code: p.code, file: printable(shownAs), line: p.line, column: p.column, field: '', message: printable(p.message) }] }
  }
  return parseFixture(read.text, shownAs)
}

/** A fixture by catalogue name (`mmu-500`) or by path (`./my-smmu.yaml`). */
export function resolveFixturePath(nameOrPath: string, dir: string = FIXTURES_DIR): string {
  const looksLikePath = nameOrPath.includes('/') || nameOrPath.endsWith('.yaml') || nameOrPath.endsWith('.yml')
  return looksLikePath ? path.resolve(nameOrPath) : path.join(dir, `${nameOrPath}.yaml`)
}

/** Names of every fixture in the catalogue folder, sorted. */
export function listFixtureNames(dir: string = FIXTURES_DIR): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort()
}

type ErrorAt = (code: FixtureCode, offset: number, field: string, message: string) => FixtureError

/** Fields that hold a 64-bit IOVA: their integers are kept exact (bigint) up to 2^64 - 1. */
const U64_FIELD = /^vfio\.reserved_regions\.\d+\.(start|end)$/
const U64_MAX = (1n << 64n) - 1n

/**
 * What the schema cannot see once the YAML is plain data, found in one pass over the nodes:
 * keys that are not plain names (at their own line), keys given twice, integers that a number
 * cannot hold exactly (2^53 and beyond, except the 64-bit IOVA fields up to 2^64 - 1: `unsafe`,
 * reported when the schema's maximum has not already refused them), and where the first alias is
 * (for the alias limit).
 */
function checkNodes(doc: Document, errorAt: ErrorAt): { errors: FixtureError[]; unsafe: FixtureError[]; firstAlias?: number } {
  const { isAlias, isPair, isScalar, isSeq, visit } = yaml()
  const errors: FixtureError[] = []
  const unsafe: FixtureError[] = []
  let firstAlias: number | undefined
  visit(doc, {
    Alias(_key, node) {
      firstAlias ??= node.range?.[0]
    },
    Map(_key, map, path) {
      const seen = new Set<string>()
      for (const pair of map.items) {
        const key = pair.key as Node | null
        const where = pairOffset(pair, map.range?.[0] ?? 0)
        const field = (): string => fieldPath(path, map)
        if (key === null || (isScalar(key) && key.value === null)) {
          errors.push(errorAt('BAD_KEY', where, field(), 'a key is missing or null (write a field name before ":")'))
        } else if (!isScalar(key)) {
          const kind = isAlias(key) ? 'an alias' : isSeq(key) ? 'a list' : 'a mapping'
          errors.push(errorAt('BAD_KEY', where, field(), `a key is ${kind}; field names are plain words`))
        } else {
          const name = String(key.value)
          if (seen.has(name)) errors.push(errorAt('YAML_SYNTAX', where, '', 'Map keys must be unique'))
          seen.add(name)
        }
      }
    },
    Scalar(_key, node, path) {
      const v = node.value
      const isInteger = typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))
      if (!isInteger || (typeof v === 'number' ? Number.isSafeInteger(v) : v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER))) return
      const parent = path[path.length - 1]
      if (isPair(parent) && parent.key === node) return // a key: only its name matters
      const field = scalarPath(path, node)
      const offset = node.range?.[0] ?? 0
      const text = node.source ?? String(v)
      if (typeof v === 'bigint' && U64_FIELD.test(field)) {
        if (v > U64_MAX) errors.push(errorAt('OUT_OF_RANGE', offset, field, `${text} does not fit in 64 bits (at most 0xffffffffffffffff)`))
        return
      }
      // The schema's maximum for the field says it best; this stands in where a field has none.
      unsafe.push(errorAt('OUT_OF_RANGE', offset, field, `${text} is too large for this field (integers past 2^53 - 1 are refused, never rounded)`))
    },
  })
  return { errors, unsafe, ...(firstAlias === undefined ? {} : { firstAlias }) }
}

/** Where a pair is: its key, else its value, else the map it is in. */
function pairOffset(pair: Pair, fallback: number): number {
  const key = pair.key as Node | null
  const value = pair.value as Node | null
  return key?.range?.[0] ?? value?.range?.[0] ?? fallback
}

/** The dotted field path of a node met by `visit` (its ancestors: Document, then collections and pairs). */
function fieldPath(path: readonly unknown[], self?: unknown): string {
  const { isPair, isScalar, isSeq } = yaml()
  const parts: string[] = []
  const chain = self === undefined ? path : [...path, self]
  for (let i = 1; i < chain.length; i++) {
    const node = chain[i]
    const parent = chain[i - 1]
    if (isPair(node) && isScalar(node.key)) parts.push(String(node.key.value))
    else if (isSeq(parent)) parts.push(String(parent.items.indexOf(node as never)))
  }
  return parts.join('.')
}

function scalarPath(path: readonly unknown[], node: unknown): string {
  return fieldPath(path, node)
}

/**
 * The parsed data with every integer as a number (the schema checks numbers): exact below 2^53;
 * the 64-bit IOVA fields keep their exact value in `exact`, by field path, for the feature set.
 */
function exactIntegers(value: unknown, field: string, exact: Map<string, bigint>): unknown {
  if (typeof value === 'bigint') {
    if (U64_FIELD.test(field)) exact.set(field, value)
    return Number(value)
  }
  const child = (k: string): string => (field === '' ? k : `${field}.${k}`)
  if (Array.isArray(value)) return value.map((v, i) => exactIntegers(v, child(String(i)), exact))
  if (value !== null && typeof value === 'object') {
    // Object.fromEntries defines every key as an own property: a `__proto__` key stays a key (the
    // schema reports it as an unknown field) instead of an assignment that sets the prototype and
    // lends its content to the fields around it.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, exactIntegers(v, child(k), exact)]))
  }
  return value
}

const propertyNameLists = new WeakMap<object, readonly string[]>()

/** The property names a schema object declares: one list per schema object, so "did you mean" prepares it once. */
function propertyNames(schema: unknown): readonly string[] {
  if (schema === null || typeof schema !== 'object') return []
  let names = propertyNameLists.get(schema)
  if (names === undefined) {
    names = Object.keys((schema as { properties?: object }).properties ?? {})
    propertyNameLists.set(schema, names)
  }
  return names
}

function schemaError(e: ErrorObject, doc: Document, at: ErrorAt): FixtureError {
  const errorAt: ErrorAt = (code, offset, field, message) => ({ ...at(code, offset, field, message), schema: true })
  const segments = e.instancePath.split('/').slice(1).map(decodePointer)
  const field = segments.join('.')
  const child = (name: string): string => (field === '' ? name : `${field}.${name}`)
  const valueOffset = nodeOffset(doc, segments)
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty)
      const known = propertyNames(e.parentSchema)
      return errorAt('UNKNOWN_KEY', keyOffset(doc, segments, key) ?? valueOffset, child(key), `unknown field "${key}"${suggestion(key, known)}`)
    }
    case 'required': {
      const missing = String((e.params as { missingProperty: string }).missingProperty)
      return errorAt('MISSING_FIELD', valueOffset, child(missing), `required field "${missing}" is missing`)
    }
    case 'type':
      return errorAt('WRONG_TYPE', valueOffset, field, `must be ${article((e.params as { type: string }).type)}${given(e.data)}`)
    case 'minimum':
    case 'maximum':
      return errorAt('OUT_OF_RANGE', valueOffset, field, `must be ${e.keyword === 'minimum' ? '>=' : '<='} ${(e.params as { limit: number }).limit}`)
    case 'maxItems': {
      const n = Array.isArray(e.data) ? e.data.length : 0
      return errorAt('TOO_LARGE', valueOffset, field, `lists ${n} items; the limit is ${(e.params as { limit: number }).limit}`)
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues
      const guess = typeof e.data === 'string' ? closest(e.data, allowed.map(String)) : undefined
      return errorAt('BAD_VALUE', valueOffset, field, `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}${guess === undefined ? '' : ` (did you mean "${guess}"?)`}`)
    }
    default:
      return errorAt('BAD_VALUE', valueOffset, field, e.message ?? `fails ${e.keyword}`)
  }
}

/** Where a decoded field came from: `['id_registers', 'idr1']`. Declared fields are not in it. */
type Origin = ReadonlyMap<string, readonly string[]>

/**
 * Decode `id_registers`, fill in the fields the fixture does not declare, and check the ones it
 * does against them. `resolved` is undefined when a field the feature set needs is still missing.
 */
function resolveRegisters(raw: RawFixture, doc: Document, errorAt: ErrorAt): {
  resolved?: ResolvedFixture
  out: RawFixture
  origin: Origin
  errors: FixtureError[]
  /** A register did not decode: the fields it gives are neither there nor missing. */
  undecoded?: true
} {
  const errors: FixtureError[] = []
  const origin = new Map<string, readonly string[]>()
  const at = (code: FixtureCode, segments: readonly string[], field: string, message: string): void => {
    errors.push(errorAt(code, nodeOffset(doc, segments), field, message))
  }
  const regs = raw.id_registers
  const out: RawFixture = { ...raw, ...(raw.translation === undefined ? {} : { translation: { ...raw.translation } }) }

  if (regs !== undefined && raw.architecture === 'intel-vtd') {
    at('INCONSISTENT', ['id_registers'], 'id_registers', 'VT-d fixtures have no SMMU ID registers (describe the unit with its fields)')
  } else if (regs !== undefined) {
    const arch = raw.architecture as keyof typeof REGISTERS_FOR
    const allowed = REGISTERS_FOR[arch]
    for (const name of Object.keys(regs) as IdRegisterName[]) {
      if (!allowed.includes(name)) {
        at('INCONSISTENT', ['id_registers', name], `id_registers.${name}`, `${arch} fixtures give ${allowed.join(', ')}; ${name} is not one of the registers decoded for ${arch}`)
      }
    }
    const decoded = decodeIdRegisters(arch, regs, raw.compatible)
    for (const p of decoded.problems) at(p.code, ['id_registers', p.reg], `id_registers.${p.reg}`, `${hex32(regs[p.reg] ?? 0)}: ${p.message}`)
    // A register that does not decode leaves its fields undecoded: say so once, at the register.
    if (decoded.problems.length > 0) return { out, origin, errors, undecoded: true }
    for (const field of DECODABLE_FIELDS) {
      const d = decoded.fields[field]
      if (d === undefined) continue
      const declared = getField(raw, field)
      if (declared === undefined) {
        setField(out, field, d.value)
        origin.set(field, ['id_registers', d.reg])
      } else if (!sameDecodedValue(declared, d.value)) {
        at('REGISTER_MISMATCH', field.split('.'), field, `declared ${show(declared)}, but id_registers.${d.reg} = ${hex32(regs[d.reg] ?? 0)} decodes to ${show(d.value)} (${d.from})`)
      }
    }
  }

  const required: DecodableField[] = ['translation.stage1', 'translation.stage2', 'translation.nested', 'ias', 'oas', 'granules', 'stream_id_bits']
  const missing = required.filter((f) => getField(out, f) === undefined)
  for (const field of missing) {
    const hint = raw.architecture === 'intel-vtd' ? undefined : REGISTER_HINT[raw.architecture][field]
    at('MISSING_FIELD', ['id_registers'], field, `"${field}" is neither declared nor decoded from the given registers${hint === undefined ? '' : ` (it comes from ${hint})`}`)
  }
  return missing.length > 0 ? { out, origin, errors } : { resolved: out as ResolvedFixture, out, origin, errors }
}

function getField(raw: RawFixture, field: DecodableField): DecodedValue | undefined {
  if (field.startsWith('translation.')) return raw.translation?.[field.slice('translation.'.length) as 'stage1' | 'stage2' | 'nested']
  return raw[field as Exclude<DecodableField, `translation.${string}`>]
}

function setField(raw: RawFixture, field: DecodableField, value: DecodedValue): void {
  if (field.startsWith('translation.')) {
    raw.translation ??= {} as NonNullable<RawFixture['translation']>
    raw.translation[field.slice('translation.'.length) as 'stage1' | 'stage2' | 'nested'] = value as boolean
  } else {
    ;(raw as unknown as Record<string, DecodedValue>)[field] = value
  }
}

function show(v: DecodedValue): string {
  return Array.isArray(v) ? `[${v.join(', ')}]` : String(v)
}

function nameErrors(raw: RawFixture, file: string, doc: Document, errorAt: ErrorAt): FixtureError[] {
  const expectedName = path.basename(file).replace(/\.ya?ml$/, '')
  if (raw.name === undefined || raw.name === expectedName) return []
  return [errorAt('NAME_MISMATCH', nodeOffset(doc, ['name']), 'name', `"${raw.name}" must equal the file name "${expectedName}"`)]
}

/**
 * Rules the schema cannot say. `raw` may lack fields (missing, or left out for a schema problem):
 * a rule runs only on the fields it reads that are there, and a field that is absent is reported
 * missing only when the schema had nothing to say about it (`bad`: top-level fields it rejected).
 */
function consistencyErrors(raw: RawFixture, file: string, doc: Document, errorAt: ErrorAt, origin: Origin, bad: ReadonlySet<string>): FixtureError[] {
  const errors: FixtureError[] = nameErrors(raw, file, doc, errorAt)
  const at = (code: FixtureCode, field: string, message: string): void => {
    const segments = origin.get(field) ?? field.split('.')
    errors.push(errorAt(code, nodeOffset(doc, segments), field, message))
  }
  const absent = (f: keyof RawFixture): boolean => raw[f] === undefined && !bad.has(f)
  if (raw.kind === 'real' && absent('source')) {
    at('MISSING_FIELD', 'kind', 'a real part must cite its facts in "source"')
  }

  const t: Partial<NonNullable<RawFixture['translation']>> = raw.translation ?? {}
  if (t.stage1 === false && t.stage2 === false) at('INCONSISTENT', 'translation', 'an SMMU must support stage 1, stage 2 or both')
  if (t.nested === true && (t.stage1 === false || t.stage2 === false)) {
    at('INCONSISTENT', 'translation.nested', 'nested translation needs both stage 1 and stage 2')
  }

  if (raw.architecture === 'smmuv3' || raw.architecture === 'intel-vtd') {
    const what = raw.architecture === 'smmuv3' ? 'SMMUv3 has no context banks (streams use STEs and CDs)' : 'VT-d has no context banks'
    for (const f of ['context_banks', 's2_only_context_banks'] as const) {
      if (raw[f] !== undefined) at('INCONSISTENT', f, what)
    }
  }
  if (raw.architecture === 'smmuv3') {
    for (const f of ['asid_bits', 'vmid_bits'] as const) {
      if (absent(f)) at('MISSING_FIELD', 'architecture', `an SMMUv3 fixture needs "${f}"`)
    }
  } else if (raw.architecture === 'intel-vtd') {
    if (t.stage1 === true || t.nested === true || t.stage2 === false) {
      at('INCONSISTENT', 'translation', 'VT-d (as VFIO type1 uses it) translates at one stage: stage1 false, stage2 true, nested false')
    }
  } else {
    if (absent('context_banks')) {
      at('MISSING_FIELD', 'architecture', `an ${raw.architecture} fixture needs "context_banks" (IDR1.NUMCB)`)
    }
    if (raw.asid_bits !== undefined) at('INCONSISTENT', 'asid_bits', 'SMMUv1/v2 ASIDs are the context bank index; asid_bits is for SMMUv3')
    const s2Only = raw.s2_only_context_banks ?? 0
    if (raw.context_banks !== undefined && s2Only > raw.context_banks) {
      at('INCONSISTENT', 's2_only_context_banks', `${s2Only} stage-2-only banks but only ${raw.context_banks} context banks`)
    }
    if (s2Only > 0 && t.stage2 === false) at('INCONSISTENT', 's2_only_context_banks', 'stage-2-only banks on hardware without stage 2')
    if (raw.ias !== undefined && raw.ias > 48) at('INCONSISTENT', 'ias', 'SMMUv1/v2 address sizes stop at 48 bits')
    if (raw.oas !== undefined && raw.oas > 48) at('INCONSISTENT', 'oas', 'SMMUv1/v2 address sizes stop at 48 bits')
  }
  if (raw.architecture !== 'smmuv3') {
    for (const f of ['s2fwb', 'ats'] as const) if (raw[f] === true) at('INCONSISTENT', f, `${f} is an SMMUv3 feature (IDR3.FWB, IDR0.ATS)`)
  }
  if (raw.s2fwb === true && t.stage2 === false) at('INCONSISTENT', 's2fwb', 'S2FWB is a stage-2 feature, on hardware without stage 2')
  if (raw.architecture !== 'intel-vtd' && raw.ias === 39) at('INCONSISTENT', 'ias', '39 bits is a VT-d address width, not an SMMU IPA size')
  errors.push(...vfioErrors(raw, doc, errorAt))
  return errors
}

function vfioErrors(raw: RawFixture, doc: Document, errorAt: ErrorAt): FixtureError[] {
  const errors: FixtureError[] = []
  const at = (field: string, message: string): void => {
    errors.push(errorAt('INCONSISTENT', nodeOffset(doc, field.split('.')), field, message))
  }
  const seenGroups = new Set<number>()
  const streamOwner = new Map<number, number>()
  ;(raw.vfio?.groups ?? []).forEach((g, i) => {
    if (seenGroups.has(g.id)) at(`vfio.groups.${i}.id`, `group ${g.id} is listed twice`)
    seenGroups.add(g.id)
    ;(g.streams ?? []).forEach((sid, j) => {
      if (raw.stream_id_bits !== undefined && sid >= 2 ** raw.stream_id_bits) at(`vfio.groups.${i}.streams.${j}`, `stream 0x${sid.toString(16)} needs more than ${raw.stream_id_bits} stream ID bits`)
      const owner = streamOwner.get(sid)
      if (owner !== undefined && owner !== g.id) at(`vfio.groups.${i}.streams.${j}`, `stream 0x${sid.toString(16)} is already in group ${owner}`)
      streamOwner.set(sid, g.id)
    })
  })
  ;(raw.vfio?.reserved_regions ?? []).forEach((r, i) => {
    if (r.end < r.start) at(`vfio.reserved_regions.${i}.end`, 'a region ends before it starts')
  })
  return errors
}

function toFeatureSet(raw: ResolvedFixture, file: string, origin: Origin, exact: ReadonlyMap<string, bigint>): FeatureSet {
  const pageSizes = [...new Set(raw.granules.flatMap((g) => GRANULE_PAGE_SIZES[g] ?? []))].sort((a, b) => a - b)
  const isV3 = raw.architecture === 'smmuv3'
  return {
    name: raw.name,
    file,
    description: raw.description,
    ...(raw.source === undefined ? {} : { source: raw.source }),
    ...(raw.notes === undefined ? {} : { notes: raw.notes }),
    ...(raw.id_registers === undefined ? {} : { idRegisters: { ...raw.id_registers }, decodedFields: [...origin.keys()] }),
    kind: raw.kind,
    arch: raw.architecture,
    ...(raw.compatible === undefined ? {} : { compatible: raw.compatible }),
    translation: { ...raw.translation },
    contextBanks: isV3 ? 0 : (raw.context_banks ?? 0),
    s2OnlyContextBanks: isV3 ? 0 : (raw.s2_only_context_banks ?? 0),
    asidBits: raw.asid_bits ?? 8,
    vmidBits: raw.vmid_bits ?? 8,
    ias: raw.ias,
    oas: raw.oas,
    granules: [...raw.granules],
    pageSizes,
    streamIdBits: raw.stream_id_bits,
    coherentWalk: raw.coherent_walk ?? false,
    s2fwb: raw.s2fwb ?? false,
    ats: raw.ats ?? false,
    firmware: { iortCanwbs: raw.firmware?.iort_canwbs ?? false },
    vfio: {
      groups: (raw.vfio?.groups ?? []).map((g) => ({ id: g.id, streams: [...g.streams], viable: g.viable ?? true, ...(g.device === undefined ? {} : { device: g.device }) })),
      reservedRegions: (raw.vfio?.reserved_regions ?? []).map((r, i) => ({
        start: exact.get(`vfio.reserved_regions.${i}.start`) ?? BigInt(r.start),
        end: exact.get(`vfio.reserved_regions.${i}.end`) ?? BigInt(r.end),
        type: r.type,
      })),
      ...(raw.vfio?.dma_entry_limit === undefined ? {} : { dmaEntryLimit: raw.vfio.dma_entry_limit }),
    },
  }
}

/** The yaml library's first message line, without its own " at line L, column C" suffix. */
function yamlReason(message: string): string {
  const first = message.split('\n')[0] ?? message
  return first.replace(/ at line \d+, column \d+:?$/, '')
}

function decodePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~')
}

/** What a wrongly typed value was, for the message: ', not the string "48"'. */
function given(value: unknown): string {
  if (typeof value === 'string') return `, not the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
  if (value === null) return ', not null'
  if (Array.isArray(value)) return ', not a list'
  if (typeof value === 'object') return ', not a mapping'
  return `, not the ${typeof value} ${String(value)}`
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`
}

/** Offset of the value at `segments` (or of the nearest existing ancestor). */
function nodeOffset(doc: Document, segments: readonly string[]): number {
  for (let n = segments.length; n >= 0; n--) {
    const node = doc.getIn(segments.slice(0, n).map(keyFor), true) as Node | undefined
    if (node?.range) return node.range[0]
    if (n === 0) return doc.contents?.range?.[0] ?? 0
  }
  return 0
}

/** Key offsets of each mapping, built once per mapping (a fixture with many unknown keys stays linear). */
const keyOffsets = new WeakMap<object, Map<string, number>>()

/** Offset of the key `key` inside the mapping at `segments`. */
function keyOffset(doc: Document, segments: readonly string[], key: string): number | undefined {
  const parent = segments.length === 0 ? doc.contents : doc.getIn(segments.map(keyFor), true)
  const { isMap, isScalar } = yaml()
  if (!isMap(parent)) return undefined
  let offsets = keyOffsets.get(parent)
  if (offsets === undefined) {
    offsets = new Map()
    for (const p of parent.items) {
      const at = isScalar(p.key) ? p.key.range?.[0] : undefined
      if (isScalar(p.key) && at !== undefined && !offsets.has(String(p.key.value))) offsets.set(String(p.key.value), at)
    }
    keyOffsets.set(parent, offsets)
  }
  return offsets.get(key)
}

function keyFor(segment: string): string | number {
  return /^\d+$/.test(segment) ? Number(segment) : segment
}

function dedupe(errors: FixtureError[]): FixtureError[] {
  const seen = new Set<string>()
  return errors.filter((e) => {
    const k = `${e.code}|${e.field}|${e.line}|${e.column}|${e.message}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}
