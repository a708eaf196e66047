/**
 * How an SMMU reports a translation fault (facts §4).
 *
 * SMMUv3: an event record in the event queue (Linux EVTQ_* layout, four 64-bit words):
 *   dw0 [7:0] event ID, [63:32] StreamID (SSV = 0: no substreams here)
 *   dw1 bit 35 RnW (1 = read), bit 39 S2, [41:40] CLASS (0 CD, 1 TT, 2 IN); PnU, InD = 0
 *       (device DMA is an unprivileged data access); STAG, Stall, TT_read = 0
 *   dw2 InputAddr (the transaction's IOVA)
 *   dw3 IPA [51:12] for a stage-2 fault (the descriptor's IPA when CLASS = TT), or FetchAddr
 *       [51:3] for F_WALK_EABT
 *   IDs: 0x10 F_TRANSLATION, 0x11 F_ADDR_SIZE, 0x12 F_ACCESS, 0x13 F_PERMISSION, 0x0B F_WALK_EABT.
 *   S2 and CLASS are only meaningful for stage-2 faults: a stage-1 fault has S2 = 0, CLASS 0.
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
import type { Access, Fault, FaultKind } from '../pgtable'

/** SMMUv3 event IDs of translation faults. */
export const EVENT_ID = {
  F_WALK_EABT: 0x0b,
  F_TRANSLATION: 0x10,
  F_ADDR_SIZE: 0x11,
  F_ACCESS: 0x12,
  F_PERMISSION: 0x13,
} as const
export type EventName = keyof typeof EVENT_ID

const EVENT_OF: Readonly<Record<FaultKind, EventName>> = {
  translation: 'F_TRANSLATION',
  addressSize: 'F_ADDR_SIZE',
  accessFlag: 'F_ACCESS',
  permission: 'F_PERMISSION',
  externalAbort: 'F_WALK_EABT',
}

/** SMMUv3 event record CLASS values. */
export const EVENT_CLASS = { CD: 0, TT: 1, IN: 2 } as const
export type EventClass = keyof typeof EVENT_CLASS

/** Bit positions of the event record fields (Linux EVTQ_0_* / EVTQ_1_* / EVTQ_3_*). */
const EVT = {
  SID_SHIFT: 32n,
  RNW: 1n << 35n,
  S2: 1n << 39n,
  CLASS_SHIFT: 40n,
  /** IPA [51:12]. */
  IPA_MASK: ((1n << 52n) - 1n) & ~((1n << 12n) - 1n),
  /** FetchAddr [51:3]. */
  FETCH_MASK: ((1n << 52n) - 1n) & ~((1n << 3n) - 1n),
} as const

export interface EventRecord {
  readonly name: EventName
  readonly id: number
  readonly sid: number
  /** The transaction was a read. */
  readonly rnw: boolean
  /** The fault was a stage-2 fault. */
  readonly s2: boolean
  /** Stage-2 faults: what the stage-2 translation was for. */
  readonly class?: EventClass
  readonly inputAddr: number
  /** Stage-2 faults: the IPA that faulted (as the record holds it: bits [51:12]). */
  readonly ipa?: number
  /** F_WALK_EABT: the PA of the descriptor fetch (bits [51:3]). */
  readonly fetchAddr?: number
}

/** The event an SMMUv3 writes for `fault` on a transaction of stream `sid` at `iova`. */
export function eventFor(fault: Fault, sid: number, iova: number, access: Access): EventRecord {
  const name = EVENT_OF[fault.kind]
  const s2 = fault.stage === 2
  const base = { name, id: EVENT_ID[name], sid, rnw: access.kind !== 'write', s2, inputAddr: iova }
  if (fault.kind === 'externalAbort' && fault.fetchAddr !== undefined) {
    return { ...base, fetchAddr: Number(BigInt(fault.fetchAddr) & EVT.FETCH_MASK) }
  }
  if (!s2) return base
  const ipa = Number(BigInt(fault.ipa ?? fault.addr) & EVT.IPA_MASK)
  return { ...base, class: fault.onS1TableWalk ? 'TT' : 'IN', ipa }
}

/** The four 64-bit words of an event record. */
export function encodeEvent(e: EventRecord): readonly [bigint, bigint, bigint, bigint] {
  const dw0 = BigInt(e.id) | (BigInt(e.sid) << EVT.SID_SHIFT)
  let dw1 = 0n
  if (e.rnw) dw1 |= EVT.RNW
  if (e.s2) dw1 |= EVT.S2
  if (e.class !== undefined) dw1 |= BigInt(EVENT_CLASS[e.class]) << EVT.CLASS_SHIFT
  const dw3 = e.fetchAddr !== undefined ? BigInt(e.fetchAddr) & EVT.FETCH_MASK : BigInt(e.ipa ?? 0) & EVT.IPA_MASK
  return [dw0, dw1, BigInt(e.inputAddr), dw3]
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

const FSR_OF: Readonly<Record<FaultKind, FsrBit>> = {
  translation: 'TF',
  accessFlag: 'AFF',
  permission: 'PF',
  externalAbort: 'EF',
  addressSize: 'ASF',
}

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
  return { bank, fsr: CB_FSR[FSR_OF[fault.kind]], fsynr0, far: iova }
}
