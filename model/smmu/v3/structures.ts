/**
 * SMMUv3 configuration structures as bytes in memory (Arm IHI 0070, 5.2 Stream Table Entry and
 * 5.4 Context Descriptor): field positions, an encoder (what a driver or the oracle harness writes)
 * and a decoder that validates what it reads the way the architecture's ILLEGAL rules do:
 * an ILLEGAL STE is C_BAD_STE, an ILLEGAL CD is C_BAD_CD.
 *
 * Both are eight 64-bit little-endian words (64 bytes). Field positions (bit numbers inside the
 * 64-bit word):
 *   STE dw0: V 0, Config [3:1], S1Fmt [5:4], S1ContextPtr [51:6], S1CDMax [63:59]
 *       dw1: S1DSS [1:0], S1STALLD 27, PRIVCFG [49:48]
 *       dw2: S2VMID [15:0], S2T0SZ [37:32], S2SL0 [39:38], S2TG [47:46], S2PS [50:48],
 *            S2AA64 51, S2ENDI 52, S2AFFD 53, S2S 57, S2R 58
 *       dw3: S2TTB [51:4]
 *   CD  dw0: T0SZ [5:0], TG0 [7:6], EPD0 14, ENDI 15, T1SZ [21:16], TG1 [23:22], EPD1 30, V 31,
 *            IPS [34:32], AFFD 35, TBI [39:38], AA64 41, HD 42, HA 43, S 44, R 45, A 46,
 *            ASID [63:48]
 *       dw1: HAD0 1, TTB0 [51:4];  dw2: HAD1 1, TTB1 [51:4];  dw3: MAIR0
 * (The same positions as Linux's STRTAB_STE_* / CTXDESC_CD_* and QEMU's STE_* / CD_* macros.)
 */
import type { Granule } from '../../pgtable'

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

const field = (word: bigint, lo: number, width: number): number => Number((word >> BigInt(lo)) & ((1n << BigInt(width)) - 1n))
const bit = (word: bigint, n: number): boolean => ((word >> BigInt(n)) & 1n) === 1n
const place = (value: number | bigint | boolean, lo: number, width: number): bigint => {
  const v = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value)
  const mask = (1n << BigInt(width)) - 1n
  if (v < 0n || v > mask) throw new Error(`field value ${v} does not fit ${width} bits`)
  return v << BigInt(lo)
}
/** Address bits [51:lo] of a word. */
const addressField = (word: bigint, lo: number): number => Number(word & (((1n << 52n) - 1n) & ~((1n << BigInt(lo)) - 1n)))
const placeAddress = (addr: number, lo: number): bigint => {
  const a = BigInt(addr)
  if (a % (1n << BigInt(lo)) !== 0n || a >= 1n << 52n) throw new Error(`address 0x${addr.toString(16)} does not fit bits [51:${lo}]`)
  return a
}

// ---- Stream table entry ------------------------------------------------------------------------

export interface SteFields {
  readonly valid: boolean
  readonly config: number
  /** PA of the CD (stage 1 only) or its IPA (nested). */
  readonly s1ContextPtr: number
  readonly s1CdMax: number
  readonly s1StallD: boolean
  readonly privCfg: number
  readonly s2Vmid: number
  readonly s2T0sz: number
  readonly s2Sl0: number
  /** S2TG encoding (0b00 4K, 0b01 64K, 0b10 16K, 0b11 reserved). */
  readonly s2Tg: number
  /** S2PS encoding. */
  readonly s2Ps: number
  readonly s2Aa64: boolean
  readonly s2Endi: boolean
  readonly s2Affd: boolean
  readonly s2S: boolean
  readonly s2R: boolean
  readonly s2Ttb: number
}

export const STE_DEFAULTS: SteFields = {
  valid: true,
  config: STE_CONFIG.ABORT,
  s1ContextPtr: 0,
  s1CdMax: 0,
  s1StallD: false,
  privCfg: PRIVCFG.INCOMING,
  s2Vmid: 0,
  s2T0sz: 0,
  s2Sl0: 0,
  s2Tg: 0,
  s2Ps: 0,
  s2Aa64: true,
  s2Endi: false,
  s2Affd: false,
  s2S: false,
  s2R: true,
  s2Ttb: 0,
}

export function encodeSte(f: Partial<SteFields>): bigint[] {
  const s = { ...STE_DEFAULTS, ...f }
  const words = new Array<bigint>(STE_WORDS).fill(0n)
  words[0] = place(s.valid, 0, 1) | place(s.config, 1, 3) | placeAddress(s.s1ContextPtr, 6) | place(s.s1CdMax, 59, 5)
  words[1] = place(s.s1StallD, 27, 1) | place(s.privCfg, 48, 2)
  words[2] =
    place(s.s2Vmid, 0, 16) |
    place(s.s2T0sz, 32, 6) |
    place(s.s2Sl0, 38, 2) |
    place(s.s2Tg, 46, 2) |
    place(s.s2Ps, 48, 3) |
    place(s.s2Aa64, 51, 1) |
    place(s.s2Endi, 52, 1) |
    place(s.s2Affd, 53, 1) |
    place(s.s2S, 57, 1) |
    place(s.s2R, 58, 1)
  words[3] = placeAddress(s.s2Ttb, 4)
  return words
}

