/**
 * The ACPI machine's IORT, told to say CANWBS. QEMU's IORT gives its PCI root complex the memory
 * access flags 0x3 (CCA | DACS; hw/arm/virt-acpi-build.c build_iort), never CANWBS (bit 2), and
 * there is no QEMU option for it. Linux takes CANWBS only from that IORT field
 * (drivers/acpi/arm64/iort.c: ACPI_IORT_MF_CANWBS sets IOMMU_FWSPEC_PCI_RC_CANWBS), and
 * arm-smmu-v3 grants a vIOMMU on an SMMU without S2FWB only to a CANWBS master
 * (arm-smmu-v3-iommufd.c arm_smmu_get_viommu_size). So the guest is given QEMU's own IORT with
 * that bit set, through the kernel's stock ACPI table upgrade (CONFIG_ACPI_TABLE_UPGRADE,
 * Documentation/admin-guide/acpi/initrd_table_override.rst): an uncompressed cpio holding
 * kernel/firmware/acpi/IORT.aml in front of the initramfs; the upgrade replaces a table only by
 * one with the same signature and OEM IDs and a higher OEM revision.
 *
 * Why this is fair: TCG's DMA is always coherent with the CPUs' caches, so CANWBS is true of the
 * emulated platform; nothing in the kernel or QEMU is changed.
 *
 * Layouts (ACPI 6.x table header; Arm DEN 0049 IORT, include/acpi/actbl2.h):
 *   header: signature [0,4), length u32 @4, revision @8, checksum @9, OEM ID [10,16),
 *           OEM table ID [16,24), OEM revision u32 @24, creator ID @28, creator revision @32
 *   IORT:   node count u32 @36, node array offset u32 @40
 *   node:   type u8 @0 (2 = PCI root complex), length u16 @1;
 *           root complex: cache coherency u32 @16, allocation hints u8 @20, memory access flags u8 @23
 */
import { cpioArchive } from './cpio'

export const IORT_NODE_PCI_ROOT_COMPLEX = 2
/** Memory access flags bits: CPM (coherent path to memory), DACS, CANWBS. */
export const ACPI_IORT_MF_COHERENCY = 1 << 0
export const ACPI_IORT_MF_ATTRIBUTES = 1 << 1
export const ACPI_IORT_MF_CANWBS = 1 << 2
const MEMORY_ACCESS_FLAGS = 23

/** A table or node that cannot be what it claims, with where. */
export class IortError extends Error {}

/** The byte sum of a table must be 0 (mod 256); the checksum byte makes it so. */
export function acpiChecksumOk(table: Uint8Array): boolean {
  return table.reduce((a, b) => (a + b) & 0xff, 0) === 0
}

export interface IortRootComplex {
  /** Offset of the node in the table. */
  readonly offset: number
  readonly memoryAccessFlags: number
}

/** The PCI root complex nodes of an IORT, checking the table's framing. */
export function iortRootComplexes(table: Buffer): IortRootComplex[] {
  if (table.length < 48 || table.toString('latin1', 0, 4) !== 'IORT') throw new IortError('not an IORT (no "IORT" signature)')
  const length = table.readUInt32LE(4)
  if (length !== table.length) throw new IortError(`the header says ${length} bytes, the table has ${table.length}`)
  if (!acpiChecksumOk(table)) throw new IortError('bad checksum')
  const count = table.readUInt32LE(36)
  let at = table.readUInt32LE(40)
  const out: IortRootComplex[] = []
  for (let i = 0; i < count; i++) {
    if (at + 4 > length) throw new IortError(`node ${i} at ${at} lies outside the table`)
    const type = table[at] as number
    const nodeLength = table.readUInt16LE(at + 1)
    if (nodeLength < 4 || at + nodeLength > length) throw new IortError(`node ${i} at ${at}: bad length ${nodeLength}`)
    if (type === IORT_NODE_PCI_ROOT_COMPLEX) {
      if (nodeLength <= MEMORY_ACCESS_FLAGS) throw new IortError(`root complex node at ${at} too short (${nodeLength} bytes)`)
      out.push({ offset: at, memoryAccessFlags: table[at + MEMORY_ACCESS_FLAGS] as number })
    }
    at += nodeLength
  }
  return out
}

/**
 * QEMU's IORT with CANWBS set in every PCI root complex node, the OEM revision one higher (so the
 * table upgrade takes it) and the checksum fixed. An IORT with no root complex is an error.
 */
export function iortWithCanwbs(original: Buffer): Buffer {
  const table = Buffer.from(original)
  const rcs = iortRootComplexes(table)
  if (rcs.length === 0) throw new IortError('the IORT has no PCI root complex node')
  for (const rc of rcs) table[rc.offset + MEMORY_ACCESS_FLAGS] = rc.memoryAccessFlags | ACPI_IORT_MF_CANWBS
  table.writeUInt32LE((table.readUInt32LE(24) + 1) >>> 0, 24)
  table[9] = 0
  table[9] = (0x100 - table.reduce((a, b) => (a + b) & 0xff, 0)) & 0xff
  return table
}

/** The uncompressed cpio the kernel's ACPI table upgrade reads in front of the initramfs. */
export function tableUpgradeCpio(tables: Readonly<Record<string, Buffer>>): Buffer {
  return cpioArchive([
    { kind: 'dir', path: 'kernel' },
    { kind: 'dir', path: 'kernel/firmware' },
    { kind: 'dir', path: 'kernel/firmware/acpi' },
    ...Object.entries(tables).map(([sig, data]) => ({ kind: 'file' as const, path: `kernel/firmware/acpi/${sig}.aml`, data })),
  ])
}

/** `@@ fact iort <hex>` of a guest's console: the IORT the firmware gave it. */
export function iortFromFact(hex: string): Buffer {
  const clean = hex.replace(/\s+/g, '')
  if (!/^([0-9a-f]{2})+$/i.test(clean)) throw new IortError('the guest printed no IORT in hex')
  return Buffer.from(clean, 'hex')
}
