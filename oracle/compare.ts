/**
 * Comparing the model's prediction of one DMA with what QEMU reported, field by field:
 *   translated / bypass: no event record; a read brings the word at the predicted PA, a write
 *     leaves the pattern at the peeked PA (the predicted one);
 *   terminated without a record (STE abort, CD.R / STE.S2R = 0): no event record; a write leaves
 *     the peeked word as it was;
 *   a fault: QEMU's first record (it writes one per 4-byte access chunk) must equal the model's:
 *     event ID and StreamID; for translation faults also RnW, S2, CLASS, InputAddr, and IPA[51:12]
 *     (S2 = 1) or FetchAddr[51:3] (F_WALK_EABT). Configuration events compare ID and StreamID.
 * A mismatch that a documented QEMU deviation explains (known-differences.json) is "known".
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { ROOT } from '../model/root'
import { loadFixture } from '../model'
import { decodeEventRecord, decodeSte, encodeV3Event, eventName, STE_CONFIG, steFields, v3Id, type V3Event } from '../model/smmu/v3'
import { ORACLE_FIXTURE, PATTERN, predict, type DmaObservation, type OracleCase, type Prediction, type Step } from './case'

export interface KnownDifference {
  readonly id: string
  readonly title: string
  readonly architecture: string
  readonly qemu: readonly string[]
}

export function knownDifferences(): KnownDifference[] {
  const file = path.join(ROOT, 'oracle', 'known-differences.json')
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { differences: KnownDifference[] }).differences
}

export interface Verdict {
  readonly agree: boolean
  readonly problems: readonly string[]
  /** Set when the difference is a documented QEMU deviation. */
  readonly known?: string
}

const hex = (v: bigint | number | undefined) => (v === undefined ? '-' : `0x${v.toString(16)}`)
const IPA_MASK = ((1n << 52n) - 1n) & ~0xfffn
const FETCH_MASK = ((1n << 52n) - 1n) & ~7n

export function describePrediction(p: Prediction): string {
  if (p.event !== undefined) return `${describeEvent(p.event)} (${p.reason ?? ''})`
  if (p.pa !== undefined) return `to PA ${hex(p.pa)}`
  return `terminated, no record (${p.reason ?? ''})`
}

function describeEvent(e: V3Event): string {
  const parts = [e.name, `sid ${e.sid}`]
  if (e.rnw !== undefined) parts.push(`RnW ${e.rnw ? 1 : 0}`, `S2 ${e.s2 ? 1 : 0}`, `CLASS ${e.class}`, `InputAddr ${hex(e.inputAddr)}`)
  if (e.ipa !== undefined) parts.push(`IPA ${hex(e.ipa)}`)
  if (e.fetchAddr !== undefined) parts.push(`FetchAddr ${hex(e.fetchAddr)}`)
  return parts.join(', ')
}

export function describeObservation(o: DmaObservation): string {
  const parts: string[] = []
  if (o.count > 0) {
    const r = decodeEventRecord(o.events[0])
    const bit = (b: boolean) => (b ? 1 : 0)
    parts.push(
      `${eventName(r.eventId) ?? hex(r.eventId)} x${o.count}, RnW ${bit(r.rnw)}, S2 ${bit(r.s2)}, CLASS ${['CD', 'TT', 'IN', '?'][r.class]}, InputAddr ${hex(r.inputAddr)}, dw3 ${hex(o.events[0][3])}`,
    )
  } else parts.push('no event')
  if (o.data !== undefined) parts.push(`read ${hex(o.data)}`)
  if (o.peek !== undefined) parts.push(`memory ${hex(o.peek)}`)
  return parts.join(', ')
}

export function compareDma(c: OracleCase, step: Extract<Step, { op: 'dma' }>, p: Prediction, o: DmaObservation): Verdict {
  const problems: string[] = []
  if (p.event !== undefined) {
    if (o.count === 0) problems.push('QEMU recorded no event')
    else problems.push(...compareRecord(p.event, o.events[0]))
  } else {
    if (o.count > 0) problems.push(`QEMU recorded ${o.count} event(s)`)
    if (p.pa !== undefined) {
      if (step.dir === 'read' && o.data !== p.data) problems.push(`read ${hex(o.data)}, model ${hex(p.data)}`)
      if (step.dir === 'write' && step.peek !== undefined && step.peek === p.pa && o.peek !== PATTERN) problems.push(`write did not land at ${hex(step.peek)}`)
      if (step.dir === 'write' && step.peek !== undefined && step.peek !== p.pa && o.peek !== p.peek) problems.push(`memory at ${hex(step.peek)} is ${hex(o.peek)}, model ${hex(p.peek)}`)
    } else if (step.dir === 'write' && o.peek !== undefined && o.peek !== p.peek) {
      problems.push(`terminated write changed memory: ${hex(o.peek)}, model ${hex(p.peek)}`)
    }
  }
  if (problems.length === 0) return { agree: true, problems }
  return { agree: false, problems, known: classify(c, step, p, o) }
}

