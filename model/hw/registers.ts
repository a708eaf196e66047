/**
 * SMMU ID registers: the bit fields a fixture's features come from, and their decoding.
 *
 * A fixture may give raw ID registers (`id_registers: { idr0: 0x..., ... }`) instead of, or as
 * well as, the decoded fields. Each register decodes the fields it carries; a field given both
 * ways must agree (checked in ./fixture.ts).
 *
 * Field positions: SMMUv1/v2 SMMU_IDR0/1/2 (GR0 0x20/0x24/0x28) and SMMUv3 SMMU_IDR0/1/5, as the
 * architecture defines them (the same positions Linux arm-smmu.h and arm-smmu-v3.h name).
 * Decoding follows how Linux turns them into its feature set (arm_smmu_device_cfg_probe,
 * arm_smmu_device_hw_probe), so a decoded fixture is what the driver would see.
 */

export const ID_REGISTER_NAMES = ['idr0', 'idr1', 'idr2', 'idr3', 'idr4', 'idr5', 'iidr', 'aidr'] as const
export type IdRegisterName = (typeof ID_REGISTER_NAMES)[number]
export type IdRegisters = Readonly<Partial<Record<IdRegisterName, number>>>

/** One bit field `[msb:lsb]` of a 32-bit register. */
export interface RegisterField {
  readonly reg: IdRegisterName
  readonly name: string
  readonly msb: number
  readonly lsb: number
}

const bits = (reg: IdRegisterName, name: string, msb: number, lsb: number = msb): RegisterField => ({ reg, name, msb, lsb })

/** SMMUv1/v2 SMMU_IDR0..2 fields the fixtures use. */
export const SMMU_V2_IDR = {
  S1TS: bits('idr0', 'S1TS', 30),
  S2TS: bits('idr0', 'S2TS', 29),
  NTS: bits('idr0', 'NTS', 28),
  PTFS_NO_AARCH32: bits('idr0', 'PTFS_NO_AARCH32', 25),
  CTTW: bits('idr0', 'CTTW', 14),
  NUMSIDB: bits('idr0', 'NUMSIDB', 12, 9),
  EXIDS: bits('idr0', 'EXIDS', 8),
  NUMS2CB: bits('idr1', 'NUMS2CB', 23, 16),
  NUMCB: bits('idr1', 'NUMCB', 7, 0),
  VMID16: bits('idr2', 'VMID16', 15),
  PTFS_64K: bits('idr2', 'PTFS_64K', 14),
  PTFS_16K: bits('idr2', 'PTFS_16K', 13),
  PTFS_4K: bits('idr2', 'PTFS_4K', 12),
  OAS: bits('idr2', 'OAS', 7, 4),
  IAS: bits('idr2', 'IAS', 3, 0),
} as const

/**
 * SMMUv3 SMMU_IDR0/1/3/5 and SMMU_IIDR fields the fixtures use (IHI 0070 6.3.1, 6.3.2, 6.3.4,
 * 6.3.6, 6.3.7; Linux arm-smmu-v3.h IDR0_ATS, IDR1_SSIDSIZE, IDR3_FWB, IDR3_RIL, IDR5_DS, IIDR_*).
 */
export const SMMU_V3_IDR = {
  S2P: bits('idr0', 'S2P', 0),
  S1P: bits('idr0', 'S1P', 1),
  TTF: bits('idr0', 'TTF', 3, 2),
  COHACC: bits('idr0', 'COHACC', 4),
  ATS: bits('idr0', 'ATS', 10),
  ASID16: bits('idr0', 'ASID16', 12),
  VMID16: bits('idr0', 'VMID16', 18),
  SIDSIZE: bits('idr1', 'SIDSIZE', 5, 0),
  SSIDSIZE: bits('idr1', 'SSIDSIZE', 10, 6),
  FWB: bits('idr3', 'FWB', 8),
  RIL: bits('idr3', 'RIL', 10),
  IIDR_IMPLEMENTER: bits('iidr', 'Implementer', 11, 0),
  IIDR_REVISION: bits('iidr', 'Revision', 15, 12),
  IIDR_VARIANT: bits('iidr', 'Variant', 19, 16),
  IIDR_PRODUCTID: bits('iidr', 'ProductID', 31, 20),
  OAS: bits('idr5', 'OAS', 2, 0),
  GRAN4K: bits('idr5', 'GRAN4K', 4),
  GRAN16K: bits('idr5', 'GRAN16K', 5),
  GRAN64K: bits('idr5', 'GRAN64K', 6),
  DS: bits('idr5', 'DS', 7),
} as const

