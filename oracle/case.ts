/**
 * One oracle case: what memory holds (every non-zero 64-bit word: tables, CD, data tags, markers),
 * the STE of edu's stream, and the steps the agent performs in order (DMA, memory patches,
 * commands). The model predicts each DMA from the same bytes (predict()); QEMU reports what it did.
 *
 * Platform facts shared with the agent (oracle/agent/agent.c): guest RAM is [RAM_BASE, RAM_END)
 * (-m 4G); the agent, its stream table and queues live below AGENT_END; the script sits at
 * SCRIPT_BASE; cases use [CASE_BASE, RAM_END) only.
 */
import { createMemory, type PhysMemory } from '../model/memory'
import { SmmuV3, type V3Command, type V3Event, type V3Outcome } from '../model/smmu/v3'

export const RAM_BASE = 0x4000_0000
export const RAM_END = 0x1_4000_0000
export const SCRIPT_BASE = 0x4400_0000
export const CASE_BASE = 0x4800_0000
export const STRTAB_BASE = 0x4040_0000
export const STRTAB_LOG2 = 5
/** edu at 00:01.0: requester ID 8. */
export const EDU_SID = 8
/** What edu's buffer holds before a DMA read (agent MARKER_PAGE). */
export const MARKER = 0xeeee_eeee_eeee_eeeen
/** Word 0 of what edu writes in a DMA write (agent PATTERN_PAGE). */
export const PATTERN = 0xa5a5_0000_0000_5a5an
/** Every DMA moves one 64-bit word: inside one page, so it translates or faults as a whole. */
export const DMA_LEN = 8

export type Step =
  | { readonly op: 'dma'; readonly dir: 'read' | 'write'; readonly iova: number; readonly peek?: number }
  | { readonly op: 'patch'; readonly addr: number; readonly value: bigint }
  | { readonly op: 'cmd'; readonly cmd: V3Command }

export interface OracleCase {
  readonly id: number
  readonly name: string
  readonly ste: readonly bigint[]
  readonly memory: ReadonlyArray<readonly [number, bigint]>
  readonly steps: readonly Step[]
}

/** What one DMA did, as the model predicts it or as QEMU reported it. */
export interface DmaObservation {
  /** DMA read: the word that arrived in edu's buffer (unset when the DMA faulted, see compare). */
  readonly data?: bigint
  /** DMA write: the word at the peek address afterwards. */
  readonly peek?: bigint
  /** Event records, raw, the first few (QEMU writes one per access chunk of a faulting DMA). */
  readonly events: ReadonlyArray<readonly [bigint, bigint, bigint, bigint]>
  /** How many records the DMA produced. */
  readonly count: number
}

export interface Prediction {
  readonly outcome: V3Outcome
  readonly event?: V3Event
  readonly data?: bigint
  readonly peek?: bigint
}

/** Guest RAM as the model sees it: backed in [RAM_BASE, RAM_END), holes elsewhere (48-bit PA space). */
export function caseMemory(): PhysMemory {
  const mem = createMemory({
    oas: 48,
    holes: [
      { base: 0, size: RAM_BASE },
      { base: RAM_END, size: 2 ** 48 - RAM_END },
    ],
  })
  if (!mem.ok) throw new Error(mem.error.message)
  return mem.value
}

export function write64(mem: PhysMemory, addr: number, value: bigint): void {
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, value), true)
  if (mem.write(addr, bytes) !== undefined) throw new Error(`case writes outside RAM at 0x${addr.toString(16)}`)
}

export function read64(mem: PhysMemory, addr: number): bigint | undefined {
  const bytes = mem.read(addr, 8)
  if (!(bytes instanceof Uint8Array)) return undefined
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
}

/** The model's prediction for every DMA step of a case, in order. */
export function predict(c: OracleCase): Prediction[] {
  const mem = caseMemory()
  for (const [addr, value] of c.memory) write64(mem, addr, value)
  const smmu = new SmmuV3(mem)
  smmu.setStreamTable(STRTAB_BASE, STRTAB_LOG2)
  c.ste.forEach((w, i) => write64(mem, smmu.steAddress(EDU_SID) + 8 * i, w))
  const out: Prediction[] = []
  for (const step of c.steps) {
    if (step.op === 'patch') write64(mem, step.addr, step.value)
    else if (step.op === 'cmd') smmu.command(step.cmd)
    else out.push(predictDma(mem, smmu, step))
  }
  return out
}

function predictDma(mem: PhysMemory, smmu: SmmuV3, step: Extract<Step, { op: 'dma' }>): Prediction {
  const outcome = smmu.translate(EDU_SID, step.iova, { kind: step.dir })
  const event = smmu.drainEvents()[0]
  const pa = outcome.kind === 'translated' || outcome.kind === 'bypass' ? outcome.pa : undefined
  if (step.dir === 'read') {
    return { outcome, event, data: pa === undefined ? undefined : read64(mem, pa) }
  }
  if (pa !== undefined) write64(mem, pa, PATTERN)
  return { outcome, event, peek: step.peek === undefined ? undefined : read64(mem, step.peek) }
}