function compareRecord(e: V3Event, words: readonly [bigint, bigint, bigint, bigint]): string[] {
  const [m0, m1, m2, m3] = encodeV3Event(e)
  const [q0, q1, q2, q3] = words
  const out: string[] = []
  if ((q0 & 0xffn) !== (m0 & 0xffn)) out.push(`event ${hex(q0 & 0xffn)}, model ${hex(m0 & 0xffn)}`)
  if (q0 >> 32n !== m0 >> 32n) out.push(`StreamID ${hex(q0 >> 32n)}, model ${hex(m0 >> 32n)}`)
  if (e.fetchAddr !== undefined && e.rnw === undefined && (q3 & FETCH_MASK) !== (m3 & FETCH_MASK)) out.push(`FetchAddr ${hex(q3)}, model ${hex(m3)}`)
  if (e.rnw === undefined) return out
  const f = (w: bigint, lo: bigint, width: bigint) => (w >> lo) & ((1n << width) - 1n)
  if (f(q1, 35n, 1n) !== f(m1, 35n, 1n)) out.push(`RnW ${f(q1, 35n, 1n)}, model ${f(m1, 35n, 1n)}`)
  {
    if (f(q1, 39n, 1n) !== f(m1, 39n, 1n)) out.push(`S2 ${f(q1, 39n, 1n)}, model ${f(m1, 39n, 1n)}`)
    if (f(q1, 40n, 2n) !== f(m1, 40n, 2n)) out.push(`CLASS ${f(q1, 40n, 2n)}, model ${f(m1, 40n, 2n)}`)
  }
  if (q2 !== m2) out.push(`InputAddr ${hex(q2)}, model ${hex(m2)}`)
  if (e.fetchAddr !== undefined && (q3 & FETCH_MASK) !== (m3 & FETCH_MASK)) out.push(`FetchAddr ${hex(q3)}, model ${hex(m3)}`)
  if (e.ipa !== undefined && (q3 & IPA_MASK) !== (m3 & IPA_MASK)) out.push(`IPA ${hex(q3 & IPA_MASK)}, model ${hex(m3 & IPA_MASK)}`)
  return out
}

/** Which documented QEMU deviation explains a mismatch, if one does. */
function classify(c: OracleCase, step: Extract<Step, { op: 'dma' }>, p: Prediction, o: DmaObservation): string | undefined {
  const e = p.event
  // AP[1] ignored: the model's stage-1 permission fault on an unprivileged access QEMU let through.
  if (e?.name === 'F_PERMISSION' && e.s2 === false && o.count === 0 && c.name.includes('ap-unpriv')) return 'qemu-ignores-ap1'
  // Stage-2 faults on a CD / stage-1 table IPA: QEMU's RnW, S2 and IPA deviations, alone or together.
  if (e !== undefined && o.count > 0 && (e.class === 'CD' || e.class === 'TT') && e.s2 === true) {
    const applied = descriptorFaultDeviations(c, step, e, o.events[0])
    if (applied !== undefined) return applied
  }
  // A next-level table address beyond IPS/PS: QEMU fetches it (here: no RAM, an external abort).
  if (e?.name === 'F_ADDR_SIZE' && o.count > 0 && (o.events[0][0] & 0xffn) === 0x0bn && o.events[0][2] === BigInt(e.inputAddr ?? -1) && ((o.events[0][1] >> 39n) & 1n) === (e.s2 ? 1n : 0n)) return 'qemu-no-table-address-size-check'
  // F_CD_FETCH: QEMU writes the fetch address into InputAddr (dw2), not FetchAddr (dw3).
  if (e?.name === 'F_CD_FETCH' && o.count > 0 && (o.events[0][0] & 0xffn) === 0x09n && (o.events[0][2] & FETCH_MASK) === BigInt(e.fetchAddr ?? -1) && o.events[0][3] === 0n) return 'qemu-cd-fetch-addr-in-inputaddr'
  // Stage 1 bypassed, input beyond the IAS: QEMU terminates without a record.
  if (e?.name === 'F_ADDR_SIZE' && e.s2 === false && o.count === 0 && steFields(c.ste).config === STE_CONFIG.S2_TRANS) return 'qemu-s1-bypass-addr-size-not-recorded'
  // A write hitting a read-only S2-only IOTLB entry filled by an earlier DMA of the case.
  if (e?.name === 'F_PERMISSION' && e.s2 === true && o.count === 0 && steFields(c.ste).config === STE_CONFIG.S2_TRANS && c.steps.indexOf(step) > 0) return 'qemu-tlb-hit-s2-write-as-s1'
  // A stage-2 walk that needs a concatenated start table other than the first.
  if (usesLaterConcatenatedTable(c, step, p, o)) return 'qemu-s2-concat-first-table-only'
  return undefined
}