/** SMMUv1/v2 IDR2.IAS/OAS/UBS encoding (arm_smmu_id_size_to_bits): 5 and above mean 48 bits. */
const V2_ADDRESS_SIZES = [32, 36, 40, 42, 44] as const
/** SMMUv3 IDR5.OAS encoding; 7 is reserved. */
const V3_ADDRESS_SIZES = [32, 36, 40, 42, 44, 48, 52] as const
/** SMMUv3 IDR0.TTF: 2 = AArch64 tables, 3 = AArch32 and AArch64 (then Linux starts IAS at 40). */
const TTF_AARCH64 = 2
const TTF_AARCH32_64 = 3
/** The architecture's context-bank limit (Linux ARM_SMMU_MAX_CBS). */
const MAX_CONTEXT_BANKS = 128
/** Widest stream ID a fixture can describe (SMMUv3 SIDSIZE is at most 32). */
const MAX_STREAM_ID_BITS = 32
/** SMMUv2 with IDR0.EXIDS set: 16-bit extended stream IDs. */
const EXTENDED_STREAM_ID_BITS = 16
/** The only SMMUv1 with the 64KB translation granule supplement (Linux ARM_SMMU_V1_64K). */
const V1_64K_COMPATIBLE = 'arm,mmu-401'

export function fieldValue(regs: IdRegisters, f: RegisterField): number | undefined {
  const value = regs[f.reg]
  if (value === undefined) return undefined
  const width = f.msb - f.lsb + 1
  return Math.floor(value / 2 ** f.lsb) % 2 ** width
}

/** `IDR0.S1TS (bit 30) = 1`, `IDR2.IAS (bits 3:0) = 5`. */
export function describeField(f: RegisterField, value: number): string {
  const where = f.msb === f.lsb ? `bit ${f.lsb}` : `bits ${f.msb}:${f.lsb}`
  return `${f.reg.toUpperCase()}.${f.name} (${where}) = ${value}`
}

/** Fields a register set can give, keyed by the fixture's YAML path. */
export const DECODABLE_FIELDS = [
  'translation.stage1',
  'translation.stage2',
  'translation.nested',
  'context_banks',
  's2_only_context_banks',
  'asid_bits',
  'vmid_bits',
  'ias',
  'oas',
  'granules',
  'stream_id_bits',
  'coherent_walk',
  's2fwb',
  'ats',
] as const
export type DecodableField = (typeof DECODABLE_FIELDS)[number]
export type DecodedValue = boolean | number | readonly string[]

export interface Decoded {
  readonly value: DecodedValue
  /** The register it came from (for error positions). */
  readonly reg: IdRegisterName
  /** How it was read, for people: `IDR0.S2TS (bit 29) = 1`. */
  readonly from: string
}

export interface RegisterProblem {
  readonly reg: IdRegisterName
  readonly code: 'BAD_VALUE' | 'OUT_OF_RANGE'
  readonly message: string
}

export interface DecodeResult {
  readonly fields: Readonly<Partial<Record<DecodableField, Decoded>>>
  readonly problems: readonly RegisterProblem[]
}

/** Which registers each architecture's fixtures may give. */
export const REGISTERS_FOR: Readonly<Record<'smmuv1' | 'smmuv2' | 'smmuv3', readonly IdRegisterName[]>> = {
  smmuv1: ['idr0', 'idr1', 'idr2'],
  smmuv2: ['idr0', 'idr1', 'idr2'],
  smmuv3: ['idr0', 'idr1', 'idr2', 'idr3', 'idr4', 'idr5', 'iidr', 'aidr'],
}

/** Decode what the given registers say. Registers absent from `regs` decode nothing. */
export function decodeIdRegisters(arch: 'smmuv1' | 'smmuv2' | 'smmuv3', regs: IdRegisters, compatible?: string): DecodeResult {
  return arch === 'smmuv3' ? decodeV3(regs) : decodeV1V2(arch, regs, compatible)
}

class Decoder {
  readonly fields: Partial<Record<DecodableField, Decoded>> = {}
  readonly problems: RegisterProblem[] = []

  constructor(readonly regs: IdRegisters) {}

  /** The field's value, or undefined when its register is not given. */
  read(f: RegisterField): number | undefined {
    return fieldValue(this.regs, f)
  }

  set(field: DecodableField, value: DecodedValue, reg: IdRegisterName, from: readonly string[]): void {
    this.fields[field] = { value, reg, from: from.join(', ') }
  }

