/**
 * SMMUv3 command queue entries (Arm IHI 0070 G.b chapter 4): two 64-bit little-endian words, the
 * opcode in word 0 [7:0]. Fields are tables (fields.ts) per opcode family, at the positions of
 * Linux's CMDQ_* macros (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h): CMDQ_0_OP [7:0],
 * CMDQ_0_SSV 11; CMDQ_CFGI_0_SSID [31:12], CMDQ_CFGI_0_SID [63:32], CMDQ_CFGI_1_LEAF 0,
 * CMDQ_CFGI_1_RANGE [4:0]; CMDQ_TLBI_0_NUM [16:12], CMDQ_TLBI_0_SCALE [24:20], CMDQ_TLBI_0_VMID
 * [47:32], CMDQ_TLBI_0_ASID [63:48], CMDQ_TLBI_1_LEAF 0, CMDQ_TLBI_1_TTL [9:8], CMDQ_TLBI_1_TG
 * [11:10], CMDQ_TLBI_1_VA_MASK [63:12], CMDQ_TLBI_1_IPA_MASK [51:12]; CMDQ_ATC_0_GLOBAL 9,
 * CMDQ_ATC_0_SSID [31:12], CMDQ_ATC_0_SID [63:32], CMDQ_ATC_1_SIZE [5:0], CMDQ_ATC_1_ADDR_MASK
 * [63:12]; CMDQ_SYNC_0_CS [13:12].
 *
 * The model has no command queue: the driver acts on the IOTLB and the configuration cache
 * directly. These tables are what a guest's commands are read with (iommufd's
 * IOMMU_HWPT_INVALIDATE carries raw commands) and written with (transcripts).
 */
import { address, decodeFields, flag, uint, type Field, type FieldsOf, type Layout } from './fields'

export const CMD_WORDS = 2

/** Command opcodes (IHI 0070 4.1; Linux CMDQ_OP_*). */
export const CMDQ_OP = {
  PREFETCH_CONFIG: 0x01,
  PREFETCH_ADDR: 0x02,
  CFGI_STE: 0x03,
  CFGI_STE_RANGE: 0x04,
  CFGI_CD: 0x05,
  CFGI_CD_ALL: 0x06,
  TLBI_NH_ALL: 0x10,
  TLBI_NH_ASID: 0x11,
  TLBI_NH_VA: 0x12,
  TLBI_NH_VAA: 0x13,
  TLBI_EL2_ALL: 0x20,
  TLBI_EL2_ASID: 0x21,
  TLBI_EL2_VA: 0x22,
  TLBI_EL2_VAA: 0x23,
  TLBI_S12_VMALL: 0x28,
  TLBI_S2_IPA: 0x2a,
  TLBI_NSNH_ALL: 0x30,
  ATC_INV: 0x40,
  PRI_RESP: 0x41,
  RESUME: 0x44,
  STALL_TERM: 0x45,
  CMD_SYNC: 0x46,
} as const
export type CmdqOpName = keyof typeof CMDQ_OP

/** Fields every command has. */
const COMMON = {
  opcode: uint('Opcode', 0, 0, 8),
  ssv: flag('SSV', 0, 11),
} as const

const SID = uint('StreamID', 0, 32, 32)
const SSID = uint('SubstreamID', 0, 12, 20)

/** The TLBI fields (4.4): NUM/SCALE (range), VMID, ASID, Leaf, TTL, TG, and the address. */
const TLBI_VA = {
  ...COMMON,
  num: uint('NUM', 0, 12, 5),
  // [25:20]: bit 25 (values above 31) exists with IDR5.DS only (Linux CMDQ_TLBI_0_SCALE).
  scale: uint('SCALE', 0, 20, 6),
  vmid: uint('VMID', 0, 32, 16),
  asid: uint('ASID', 0, 48, 16),
  leaf: flag('Leaf', 1, 0),
  ttl: uint('TTL', 1, 8, 2),
  tg: uint('TG', 1, 10, 2),
  addr: address('Address', 1, 63, 12),
} as const

