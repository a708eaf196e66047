/**
 * The configuration an SMMUv3 driver keeps in memory for its streams, as bytes: a linear stream
 * table (one 64-byte STE per StreamID) and, beside each STE, the stream's 64-byte CD. The driver
 * side (SmmuInstance) writes a stream's STE/CD whenever the stream's configuration changes, and
 * the SMMU side reads them back on a translation's configuration lookup: config.ts decodes them
 * with the architecture's ILLEGAL rules. Decoded configurations are cached per StreamID until the
 * stream's STE is rewritten (what CMD_CFGI_STE after an STE update does).
 *
 * Layout, from `base`: stream `sid` has its STE at base + sid * 128 and its CD at + 64.
 *
 * A nested stream whose guest names its CD's IPA (StreamConfig.s1.cdIpa) has the guest's CD
 * instead: the guest wrote it in its own memory, S1ContextPtr holds the IPA, and each lookup
 * fetches the CD through stage 2 (IHI 0070 3.3.2: with both stages, S1ContextPtr is an IPA). A
 * stage-2 fault on that fetch is not a configuration: it is the transaction's fault, CLASS = CD
 * (7.3.13), and it is not cached. Without cdIpa the CD stays the host's copy at a PA.
 */
import type { PhysMemory } from '../../memory'
import { isFault, walkStage2, type Fault, type S1Context, type S1Regs, type S2Context, type S2Regs } from '../../pgtable'
import { decodeCd, decodeSte, type BadConfig, type SmmuV3Id } from './config'
import { leBytes } from './fields'
import { addressSizeEncoding, encodeCd, encodeSte, PRIVCFG, STE_CONFIG, STE_WORDS, steFields, tg0Encoding } from './structures'

const SLOT_BYTES = 128
const CD_OFFSET = 64

/** What the driver programs for a stream. */
export interface StreamConfig {
  /** cdIpa: the guest's CD at that IPA, already written there (nested streams only). */
  readonly s1?: { readonly regs: S1Regs; readonly asid: number; readonly cdIpa?: number }
  readonly s2?: { readonly regs: S2Regs; readonly vmid: number }
}

/** What the SMMU reads back: the stages' contexts, or abort (no STE programmed). */
export type DecodedStream =
  | { readonly kind: 'abort' }
  | BadConfig
  /** Stage 2 failed on the guest CD's IPA (reported as the transaction's fault, CLASS = CD). */
  | { readonly kind: 'cdFetchFault'; readonly fault: Fault; readonly cdIpa: number }
  | {
      readonly kind: 'translate'
      readonly s1?: { readonly context: S1Context; readonly asid: number; readonly regs: S1Regs }
      readonly s2?: { readonly context: S2Context; readonly vmid: number }
    }

/** The configuration-cache invalidations (IHI 0070 4.3), as a driver issues them. */
export type CfgiCommand =
  | { readonly op: 'CFGI_STE'; readonly sid: number }
  | { readonly op: 'CFGI_CD'; readonly sid: number; readonly ssid: number }
  | { readonly op: 'CFGI_CD_ALL'; readonly sid: number }
  | { readonly op: 'CFGI_ALL' }

export class StreamTableMemory {
  /** What the SMMU cached of each stream's STE, and of the CD it located (4.3: CDs are cached per StreamID). */
  private readonly cache = new Map<number, DecodedStream>()
  /** Streams whose S1ContextPtr is the guest CD's IPA. */
  private readonly guestCds = new Set<number>()

  constructor(
    private readonly memory: PhysMemory,
    readonly base: number,
    private readonly id: SmmuV3Id,
  ) {}

  steAddress(sid: number): number {
    return this.base + sid * SLOT_BYTES
  }

  cdAddress(sid: number): number {
    return this.steAddress(sid) + CD_OFFSET
  }

  /** Write the stream's STE (and CD): abort when `cfg` is undefined; then CMD_CFGI_STE. */
  write(sid: number, cfg: StreamConfig | undefined): void {
    if (cfg?.s1?.cdIpa !== undefined && cfg.s2 !== undefined) this.guestCds.add(sid)
    else this.guestCds.delete(sid)
    const ste = cfg === undefined ? encodeSte({ config: STE_CONFIG.ABORT }) : this.encode(sid, cfg)
    this.store(this.steAddress(sid), ste)
    this.invalidate({ op: 'CFGI_STE', sid })
  }

