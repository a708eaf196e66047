/**
 * The configuration an SMMUv3 reads from memory for a stream, as bytes (Arm IHI 0070 3.3): a linear
 * stream table of 64-byte STEs indexed by StreamID, and the CDs they point at. The driver side
 * (contexts.ts, for SmmuInstance) writes STEs and CDs; the SMMU side reads them back on a
 * transaction's configuration lookup and decodes them with the architecture's ILLEGAL rules
 * (config.ts), caching what it decoded per StreamID until a CMD_CFGI_* (4.3) drops it.
 *
 * Layout, from `base`: stream `sid`'s STE at base + sid * 64 (what SMMU_STRTAB_BASE with a linear
 * table addresses); after the stream table (2^SIDSIZE entries), the CDs the host writes for its own
 * stage-1 domains, one 64-byte CD per StreamID.
 *
 * STE.S1ContextPtr is a PA when stage 2 is bypassed, and an IPA when stage 2 is enabled (5.2
 * S1ContextPtr, 3.3.2): the SMMU translates it through the STE's stage 2 before it reads the CD.
 * A stage-2 fault on that translation is the transaction's fault, CLASS = CD (7.3.13), and is not
 * cached; a bus abort reading the STE or the CD is F_STE_FETCH / F_CD_FETCH (7.3.4, 7.3.9).
 */
import { isBusAbort, type PhysMemory } from '../../memory'
import { isFault, walkStage2, type Fault, type S1Context, type S1Regs, type S2Context, type S2Regs } from '../../pgtable'
import { decodeCd, decodeSte, type BadConfig, type SmmuV3Id } from './config'
import { leBytes } from './fields'
import { addressSizeEncoding, CD_BYTES, encodeCd, encodeSte, PRIVCFG, STE_BYTES, STE_CONFIG, STE_WORDS, tg0Encoding } from './structures'

/** What the driver programs for a stream. */
export interface StreamConfig {
  /**
   * Stage 1: the CD's registers and ASID. With stage 2 as well, the guest has written its CD at
   * `cdIpa` (an IPA of the stage 2 below) and the STE points there; alone, the host writes the CD.
   */
  readonly s1?: { readonly regs: S1Regs; readonly asid: number; readonly cdIpa?: number }
  /** Stage 2; `vmid` is also what a stage-1-only STE's S2VMID tags (IHI 0070 5.2 S2VMID). */
  readonly s2?: { readonly regs: S2Regs; readonly vmid: number }
  /** A stage-1-only STE's S2VMID (the tag of its TLB entries when stage 2 is implemented). */
  readonly s1Vmid?: number
}

/** What the SMMU reads back for a stream. */
export type DecodedStream =
  /** STE.Config = 0b0xx: terminated, no event (5.2 Config). */
  | { readonly kind: 'abort' }
  /** STE.Config = 0b100: the input address is the output. */
  | { readonly kind: 'bypass' }
  | BadConfig
  /** The bus aborted the read of the STE or the CD at `fetchAddr`. */
  | { readonly kind: 'F_STE_FETCH' | 'F_CD_FETCH'; readonly fetchAddr: number }
  /** Stage 2 failed on the CD's IPA (reported as the transaction's fault, CLASS = CD). */
  | { readonly kind: 'cdFetchFault'; readonly fault: Fault; readonly cdIpa: number; readonly recordS2: boolean }
  | StreamTranslation

export interface StreamTranslation {
  readonly kind: 'translate'
  /** Stage 1 enabled; `context` undefined when CD.EPD0 = 1 (no TTB0 walk). */
  readonly s1?: { readonly context?: S1Context; readonly asid: number; readonly record: boolean }
  readonly s2?: S2Context
  /** The VMID TLB entries are tagged with (STE.S2VMID when stage 2 is implemented), or -1. */
  readonly vmid: number
  /** STE.PRIVCFG's override of the transaction's privilege; undefined: its own. */
  readonly privileged?: boolean
  /** STE.S2R: stage-2 faults are recorded. */
  readonly recordS2: boolean
}

/** The configuration-cache invalidations (IHI 0070 4.3), as a driver issues them. */
export type CfgiCommand =
  | { readonly op: 'CFGI_STE'; readonly sid: number }
  | { readonly op: 'CFGI_CD'; readonly sid: number; readonly ssid: number }
  | { readonly op: 'CFGI_CD_ALL'; readonly sid: number }
  | { readonly op: 'CFGI_ALL' }

export class StreamTableMemory {
  /** What the SMMU cached of each stream's STE, with the CD it located (4.3: CDs are cached per StreamID). */
  private readonly cache = new Map<number, DecodedStream>()
  private readonly cdBase: number

  constructor(
    private readonly memory: PhysMemory,
    readonly base: number,
    private readonly id: SmmuV3Id,
    streamIdBits: number,
  ) {
    this.cdBase = base + 2 ** streamIdBits * STE_BYTES
  }

  steAddress(sid: number): number {
    return this.base + sid * STE_BYTES
  }

  /** Where the host writes the CD of its own stage-1 domain on stream `sid`. */
  cdAddress(sid: number): number {
    return this.cdBase + sid * CD_BYTES
  }

  /** The driver writes the stream's STE (and its own CD) for `cfg`, abort when undefined; then CMD_CFGI_STE. */
  write(sid: number, cfg: StreamConfig | undefined): void {
    this.writeSte(sid, cfg === undefined ? encodeSte({ config: STE_CONFIG.ABORT }) : this.encode(sid, cfg))
  }

