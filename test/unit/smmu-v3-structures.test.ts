/**
 * The SMMUv3 structure tables (model/smmu/v3/structures.ts, events.ts) against words written by
 * hand from Arm IHI 0070 G.b: 5.2 (STE), 5.4 (CD), 7.3 (event records, positions as Linux's
 * EVTQ_* macros). Every expected word below is written from the specification's bit numbers
 * (absolute bit n of a structure is bit n % 64 of word n / 64), not computed by the model.
 * Then the ILLEGAL rules of config.ts, each case asserting the rule that fired.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  CD_LAYOUT,
  CD_ZERO,
  cdFields,
  decodeCd,
  decodeEventRecord,
  decodeSte,
  encodeCd,
  encodeSte,
  encodeV3Event,
  EVENT_ALTERNATIVES,
  EVENT_LAYOUT,
  QEMU_10_SMMUV3_ID,
  STE_CONFIG,
  STE_LAYOUT,
  STE_ZERO,
  steFields,
  type BadCdRule,
  type BadSteRule,
  type CdFields,
  type SmmuV3Id,
  type SteFields,
} from '../../model/smmu/v3'
import { overlaps, type Layout } from '../../model/smmu/v3/fields'

/** [field, value, word index, the word by hand] (IHI bit range in the comment). */
type Row<F> = readonly [keyof F & string, boolean | number, number, bigint]

const STE_ROWS: readonly Row<SteFields>[] = [
  ['valid', true, 0, 0x1n], // V [0]
  ['config', 0b111, 0, 0xen], // Config [3:1]
  ['s1Fmt', 0b11, 0, 0x30n], // S1Fmt [5:4]
  ['s1ContextPtr', 0x000f_edcb_a987_6540, 0, 0x000f_edcb_a987_6540n], // S1ContextPtr [55:6]
  ['s1CdMax', 31, 0, 0xf800_0000_0000_0000n], // S1CDMax [63:59]
  ['s1Dss', 3, 1, 0x3n], // S1DSS [65:64]
  ['s1Cir', 3, 1, 0xcn], // S1CIR [67:66]
  ['s1Cor', 3, 1, 0x30n], // S1COR [69:68]
  ['s1Csh', 3, 1, 0xc0n], // S1CSH [71:70]
  ['s2Hwu59', true, 1, 0x100n], // S2HWU59 [72]
  ['s2Hwu60', true, 1, 0x200n], // S2HWU60 [73]
  ['s2Hwu61', true, 1, 0x400n], // S2HWU61 [74]
  ['s2Hwu62', true, 1, 0x800n], // S2HWU62 [75]
  ['dre', true, 1, 0x1000n], // DRE [76]
  ['cont', 0xf, 1, 0x1_e000n], // CONT [80:77]
  ['dcp', true, 1, 0x2_0000n], // DCP [81]
  ['ppar', true, 1, 0x4_0000n], // PPAR [82]
  ['mev', true, 1, 0x8_0000n], // MEV [83]
  ['s2Fwb', true, 1, 0x200_0000n], // S2FWB [89]
  ['s1StallD', true, 1, 0x800_0000n], // S1STALLD [91]
  ['eats', 3, 1, 0x3000_0000n], // EATS [93:92]
  ['strw', 3, 1, 0xc000_0000n], // STRW [95:94]
  ['memAttr', 0xf, 1, 0xf_0000_0000n], // MemAttr [99:96]
  ['mtCfg', true, 1, 0x10_0000_0000n], // MTCFG [100]
  ['allocCfg', 0xf, 1, 0x1e0_0000_0000n], // ALLOCCFG [104:101]
  ['shCfg', 3, 1, 0x3000_0000_0000n], // SHCFG [109:108]
  ['nsCfg', 3, 1, 0xc000_0000_0000n], // NSCFG [111:110]
  ['privCfg', 3, 1, 0x3_0000_0000_0000n], // PRIVCFG [113:112]
  ['instCfg', 3, 1, 0xc_0000_0000_0000n], // INSTCFG [115:114]
  ['s2Vmid', 0xffff, 2, 0xffffn], // S2VMID [143:128]
  ['s2T0sz', 63, 2, 0x3f_0000_0000n], // S2T0SZ [165:160]
  ['s2Sl0', 3, 2, 0xc0_0000_0000n], // S2SL0 [167:166]
  ['s2Ir0', 3, 2, 0x300_0000_0000n], // S2IR0 [169:168]
  ['s2Or0', 3, 2, 0xc00_0000_0000n], // S2OR0 [171:170]
  ['s2Sh0', 3, 2, 0x3000_0000_0000n], // S2SH0 [173:172]
  ['s2Tg', 3, 2, 0xc000_0000_0000n], // S2TG [175:174]
  ['s2Ps', 7, 2, 0x7_0000_0000_0000n], // S2PS [178:176]
  ['s2Aa64', true, 2, 0x8_0000_0000_0000n], // S2AA64 [179]
  ['s2Endi', true, 2, 0x10_0000_0000_0000n], // S2ENDI [180]
  ['s2Affd', true, 2, 0x20_0000_0000_0000n], // S2AFFD [181]
  ['s2Ptw', true, 2, 0x40_0000_0000_0000n], // S2PTW [182]
  ['s2Hd', true, 2, 0x80_0000_0000_0000n], // S2HD [183]
  ['s2Ha', true, 2, 0x100_0000_0000_0000n], // S2HA [184]
  ['s2S', true, 2, 0x200_0000_0000_0000n], // S2S [185]
  ['s2R', true, 2, 0x400_0000_0000_0000n], // S2R [186]
  ['s2Ttb', 0x000f_ffff_ffff_fff0, 3, 0x000f_ffff_ffff_fff0n], // S2TTB [243:196]
]