export function steFields(words: readonly bigint[]): SteFields {
  const [w0, w1, w2, w3] = words
  return {
    valid: bit(w0, 0),
    config: field(w0, 1, 3),
    s1ContextPtr: addressField(w0, 6),
    s1CdMax: field(w0, 59, 5),
    s1StallD: bit(w1, 27),
    privCfg: field(w1, 48, 2),
    s2Vmid: field(w2, 0, 16),
    s2T0sz: field(w2, 32, 6),
    s2Sl0: field(w2, 38, 2),
    s2Tg: field(w2, 46, 2),
    s2Ps: field(w2, 48, 3),
    s2Aa64: bit(w2, 51),
    s2Endi: bit(w2, 52),
    s2Affd: bit(w2, 53),
    s2S: bit(w2, 57),
    s2R: bit(w2, 58),
    s2Ttb: addressField(w3, 4),
  }
}

// ---- Context descriptor ------------------------------------------------------------------------

export interface CdFields {
  readonly valid: boolean
  readonly t0sz: number
  /** TG0 encoding (0b00 4K, 0b01 64K, 0b10 16K, 0b11 reserved). */
  readonly tg0: number
  readonly epd0: boolean
  readonly endi: boolean
  readonly t1sz: number
  readonly tg1: number
  readonly epd1: boolean
  /** IPS encoding. */
  readonly ips: number
  readonly affd: boolean
  readonly tbi: number
  readonly aa64: boolean
  readonly hd: boolean
  readonly ha: boolean
  readonly s: boolean
  readonly r: boolean
  readonly a: boolean
  readonly asid: number
  readonly had0: boolean
  readonly ttb0: number
  readonly ttb1: number
  readonly mair0: bigint
}

/** What Linux writes for a stage-1 CD (EPD1 set: no TTB1; A, R, AA64 set; MAIR as Linux's). */
export const CD_DEFAULTS: CdFields = {
  valid: true,
  t0sz: 25,
  tg0: 0,
  epd0: false,
  endi: false,
  t1sz: 0,
  tg1: 0,
  epd1: true,
  ips: 0,
  affd: false,
  tbi: 0,
  aa64: true,
  hd: false,
  ha: false,
  s: false,
  r: true,
  a: true,
  asid: 0,
  had0: false,
  ttb0: 0,
  ttb1: 0,
  mair0: 0xf404ff44n,
}

export function encodeCd(f: Partial<CdFields>): bigint[] {
  const c = { ...CD_DEFAULTS, ...f }
  const words = new Array<bigint>(CD_WORDS).fill(0n)
  words[0] =
    place(c.t0sz, 0, 6) |
    place(c.tg0, 6, 2) |
    place(c.epd0, 14, 1) |
    place(c.endi, 15, 1) |
    place(c.t1sz, 16, 6) |
    place(c.tg1, 22, 2) |
    place(c.epd1, 30, 1) |
    place(c.valid, 31, 1) |
    place(c.ips, 32, 3) |
    place(c.affd, 35, 1) |
    place(c.tbi, 38, 2) |
    place(c.aa64, 41, 1) |
    place(c.hd, 42, 1) |
    place(c.ha, 43, 1) |
    place(c.s, 44, 1) |
    place(c.r, 45, 1) |
    place(c.a, 46, 1) |
    place(c.asid, 48, 16)
  words[1] = place(c.had0, 1, 1) | placeAddress(c.ttb0, 4)
  words[2] = placeAddress(c.ttb1, 4)
  words[3] = c.mair0
  return words
}

export function cdFields(words: readonly bigint[]): CdFields {
  const [w0, w1, w2, w3] = words
  return {
    t0sz: field(w0, 0, 6),
    tg0: field(w0, 6, 2),
    epd0: bit(w0, 14),
    endi: bit(w0, 15),
    t1sz: field(w0, 16, 6),
    tg1: field(w0, 22, 2),
    epd1: bit(w0, 30),
    valid: bit(w0, 31),
    ips: field(w0, 32, 3),
    affd: bit(w0, 35),
    tbi: field(w0, 38, 2),
    aa64: bit(w0, 41),
    hd: bit(w0, 42),
    ha: bit(w0, 43),
    s: bit(w0, 44),
    r: bit(w0, 45),
    a: bit(w0, 46),
    asid: field(w0, 48, 16),
    had0: bit(w1, 1),
    ttb0: addressField(w1, 4),
    ttb1: addressField(w2, 4),
    mair0: w3,
  }
}

export function tg0Granule(tg0: number): Granule | undefined {
  return TG0_GRANULE[tg0]
}

export function tg1Granule(tg1: number): Granule | undefined {
  return TG1_GRANULE[tg1]
}

/** STE.S2TG uses TG0's encoding. */
export const s2tgGranule = tg0Granule