/** The deviations that turn the model's record into QEMU's, or undefined if they do not suffice. */
function descriptorFaultDeviations(c: OracleCase, step: Extract<Step, { op: 'dma' }>, e: V3Event, q: readonly [bigint, bigint, bigint, bigint]): string | undefined {
  const applied: string[] = []
  const f = (w: bigint, lo: bigint, width: bigint) => (w >> lo) & ((1n << width) - 1n)
  const [m0, m1, m2, m3] = encodeV3Event(e)
  if ((q[0] & 0xffn) !== (m0 & 0xffn) || q[0] >> 32n !== m0 >> 32n || q[2] !== m2 || f(q[1], 40n, 2n) !== f(m1, 40n, 2n)) return undefined
  const ttb = c.name.includes('ttb-outside-s2')
  if (f(q[1], 35n, 1n) !== f(m1, 35n, 1n)) {
    if (!(step.dir === 'write' && (e.class === 'CD' || ttb))) return undefined
    applied.push('qemu-cd-fetch-rnw')
  }
  if (f(q[1], 39n, 1n) !== f(m1, 39n, 1n)) {
    if (!(e.class === 'TT' && !ttb)) return undefined
    applied.push('qemu-tt-fault-s2-clear')
  }
  const qIpa = q[3] & IPA_MASK
  const mIpa = m3 & IPA_MASK
  if (qIpa !== mIpa) {
    if (!(e.class === 'TT' && qIpa < mIpa && mIpa - qIpa < 0x10000n)) return undefined
    applied.push('qemu-tt-fault-table-base-ipa')
  }
  return applied.length > 0 ? applied.join('+') : undefined
}

function usesLaterConcatenatedTable(c: OracleCase, step: Extract<Step, { op: 'dma' }>, p: Prediction, o: DmaObservation): boolean {
  const q = o.events[0]
  const qemuIpa = q !== undefined && ((q[1] >> 39n) & 1n) === 1n ? Number(q[3] & IPA_MASK) : undefined
  const ste = decodeSte(c.ste, v3Id(loadFixture(ORACLE_FIXTURE)))
  if (ste.kind !== 'translate' || ste.stage2 === undefined || ste.stage2.geometry.concatenatedTables < 2) return false
  const g = ste.stage2.geometry
  const span = g.blockSize[g.startLevel] * g.entriesPerTable
  const ipas = [p.event?.ipa, p.ipa, qemuIpa]
  if (ste.stage1) ipas.push(ste.ste.s1ContextPtr, ste.ste.s1ContextPtr - 0x200_0000)
  else ipas.push(step.iova)
  return ipas.some((ipa) => ipa !== undefined && ipa >= span && ipa < g.inputLimit)
}

export interface CaseResult {
  readonly c: OracleCase
  readonly agree: boolean
  readonly known?: string
  readonly lines: string[]
}

export function judge(cases: readonly OracleCase[], observations: Map<number, DmaObservation[]>): CaseResult[] {
  return cases.map((c) => {
    const predictions = predict(c)
    const obs = observations.get(c.id) ?? []
    const dmas = c.steps.filter((s) => s.op === 'dma')
    const lines: string[] = []
    let agree = true
    let known: string | undefined
    dmas.forEach((step, i) => {
      const v = compareDma(c, step, predictions[i], obs[i])
      if (v.agree) return
      agree = false
      known = v.known
      lines.push(
        `case ${c.id} (${c.name}) DMA ${i + 1} ${step.dir} IOVA 0x${step.iova.toString(16)}${v.known ? ` [known: ${v.known}]` : ''}`,
        `  model: ${describePrediction(predictions[i])}`,
        `  QEMU:  ${describeObservation(obs[i])}`,
        `  ${v.problems.join('; ')}`,
      )
    })
    return { c, agree, known, lines }
  })
}

