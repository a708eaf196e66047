/**
 * A guest's side of nesting: the stage-1 configuration it asks for, and its memory as it sees it.
 *
 * A NESTED domain's context translates at stage 2 (Linux programs an S2_TRANS bank, or on SMMUv3
 * an STE with stage 2 only). A guest that drives a virtual SMMU gives its own stage-1
 * configuration for a stream; the host pairs it with that stage-2 context, as the out-of-tree vSMMU
 * work did:
 * - SMMUv1/v2: a second context bank, searched like any stage-1 bank (from IDR1.NUMS2CB up),
 *   of CBAR type S1_TRANS_S2_TRANS, tagged with the stage-2 bank's VMID; the stream's S2CR points
 *   at it. Its TTBR0/TCR hold the guest's TTB, T0SZ, granule and IPS; its ASID is the guest's.
 * - SMMUv3: the stream's STE gets both stages: beside the stage-2 fields the host already wrote,
 *   S1ContextPtr is the IPA of the guest's context descriptor (its TTB0, T0SZ, TG0, IPS and
 *   ASID), which the guest writes in its own memory; with stage 2 enabled that pointer is an IPA
 *   the SMMU translates through stage 2 before reading the CD (IHI 0070 5.2). No bank is needed.
 * The guest's TTB and every table address below it are IPAs (walkNested translates them).
 *
 * The guest's memory: what the guest reads and writes at an IPA lands at the PA the host's stage-2
 * tables give for it. Each access is translated by walking those tables in memory (reads need S2AP
 * read, writes S2AP write, as VFIO maps guest RAM read-write); an IPA the host did not map is an
 * error value (EFAULT), never a write elsewhere.
 */
import { fail, ok, type Result } from '../errno'
import { isBusAbort, PAGE_SIZE, type PhysMemory } from '../memory'
import { isFault, walkStage2, type S1Context, type S1Regs, type S2Context } from '../pgtable'
import type { CbarType } from './context'

interface GuestStage1Common {
  /** The guest's ASID for this stage 1 (TTBR0.ASID / CD.ASID). */
  readonly asid: number
  /** The VMID of the stage-2 context the stage 1 nests in (what the IOTLB tags entries with). */
  readonly vmid: number
  readonly regs: S1Regs
  readonly context: S1Context
}

/** SMMUv1/v2: a stage-1 context bank nested in the domain's stage-2 bank. */
export interface BankGuestStage1 extends GuestStage1Common {
  readonly kind: 'context-bank'
  readonly bank: number
  readonly cbar: CbarType
  /** The stage-2 bank this bank's stage 1 is followed by. */
  readonly s2Bank: number
}

/** SMMUv3: an STE with a stage-1 context descriptor beside the stage-2 configuration. */
export interface SteGuestStage1 extends GuestStage1Common {
  readonly kind: 'stream-table'
  /** The IPA of the guest's CD in its memory (STE.S1ContextPtr; the SMMU reads it through stage 2). */
  readonly cdIpa?: number
}

export type GuestStage1 = BankGuestStage1 | SteGuestStage1

/** The guest's physical memory (IPA space), seen through the host's stage-2 tables. */
export class GuestMemory {
  constructor(
    private readonly mem: PhysMemory,
    private readonly s2: S2Context,
  ) {}

  /** The PA the host's stage 2 gives `ipa` for a read or a write; EFAULT when it gives none. */
  translate(ipa: number, kind: 'read' | 'write'): Result<number> {
    const t = walkStage2(this.mem, this.s2, ipa, { kind })
    if (isFault(t)) {
      return fail('EFAULT', `IPA 0x${ipa.toString(16)}: stage-2 ${t.kind} fault at level ${t.level} (the host did not map it for ${kind})`)
    }
    return ok(t.oa)
  }

  /** Writes `bytes` at `ipa`; all or nothing. */
  write(ipa: number, bytes: Uint8Array): Result<void> {
    const pieces = this.pieces(ipa, bytes.length, 'write')
    if (!pieces.ok) return pieces
    for (const p of pieces.value) {
      const abort = this.mem.write(p.pa, bytes.subarray(p.offset, p.offset + p.length))
      if (abort !== undefined) return fail('EFAULT', `PA 0x${p.pa.toString(16)} (IPA 0x${(ipa + p.offset).toString(16)}) has nothing behind it`)
    }
    return ok()
  }

  read(ipa: number, length: number): Result<Uint8Array> {
    const pieces = this.pieces(ipa, length, 'read')
    if (!pieces.ok) return pieces
    const out = new Uint8Array(length)
    for (const p of pieces.value) {
      const bytes = this.mem.read(p.pa, p.length)
      if (isBusAbort(bytes)) return fail('EFAULT', `PA 0x${p.pa.toString(16)} (IPA 0x${(ipa + p.offset).toString(16)}) has nothing behind it`)
      out.set(bytes, p.offset)
    }
    return ok(out)
  }

  /** A 64-bit little-endian store (a descriptor the guest writes into its own tables). */
  write64(ipa: number, value: bigint): Result<void> {
    const bytes = new Uint8Array(8)
    new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, value), true)
    return this.write(ipa, bytes)
  }

  read64(ipa: number): Result<bigint> {
    const bytes = this.read(ipa, 8)
    return bytes.ok ? ok(new DataView(bytes.value.buffer).getBigUint64(0, true)) : bytes
  }

  /** [ipa, ipa + length) cut at 4 KiB boundaries, each piece translated before anything moves. */
  private pieces(ipa: number, length: number, kind: 'read' | 'write'): Result<{ pa: number; offset: number; length: number }[]> {
    if (!Number.isSafeInteger(ipa) || ipa < 0 || !Number.isSafeInteger(length) || length < 0) {
      return fail('EINVAL', `IPA ${ipa} / length ${length} are not non-negative integers`)
    }
    const out: { pa: number; offset: number; length: number }[] = []
    for (let offset = 0; offset < length; ) {
      const at = ipa + offset
      const chunk = Math.min(length - offset, PAGE_SIZE - (at % PAGE_SIZE))
      const pa = this.translate(at, kind)
      if (!pa.ok) return pa
      out.push({ pa: pa.value, offset, length: chunk })
      offset += chunk
    }
    return ok(out)
  }
}