const CD_ROWS: readonly Row<CdFields>[] = [
  ['t0sz', 63, 0, 0x3fn], // T0SZ [5:0]
  ['tg0', 3, 0, 0xc0n], // TG0 [7:6]
  ['ir0', 3, 0, 0x300n], // IR0 [9:8]
  ['or0', 3, 0, 0xc00n], // OR0 [11:10]
  ['sh0', 3, 0, 0x3000n], // SH0 [13:12]
  ['epd0', true, 0, 0x4000n], // EPD0 [14]
  ['endi', true, 0, 0x8000n], // ENDI [15]
  ['t1sz', 63, 0, 0x3f_0000n], // T1SZ [21:16]
  ['tg1', 3, 0, 0xc0_0000n], // TG1 [23:22]
  ['ir1', 3, 0, 0x300_0000n], // IR1 [25:24]
  ['or1', 3, 0, 0xc00_0000n], // OR1 [27:26]
  ['sh1', 3, 0, 0x3000_0000n], // SH1 [29:28]
  ['epd1', true, 0, 0x4000_0000n], // EPD1 [30]
  ['valid', true, 0, 0x8000_0000n], // V [31]
  ['ips', 7, 0, 0x7_0000_0000n], // IPS [34:32]
  ['affd', true, 0, 0x8_0000_0000n], // AFFD [35]
  ['wxn', true, 0, 0x10_0000_0000n], // WXN [36]
  ['uwxn', true, 0, 0x20_0000_0000n], // UWXN [37]
  ['tbi0', true, 0, 0x40_0000_0000n], // TBI0 [38]
  ['tbi1', true, 0, 0x80_0000_0000n], // TBI1 [39]
  ['pan', true, 0, 0x100_0000_0000n], // PAN [40]
  ['aa64', true, 0, 0x200_0000_0000n], // AA64 [41]
  ['hd', true, 0, 0x400_0000_0000n], // HD [42]
  ['ha', true, 0, 0x800_0000_0000n], // HA [43]
  ['s', true, 0, 0x1000_0000_0000n], // S [44]
  ['r', true, 0, 0x2000_0000_0000n], // R [45]
  ['a', true, 0, 0x4000_0000_0000n], // A [46]
  ['aset', true, 0, 0x8000_0000_0000n], // ASET [47]
  ['asid', 0xffff, 0, 0xffff_0000_0000_0000n], // ASID [63:48]
  ['nsCfg0', true, 1, 0x1n], // NSCFG0 [64]
  ['had0', true, 1, 0x2n], // HAD0 [65]
  ['e0pd0', true, 1, 0x4n], // E0PD0 [66]
  ['ttb0', 0x000f_ffff_ffff_fff0, 1, 0x000f_ffff_ffff_fff0n], // TTB0 [115:68]
  ['nsCfg1', true, 2, 0x1n], // NSCFG1 [128]
  ['had1', true, 2, 0x2n], // HAD1 [129]
  ['e0pd1', true, 2, 0x4n], // E0PD1 [130]
  ['ttb1', 0x000f_ffff_ffff_fff0, 2, 0x000f_ffff_ffff_fff0n], // TTB1 [179:132]
  ['mair0', 0xffff_ffff, 3, 0xffff_ffffn], // MAIR0 [223:192]
  ['mair1', 0xffff_ffff, 3, 0xffff_ffff_0000_0000n], // MAIR1 [255:224]
  ['amair0', 0xffff_ffff, 4, 0xffff_ffffn], // AMAIR0 [287:256]
  ['amair1', 0xffff_ffff, 4, 0xffff_ffff_0000_0000n], // AMAIR1 [319:288]
]

