/**
 * One SMMU instance, built from a hardware feature set and driven by a kernel's arm-smmu driver
 * behaviour. It knows its stages, its contexts and which stream uses which context; it knows
 * nothing of iommu domains or VFIO.
 */
import { fail, ok, type Result } from '../errno'
import type { FeatureSet } from '../hw/features'
import type { PhysMemory } from '../memory'
import type { TranslationContext } from '../pgtable'
import type { SmmuDriverBehaviour } from '../profiles'
import { ContextBankAllocator, DomainIdAllocator, firstBankFor, StreamTableAllocator, type SmmuContext } from './context'
import { selectStage, type DomainStage } from './stage'
import { performDma, type DmaResult } from './translate'

export interface BankRange {
  readonly first: number
  readonly last: number
}

export class SmmuInstance {
  private readonly banks?: ContextBankAllocator
  private readonly streamTable?: StreamTableAllocator
  private readonly domainIds?: DomainIdAllocator
  /** Stream ID -> the context its S2CR/STE points at. */
  private readonly streams = new Map<number, SmmuContext>()
  /** Context -> the translation regime programmed into it (TTBR/VTTBR, TCR/VTCR). */
  private readonly regimes = new Map<SmmuContext, TranslationContext>()

  private constructor(
    readonly name: string,
    readonly features: FeatureSet,
    private readonly driver: SmmuDriverBehaviour,
    private readonly memory: PhysMemory,
  ) {
    if (features.arch === 'smmuv3') this.streamTable = new StreamTableAllocator(features)
    else if (features.arch === 'intel-vtd') this.domainIds = new DomainIdAllocator()
    else this.banks = new ContextBankAllocator(features, driver.contextIds)
  }

  /** Probe: fails with ENODEV when this kernel has no driver for the architecture. */
  static probe(name: string, features: FeatureSet, driver: SmmuDriverBehaviour, memory: PhysMemory): Result<SmmuInstance> {
    if (!driver.drives.includes(features.arch)) {
      return fail('ENODEV', `this kernel has no driver for ${features.arch} (fixture ${features.name})`)
    }
    return ok(new SmmuInstance(name, features, driver, memory))
  }

  /** The stage a domain whose stage field is `current` gets on this instance. */
  stageFor(current: DomainStage): DomainStage {
    if (this.domainIds !== undefined) return 'S2' // VT-d: second-level translation, whatever was asked
    return selectStage(current, this.features.translation, this.driver)
  }

  /** The banks a domain of `stage` may take (SMMUv1/v2 only). */
  bankRange(stage: DomainStage): BankRange | undefined {
    if (this.banks === undefined) return undefined
    return { first: firstBankFor(stage, this.features), last: this.features.contextBanks - 1 }
  }

  /** Take a bank (or an ASID/VMID) for a domain of an already fixed-up `stage`. */
  allocateContext(stage: DomainStage): Result<SmmuContext> {
    if (this.banks !== undefined) return this.banks.allocate(stage)
    if (this.streamTable !== undefined) return this.streamTable.allocate(stage)
    if (this.domainIds !== undefined) return this.domainIds.allocate()
    throw new Error('SMMU instance without a context allocator')
  }

  releaseContext(ctx: SmmuContext): void {
    for (const [sid, c] of this.streams) {
      if (c === ctx) throw new Error(`context released while stream ${hex(sid)} still uses it`)
    }
    this.regimes.delete(ctx)
    if (ctx.kind === 'context-bank') this.banks?.release(ctx.bank)
    else if (ctx.kind === 'stream-table') this.streamTable?.release(ctx)
    else this.domainIds?.release(ctx)
  }

  /** Whether a stream ID exists behind this SMMU. */
  hasStream(sid: number): boolean {
    return Number.isInteger(sid) && sid >= 0 && sid < 2 ** this.features.streamIdBits
  }

  bindStream(sid: number, ctx: SmmuContext): Result<void> {
    if (!this.hasStream(sid)) return fail('ENXIO', `stream ${hex(sid)} is not behind SMMU ${this.name}`)
    if (this.streams.has(sid)) return fail('EEXIST', `stream ${hex(sid)} is already attached`)
    this.streams.set(sid, ctx)
    return ok()
  }

  unbindStream(sid: number): void {
    this.streams.delete(sid)
  }

  streamContext(sid: number): SmmuContext | undefined {
    return this.streams.get(sid)
  }

  /** Write a context's translation registers (what arm_smmu_write_context_bank does). */
  programContext(ctx: SmmuContext, regime: TranslationContext): void {
    this.regimes.set(ctx, regime)
  }

  /** The stream's device performs DMA: `length` bytes read, or `data` (a pattern if absent) written. */
  dma(sid: number, op: 'read' | 'write', iova: number, length: number, data?: Uint8Array): DmaResult {
    const ctx = this.streams.get(sid)
    const regime = ctx === undefined ? undefined : this.regimes.get(ctx)
    if (regime === undefined) {
      const reason = ctx === undefined ? 'no context for the stream (transactions abort)' : 'context has no translation programmed'
      return { kind: 'fault', fault: { kind: 'streamNotTranslated', sid, reason }, at: iova }
    }
    return performDma(this.memory, regime, op, iova, length, data)
  }

  /** Context banks currently allocated (SMMUv1/v2). */
  banksInUse(): number[] {
    return this.banks?.inUse() ?? []
  }
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`
}
