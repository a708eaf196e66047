/**
 * SMMUv3 configuration structures as bytes in memory (Arm IHI 0070 G.b, 5.2 Stream Table Entry and
 * 5.4 Context Descriptor): each structure is one table of fields (fields.ts) that drives both the
 * encoder (what a driver or the oracle harness writes) and the decoder (what the SMMU reads);
 * config.ts validates what is read the way the architecture's ILLEGAL rules do (an ILLEGAL STE is
 * C_BAD_STE, an ILLEGAL CD is C_BAD_CD).
 *
 * Both are eight 64-bit little-endian words (64 bytes). In the tables, `word, lo, width` are the
 * position inside the 64-bit word; the comment gives IHI 0070's bit numbers over the whole
 * structure (word * 64 + bit). Linux's STRTAB_STE_* / CTXDESC_CD_* macros
 * (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h) name the same positions for the fields they use;
 * S1ContextPtr is [55:6] in G.b (Linux's mask stops at bit 51: bits above the OAS are RES0), the
 * VMSAv8-64 S2TTB / TTB0 / TTB1 are [51:4] (bits [55:52] are the VMSAv9-128 extension).
 */
import type { Granule } from '../../pgtable'
import { address, decodeFields, encodeFields, flag, uint, zeroFields, type FieldsOf } from './fields'

export const STE_WORDS = 8
export const CD_WORDS = 8
export const STE_BYTES = 64
export const CD_BYTES = 64

/** STE.Config encodings. 0b0xx aborts without an event. */
export const STE_CONFIG = { ABORT: 0b000, BYPASS: 0b100, S1_TRANS: 0b101, S2_TRANS: 0b110, NESTED: 0b111 } as const

/** STE.PRIVCFG: use the incoming privilege, or override it. */
export const PRIVCFG = { INCOMING: 0b00, UNPRIVILEGED: 0b10, PRIVILEGED: 0b11 } as const

/** Physical/intermediate address size encodings (CD.IPS, STE.S2PS, SMMU_IDR5.OAS). */
export const ADDRESS_SIZE_BITS: readonly number[] = [32, 36, 40, 42, 44, 48, 52]

/** CD.TG0 / STE.S2TG encodings; CD.TG1 uses another one. */
const TG0_GRANULE: Readonly<Record<number, Granule | undefined>> = { 0b00: 4096, 0b01: 65536, 0b10: 16384 }
const TG1_GRANULE: Readonly<Record<number, Granule | undefined>> = { 0b01: 16384, 0b10: 4096, 0b11: 65536 }

export function tg0Encoding(g: Granule): number {
  return g === 4096 ? 0b00 : g === 65536 ? 0b01 : 0b10
}

export function addressSizeEncoding(bits: number): number {
  const e = ADDRESS_SIZE_BITS.indexOf(bits)
  if (e < 0) throw new Error(`${bits} bits is not an SMMUv3 address size`)
  return e
}

// ---- Stream table entry (IHI 0070 5.2) ---------------------------------------------------------