const oneWord = (index: number, w: bigint, count = 8): bigint[] => Array.from({ length: count }, (_, i) => (i === index ? w : 0n))

function checkLayout(layout: Layout, words: number, alternatives: readonly (readonly [string, string])[] = []): void {
  for (const [key, f] of Object.entries(layout)) {
    assert.ok(f.word >= 0 && f.word < words && f.lo >= 0 && f.lo + f.width <= 64, `${key} inside its word`)
  }
  const declared = new Set(alternatives.map(([a, b]) => `${a}/${b}`))
  assert.deepEqual(overlaps(layout).filter(([a, b]) => !declared.has(`${a}/${b}`)), [])
}

describe('SMMUv3 STE fields (IHI 0070 5.2)', () => {
  it('no two fields share a bit, and every field is inside its word', () => checkLayout(STE_LAYOUT, 8))

  it('the table has every field the hand-written rows name, and no other', () => {
    assert.deepEqual(Object.keys(STE_LAYOUT).sort(), STE_ROWS.map(([k]) => k).sort())
  })

  for (const [key, value, index, word] of STE_ROWS) {
    it(`${STE_LAYOUT[key].name} = ${String(value)} is word ${index} = 0x${word.toString(16)}, and reads back`, () => {
      const fields = { ...STE_ZERO, [key]: value } as SteFields
      assert.deepEqual(encodeSte(fields), oneWord(index, word))
      assert.deepEqual(steFields(oneWord(index, word)), fields)
    })
  }

  it('S1ContextPtr reads bits [55:52] too (G.b widens it beyond Linux\'s [51:6])', () => {
    assert.equal(steFields(oneWord(0, 1n << 55n)).s1ContextPtr, 2 ** 55)
  })

  it("Linux's stage-2 STE of the worked example (arm_smmu_make_s2_domain_ste) is these words", () => {
    // V, Config S2 (0b110): 0b1101. SHCFG incoming (1) at [109:108]. S2VMID 1, S2T0SZ 20, S2SL0 2,
    // S2IR0 = S2OR0 = WBWA (1), S2SH0 = ISH (3), S2TG 4K (0), S2PS 44 bits (0b100), S2AA64, S2R.
    const words = encodeSte({
      ...STE_ZERO, valid: true, config: STE_CONFIG.S2_TRANS, shCfg: 1, s2Vmid: 1, s2T0sz: 20, s2Sl0: 2, s2Ir0: 1, s2Or0: 1, s2Sh0: 3,
      s2Tg: 0, s2Ps: 0b100, s2Aa64: true, s2R: true, s2Ttb: 0x1_0000_0000,
    })
    assert.deepEqual(words, [0xdn, 0x1000_0000_0000n, 0x040c_3594_0000_0001n, 0x1_0000_0000n, 0n, 0n, 0n, 0n])
  })

  it('a value that does not fit its field, or a misaligned address, is refused', () => {
    assert.throws(() => encodeSte({ s2Vmid: 0x1_0000 }), /S2VMID/)
    assert.throws(() => encodeSte({ s1ContextPtr: 0x1020 }), /S1ContextPtr.*aligned/)
    assert.throws(() => encodeSte({ s2Ttb: 2 ** 52 }), /S2TTB/)
  })
})