  flag(f: RegisterField): { value: boolean; from: string } | undefined {
    const v = this.read(f)
    return v === undefined ? undefined : { value: v === 1, from: describeField(f, v) }
  }

  problem(reg: IdRegisterName, code: RegisterProblem['code'], message: string): void {
    this.problems.push({ reg, code, message })
  }
}

function decodeV1V2(arch: 'smmuv1' | 'smmuv2', regs: IdRegisters, compatible?: string): DecodeResult {
  const d = new Decoder(regs)
  const F = SMMU_V2_IDR

  const s1 = d.flag(F.S1TS)
  const s2 = d.flag(F.S2TS)
  const nts = d.flag(F.NTS)
  if (s1 !== undefined && s2 !== undefined && nts !== undefined) {
    d.set('translation.stage1', s1.value, 'idr0', [s1.from])
    d.set('translation.stage2', s2.value, 'idr0', [s2.from])
    d.set('translation.nested', nts.value, 'idr0', [nts.from])
    const cttw = d.flag(F.CTTW) as { value: boolean; from: string }
    d.set('coherent_walk', cttw.value, 'idr0', [cttw.from])
    const exids = d.read(F.EXIDS) as number
    const numsidb = d.read(F.NUMSIDB) as number
    // Linux: EXIDS means 16-bit stream IDs on SMMUv2 only; otherwise NUMSIDB bits.
    if (arch === 'smmuv2' && exids === 1) d.set('stream_id_bits', EXTENDED_STREAM_ID_BITS, 'idr0', [describeField(F.EXIDS, exids)])
    else d.set('stream_id_bits', numsidb, 'idr0', [describeField(F.NUMSIDB, numsidb)])
  }

  const numcb = d.read(F.NUMCB)
  const nums2cb = d.read(F.NUMS2CB)
  if (numcb !== undefined && nums2cb !== undefined) {
    if (numcb < 1 || numcb > MAX_CONTEXT_BANKS) {
      d.problem('idr1', 'OUT_OF_RANGE', `${describeField(F.NUMCB, numcb)}: an SMMU has 1 to ${MAX_CONTEXT_BANKS} context banks`)
    } else {
      d.set('context_banks', numcb, 'idr1', [describeField(F.NUMCB, numcb)])
    }
    d.set('s2_only_context_banks', nums2cb, 'idr1', [describeField(F.NUMS2CB, nums2cb)])
  }

  const ias = d.read(F.IAS)
  const oas = d.read(F.OAS)
  const vmid16 = d.flag(F.VMID16)
  if (ias !== undefined && oas !== undefined && vmid16 !== undefined) {
    d.set('ias', v2AddressSize(ias), 'idr2', [describeField(F.IAS, ias)])
    d.set('oas', v2AddressSize(oas), 'idr2', [describeField(F.OAS, oas)])
    d.set('vmid_bits', vmid16.value ? 16 : 8, 'idr2', [vmid16.from])
  }

  // Granules. AArch32 long-descriptor (LPAE) tables use the 4K granule: IDR0.PTFS_NO_AARCH32 = 0.
  // SMMUv2 lists its AArch64 granules in IDR2.PTFS_*; SMMUv1 has no such field, and its only
  // 64K granule is the MMU-401's supplement, which Linux knows from the compatible string.
  const noAarch32 = d.read(F.PTFS_NO_AARCH32)
  if (arch === 'smmuv2' && regs.idr2 !== undefined) {
    const g: string[] = []
    const from: string[] = []
    for (const [name, f] of [['4K', F.PTFS_4K], ['16K', F.PTFS_16K], ['64K', F.PTFS_64K]] as const) {
      const v = d.read(f) as number
      from.push(describeField(f, v))
      if (v === 1) g.push(name)
    }
    if (noAarch32 === 0 && !g.includes('4K')) {
      g.unshift('4K')
      from.push(describeField(F.PTFS_NO_AARCH32, 0))
    }
    if (g.length === 0) d.problem('idr2', 'BAD_VALUE', `${from.join(', ')}: no translation granule`)
    else d.set('granules', g, 'idr2', from)
  } else if (arch === 'smmuv1' && noAarch32 !== undefined) {
    const g = noAarch32 === 0 ? ['4K'] : []
    const from = [describeField(F.PTFS_NO_AARCH32, noAarch32)]
    if (compatible === V1_64K_COMPATIBLE) {
      g.push('64K')
      from.push(`compatible "${V1_64K_COMPATIBLE}" (SMMUv1 64KB granule supplement)`)
    }
    if (g.length === 0) d.problem('idr0', 'BAD_VALUE', `${from.join(', ')}: no translation table format`)
    else d.set('granules', g, 'idr0', from)
  }
  return { fields: d.fields, problems: d.problems }
}