export const STE_LAYOUT = {
  valid: flag('V', 0, 0), //                      [0]
  config: uint('Config', 0, 1, 3), //             [3:1]
  s1Fmt: uint('S1Fmt', 0, 4, 2), //               [5:4]
  /** The CD's PA (stage 1 only) or IPA (stage 2 also enabled: translated by stage 2). */
  s1ContextPtr: address('S1ContextPtr', 0, 55, 6), // [55:6]
  s1CdMax: uint('S1CDMax', 0, 59, 5), //          [63:59]
  s1Dss: uint('S1DSS', 1, 0, 2), //               [65:64]
  s1Cir: uint('S1CIR', 1, 2, 2), //               [67:66]
  s1Cor: uint('S1COR', 1, 4, 2), //               [69:68]
  s1Csh: uint('S1CSH', 1, 6, 2), //               [71:70]
  s2Hwu59: flag('S2HWU59', 1, 8), //              [72]
  s2Hwu60: flag('S2HWU60', 1, 9), //              [73]
  s2Hwu61: flag('S2HWU61', 1, 10), //             [74]
  s2Hwu62: flag('S2HWU62', 1, 11), //             [75]
  dre: flag('DRE', 1, 12), //                     [76]
  cont: uint('CONT', 1, 13, 4), //                [80:77]
  dcp: flag('DCP', 1, 17), //                     [81]
  ppar: flag('PPAR', 1, 18), //                   [82]
  mev: flag('MEV', 1, 19), //                     [83]
  s2Fwb: flag('S2FWB', 1, 25), //                 [89]
  s1StallD: flag('S1STALLD', 1, 27), //           [91]
  eats: uint('EATS', 1, 28, 2), //                [93:92]
  strw: uint('STRW', 1, 30, 2), //                [95:94]
  memAttr: uint('MemAttr', 1, 32, 4), //          [99:96]
  mtCfg: flag('MTCFG', 1, 36), //                 [100]
  allocCfg: uint('ALLOCCFG', 1, 37, 4), //        [104:101]
  shCfg: uint('SHCFG', 1, 44, 2), //              [109:108]
  nsCfg: uint('NSCFG', 1, 46, 2), //              [111:110]
  privCfg: uint('PRIVCFG', 1, 48, 2), //          [113:112]
  instCfg: uint('INSTCFG', 1, 50, 2), //          [115:114]
  s2Vmid: uint('S2VMID', 2, 0, 16), //            [143:128]
  s2T0sz: uint('S2T0SZ', 2, 32, 6), //            [165:160]
  s2Sl0: uint('S2SL0', 2, 38, 2), //              [167:166]
  s2Ir0: uint('S2IR0', 2, 40, 2), //              [169:168]
  s2Or0: uint('S2OR0', 2, 42, 2), //              [171:170]
  s2Sh0: uint('S2SH0', 2, 44, 2), //              [173:172]
  /** S2TG encoding (0b00 4K, 0b01 64K, 0b10 16K, 0b11 reserved). */
  s2Tg: uint('S2TG', 2, 46, 2), //                [175:174]
  /** S2PS encoding (ADDRESS_SIZE_BITS). */
  s2Ps: uint('S2PS', 2, 48, 3), //                [178:176]
  s2Aa64: flag('S2AA64', 2, 51), //               [179]
  s2Endi: flag('S2ENDI', 2, 52), //               [180]
  s2Affd: flag('S2AFFD', 2, 53), //               [181]
  s2Ptw: flag('S2PTW', 2, 54), //                 [182]
  s2Hd: flag('S2HD', 2, 55), //                   [183]
  s2Ha: flag('S2HA', 2, 56), //                   [184]
  s2S: flag('S2S', 2, 57), //                     [185]
  s2R: flag('S2R', 2, 58), //                     [186]
  s2Ttb: address('S2TTB', 3, 51, 4), //           [243:196]
} as const

export type SteFields = FieldsOf<typeof STE_LAYOUT>

/** Every STE field zero: an invalid STE (V = 0). */
export const STE_ZERO: SteFields = zeroFields(STE_LAYOUT)

/** What encodeSte starts from: valid, abort, AArch64 stage 2 recording its faults (S2R). */
export const STE_DEFAULTS: SteFields = { ...STE_ZERO, valid: true, config: STE_CONFIG.ABORT, s2Aa64: true, s2R: true }

/** The words of an STE: STE_DEFAULTS with `f` over them. */
export function encodeSte(f: Partial<SteFields>): bigint[] {
  return encodeFields(STE_LAYOUT, STE_WORDS, { ...STE_DEFAULTS, ...f })
}

export function steFields(words: readonly bigint[]): SteFields {
  return decodeFields(STE_LAYOUT, words)
}

// ---- Context descriptor (IHI 0070 5.4) ---------------------------------------------------------