describe('SMMUv3 CD fields (IHI 0070 5.4)', () => {
  it('no two fields share a bit, and every field is inside its word', () => checkLayout(CD_LAYOUT, 8))

  it('the table has every field the hand-written rows name, and no other', () => {
    assert.deepEqual(Object.keys(CD_LAYOUT).sort(), CD_ROWS.map(([k]) => k).sort())
  })

  for (const [key, value, index, word] of CD_ROWS) {
    it(`${CD_LAYOUT[key].name} = ${String(value)} is word ${index} = 0x${word.toString(16)}, and reads back`, () => {
      const fields = { ...CD_ZERO, [key]: value } as CdFields
      assert.deepEqual(encodeCd(fields), oneWord(index, word))
      assert.deepEqual(cdFields(oneWord(index, word)), fields)
    })
  }

  it("the CD the model writes for the worked example's guest (Linux's stage-1 CD bits: V, EPD1, AA64, R, A, MAIR)", () => {
    // T0SZ 25 (0x19), EPD1 [30], V [31], IPS 40 bits (0b010) [34:32], AA64 [41], R [45], A [46],
    // ASID 1 [63:48]; TTB0 0x4000_0000 in word 1; MAIR0 = Linux's 0xf404ff44 in word 3.
    const words = encodeCd({ t0sz: 25, tg0: 0, ips: 0b010, asid: 1, ttb0: 0x4000_0000 })
    assert.deepEqual(words, [0x0001_6202_c000_0019n, 0x4000_0000n, 0n, 0xf404_ff44n, 0n, 0n, 0n, 0n])
  })
})

describe('SMMUv3 event record fields (IHI 0070 7.3; Linux EVTQ_*)', () => {
  it('no two fields share a bit except the two views of dword 3 (IPA, FetchAddr)', () => checkLayout(EVENT_LAYOUT, 4, EVENT_ALTERNATIVES))

  it('a stage-2 F_TRANSLATION on a stage-1 table walk: ID 0x10, StreamID, RnW, S2, CLASS TT, InputAddr, IPA[51:12]', () => {
    // dw0: 0x10 | sid 0x10 << 32; dw1: RnW [35] | S2 [39] | CLASS 1 [41:40]; dw2 the IOVA; dw3 IPA[51:12].
    const words = [0x0000_0010_0000_0010n, 0x0000_0188_0000_0000n, 0x8040_3010n, 0x4000_1000n]
    assert.deepEqual(encodeV3Event({ name: 'F_TRANSLATION', sid: 0x10, rnw: true, s2: true, class: 'TT', inputAddr: 0x8040_3010, ipa: 0x4000_1010 }), words)
    const f = decodeEventRecord(words)
    assert.deepEqual(
      [f.eventId, f.streamId, f.rnw, f.s2, f.class, f.inputAddr, f.ipa, f.ssv, f.pnu, f.ind, f.stall],
      [0x10, 0x10, true, true, 1, 0x8040_3010n, 0x4000_1000, false, false, false, false],
    )
  })

  it('F_WALK_EABT keeps FetchAddr[51:3] in dword 3', () => {
    const words = encodeV3Event({ name: 'F_WALK_EABT', sid: 8, rnw: false, s2: false, class: 'TT', inputAddr: 0x1000, fetchAddr: 0x8_0000_0008 })
    assert.deepEqual(words, [0x0000_0008_0000_000bn, 0x0000_0100_0000_0000n, 0x1000n, 0x8_0000_0008n])
    assert.equal(decodeEventRecord(words).fetchAddr, 0x8_0000_0008)
  })

  it('the remaining fields sit where EVTQ_* puts them', () => {
    // SSV [11], SubstreamID [31:12], STAG [15:0] of dw1, Stall [31], PnU [33], InD [34], NSIPA [38], TTRnW [44].
    const f = decodeEventRecord([0xffff_f800n, 0x1040_8000_ffffn, 0n, 0n])
    assert.deepEqual([f.ssv, f.substreamId, f.stag, f.stall, f.pnu, f.ind, f.nsipa, f.ttRnw], [true, 0xfffff, 0xffff, true, false, false, true, true])
    const g = decodeEventRecord([0n, 0x6_8000_0000n, 0n, 0n])
    assert.deepEqual([g.stall, g.pnu, g.ind], [true, true, true])
  })
})

// ---- ILLEGAL configurations: each case names the rule it breaks --------------------------------

const ID = QEMU_10_SMMUV3_ID
/** A valid stage-2 STE: IAS 40 (S2T0SZ 24), 4K, level-1 start (S2SL0 1, two concatenated tables), PS 40. */
const S2: Partial<SteFields> = { config: STE_CONFIG.S2_TRANS, s2T0sz: 24, s2Sl0: 1, s2Tg: 0, s2Ps: 2, s2Ttb: 0x4800_0000 }