function decodeV3(regs: IdRegisters): DecodeResult {
  const d = new Decoder(regs)
  const F = SMMU_V3_IDR

  const s1 = d.flag(F.S1P)
  const s2 = d.flag(F.S2P)
  const ttf = d.read(F.TTF)
  if (s1 !== undefined && s2 !== undefined && ttf !== undefined) {
    d.set('translation.stage1', s1.value, 'idr0', [s1.from])
    d.set('translation.stage2', s2.value, 'idr0', [s2.from])
    // arm-smmu-v3: nesting needs both stages (ARM_SMMU_FEAT_NESTING = TRANS_S1 && TRANS_S2).
    d.set('translation.nested', s1.value && s2.value, 'idr0', [s1.from, s2.from])
    const asid16 = d.flag(F.ASID16) as { value: boolean; from: string }
    const vmid16 = d.flag(F.VMID16) as { value: boolean; from: string }
    const cohacc = d.flag(F.COHACC) as { value: boolean; from: string }
    d.set('asid_bits', asid16.value ? 16 : 8, 'idr0', [asid16.from])
    d.set('vmid_bits', vmid16.value ? 16 : 8, 'idr0', [vmid16.from])
    d.set('coherent_walk', cohacc.value, 'idr0', [cohacc.from])
    const ats = d.flag(F.ATS) as { value: boolean; from: string }
    d.set('ats', ats.value, 'idr0', [ats.from])
    if (ttf !== TTF_AARCH64 && ttf !== TTF_AARCH32_64) {
      d.problem('idr0', 'BAD_VALUE', `${describeField(F.TTF, ttf)}: no AArch64 translation tables (arm-smmu-v3 refuses such an SMMU)`)
    }
  }

  // Linux (6.15+, and 6.14.6): ARM_SMMU_FEAT_S2FWB from IDR3.FWB (arm_smmu_device_hw_probe).
  const fwb = d.flag(F.FWB)
  if (fwb !== undefined) d.set('s2fwb', fwb.value, 'idr3', [fwb.from])

  const sidsize = d.read(F.SIDSIZE)
  if (sidsize !== undefined) {
    if (sidsize > MAX_STREAM_ID_BITS) d.problem('idr1', 'OUT_OF_RANGE', `${describeField(F.SIDSIZE, sidsize)}: stream IDs are at most ${MAX_STREAM_ID_BITS} bits`)
    else d.set('stream_id_bits', sidsize, 'idr1', [describeField(F.SIDSIZE, sidsize)])
  }

  const oasCode = d.read(F.OAS)
  if (oasCode !== undefined) {
    const oas = V3_ADDRESS_SIZES[oasCode]
    if (oas === undefined) {
      d.problem('idr5', 'BAD_VALUE', `${describeField(F.OAS, oasCode)}: reserved encoding (0 to 6 are 32, 36, 40, 42, 44, 48, 52 bits)`)
    } else {
      d.set('oas', oas, 'idr5', [describeField(F.OAS, oasCode)])
      // Linux: ias = max(ias, oas), ias starting at 40 when TTF includes AArch32 tables.
      if (ttf !== undefined) {
        const floor = ttf === TTF_AARCH32_64 ? 40 : 0
        d.set('ias', Math.max(floor, oas), 'idr5', [describeField(F.OAS, oasCode), describeField(F.TTF, ttf)])
      }
    }
    const g: string[] = []
    const from: string[] = []
    for (const [name, f] of [['4K', F.GRAN4K], ['16K', F.GRAN16K], ['64K', F.GRAN64K]] as const) {
      const v = d.read(f) as number
      from.push(describeField(f, v))
      if (v === 1) g.push(name)
    }
    if (g.length === 0) d.problem('idr5', 'BAD_VALUE', `${from.join(', ')}: no translation granule`)
    else d.set('granules', g, 'idr5', from)
  }
  return { fields: d.fields, problems: d.problems }
}

