/**
 * SMMUv3 event records (Arm IHI 0070 7.3): 32 bytes, four 64-bit words, laid out by one table,
 * EVENT_LAYOUT (the positions of Linux's EVTQ_* macros in drivers/iommu/arm/arm-smmu-v3/
 * arm-smmu-v3.h and QEMU's EVT_SET_* in hw/arm/smmuv3-internal.h; IHI 0070 draws them as figures).
 * dw3 holds the IPA [51:12] of a stage-2 fault, or the FetchAddr [51:3] of F_WALK_EABT, F_CD_FETCH
 * and F_STE_FETCH (the PA whose fetch aborted): two views of one word, never both in one record.
 * Configuration events (C_BAD_STREAMID, C_BAD_STE, C_BAD_CD) carry the StreamID only; F_STE_FETCH
 * and F_CD_FETCH the StreamID and FetchAddr.
 *
 * This is the model's only SMMUv3 event-record encoder and decoder (model/smmu/events.ts re-exports
 * the encoder).
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
import type { Access, Fault } from '../../pgtable'
import { FAULT_CODES } from '../fault-codes'
import { address, decodeFields, encodeFields, flag, uint, word64, zeroFields, type FieldsOf } from './fields'

export const EVENT_WORDS = 4

export const EVENT_LAYOUT = {
  eventId: uint('EventID', 0, 0, 8), //           dw0 [7:0]
  ssv: flag('SSV', 0, 11), //                     dw0 [11]
  substreamId: uint('SubstreamID', 0, 12, 20), // dw0 [31:12]
  streamId: uint('StreamID', 0, 32, 32), //       dw0 [63:32]
  stag: uint('STAG', 1, 0, 16), //                dw1 [15:0]
  stall: flag('Stall', 1, 31), //                 dw1 [31]
  pnu: flag('PnU', 1, 33), //                     dw1 [33]
  ind: flag('InD', 1, 34), //                     dw1 [34]
  rnw: flag('RnW', 1, 35), //                     dw1 [35]
  nsipa: flag('NSIPA', 1, 38), //                 dw1 [38]
  s2: flag('S2', 1, 39), //                       dw1 [39]
  class: uint('CLASS', 1, 40, 2), //              dw1 [41:40]
  ttRnw: flag('TTRnW', 1, 44), //                 dw1 [44]
  inputAddr: word64('InputAddr', 2), //           dw2
  /** Stage-2 faults (alternative to fetchAddr). */
  ipa: address('IPA', 3, 51, 12), //              dw3 [51:12]
  /** Fetch aborts (alternative to ipa). */
  fetchAddr: address('FetchAddr', 3, 51, 3), //   dw3 [51:3]
} as const

/** The fields of a raw event record. */
export type EventRecordFields = FieldsOf<typeof EVENT_LAYOUT>

/** The two EVENT_LAYOUT fields that are views of the same bits. */
export const EVENT_ALTERNATIVES: readonly (readonly [string, string])[] = [['ipa', 'fetchAddr']]

/** A raw record's fields (both dw3 views decoded: read the one the event defines). */
export function decodeEventRecord(words: readonly bigint[]): EventRecordFields {
  return decodeFields(EVENT_LAYOUT, words)
}

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

/** Address bits [51:lo] (what a record's dw3 field keeps). */
const keep = (addr: number, lo: number): number => Number(BigInt(addr) & (((1n << 52n) - 1n) & ~((1n << BigInt(lo)) - 1n)))

/** The record of a translation fault; `cdIpa` when stage 2 failed translating the CD's address. */
export function faultEvent(fault: Fault, sid: number, iova: number, access: Access, cdIpa?: number): V3Event {
  const name = FAULT_CODES[fault.kind].event
  const s2 = fault.stage === 2
  const cls: V3Class = cdIpa !== undefined ? 'CD' : fault.onS1TableWalk || (fault.kind === 'externalAbort' && !s2) ? 'TT' : 'IN'
  const base = { name, sid, rnw: access.kind !== 'write', s2, class: cls, inputAddr: iova }
  if (fault.kind === 'externalAbort') return fault.fetchAddr === undefined ? base : { ...base, fetchAddr: keep(fault.fetchAddr, EVENT_LAYOUT.fetchAddr.lo) }
  return s2 ? { ...base, ipa: keep(fault.ipa ?? fault.addr, EVENT_LAYOUT.ipa.lo) } : base
}

/** The record's four 64-bit words. */
export function encodeV3Event(e: V3Event): [bigint, bigint, bigint, bigint] {
  const fetch = e.fetchAddr !== undefined
  const [w0, w1, w2, w3] = encodeFields(EVENT_LAYOUT, EVENT_WORDS, {
    ...zeroFields(EVENT_LAYOUT),
    eventId: V3_EVENT_ID[e.name],
    streamId: e.sid,
    rnw: e.rnw === true,
    s2: e.s2 === true,
    class: e.class === undefined ? 0 : V3_CLASS[e.class],
    inputAddr: BigInt(e.inputAddr ?? 0),
    ipa: fetch || e.ipa === undefined ? 0 : keep(e.ipa, EVENT_LAYOUT.ipa.lo),
    fetchAddr: fetch ? keep(e.fetchAddr!, EVENT_LAYOUT.fetchAddr.lo) : 0,
  })
  return [w0, w1, w2, w3]
}

export function eventName(id: number): V3EventName | undefined {
  return (Object.keys(V3_EVENT_ID) as V3EventName[]).find((n) => V3_EVENT_ID[n] === id)
}
