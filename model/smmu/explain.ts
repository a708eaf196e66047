/**
 * Explaining a translation to a reader: which descriptors a walk fetched, and a fault or event as
 * named fields. The walk trace comes from the walkers themselves (a DescriptorReader that records
 * each fetch), not from a second decoder, so it cannot disagree with the walk.
 *
 * The walkers name each fetch with its kind and table level (FETCH in model/memory); the trace
 * labels a fetch by its kind.
 */
import { FETCH, type DescriptorReader, type FetchKind, type PhysMemory, type Word64 } from '../memory'
import type { Fault } from '../pgtable'
import type { ContextBankFault, EventRecord } from './events'
import { CB_FSR, CB_FSYNR0, EVENT_ID } from './events'
import type { GuestStage1 } from './guest'
import type { DmaFault, TranslateResult } from './translate'

export type WalkKind = 'S1' | 'S2' | 'S2 for S1 table'

/** The trace label of each fetch kind. */
const WALK_OF_FETCH: Readonly<Record<FetchKind, WalkKind>> = {
  [FETCH.S1]: 'S1',
  [FETCH.S2]: 'S2',
  [FETCH.S2_FOR_S1_TABLE]: 'S2 for S1 table',
}

/** One descriptor fetch of a walk: the PA it was read from and the 64-bit value read. */
export interface DescriptorRead {
  readonly walk: WalkKind
  readonly level: number
  readonly pa: number
  /** Undefined when the bus aborted the fetch. */
  readonly value?: bigint
}

/** A DescriptorReader over memory that records every descriptor fetch, in order. */
export class TracingReader implements DescriptorReader {
  readonly reads: DescriptorRead[] = []

  private readonly word: Word64 = { lo: 0, hi: 0 }

  constructor(private readonly mem: PhysMemory) {}

  get words(): Uint32Array {
    return this.mem.words
  }

  descriptorPage(hi: number, lo: number, kind: FetchKind, level: number): number {
    const pa = hi * 2 ** 32 + (lo >>> 0)
    const value = this.mem.read64Parts(pa, this.word) === undefined ? (BigInt(this.word.hi >>> 0) << 32n) | BigInt(this.word.lo >>> 0) : undefined
    this.reads.push({ walk: WALK_OF_FETCH[kind], level, pa, value })
    return this.mem.descriptorPage(hi, lo)
  }
}

/** `0x` + lower-case hex digits, no separators: the one spelling compared in scenarios. */
export function hexOf(n: number | bigint): string {
  return `0x${n.toString(16)}`
}

/** A table cell as typed by a person: `0x4000_1003` and `0x40001003` read the same (word by word). */
export function canonicalCell(cell: string): string {
  return cell
    .trim()
    .split(/\s+/)
    .map((word) => (/^0x[0-9a-f_]+$/i.test(word) ? hexOf(BigInt(word.replaceAll('_', ''))) : word))
    .join(' ')
}

/** Rows `walk | level | address | descriptor`, canonical; only the fetches of one walk kind when given. */
export function traceRows(reads: readonly DescriptorRead[], only?: WalkKind): string[][] {
  return reads
    .filter((r) => only === undefined || r.walk === only)
    .map((r) => [r.walk, String(r.level), hexOf(r.pa), r.value === undefined ? 'abort' : hexOf(r.value)])
}

/** One line: `PA 0x80005234`, or `translation fault, stage 2, level 2` (or why the stream has none). */
export function describeTranslation(t: TranslateResult): string {
  if (t.kind === 'ok') return `PA ${hexOf(t.oa)}`
  if (t.kind === 'streamNotTranslated') return `stream ${hexOf(t.sid)} not translated: ${t.reason}`
  return `${t.kind} fault, stage ${t.stage}, level ${t.level}`
}

/** A guest stage 1 as named fields: where it lives, what it is tagged with, its registers. */
export function guestStage1Fields(g: GuestStage1): Record<string, string> {
  const where: Record<string, string> =
    g.kind === 'context-bank' ? { context: `bank ${g.bank}`, CBAR: g.cbar, 'stage-2 bank': String(g.s2Bank) } : { context: 'STE with S1 and S2' }
  return {
    ...where,
    VMID: String(g.vmid),
    ASID: String(g.asid),
    TTB: hexOf(g.regs.ttbr),
    T0SZ: String(g.regs.t0sz),
    'start level': String(g.context.geometry.startLevel),
  }
}

/** A person's table of rows, canonical (header row dropped by the caller). */
export function canonicalRows(rows: readonly (readonly string[])[]): string[][] {
  return rows.map((row) => row.map(canonicalCell))
}

/** A fault as named fields: kind, stage, level, S1 table walk, IOVA, IPA, fetch address. */
export function faultFields(f: DmaFault): Record<string, string> {
  if (f.kind === 'streamNotTranslated') return { kind: f.kind, stream: hexOf(f.sid), reason: f.reason }
  return translationFaultFields(f)
}

function translationFaultFields(f: Fault): Record<string, string> {
  const out: Record<string, string> = {
    kind: f.kind,
    stage: String(f.stage),
    level: String(f.level),
    'S1 table walk': f.onS1TableWalk ? 'yes' : 'no',
    IOVA: hexOf(f.stage === 1 ? f.addr : (f.iova ?? f.addr)),
    IPA: f.ipa === undefined ? 'none' : hexOf(f.ipa),
  }
  if (f.fetchAddr !== undefined) out['fetch address'] = hexOf(f.fetchAddr)
  return out
}

/** An SMMUv3 event record as named fields. */
export function eventFields(e: EventRecord): Record<string, string> {
  return {
    event: `${hexOf(EVENT_ID[e.name])} ${e.name}`,
    StreamID: hexOf(e.sid),
    RnW: e.rnw === true ? '1' : '0',
    S2: e.s2 === true ? '1' : '0',
    CLASS: e.class ?? 'none',
    InputAddr: e.inputAddr === undefined ? 'none' : hexOf(e.inputAddr),
    IPA: e.ipa === undefined ? 'none' : hexOf(e.ipa),
    FetchAddr: e.fetchAddr === undefined ? 'none' : hexOf(e.fetchAddr),
  }
}

/** An SMMUv1/v2 context bank's fault registers as named fields. */
export function contextBankFaultFields(f: ContextBankFault): Record<string, string> {
  const bits = Object.entries(CB_FSR)
    .filter(([, mask]) => (f.fsr & mask) !== 0)
    .map(([name]) => name)
  return {
    bank: String(f.bank),
    CB_FSR: `${hexOf(f.fsr)} ${bits.join('|')}`,
    'CB_FSYNR0.PLVL': String(f.fsynr0 & CB_FSYNR0.PLVL_MASK),
    'CB_FSYNR0.WNR': (f.fsynr0 & CB_FSYNR0.WNR) !== 0 ? '1' : '0',
    'CB_FSYNR0.PTWF': (f.fsynr0 & CB_FSYNR0.PTWF) !== 0 ? '1' : '0',
    CB_FAR: hexOf(f.far),
  }
}

/**
 * The fields a scenario names, from `actual` (missing ones as `absent`), and the scenario's
 * values, both canonical: compare the two with deepEqual.
 */
export function selectFields(actual: Readonly<Record<string, string>>, expected: Readonly<Record<string, string>>): { actual: Record<string, string>; expected: Record<string, string> } {
  const keys = Object.keys(expected)
  return {
    actual: Object.fromEntries(keys.map((k) => [k, canonicalCell(actual[k] ?? 'absent')])),
    expected: Object.fromEntries(keys.map((k) => [k, canonicalCell(expected[k] as string)])),
  }
}
