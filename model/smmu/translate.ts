/**
 * Device DMA through an SMMU: every page the access touches is translated first (stream ->
 * context -> IOTLB or a walk that reads descriptors from memory), and only when all of them
 * translate are bytes moved, so a faulting DMA leaves memory untouched.
 */
import type { PhysMemory } from '../memory'
import { isBusAbort } from '../memory'
import type { Access, Fault, Translation, TranslationContext, WalkResult } from '../pgtable'
// The walkers from their own modules, not model/pgtable's index: TypeScript's CommonJS output
// re-exports through a getter, and a call through it cost 136 instructions per stage-1 walk on
// top of the walk's 1,049 (npm run bench:instructions).
import { walkStage1 } from '../pgtable/walk-s1'
import { walkStage2 } from '../pgtable/walk-s2'

/** A transaction the SMMU could not even start translating. */
export interface StreamFault {
  readonly kind: 'streamNotTranslated'
  readonly sid: number
  /** Why: no context for the stream, or a context with no translation programmed. */
  readonly reason: string
}

export type DmaFault = Fault | StreamFault

/** What one transaction's translation gives: the translation, or why there is none. */
export type TranslateResult = Translation | DmaFault

export function isTranslation(r: TranslateResult): r is Translation {
  return r.kind === 'ok'
}

/** One physically contiguous piece of a DMA. */
export interface DmaPiece {
  readonly iova: number
  readonly pa: number
  readonly length: number
}

export type DmaResult =
  | { readonly kind: 'ok'; readonly data?: Uint8Array; readonly pieces: readonly DmaPiece[] }
  | { readonly kind: 'fault'; readonly fault: DmaFault; readonly at: number }

/** Walk `addr` in one translation regime (no IOTLB). */
export function walk(mem: PhysMemory, regime: TranslationContext, addr: number, access: Access): WalkResult {
  return regime.stage === 1 ? walkStage1(mem, regime, addr, access) : walkStage2(mem, regime, addr, access)
}

/**
 * Perform a DMA of `length` bytes at `iova`, translating each page with `translate` (which may
 * consult a TLB); the device writes `data`, or a recognisable pattern when none is given.
 */
export function performDma(
  mem: PhysMemory,
  translate: (addr: number) => TranslateResult,
  op: 'read' | 'write',
  iova: number,
  length: number,
  data?: Uint8Array,
): DmaResult {
  const pieces: DmaPiece[] = []
  for (let offset = 0; offset < length; ) {
    const at = iova + offset
    const t = translate(at)
    if (!isTranslation(t)) return { kind: 'fault', fault: t, at }
    const leafEnd = at - (at % t.size) + t.size
    const chunk = Math.min(length - offset, leafEnd - at)
    pieces.push({ iova: at, pa: t.oa, length: chunk })
    offset += chunk
  }
  if (op === 'read') {
    const out = new Uint8Array(length)
    for (const p of pieces) {
      const bytes = mem.read(p.pa, p.length)
      if (isBusAbort(bytes)) return { kind: 'fault', fault: busFault(p.pa, p.iova), at: p.iova }
      out.set(bytes, p.iova - iova)
    }
    return { kind: 'ok', data: out, pieces }
  }
  const payload = data ?? pattern(length)
  for (const p of pieces) {
    const abort = mem.write(p.pa, payload.subarray(p.iova - iova, p.iova - iova + p.length))
    if (abort !== undefined) return { kind: 'fault', fault: busFault(p.pa, p.iova), at: p.iova }
  }
  return { kind: 'ok', pieces }
}

/** A recognisable byte pattern for writes that carry no explicit data: byte i is (7i + 0x5a) mod 256. */
export function pattern(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + 0x5a) & 0xff)
}

/**
 * The bus refused the data phase of a translated access. This is not a translation fault (no
 * event is recorded); it is reported in the Fault shape callers already read.
 */
function busFault(pa: number, iova: number): Fault {
  return { kind: 'externalAbort', stage: 1, level: 0, addr: iova, onS1TableWalk: false, fetchAddr: pa }
}
