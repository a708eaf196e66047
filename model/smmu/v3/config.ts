/**
 * From STE and CD words to a translation configuration, with the architecture's ILLEGAL rules
 * (Arm IHI 0070 5.2, 5.4): what is ILLEGAL gives C_BAD_STE / C_BAD_CD. The limits come from the
 * SMMU's ID registers (SmmuV3Id), so an SMMU that lacks a feature rejects what uses it.
 *
 * STE (Config = S2 or nested):
 *   S2AA64 = 0 with TTF AArch64-only, S2TG reserved or an unsupported granule, S2SL0 = 0b11,
 *   S2PS reserved, S2TTB beyond the effective S2PS, S2T0SZ > 39 (no IDR3.STT) or below
 *   MAX(16, 64 - PS) (64K granule: 64 - PS), an S2SL0 that cannot start a walk of that IPA size
 *   (more than 16 concatenated tables, or a start table indexing no bits), S2ENDI = 1 (little-endian
 *   only), S2S = 1 (no stall model)                                               -> C_BAD_STE
 *   A stage the SMMU does not implement; S1CDMax > IDR1.SSIDSIZE                  -> C_BAD_STE
 *   The effective S2PS is MIN(S2PS, OAS), and at most 48 bits unless the granule is 64K.
 * CD:
 *   V = 0, AA64 = 0, A = 0 (IDR0.TERM_MODEL = 1), S = 1 (no stall), ENDI = 1, TG0 reserved or
 *   unsupported, T0SZ outside 16..39, TTB0 beyond the effective IPS                 -> C_BAD_CD
 *   (and the same for TTB1 when EPD1 = 0). The effective IPS is MIN(IPS, OAS), at most 48 bits
 *   unless the granule is 64K.
 * HA/HD (no HTTU here), TBI and the memory attributes are not modelled: cases leave them 0.
 */
import {
  stage1Context,
  stage2Context,
  startLevelForSl0,
  type Granule,
  type S1Context,
  type S2Context,
} from '../../pgtable'
import { ADDRESS_SIZE_BITS, cdFields, PRIVCFG, s2tgGranule, STE_CONFIG, steFields, tg0Granule, tg1Granule, type CdFields, type SteFields } from './structures'

/** What a configuration decode needs to know of the SMMU (SMMU_IDR0/1/3/5). */
export interface SmmuV3Id {
  readonly stage1: boolean
  readonly stage2: boolean
  /** IDR5.OAS in bits; also the IAS of an AArch64-only SMMU. */
  readonly oas: number
  readonly granules: readonly Granule[]
  /** IDR1.SSIDSIZE. */
  readonly ssidBits: number
  /** IDR3.STT: small translation tables (T0SZ up to 48). */
  readonly stt: boolean
}

/** QEMU 10's `-M virt,iommu=smmuv3` (IDR0 0x0d44101b, IDR1 0x02730010, IDR3 0x1414, IDR5 0x74). */
export const QEMU_10_SMMUV3_ID: SmmuV3Id = {
  stage1: true,
  stage2: true,
  oas: 44,
  granules: [4096, 16384, 65536],
  ssidBits: 0,
  stt: false,
}

/** The ILLEGAL rule an STE broke (IHI 0070 5.2), named by the field it constrains. */
export type BadSteRule =
  | 'STE.V'
  | 'STE.Config.S1P'
  | 'STE.Config.S2P'
  | 'STE.S1CDMax'
  | 'STE.S2AA64'
  | 'STE.S2TG'
  | 'STE.S2SL0'
  | 'STE.S2PS'
  | 'STE.S2TTB'
  | 'STE.S2TTB.align'
  | 'STE.S2T0SZ'
  | 'STE.S2SL0.S2T0SZ'
  | 'STE.S2ENDI'
  | 'STE.S2S'

/** The ILLEGAL rule a CD broke (IHI 0070 5.4). */
export type BadCdRule =
  | 'CD.V'
  | 'CD.AA64'
  | 'CD.A'
  | 'CD.S'
  | 'CD.ENDI'
  | 'CD.IPS'
  | 'CD.TG0'
  | 'CD.T0SZ'
  | 'CD.TTB0'
  | 'CD.TTB0.align'
  | 'CD.TG1'
  | 'CD.T1SZ'
  | 'CD.TTB1'

