/**
 * How an SMMU reports a translation fault (fault-codes.ts: the event or CB_FSR bit of each kind).
 *
 * SMMUv3: an event record in the event queue. There is one encoder for SMMUv3 event records,
 * model/smmu/v3/events.ts (Arm IHI 0070 7.3); this module re-exports it under the names the
 * instance, the steps and explain use. Decided from the specification text:
 *   - CLASS is recorded for every translation fault, stage 1 included: IHI 0070 7.3.13
 *     (F_TRANSLATION) "If fault occurs at stage 1, S2 == 0 and CLASS == IN, IPA is UNKNOWN";
 *     F_ADDR_SIZE, F_ACCESS and F_PERMISSION (7.3.14-7.3.16) refer to F_TRANSLATION for CLASS.
 *   - F_WALK_EABT of a stage-1 descriptor fetch: S2 = 0, CLASS = TT (7.3.12).
 *   - RnW is the incoming transaction's (7.3, 7.3.13), also when stage 2 failed on the CD's or a
 *     stage-1 table's IPA (CLASS CD / TT say what was being translated).
 *   - A stage-2 fault met during a stage-1 table walk: S2 = 1, CLASS = TT, IPA = the stage-1
 *     descriptor's address (7.3.13).
 *
 * SMMUv1/v2: the context bank's fault registers.
 *   CB_FSR: TF bit 1 (translation), AFF bit 2 (access flag), PF bit 3 (permission), EF bit 4
 *           (external abort), ASF bit 7 (address size)
 *   CB_FSYNR0: PLVL [1:0] (level), WNR bit 4 (1 = write), PTWF bit 10 (a stage-2 fault taken
 *           during the stage-2 walk made for a stage-1 table walk)
 *   CB_FAR: the transaction's input address.
 * Simplifications: the model keeps the latest fault per bank (FSR.MULTI and write-1-to-clear are
 * not modelled) and records a nested context's fault in the bank the stream's S2CR points at (the
 * stage-1 bank once a guest stage 1 is installed) — which bank real hardware uses is unverified.
 */
import type { Access, Fault } from '../pgtable'
import { FAULT_CODES } from './fault-codes'
import { encodeV3Event, faultEvent, V3_CLASS, V3_EVENT_ID, type V3Class, type V3Event, type V3EventName } from './v3/events'

/** SMMUv3 event IDs (IHI 0070 7.3). */
export const EVENT_ID = V3_EVENT_ID
export type EventName = V3EventName
/** SMMUv3 event record CLASS values. */
export const EVENT_CLASS = V3_CLASS
export type EventClass = V3Class
export type EventRecord = V3Event

/** The event an SMMUv3 writes for `fault` on a transaction of stream `sid` at `iova`. */
export function eventFor(fault: Fault, sid: number, iova: number, access: Access): EventRecord {
  return faultEvent(fault, sid, iova, access)
}

/** The four 64-bit words of an event record. */
export function encodeEvent(e: EventRecord): readonly [bigint, bigint, bigint, bigint] {
  return encodeV3Event(e)
}

/** SMMUv1/v2 CB_FSR fault bits. */
export const CB_FSR = {
  TF: 1 << 1,
  AFF: 1 << 2,
  PF: 1 << 3,
  EF: 1 << 4,
  ASF: 1 << 7,
} as const
export type FsrBit = keyof typeof CB_FSR


/** SMMUv1/v2 CB_FSYNR0 fields. */
export const CB_FSYNR0 = {
  PLVL_MASK: 0x3,
  WNR: 1 << 4,
  PTWF: 1 << 10,
} as const

/** What a context bank's fault registers hold after a fault. */
export interface ContextBankFault {
  readonly bank: number
  readonly fsr: number
  readonly fsynr0: number
  readonly far: number
}

export function contextBankFaultFor(fault: Fault, bank: number, iova: number, access: Access): ContextBankFault {
  let fsynr0 = fault.level & CB_FSYNR0.PLVL_MASK
  if (access.kind === 'write') fsynr0 |= CB_FSYNR0.WNR
  if (fault.onS1TableWalk) fsynr0 |= CB_FSYNR0.PTWF
  return { bank, fsr: CB_FSR[FAULT_CODES[fault.kind].fsr], fsynr0, far: iova }
}