const STE_CASES: Record<BadSteRule, { readonly ste: Partial<SteFields>; readonly id?: SmmuV3Id }> = {
  'STE.V': { ste: { ...S2, valid: false } },
  'STE.Config.S1P': { ste: { config: STE_CONFIG.S1_TRANS }, id: { ...ID, stage1: false } },
  'STE.Config.S2P': { ste: S2, id: { ...ID, stage2: false } },
  'STE.S1CDMax': { ste: { config: STE_CONFIG.S1_TRANS, s1CdMax: 1 } },
  'STE.S2AA64': { ste: { ...S2, s2Aa64: false } },
  'STE.S2TG': { ste: { ...S2, s2Tg: 3 } },
  'STE.S2SL0': { ste: { ...S2, s2Sl0: 3 } },
  'STE.S2PS': { ste: { ...S2, s2Ps: 7 } },
  'STE.S2TTB': { ste: { ...S2, s2Ttb: 2 ** 40 } },
  // Two concatenated 4K tables start at an 8K boundary.
  'STE.S2TTB.align': { ste: { ...S2, s2Ttb: 0x4800_1000 } },
  'STE.S2T0SZ': { ste: { ...S2, s2T0sz: 40 } },
  // A 40-bit IPA from level 2 needs 1,024 concatenated tables (at most 16).
  'STE.S2SL0.S2T0SZ': { ste: { ...S2, s2Sl0: 0 } },
  'STE.S2ENDI': { ste: { ...S2, s2Endi: true } },
  'STE.S2S': { ste: { ...S2, s2S: true } },
}

/** CDs over TTB0 0x4a00_0000 (T0SZ 25, 4K, IPS 32 bits by default). */
const CD_CASES: Record<BadCdRule, Partial<CdFields>> = {
  'CD.V': { valid: false },
  'CD.AA64': { aa64: false },
  'CD.A': { a: false },
  'CD.S': { s: true },
  'CD.ENDI': { endi: true },
  'CD.IPS': { ips: 7 },
  'CD.TG0': { tg0: 3 },
  'CD.T0SZ': { t0sz: 15 },
  'CD.TTB0': { ips: 0, ttb0: 2 ** 32 },
  'CD.TTB0.align': { ttb0: 0x4a00_0800 },
  // TG1 0b00 is reserved (TG1 encodes 16K 0b01, 4K 0b10, 64K 0b11).
  'CD.TG1': { epd1: false, tg1: 0 },
  'CD.T1SZ': { epd1: false, tg1: 0b10, t1sz: 40 },
  'CD.TTB1': { epd1: false, tg1: 0b10, t1sz: 25, ips: 0, ttb1: 2 ** 32 },
}

describe('SMMUv3 ILLEGAL STEs and CDs: the rule that fired (IHI 0070 5.2, 5.4)', () => {
  it('the base STE and CD of the cases are valid', () => {
    assert.equal(decodeSte(encodeSte(S2), ID).kind, 'translate')
    assert.ok(!('kind' in decodeCd(encodeCd({ ttb0: 0x4a00_0000 }), ID)))
  })

  for (const [rule, c] of Object.entries(STE_CASES)) {
    it(`C_BAD_STE by ${rule}`, () => {
      const d = decodeSte(encodeSte(c.ste), c.id ?? ID)
      assert.deepEqual(d.kind === 'C_BAD_STE' ? [d.kind, d.rule] : [d.kind], ['C_BAD_STE', rule])
    })
  }

  it('S2T0SZ below MAX(16, 64 - PS) is the S2T0SZ rule too', () => {
    const d = decodeSte(encodeSte({ ...S2, s2T0sz: 23 }), ID)
    assert.deepEqual(d.kind === 'C_BAD_STE' ? d.rule : d.kind, 'STE.S2T0SZ')
  })

  for (const [rule, f] of Object.entries(CD_CASES)) {
    it(`C_BAD_CD by ${rule}`, () => {
      const d = decodeCd(encodeCd({ ttb0: 0x4a00_0000, ...f }), ID)
      assert.deepEqual('kind' in d ? [d.kind, d.rule] : ['valid'], ['C_BAD_CD', rule])
    })
  }

  it('T0SZ above 39 (no IDR3.STT) is the T0SZ rule too', () => {
    const d = decodeCd(encodeCd({ ttb0: 0x4a00_0000, t0sz: 40 }), ID)
    assert.deepEqual('kind' in d ? d.rule : 'valid', 'CD.T0SZ')
  })
})