  /** The driver writes stream `sid`'s STE as the given eight words, then CMD_CFGI_STE. */
  writeSte(sid: number, words: readonly bigint[]): void {
    if (words.length !== STE_WORDS) throw new Error(`an STE is ${STE_WORDS} words, not ${words.length}`)
    this.store(this.steAddress(sid), words)
    this.invalidate({ op: 'CFGI_STE', sid })
  }

  /** Stream `sid`'s STE words as memory holds them (zeros where nothing is behind them). */
  readSte(sid: number): bigint[] {
    return this.load(this.steAddress(sid)) ?? new Array<bigint>(STE_WORDS).fill(0n)
  }

  /**
   * CMD_CFGI_STE (the STE and every CD cached through it, 4.3.1), CMD_CFGI_CD (the CD at index
   * `ssid`: with one CD per STE, index 0, 4.3.3), CMD_CFGI_CD_ALL (4.3.4), CMD_CFGI_ALL (4.3.6).
   * The model caches one decoded configuration per stream (STE and its CD together), so a CD
   * invalidation drops that entry too: what is read again is the same STE.
   */
  invalidate(cmd: CfgiCommand): void {
    if (cmd.op === 'CFGI_ALL') this.cache.clear()
    else if (cmd.op !== 'CFGI_CD' || cmd.ssid === 0) this.cache.delete(cmd.sid)
  }

  /** The SMMU's configuration lookup for `sid`. */
  read(sid: number): DecodedStream {
    const cached = this.cache.get(sid)
    if (cached !== undefined) return cached
    const decoded = this.decode(sid)
    if (decoded.kind !== 'cdFetchFault' && decoded.kind !== 'F_STE_FETCH' && decoded.kind !== 'F_CD_FETCH') this.cache.set(sid, decoded)
    return decoded
  }

  private encode(sid: number, cfg: StreamConfig): bigint[] {
    const { s1, s2 } = cfg
    let s1ContextPtr = 0
    if (s1 !== undefined && s2 !== undefined) {
      if (s1.cdIpa === undefined) throw new Error(`stream 0x${sid.toString(16)}: a nested STE points at the guest's CD, and no IPA was given`)
      s1ContextPtr = s1.cdIpa
    } else if (s1 !== undefined) {
      this.store(this.cdAddress(sid), cdWords(s1))
      s1ContextPtr = this.cdAddress(sid)
    }
    const config = s1 !== undefined && s2 !== undefined ? STE_CONFIG.NESTED : s1 !== undefined ? STE_CONFIG.S1_TRANS : STE_CONFIG.S2_TRANS
    const s2Fields =
      s2 === undefined
        ? { s2Vmid: cfg.s1Vmid ?? 0 }
        : {
            s2Vmid: s2.vmid,
            s2T0sz: s2.regs.t0sz,
            s2Sl0: s2.regs.sl0,
            s2Tg: tg0Encoding(s2.regs.granule),
            s2Ps: addressSizeEncoding(s2.regs.oas),
            s2Ttb: s2.regs.vttbr,
          }
    return encodeSte({ config, s1ContextPtr, privCfg: PRIVCFG.INCOMING, ...s2Fields })
  }

  private decode(sid: number): DecodedStream {
    const steAt = this.steAddress(sid)
    const steWords = this.load(steAt)
    if (steWords === undefined) return { kind: 'F_STE_FETCH', fetchAddr: steAt }
    const ste = decodeSte(steWords, this.id)
    if (ste.kind !== 'translate') return ste
    const { stage2, vmid, privileged, recordS2 } = ste
    if (!ste.stage1) return { kind: 'translate', s2: stage2, vmid, privileged, recordS2 }
    // With stage 2 enabled S1ContextPtr is an IPA: stage 2 gives the CD's PA (5.2, 3.3.2).
    let cdAt = ste.ste.s1ContextPtr
    if (stage2 !== undefined) {
      const t = walkStage2(this.memory, stage2, cdAt, { kind: 'read', privileged })
      if (isFault(t)) return { kind: 'cdFetchFault', fault: t, cdIpa: cdAt, recordS2 }
      cdAt = t.oa
    }
    const cdWordsRead = this.load(cdAt)
    if (cdWordsRead === undefined) return { kind: 'F_CD_FETCH', fetchAddr: cdAt }
    const cd = decodeCd(cdWordsRead, this.id)
    if ('kind' in cd) return cd
    return { kind: 'translate', s1: { context: cd.context, asid: cd.asid, record: cd.record }, s2: stage2, vmid, privileged, recordS2 }
  }

  private store(pa: number, words: readonly bigint[]): void {
    if (this.memory.write(pa, leBytes(words)) !== undefined) throw new Error(`stream table at 0x${pa.toString(16)} has no memory behind it`)
  }

  /** Eight words at `pa`, or undefined when the bus aborts the read. */
  private load(pa: number): bigint[] | undefined {
    const bytes = this.memory.read(pa, STE_BYTES)
    if (isBusAbort(bytes)) return undefined
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return Array.from({ length: STE_WORDS }, (_, i) => view.getBigUint64(i * 8, true))
  }
}

/** A CD's words for stage-1 registers and an ASID (TTB0 walks; EPD1, AA64, A set by encodeCd). */
export function cdWords(s1: { readonly regs: S1Regs; readonly asid: number }): bigint[] {
  const r = s1.regs
  return encodeCd({ t0sz: r.t0sz, tg0: tg0Encoding(r.granule), ips: addressSizeEncoding(r.oas), asid: s1.asid, ttb0: r.ttbr, had0: r.had === true })
}