/** Where each field comes from, for messages about a field neither declared nor decoded. */
export const REGISTER_HINT: Readonly<Record<'smmuv1' | 'smmuv2' | 'smmuv3', Partial<Record<DecodableField, string>>>> = {
  smmuv1: {
    'translation.stage1': 'IDR0.S1TS', 'translation.stage2': 'IDR0.S2TS', 'translation.nested': 'IDR0.NTS',
    context_banks: 'IDR1.NUMCB', ias: 'IDR2.IAS', oas: 'IDR2.OAS', granules: 'IDR0.PTFS', stream_id_bits: 'IDR0.NUMSIDB',
  },
  smmuv2: {
    'translation.stage1': 'IDR0.S1TS', 'translation.stage2': 'IDR0.S2TS', 'translation.nested': 'IDR0.NTS',
    context_banks: 'IDR1.NUMCB', ias: 'IDR2.IAS', oas: 'IDR2.OAS', granules: 'IDR2.PTFS', stream_id_bits: 'IDR0.NUMSIDB',
  },
  smmuv3: {
    'translation.stage1': 'IDR0.S1P', 'translation.stage2': 'IDR0.S2P', 'translation.nested': 'IDR0.S1P and S2P',
    asid_bits: 'IDR0.ASID16', vmid_bits: 'IDR0.VMID16', ias: 'IDR0.TTF and IDR5.OAS', oas: 'IDR5.OAS', granules: 'IDR5.GRAN*',
    stream_id_bits: 'IDR1.SIDSIZE', s2fwb: 'IDR3.FWB', ats: 'IDR0.ATS',
  },
}

/** Two values of a field agree; granule lists agree as sets. */
export function sameDecodedValue(a: DecodedValue, b: DecodedValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x) => b.includes(x))
  return a === b
}

function v2AddressSize(code: number): number {
  return V2_ADDRESS_SIZES[code] ?? 48
}

/** `0x0D40101A`: how register values are written in fixtures and messages. */
export function hex32(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(8, '0')}`
}

/** What an SMMUv3 driver reads from SMMU_IDR0..5, SMMU_IIDR and SMMU_AIDR. */
export interface SmmuV3IdWords {
  readonly idr: readonly [number, number, number, number, number, number]
  readonly iidr: number
  readonly aidr: number
}

/** The decoded fields an SMMUv3's registers are composed from when a fixture does not give them. */
export interface SmmuV3IdFields {
  readonly translation: { readonly stage1: boolean; readonly stage2: boolean }
  readonly coherentWalk: boolean
  readonly ats: boolean
  readonly asidBits: number
  readonly vmidBits: number
  readonly streamIdBits: number
  readonly s2fwb: boolean
  readonly oas: number
  readonly granules: readonly string[]
}

/**
 * The SMMUv3 ID registers as a driver reads them (what IOMMU_GET_HW_INFO copies out raw,
 * arm_smmu_hw_info): each register the fixture gives, as given; a register it does not give is
 * composed from the fixture's fields with the positions above (IDR0: S2P, S1P, TTF = 2 AArch64,
 * COHACC, ATS, ASID16, VMID16; IDR1: SIDSIZE; IDR3: FWB; IDR5: OAS, GRAN4K/16K/64K), every other
 * field 0 (IDR2, IDR4, IIDR and AIDR are 0 unless given).
 */
export function smmuV3IdWords(regs: IdRegisters | undefined, f: SmmuV3IdFields): SmmuV3IdWords {
  const F = SMMU_V3_IDR
  const put = (field: RegisterField, value: number): number => value * 2 ** field.lsb
  const flag = (b: boolean): number => (b ? 1 : 0)
  const oasCode = V3_ADDRESS_SIZES.indexOf(f.oas as (typeof V3_ADDRESS_SIZES)[number])
  const composed: Record<'idr0' | 'idr1' | 'idr3' | 'idr5', number> = {
    idr0:
      put(F.S2P, flag(f.translation.stage2)) +
      put(F.S1P, flag(f.translation.stage1)) +
      put(F.TTF, TTF_AARCH64) +
      put(F.COHACC, flag(f.coherentWalk)) +
      put(F.ATS, flag(f.ats)) +
      put(F.ASID16, flag(f.asidBits === 16)) +
      put(F.VMID16, flag(f.vmidBits === 16)),
    idr1: put(F.SIDSIZE, f.streamIdBits),
    idr3: put(F.FWB, flag(f.s2fwb)),
    idr5: put(F.OAS, Math.max(0, oasCode)) + put(F.GRAN4K, flag(f.granules.includes('4K'))) + put(F.GRAN16K, flag(f.granules.includes('16K'))) + put(F.GRAN64K, flag(f.granules.includes('64K'))),
  }
  const word = (name: IdRegisterName): number => regs?.[name] ?? (name in composed ? composed[name as keyof typeof composed] : 0)
  return {
    idr: [word('idr0'), word('idr1'), word('idr2'), word('idr3'), word('idr4'), word('idr5')],
    iidr: word('iidr'),
    aidr: word('aidr'),
  }
}
