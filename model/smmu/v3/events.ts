/**
 * SMMUv3 event records (Arm IHI 0070 7.3; the positions Linux's EVTQ_* and QEMU's EVT_SET_* use):
 *   dw0 [7:0] event ID, [63:32] StreamID (SSV = 0: no substreams)
 *   dw1 bit 35 RnW (1 = read), bit 39 S2, [41:40] CLASS (0 CD, 1 TT, 2 IN)
 *   dw2 InputAddr (the transaction's address)
 *   dw3 IPA [51:12] for a stage-2 fault; FetchAddr [51:3] for F_WALK_EABT, F_CD_FETCH and
 *       F_STE_FETCH (the PA whose fetch aborted)
 * Configuration events (C_BAD_STREAMID, C_BAD_STE, C_BAD_CD) carry the StreamID only; F_STE_FETCH
 * and F_CD_FETCH the StreamID and FetchAddr.
 *
 * This is the model's only SMMUv3 event-record encoder (model/smmu/events.ts re-exports it).
 *
 * CLASS of a translation fault (IHI 0070 7.3.13 F_TRANSLATION, which F_ADDR_SIZE 7.3.14, F_ACCESS
 * 7.3.15 and F_PERMISSION 7.3.16 refer to): a stage-1 fault has S2 = 0 and CLASS = IN (IPA
 * UNKNOWN, written 0); a stage-2 fault has S2 = 1 and CLASS = CD (IPA = the CD's address), TT (IPA
 * = the stage-1 descriptor's address) or IN (IPA = the transaction's IPA). F_WALK_EABT (7.3.12): a
 * stage-1 descriptor fetch that aborts is S2 = 0, CLASS = TT. The stage-1 F_ADDR_SIZE of an input
 * beyond the IAS with stage 1 bypassed is S2 = 0, CLASS = IN (7.3.14, 3.4).
 * RnW is the incoming transaction's (7.3 common fields; 7.3.13 "the access attributes of the
 * input transaction"), also when stage 2 failed on the CD's or a table's IPA (which the SMMU reads).
 * PnU/InD are 0: device DMA without a PASID is an unprivileged data access (3.9).
 * The record holds IPA[51:12] and FetchAddr[51:3]; the event keeps those bits.
 */
import type { Access, Fault, FaultKind } from '../../pgtable'
import type { V3Outcome } from './smmuv3'

export const V3_EVENT_ID = {
  C_BAD_STREAMID: 0x02,
  F_STE_FETCH: 0x03,
  C_BAD_STE: 0x04,
  F_CD_FETCH: 0x09,
  C_BAD_CD: 0x0a,
  F_WALK_EABT: 0x0b,
  F_TRANSLATION: 0x10,
  F_ADDR_SIZE: 0x11,
  F_ACCESS: 0x12,
  F_PERMISSION: 0x13,
} as const
export type V3EventName = keyof typeof V3_EVENT_ID

export const V3_CLASS = { CD: 0, TT: 1, IN: 2 } as const
export type V3Class = keyof typeof V3_CLASS

const EVENT_OF: Readonly<Record<FaultKind, V3EventName>> = {
  translation: 'F_TRANSLATION',
  addressSize: 'F_ADDR_SIZE',
  accessFlag: 'F_ACCESS',
  permission: 'F_PERMISSION',
  externalAbort: 'F_WALK_EABT',
}

export interface V3Event {
  readonly name: V3EventName
  readonly sid: number
  /** Translation faults and fetch aborts only. */
  readonly rnw?: boolean
  readonly s2?: boolean
  readonly class?: V3Class
  readonly inputAddr?: number
  /** Stage-2 faults: the IPA that faulted. */
  readonly ipa?: number
  /** Fetch aborts: the PA of the fetch. */
  readonly fetchAddr?: number
}

const IPA_MASK = ((1n << 52n) - 1n) & ~((1n << 12n) - 1n)
const FETCH_MASK = ((1n << 52n) - 1n) & ~7n

export function configEvent(name: 'C_BAD_STREAMID' | 'C_BAD_STE' | 'C_BAD_CD', sid: number): V3Outcome {
  return { kind: 'fault', event: { name, sid } }
}

export function fetchEvent(name: 'F_STE_FETCH' | 'F_CD_FETCH', sid: number, fetchAddr: number): V3Outcome {
  return { kind: 'fault', event: { name, sid, fetchAddr } }
}

/** The record of a translation fault; `cdIpa` when stage 2 failed translating the CD's address. */
export function faultEvent(fault: Fault, sid: number, iova: number, access: Access, cdIpa?: number): V3Event {
  const name = EVENT_OF[fault.kind]
  const s2 = fault.stage === 2
  const cls: V3Class = cdIpa !== undefined ? 'CD' : fault.onS1TableWalk || (fault.kind === 'externalAbort' && !s2) ? 'TT' : 'IN'
  const base = { name, sid, rnw: access.kind !== 'write', s2, class: cls, inputAddr: iova }
  if (fault.kind === 'externalAbort') return fault.fetchAddr === undefined ? base : { ...base, fetchAddr: Number(BigInt(fault.fetchAddr) & FETCH_MASK) }
  return s2 ? { ...base, ipa: Number(BigInt(fault.ipa ?? fault.addr) & IPA_MASK) } : base
}

/** The record's four 64-bit words. */
export function encodeV3Event(e: V3Event): [bigint, bigint, bigint, bigint] {
  const dw0 = BigInt(V3_EVENT_ID[e.name]) | (BigInt(e.sid) << 32n)
  let dw1 = 0n
  if (e.rnw === true) dw1 |= 1n << 35n
  if (e.s2 === true) dw1 |= 1n << 39n
  if (e.class !== undefined) dw1 |= BigInt(V3_CLASS[e.class]) << 40n
  const dw2 = BigInt(e.inputAddr ?? 0)
  const dw3 = e.fetchAddr !== undefined ? BigInt(e.fetchAddr) & FETCH_MASK : e.ipa !== undefined ? BigInt(e.ipa) & IPA_MASK : 0n
  return [dw0, dw1, dw2, dw3]
}

export function eventName(id: number): V3EventName | undefined {
  return (Object.keys(V3_EVENT_ID) as V3EventName[]).find((n) => V3_EVENT_ID[n] === id)
}
