/**
 * One oracle case: what memory holds (every non-zero 64-bit word: tables, CD, data tags, markers),
 * the STE of edu's stream, and the steps the agent performs in order (DMA, memory patches,
 * commands). The model predicts each DMA from the same bytes (predict()), through the SMMUv3 the
 * features use (SmmuInstance over the qemu-smmuv3-10.0 fixture), programmed as a driver would:
 * the STE written raw into the stream table, then CMD_CFGI_STE; QEMU reports what it did.
 *
 * Platform facts shared with the agent (oracle/agent/agent.c): guest RAM is [RAM_BASE, RAM_END)
 * (-m 4G); the agent, its stream table and queues live below AGENT_END; the script sits at
 * SCRIPT_BASE; cases use [CASE_BASE, RAM_END) only.
 */
import { getProfile, loadFixture } from '../model'
import { createMemory, type PhysMemory } from '../model/memory'
import { SmmuInstance } from '../model/smmu/instance'
import type { EventRecord } from '../model/smmu/events'
import type { CfgiCommand } from '../model/smmu/v3'

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

/** The commands a case issues (IHI 0070 4.3 configuration, 4.4 and 4.5 TLB invalidation, 4.7 SYNC). */
export type Command =
  | CfgiCommand
  | { readonly op: 'TLBI_NSNH_ALL' }
  | { readonly op: 'TLBI_NH_ASID'; readonly asid: number; readonly vmid: number }
  | { readonly op: 'TLBI_NH_VA'; readonly asid: number; readonly vmid: number; readonly addr: number }
  | { readonly op: 'TLBI_S12_VMALL'; readonly vmid: number }
  | { readonly op: 'TLBI_S2_IPA'; readonly vmid: number; readonly addr: number }
  | { readonly op: 'SYNC' }

export type Step =
  | { readonly op: 'dma'; readonly dir: 'read' | 'write'; readonly iova: number; readonly peek?: number }
  | { readonly op: 'patch'; readonly addr: number; readonly value: bigint }
  | { readonly op: 'cmd'; readonly cmd: Command }

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

/** What the model says one DMA does. */
export interface Prediction {
  /** The PA the DMA reaches (translated, or bypassed); undefined when it is terminated. */
  readonly pa?: number
  /** The event record queued, if any. */
  readonly event?: EventRecord
  /** Why a terminated DMA recorded nothing, or what it recorded (the model's words). */
  readonly reason?: string
  /** A nested translation's IPA. */
  readonly ipa?: number
  readonly data?: bigint
  readonly peek?: bigint
}

/** The fixture of the SMMU under QEMU 10's `-M virt,iommu=smmuv3` (IDR0/1/5 as the agent reads them). */
export const ORACLE_FIXTURE = 'qemu-smmuv3-10.0'

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

/**
 * The SMMUv3 of a case: the features' SmmuInstance over the case's memory, its stream table at
 * the agent's (STE of stream `sid` at STRTAB_BASE + 64 * sid).
 */
export function caseSmmu(mem: PhysMemory): SmmuInstance {
  const probed = SmmuInstance.probe('smmuv3', loadFixture(ORACLE_FIXTURE), getProfile('linux-6.12').smmu, mem, STRTAB_BASE)
  if (!probed.ok) throw new Error(probed.error.message)
  return probed.value
}

/** The model's prediction for every DMA step of a case, in order. */
export function predict(c: OracleCase): Prediction[] {
  const mem = caseMemory()
  for (const [addr, value] of c.memory) write64(mem, addr, value)
  const smmu = caseSmmu(mem)
  const written = smmu.writeSte(EDU_SID, c.ste)
  if (!written.ok) throw new Error(written.error.message)
  const out: Prediction[] = []
  for (const step of c.steps) {
    if (step.op === 'patch') write64(mem, step.addr, step.value)
    else if (step.op === 'cmd') command(smmu, step.cmd)
    else out.push(predictDma(mem, smmu, step))
  }
  return out
}

/** A command as the SMMU acts on it (SYNC: every command completes at once). */
export function command(smmu: SmmuInstance, cmd: Command): void {
  switch (cmd.op) {
    case 'TLBI_NSNH_ALL':
      smmu.invalidateAll()
      return
    case 'TLBI_NH_ASID':
      smmu.invalidateAsid(cmd.asid, cmd.vmid)
      return
    case 'TLBI_NH_VA':
      smmu.invalidateVa(cmd.addr, 1, { asid: cmd.asid, vmid: cmd.vmid })
      return
    case 'TLBI_S12_VMALL':
      smmu.invalidateVmid(cmd.vmid)
      return
    case 'TLBI_S2_IPA':
      smmu.invalidateIpa(cmd.vmid, cmd.addr, 1)
      return
    case 'SYNC':
      return
    default:
      smmu.configInvalidate(cmd)
  }
}

function predictDma(mem: PhysMemory, smmu: SmmuInstance, step: Extract<Step, { op: 'dma' }>): Prediction {
  const t = smmu.translate(EDU_SID, step.iova, { kind: step.dir })
  const [event] = smmu.drainEvents()
  const pa = t.kind === 'ok' ? t.oa : undefined
  const reason = t.kind === 'ok' ? undefined : t.kind === 'streamNotTranslated' ? t.reason : `${t.kind} fault at stage ${t.stage}, level ${t.level}`
  const ipa = t.kind === 'ok' ? t.ipa : undefined
  if (step.dir === 'read') return { pa, event, reason, ipa, data: pa === undefined ? undefined : read64(mem, pa) }
  if (pa !== undefined) write64(mem, pa, PATTERN)
  return { pa, event, reason, ipa, peek: step.peek === undefined ? undefined : read64(mem, step.peek) }
}