export type BadConfig =
  | { readonly kind: 'C_BAD_STE'; readonly rule: BadSteRule; readonly reason: string }
  | { readonly kind: 'C_BAD_CD'; readonly rule: BadCdRule; readonly reason: string }

export type SteConfig =
  | { readonly kind: 'abort' }
  | { readonly kind: 'bypass' }
  | {
      readonly kind: 'translate'
      readonly ste: SteFields
      readonly stage1: boolean
      readonly stage2?: S2Context
      /** Effective privilege override (PRIVCFG), undefined = the transaction's own. */
      readonly privileged?: boolean
      readonly vmid: number
      readonly recordS2: boolean
    }

export interface CdConfig {
  readonly cd: CdFields
  /** Undefined when EPD0 = 1: every input address is a Translation fault. */
  readonly context?: S1Context
  readonly asid: number
  readonly record: boolean
}

const MAX_T0SZ = 39
const MAX_T0SZ_STT = 48
const MIN_T0SZ = 16
const NON_64K_MAX_PS = 48

const badSte = (rule: BadSteRule, reason: string): BadConfig => ({ kind: 'C_BAD_STE', rule, reason })
const badCd = (rule: BadCdRule, reason: string): BadConfig => ({ kind: 'C_BAD_CD', rule, reason })

export function decodeSte(words: readonly bigint[], id: SmmuV3Id): SteConfig | BadConfig {
  const ste = steFields(words)
  if (!ste.valid) return badSte('STE.V', 'V = 0')
  if ((ste.config & 0b100) === 0) return { kind: 'abort' }
  if (ste.config === STE_CONFIG.BYPASS) return { kind: 'bypass' }
  const s1 = (ste.config & 0b001) !== 0
  const s2 = (ste.config & 0b010) !== 0
  if (s1 && !id.stage1) return badSte('STE.Config.S1P', 'stage 1 enabled on an SMMU without stage 1')
  if (s2 && !id.stage2) return badSte('STE.Config.S2P', 'stage 2 enabled on an SMMU without stage 2')
  let stage2: S2Context | undefined
  if (s2) {
    const s2cfg = decodeS2(ste, id)
    if ('kind' in s2cfg) return s2cfg
    stage2 = s2cfg
  }
  if (s1 && ste.s1CdMax > id.ssidBits) return badSte('STE.S1CDMax', `S1CDMax ${ste.s1CdMax} > SSIDSIZE ${id.ssidBits}`)
  const privileged = ste.privCfg === PRIVCFG.PRIVILEGED ? true : ste.privCfg === PRIVCFG.UNPRIVILEGED ? false : undefined
  return { kind: 'translate', ste, stage1: s1, stage2, privileged, vmid: id.stage2 ? ste.s2Vmid : -1, recordS2: ste.s2R }
}