  /** The driver writes stream `sid`'s STE as the given eight words, then CMD_CFGI_STE. */
  writeSte(sid: number, words: readonly bigint[]): void {
    if (words.length !== STE_WORDS) throw new Error(`an STE is ${STE_WORDS} words, not ${words.length}`)
    // With both stages (Config nested) S1ContextPtr is an IPA, fetched through stage 2 (IHI 0070 3.3.2).
    if (steFields(words).config === STE_CONFIG.NESTED) this.guestCds.add(sid)
    else this.guestCds.delete(sid)
    this.store(this.steAddress(sid), words)
    this.invalidate({ op: 'CFGI_STE', sid })
  }

  /** Stream `sid`'s STE words as memory holds them. */
  readSte(sid: number): bigint[] {
    return this.load(this.steAddress(sid))
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
    if (decoded.kind !== 'cdFetchFault') this.cache.set(sid, decoded)
    return decoded
  }

  private encode(sid: number, cfg: StreamConfig): bigint[] {
    const { s1, s2 } = cfg
    const guestCd = s1?.cdIpa !== undefined && s2 !== undefined ? s1.cdIpa : undefined
    if (s1 !== undefined && guestCd === undefined) this.store(this.cdAddress(sid), cdWords(s1))
    const config = s1 !== undefined && s2 !== undefined ? STE_CONFIG.NESTED : s1 !== undefined ? STE_CONFIG.S1_TRANS : STE_CONFIG.S2_TRANS
    const s2Fields =
      s2 === undefined
        ? {}
        : {
            s2Vmid: s2.vmid,
            s2T0sz: s2.regs.t0sz,
            s2Sl0: s2.regs.sl0,
            s2Tg: tg0Encoding(s2.regs.granule),
            s2Ps: addressSizeEncoding(s2.regs.oas),
            s2Ttb: s2.regs.vttbr,
          }
    const s1ContextPtr = s1 === undefined ? 0 : (guestCd ?? this.cdAddress(sid))
    return encodeSte({ config, s1ContextPtr, privCfg: PRIVCFG.INCOMING, ...s2Fields })
  }

  private decode(sid: number): DecodedStream {
    const ste = decodeSte(this.load(this.steAddress(sid)), this.id)
    if (ste.kind === 'abort' || ste.kind === 'bypass') return { kind: 'abort' }
    if (ste.kind !== 'translate') return ste
    const s2 = ste.stage2 === undefined ? undefined : { context: ste.stage2, vmid: ste.vmid }
    if (!ste.stage1) return { kind: 'translate', s2 }
    // The host's copy of the CD is at a PA; the guest's (cdIpa given) at an IPA, fetched through stage 2.
    let cdPa = ste.ste.s1ContextPtr
    if (ste.stage2 !== undefined && this.guestCds.has(sid)) {
      const t = walkStage2(this.memory, ste.stage2, cdPa, { kind: 'read' })
      if (isFault(t)) return { kind: 'cdFetchFault', fault: t, cdIpa: cdPa }
      cdPa = t.oa
    }
    const cd = decodeCd(this.load(cdPa), this.id)
    if ('kind' in cd) return cd
    if (cd.context === undefined) return { kind: 'C_BAD_CD', rule: 'CD.EPD0', reason: 'EPD0 = 1: no TTB0 walk' }
    return { kind: 'translate', s1: { context: cd.context, asid: cd.asid, regs: cd.context.regs }, s2 }
  }

  private store(pa: number, words: readonly bigint[]): void {
    if (this.memory.write(pa, leBytes(words)) !== undefined) throw new Error(`stream table at 0x${pa.toString(16)} has no memory behind it`)
  }

  private load(pa: number): bigint[] {
    const bytes = this.memory.read(pa, STE_WORDS * 8)
    if (!(bytes instanceof Uint8Array)) return new Array<bigint>(STE_WORDS).fill(0n)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return Array.from({ length: STE_WORDS }, (_, i) => view.getBigUint64(i * 8, true))
  }
}

/** A CD's words for stage-1 registers and an ASID (TTB0 walks; EPD1, AA64, A set by encodeCd). */
export function cdWords(s1: { readonly regs: S1Regs; readonly asid: number }): bigint[] {
  const r = s1.regs
  return encodeCd({ t0sz: r.t0sz, tg0: tg0Encoding(r.granule), ips: addressSizeEncoding(r.oas), asid: s1.asid, ttb0: r.ttbr, had0: r.had === true })
}

export { leBytes }
