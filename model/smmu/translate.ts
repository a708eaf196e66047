/**
 * Device DMA through an SMMU: stream -> context -> the context's translation regime -> a walk
 * that reads descriptors from memory -> bytes moved in memory, or a fault and memory untouched.
 */
import type { PhysMemory } from '../memory'
import { isBusAbort } from '../memory'
import { isFault, walkStage1, walkStage2, type Access, type Fault, type TranslationContext, type WalkResult } from '../pgtable'

/** A transaction the SMMU could not even start translating. */
export interface StreamFault {
  readonly kind: 'streamNotTranslated'
  readonly sid: number
  /** Why: no context for the stream, or a context with no translation programmed. */
  readonly reason: string
}

export type DmaFault = Fault | StreamFault

export type DmaResult = { readonly kind: 'ok'; readonly data?: Uint8Array } | { readonly kind: 'fault'; readonly fault: DmaFault; readonly at: number }

/** Walk `addr` in one translation regime. */
export function walk(mem: PhysMemory, regime: TranslationContext, addr: number, access: Access): WalkResult {
  return regime.stage === 1 ? walkStage1(mem, regime, addr, access) : walkStage2(mem, regime, addr, access)
}

/**
 * Perform a DMA of `length` bytes at `iova`: every page the access touches is translated first;
 * only when all of them translate are bytes moved, so a faulting DMA leaves memory untouched.
 */
export function performDma(mem: PhysMemory, regime: TranslationContext, op: 'read' | 'write', iova: number, length: number, data?: Uint8Array): DmaResult {
  const access: Access = { kind: op }
  const pieces: { pa: number; offset: number; length: number }[] = []
  for (let offset = 0; offset < length; ) {
    const at = iova + offset
    const t = walk(mem, regime, at, access)
    if (isFault(t)) return { kind: 'fault', fault: t, at }
    const leafEnd = at - (at % t.size) + t.size
    const chunk = Math.min(length - offset, leafEnd - at)
    pieces.push({ pa: t.oa, offset, length: chunk })
    offset += chunk
  }
  if (op === 'read') {
    const out = new Uint8Array(length)
    for (const p of pieces) {
      const bytes = mem.read(p.pa, p.length)
      if (isBusAbort(bytes)) return { kind: 'fault', fault: busFault(p.pa, iova + p.offset), at: iova + p.offset }
      out.set(bytes, p.offset)
    }
    return { kind: 'ok', data: out }
  }
  const payload = data ?? pattern(length)
  for (const p of pieces) {
    const abort = mem.write(p.pa, payload.subarray(p.offset, p.offset + p.length))
    if (abort !== undefined) return { kind: 'fault', fault: busFault(p.pa, iova + p.offset), at: iova + p.offset }
  }
  return { kind: 'ok' }
}

/** A recognisable byte pattern for writes that carry no explicit data. */
export function pattern(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + 0x5a) & 0xff)
}

function busFault(pa: number, iova: number): Fault {
  return { kind: 'externalAbort', stage: 1, level: 0, addr: iova, onS1TableWalk: false, fetchAddr: pa }
}