function decodeS2(ste: SteFields, id: SmmuV3Id): S2Context | BadConfig {
  if (!ste.s2Aa64) return badSte('STE.S2AA64', 'S2AA64 = 0 on an AArch64-only SMMU')
  const granule = s2tgGranule(ste.s2Tg)
  if (granule === undefined || !id.granules.includes(granule)) return badSte('STE.S2TG', `S2TG ${ste.s2Tg} is reserved or unsupported`)
  if (ste.s2Sl0 === 3) return badSte('STE.S2SL0', 'S2SL0 = 0b11 is reserved')
  const ps = ADDRESS_SIZE_BITS[ste.s2Ps]
  if (ps === undefined) return badSte('STE.S2PS', `S2PS ${ste.s2Ps} is reserved`)
  let effPs = Math.min(ps, id.oas)
  if (granule !== 65536) effPs = Math.min(effPs, NON_64K_MAX_PS)
  if (ste.s2Ttb >= 2 ** effPs) return badSte('STE.S2TTB', `S2TTB beyond the effective S2PS (${effPs} bits)`)
  const maxT0sz = id.stt ? MAX_T0SZ_STT : MAX_T0SZ
  const minT0sz = granule === 65536 ? 64 - effPs : Math.max(MIN_T0SZ, 64 - effPs)
  if (ste.s2T0sz > maxT0sz || ste.s2T0sz < minT0sz) return badSte('STE.S2T0SZ', `S2T0SZ ${ste.s2T0sz} outside ${minT0sz}..${maxT0sz}`)
  if (startLevelForSl0(granule, ste.s2Sl0) === undefined) return badSte('STE.S2SL0', `S2SL0 ${ste.s2Sl0} is reserved for a ${granule}-byte granule`)
  if (ste.s2Endi) return badSte('STE.S2ENDI', 'S2ENDI = 1 on a little-endian-only SMMU')
  if (ste.s2S) return badSte('STE.S2S', 'S2S = 1 on an SMMU without stalls')
  const regs = { vttbr: ste.s2Ttb, t0sz: ste.s2T0sz, sl0: ste.s2Sl0, granule, oas: effPs }
  // The start level must be able to walk S2T0SZ's IPA size (at most 16 concatenated tables, a
  // start table that indexes some bits): QEMU's s2_pgtable_config_valid rejects the same.
  const geometry = stage2Context({ ...regs, vttbr: 0 })
  if (!geometry.ok) return badSte('STE.S2SL0.S2T0SZ', geometry.error.message)
  const ctx = stage2Context(regs)
  if (!ctx.ok) return badSte('STE.S2TTB.align', ctx.error.message)
  return ctx.value
}

export function decodeCd(words: readonly bigint[], id: SmmuV3Id): CdConfig | BadConfig {
  const cd = cdFields(words)
  if (!cd.valid) return badCd('CD.V', 'V = 0')
  if (!cd.aa64) return badCd('CD.AA64', 'AA64 = 0 on an AArch64-only SMMU')
  if (!cd.a) return badCd('CD.A', 'A = 0 with IDR0.TERM_MODEL = 1')
  if (cd.s) return badCd('CD.S', 'S = 1 on an SMMU without stalls')
  if (cd.endi) return badCd('CD.ENDI', 'ENDI = 1 on a little-endian-only SMMU')
  const ips = ADDRESS_SIZE_BITS[cd.ips]
  if (ips === undefined) return badCd('CD.IPS', `IPS ${cd.ips} is reserved`)
  const maxT0sz = id.stt ? MAX_T0SZ_STT : MAX_T0SZ
  let context: S1Context | undefined
  if (!cd.epd0) {
    const granule = tg0Granule(cd.tg0)
    if (granule === undefined || !id.granules.includes(granule)) return badCd('CD.TG0', `TG0 ${cd.tg0} is reserved or unsupported`)
    if (cd.t0sz < MIN_T0SZ || cd.t0sz > maxT0sz) return badCd('CD.T0SZ', `T0SZ ${cd.t0sz} outside ${MIN_T0SZ}..${maxT0sz}`)
    const oas = effectiveIps(ips, id, granule)
    if (cd.ttb0 >= 2 ** oas) return badCd('CD.TTB0', `TTB0 beyond the effective IPS (${oas} bits)`)
    const ctx = stage1Context({ ttbr: cd.ttb0, t0sz: cd.t0sz, granule, oas, had: cd.had0 })
    if (!ctx.ok) return badCd('CD.TTB0.align', ctx.error.message)
    context = ctx.value
  }
  if (!cd.epd1) {
    const granule = tg1Granule(cd.tg1)
    if (granule === undefined || !id.granules.includes(granule)) return badCd('CD.TG1', `TG1 ${cd.tg1} is reserved or unsupported`)
    if (cd.t1sz < MIN_T0SZ || cd.t1sz > maxT0sz) return badCd('CD.T1SZ', `T1SZ ${cd.t1sz} outside ${MIN_T0SZ}..${maxT0sz}`)
    if (cd.ttb1 >= 2 ** effectiveIps(ips, id, granule)) return badCd('CD.TTB1', 'TTB1 beyond the effective IPS')
  }
  return { cd, context, asid: cd.asid, record: cd.r }
}

function effectiveIps(ips: number, id: SmmuV3Id, granule: Granule): number {
  const oas = Math.min(ips, id.oas)
  return granule === 65536 ? oas : Math.min(oas, NON_64K_MAX_PS)
}