/** Each opcode's fields. */
export const CMD_LAYOUTS: Readonly<Record<CmdqOpName, Layout>> = {
  PREFETCH_CONFIG: { ...COMMON, ssid: SSID, sid: SID },
  PREFETCH_ADDR: { ...COMMON, ssid: SSID, sid: SID, addr: address('Address', 1, 63, 12) },
  CFGI_STE: { ...COMMON, sid: SID, leaf: flag('Leaf', 1, 0) },
  CFGI_STE_RANGE: { ...COMMON, sid: SID, range: uint('Range', 1, 0, 5) },
  CFGI_CD: { ...COMMON, ssid: SSID, sid: SID, leaf: flag('Leaf', 1, 0) },
  CFGI_CD_ALL: { ...COMMON, sid: SID },
  TLBI_NH_ALL: { ...COMMON, vmid: TLBI_VA.vmid },
  TLBI_NH_ASID: { ...COMMON, vmid: TLBI_VA.vmid, asid: TLBI_VA.asid },
  TLBI_NH_VA: TLBI_VA,
  TLBI_NH_VAA: { ...COMMON, num: TLBI_VA.num, scale: TLBI_VA.scale, vmid: TLBI_VA.vmid, leaf: TLBI_VA.leaf, ttl: TLBI_VA.ttl, tg: TLBI_VA.tg, addr: TLBI_VA.addr },
  TLBI_EL2_ALL: COMMON,
  TLBI_EL2_ASID: { ...COMMON, asid: TLBI_VA.asid },
  TLBI_EL2_VA: { ...COMMON, num: TLBI_VA.num, scale: TLBI_VA.scale, asid: TLBI_VA.asid, leaf: TLBI_VA.leaf, ttl: TLBI_VA.ttl, tg: TLBI_VA.tg, addr: TLBI_VA.addr },
  TLBI_EL2_VAA: { ...COMMON, num: TLBI_VA.num, scale: TLBI_VA.scale, leaf: TLBI_VA.leaf, ttl: TLBI_VA.ttl, tg: TLBI_VA.tg, addr: TLBI_VA.addr },
  TLBI_S12_VMALL: { ...COMMON, vmid: TLBI_VA.vmid },
  TLBI_S2_IPA: { ...COMMON, num: TLBI_VA.num, scale: TLBI_VA.scale, vmid: TLBI_VA.vmid, leaf: TLBI_VA.leaf, ttl: TLBI_VA.ttl, tg: TLBI_VA.tg, addr: address('Address', 1, 51, 12) },
  TLBI_NSNH_ALL: COMMON,
  ATC_INV: { ...COMMON, global: flag('Global', 0, 9), ssid: SSID, sid: SID, size: uint('Size', 1, 0, 6), addr: address('Address', 1, 63, 12) },
  PRI_RESP: { ...COMMON, ssid: SSID, sid: SID },
  RESUME: { ...COMMON, sid: SID },
  STALL_TERM: { ...COMMON, sid: SID },
  CMD_SYNC: { ...COMMON, cs: uint('CS', 0, 12, 2) },
}

/** The opcode's name, or undefined for a value the architecture does not define. */
export function cmdOpName(op: number): CmdqOpName | undefined {
  return (Object.keys(CMDQ_OP) as CmdqOpName[]).find((n) => CMDQ_OP[n] === op)
}

/** A command's fields by its opcode's layout (unknown opcodes: the common fields only). */
export function decodeCommand(words: readonly bigint[]): { readonly op: number; readonly name?: CmdqOpName; readonly fields: FieldsOf<Layout> } {
  const op = Number((words[0] ?? 0n) & 0xffn)
  const name = cmdOpName(op)
  return { op, ...(name === undefined ? {} : { name }), fields: decodeFields(name === undefined ? COMMON : CMD_LAYOUTS[name], words) }
}

/** Replace one field's bits in a command's words (Linux's `cmd &= ~MASK; cmd |= FIELD_PREP(MASK, v)`). */
export function withField(words: readonly bigint[], f: Field, value: number): bigint[] {
  const out = [...words]
  const mask = ((1n << BigInt(f.width)) - 1n) << BigInt(f.lo)
  out[f.word] = ((out[f.word] ?? 0n) & ~mask) | ((BigInt(value) << BigInt(f.lo)) & mask)
  return out
}