export const CD_LAYOUT = {
  t0sz: uint('T0SZ', 0, 0, 6), //                 [5:0]
  /** TG0 encoding (0b00 4K, 0b01 64K, 0b10 16K, 0b11 reserved). */
  tg0: uint('TG0', 0, 6, 2), //                   [7:6]
  ir0: uint('IR0', 0, 8, 2), //                   [9:8]
  or0: uint('OR0', 0, 10, 2), //                  [11:10]
  sh0: uint('SH0', 0, 12, 2), //                  [13:12]
  epd0: flag('EPD0', 0, 14), //                   [14]
  endi: flag('ENDI', 0, 15), //                   [15]
  t1sz: uint('T1SZ', 0, 16, 6), //                [21:16]
  tg1: uint('TG1', 0, 22, 2), //                  [23:22]
  ir1: uint('IR1', 0, 24, 2), //                  [25:24]
  or1: uint('OR1', 0, 26, 2), //                  [27:26]
  sh1: uint('SH1', 0, 28, 2), //                  [29:28]
  epd1: flag('EPD1', 0, 30), //                   [30]
  valid: flag('V', 0, 31), //                     [31]
  /** IPS encoding (ADDRESS_SIZE_BITS). */
  ips: uint('IPS', 0, 32, 3), //                  [34:32]
  affd: flag('AFFD', 0, 35), //                   [35]
  wxn: flag('WXN', 0, 36), //                     [36]
  uwxn: flag('UWXN', 0, 37), //                   [37]
  tbi0: flag('TBI0', 0, 38), //                   [38]
  tbi1: flag('TBI1', 0, 39), //                   [39]
  pan: flag('PAN', 0, 40), //                     [40]
  aa64: flag('AA64', 0, 41), //                   [41]
  hd: flag('HD', 0, 42), //                       [42]
  ha: flag('HA', 0, 43), //                       [43]
  s: flag('S', 0, 44), //                         [44]
  r: flag('R', 0, 45), //                         [45]
  a: flag('A', 0, 46), //                         [46]
  aset: flag('ASET', 0, 47), //                   [47]
  asid: uint('ASID', 0, 48, 16), //               [63:48]
  nsCfg0: flag('NSCFG0', 1, 0), //                [64]
  had0: flag('HAD0', 1, 1), //                    [65]
  e0pd0: flag('E0PD0', 1, 2), //                  [66]
  ttb0: address('TTB0', 1, 51, 4), //             [115:68]
  nsCfg1: flag('NSCFG1', 2, 0), //                [128]
  had1: flag('HAD1', 2, 1), //                    [129]
  e0pd1: flag('E0PD1', 2, 2), //                  [130]
  ttb1: address('TTB1', 2, 51, 4), //             [179:132]
  mair0: uint('MAIR0', 3, 0, 32), //              [223:192]
  mair1: uint('MAIR1', 3, 32, 32), //             [255:224]
  amair0: uint('AMAIR0', 4, 0, 32), //            [287:256]
  amair1: uint('AMAIR1', 4, 32, 32), //           [319:288]
} as const

export type CdFields = FieldsOf<typeof CD_LAYOUT>

/** Every CD field zero: an invalid CD (V = 0). */
export const CD_ZERO: CdFields = zeroFields(CD_LAYOUT)

/** What Linux writes for a stage-1 CD (EPD1 set: no TTB1; A, R, AA64 set; MAIR as Linux's). */
export const CD_DEFAULTS: CdFields = { ...CD_ZERO, valid: true, t0sz: 25, epd1: true, aa64: true, r: true, a: true, mair0: 0xf404ff44 }

/** The words of a CD: CD_DEFAULTS with `f` over them. */
export function encodeCd(f: Partial<CdFields>): bigint[] {
  return encodeFields(CD_LAYOUT, CD_WORDS, { ...CD_DEFAULTS, ...f })
}

export function cdFields(words: readonly bigint[]): CdFields {
  return decodeFields(CD_LAYOUT, words)
}

export function tg0Granule(tg0: number): Granule | undefined {
  return TG0_GRANULE[tg0]
}

export function tg1Granule(tg1: number): Granule | undefined {
  return TG1_GRANULE[tg1]
}

/** STE.S2TG uses TG0's encoding. */
export const s2tgGranule = tg0Granule
