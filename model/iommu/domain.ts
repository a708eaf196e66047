/**
 * An iommu domain as the arm-smmu drivers see it: a requested stage until the first attach binds
 * it to an SMMU instance and a context; the nesting request can only change before that.
 *
 * The kernel API to ask for nesting depends on the profile (`profile.iommu.nestingApi`):
 * - 'domain-attr'    iommu_domain_set_attr / iommu_domain_get_attr (DOMAIN_ATTR_NESTING)
 * - 'enable-nesting' iommu_enable_nesting (no getter; DOMAIN_ATTR_* were removed in 5.13)
 * Calling an API the profile's kernel does not have is a bug in the scenario, so it throws.
 */
import { fail, ok, type Result } from '../errno'
import type { PgtableConfig, IoPgtable, IommuProt } from '../pgtable'
import { driverFamily, iommuDriver, type DriverFacts, type DriverFamily, type IommuCoreBehaviour, type IommuDriver, type IoPgtableBehaviour } from '../profiles'
import type { SmmuContext } from '../smmu/context'
import { hex, type SmmuInstance } from '../smmu/instance'
import type { DomainStage, RequestedStage } from '../smmu/stage'

/** Where a domain's page tables come from (the machine's memory and table pool). */
export interface PageTableFactory {
  create(cfg: PgtableConfig): Result<IoPgtable>
}

/** Linux VA_BITS on a 48-bit arm64 kernel: the stage-1 input size arm-smmu(-v3) domains use. */
export const STAGE1_IAS = 48

/** enum iommu_attr members a driver is asked about (3.18 include/linux/iommu.h). */
export const DOMAIN_ATTRS = ['NESTING', 'WINDOWS', 'FSL_PAMU_STASH', 'FSL_PAMU_ENABLE', 'FSL_PAMUV1'] as const
export type DomainAttr = (typeof DOMAIN_ATTRS)[number]

export function isDomainAttr(s: string): s is DomainAttr {
  return (DOMAIN_ATTRS as readonly string[]).includes(s)
}

export class IommuDomain {
  /** arm_smmu_domain->stage: the request before attach, the fixed-up stage after. */
  private stageField: DomainStage = 'S1'
  private boundTo?: SmmuInstance
  private ctx?: SmmuContext
  private readonly streamIds = new Set<number>()
  private pgtable?: IoPgtable
  private freed = false

  constructor(
    readonly id: number,
    private readonly api: IommuCoreBehaviour,
    private readonly tables: PageTableFactory,
    /** The driver of the bus the domain was allocated for (iommu_domain_alloc(bus)). */
    readonly family: DriverFamily = 'arm-smmu',
    /** The SMMU of the device the domain was allocated for (iommu_paging_domain_alloc(dev)), if any. */
    private readonly allocatedFor?: SmmuInstance,
    /** The stage the driver gives the domain before binding it (arm-smmu-v3's nest parent: S2). */
    initialStage: DomainStage = 'S1',
  ) {
    this.stageField = initialStage
  }

  /**
   * The kernel driver behind the domain: the SMMU's once bound, else the device's it was allocated
   * for, else the bus family's (arm-smmu stands for both arm-smmu drivers until an SMMU is known).
   */
  get driverName(): IommuDriver {
    const smmu = this.boundTo ?? this.allocatedFor
    if (smmu !== undefined) return iommuDriver(smmu.features.arch)
    return this.family === 'intel-iommu' ? 'intel-iommu' : 'arm-smmu'
  }

  /** What that driver implements in this kernel (profile data). */
  get driver(): DriverFacts {
    return this.api.drivers[this.driverName]
  }

  /**
   * domain_alloc_paging(dev) of a driver that finalises there (DriverFacts.finalise
   * 'alloc-with-device'): the domain is bound to the device's SMMU before anyone can ask it to nest.
   * Called by IommuCore.allocDomainFor; a failure frees nothing (the caller drops the domain).
   */
  finaliseAtAlloc(): Result<void> {
    const smmu = this.allocatedFor
    if (smmu === undefined || this.driver.finalise !== 'alloc-with-device') return ok()
    return this.bind(smmu)
  }

  /**
   * domain_alloc_paging_flags(dev) (iommufd's allocation): every driver returns a domain already
   * bound to the device's IOMMU, with its page table.
   */
  finaliseForDevice(): Result<void> {
    const smmu = this.allocatedFor
    if (smmu === undefined) throw new Error(`domain ${this.id} was not allocated for a device`)
    return this.bind(smmu)
  }

  /** iommu_domain_set_attr(domain, attr, &value). */
  setAttr(attr: DomainAttr, value: number): Result<void> {
    this.requireApi('domain-attr', 'iommu_domain_set_attr')
    const noOp = this.withoutAttrOps()
    if (noOp !== undefined) return noOp
    if (attr !== 'NESTING') return fail('ENODEV', `arm-smmu does not implement DOMAIN_ATTR_${attr}`)
    return this.setNestingRequest(value !== 0)
  }

  /** iommu_domain_get_attr(domain, attr, &value): NESTING reads stage == NESTED. */
  getAttr(attr: DomainAttr): Result<number> {
    this.requireApi('domain-attr', 'iommu_domain_get_attr')
    this.requireLive()
    const noOp = this.withoutAttrOps()
    if (noOp !== undefined) return noOp
    if (attr !== 'NESTING') return fail('ENODEV', `arm-smmu does not implement DOMAIN_ATTR_${attr}`)
    return ok(this.stageField === 'NESTED' ? 1 : 0)
  }

  /** iommu_enable_nesting(domain) (5.13 and later): the core returns EINVAL without the op. */
  enableNesting(): Result<void> {
    this.requireApi('enable-nesting', 'iommu_enable_nesting')
    if (!this.driver.enableNestingOp) return fail('EINVAL', `${this.driverName} has no enable_nesting op`)
    return this.setNestingRequest(true)
  }

  /**
   * Ask for nesting the way this kernel's VFIO type1 does: set_attr(NESTING, 1) where the
   * attribute exists, iommu_enable_nesting() where it replaced it.
   */
  requestNesting(): Result<void> {
    return this.api.nestingApi === 'domain-attr' ? this.setAttr('NESTING', 1) : this.enableNesting()
  }

  /** The domain's stage: what was requested before attach, what the driver fixed it to after. */
  get stage(): DomainStage {
    return this.stageField
  }

  /** The SMMU context the domain is bound to, once attached. */
  get context(): SmmuContext | undefined {
    return this.ctx
  }

  get smmu(): SmmuInstance | undefined {
    return this.boundTo
  }

  get streams(): ReadonlySet<number> {
    return this.streamIds
  }

  /** arm_smmu_attach_dev for the device with stream `sid` behind `smmu`. */
  attach(smmu: SmmuInstance, sid: number): Result<void> {
    this.requireLive()
    if (smmu.streamContext(sid) !== undefined) return fail('EEXIST', `stream ${hex(sid)} is already attached to a domain`)
    if (!smmu.hasStream(sid)) return fail('ENXIO', `no SMMU for stream ${hex(sid)} (${smmu.name} has ${smmu.features.streamIdBits} stream ID bits)`)
    if (this.boundTo === undefined) {
      const bound = this.bind(smmu)
      if (!bound.ok) return bound
    } else if (this.boundTo !== smmu) {
      return fail('EINVAL', `domain ${this.id} is bound to SMMU ${this.boundTo.name}, cannot attach a stream of ${smmu.name}`)
    }
    const bound = smmu.bindStream(sid, this.ctx as SmmuContext)
    if (!bound.ok) return bound
    this.streamIds.add(sid)
    return ok()
  }

  /**
   * Bind the domain to `smmu` (arm_smmu_init_domain_context / arm_smmu_domain_finalise): fix the
   * stage up, take a context, allocate the page table. The stage fix-up happens before the context
   * is looked for, so even a failed bind leaves the stage field fixed up (as in the kernel).
   */
  private bind(smmu: SmmuInstance): Result<void> {
    this.stageField = smmu.stageFor(this.stageField)
    if (driverFamily(smmu.features.arch) !== this.family) {
      return fail('EINVAL', `domain ${this.id} was allocated for ${this.family}, ${smmu.name} is ${smmu.features.arch}`)
    }
    const allocated = smmu.allocateContext(this.stageField)
    if (!allocated.ok) return allocated
    const table = this.tables.create(pgtableConfigFor(smmu, allocated.value, this.api.ioPgtable))
    if (!table.ok) {
      smmu.releaseContext(allocated.value)
      return table
    }
    smmu.programContext(allocated.value, table.value.context)
    this.boundTo = smmu
    this.ctx = allocated.value
    this.pgtable = table.value
    return ok()
  }

  /** arm_smmu_detach_dev: the stream stops using the context; the domain keeps its context. */
  detach(sid: number): Result<void> {
    this.requireLive()
    if (!this.streamIds.has(sid) || this.boundTo === undefined) {
      return fail('ENODEV', `stream ${hex(sid)} is not attached to domain ${this.id}`)
    }
    this.boundTo.unbindStream(sid)
    this.streamIds.delete(sid)
    return ok()
  }

  /** iommu_domain_free: streams still attached are detached, the context is released. */
  free(): void {
    this.requireLive()
    for (const sid of [...this.streamIds]) this.detach(sid)
    if (this.boundTo !== undefined && this.ctx !== undefined) {
      // free_io_pgtable_ops -> tlb_flush_all: nothing cached from this context may outlive it.
      this.boundTo.flushContext(this.ctx)
      this.boundTo.releaseContext(this.ctx)
    }
    this.pgtable?.destroy()
    this.freed = true
  }

  /** The domain's page table, once attached (io-pgtable is allocated with the context). */
  get pageTable(): IoPgtable | undefined {
    return this.pgtable
  }

  /**
   * pgsize_bitmap: the driver's fixed bitmap (3.x) or the page-table format's leaf sizes.
   * Undefined until the domain is bound (the format is chosen at attach).
   */
  get pgsizeBitmap(): bigint | undefined {
    const fixed = this.driver.pgsizeBitmap
    if (fixed !== 'io-pgtable') return fixed
    return this.pgtable?.pgsizes.reduce((bits, size) => bits | BigInt(size), 0n)
  }

  /** domain->geometry aperture: [0, 2^ias - 1] of the domain's page table. */
  get aperture(): { start: bigint; end: bigint } | undefined {
    if (this.pgtable === undefined) return undefined
    return { start: 0n, end: (1n << BigInt(this.pgtable.geometry.ias)) - 1n }
  }

  /**
   * iommu_map: split [iova, iova + size) into the largest page sizes the bitmap and the alignment
   * allow (iommu_pgsize), write them; on any failure unmap what was mapped and return the error.
   */
  map(iova: bigint, pa: number, size: bigint, requested: IommuProt): Result<void> {
    this.requireLive()
    const prot = this.driver.writeImpliesRead && requested.write ? { ...requested, read: true } : requested
    const table = this.pgtable
    const bitmap = this.pgsizeBitmap
    if (table === undefined || bitmap === undefined) return fail('ENODEV', `domain ${this.id} is not attached: no page table yet`)
    const sizes = table.pgsizes.filter((s) => (bitmap & BigInt(s)) !== 0n)
    const min = sizes[0]
    if (min === undefined) return fail('EINVAL', 'no page size common to the driver and the page-table format')
    const start = Number(iova)
    const length = Number(size)
    if (!Number.isSafeInteger(start + length) || start % min !== 0 || pa % min !== 0 || length % min !== 0) {
      return fail('EINVAL', `map of ${hex(length)} bytes at ${hex(start)} -> ${hex(pa)} is not aligned to ${hex(min)}`)
    }
    for (let done = 0; done < length; ) {
      const at = start + done
      const leaf = largestFitting(sizes, at, pa + done, length - done)
      const r = table.map(at, pa + done, leaf, prot)
      if (!r.ok) {
        if (done > 0) table.unmapRange(start, done)
        return r
      }
      done += leaf
    }
    return ok()
  }

  /** iommu_unmap: bytes unmapped, stopping at the first hole. */
  unmap(iova: bigint, size: bigint): Result<bigint> {
    this.requireLive()
    if (this.pgtable === undefined) return fail('ENODEV', `domain ${this.id} is not attached: no page table yet`)
    const r = this.pgtable.unmapRange(Number(iova), Number(size))
    if (!r.ok) return r
    // arm_smmu_tlb_inv_range: what was unmapped may no longer translate from the IOTLB either.
    if (r.value > 0 && this.boundTo !== undefined && this.ctx !== undefined) this.boundTo.flushRange(this.ctx, Number(iova), r.value)
    return ok(BigInt(r.value))
  }

  /** iommu_iova_to_phys. */
  iovaToPhys(iova: bigint): number | undefined {
    return iova > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : this.pgtable?.iovaToPhys(Number(iova))
  }

  get isFreed(): boolean {
    return this.freed
  }

  /** 3.x iommu core: a driver without domain_set_attr/get_attr ops gets EINVAL from the core. */
  private withoutAttrOps(): Result<never> | undefined {
    return this.driver.attrOps ? undefined : fail('EINVAL', `${this.driverName} has no domain_set_attr/domain_get_attr ops`)
  }

  private setNestingRequest(nested: boolean): Result<void> {
    this.requireLive()
    if (this.boundTo !== undefined) {
      return fail('EPERM', `domain ${this.id} is already bound to SMMU ${this.boundTo.name}; its stage is fixed`)
    }
    const requested: RequestedStage = nested ? 'NESTED' : 'S1'
    this.stageField = requested
    return ok()
  }

  private requireApi(api: IommuCoreBehaviour['nestingApi'], fn: string): void {
    if (this.api.nestingApi !== api) {
      throw new Error(`${fn}() does not exist in this kernel (its nesting API is ${this.api.nestingApi})`)
    }
  }

  private requireLive(): void {
    if (this.freed) throw new Error(`domain ${this.id} used after iommu_domain_free()`)
  }
}

/**
 * The page-table format a context needs: stage 1 takes 48-bit IOVAs to the SMMU's IPA size;
 * stage 2 (S2 and NESTED contexts) takes IPAs to PAs. 4K granule (a 4K-page host kernel).
 * VT-d second-level tables are modelled with the stage-2 LPAE format over the guest address width.
 */
export function pgtableConfigFor(smmu: SmmuInstance, ctx: SmmuContext, io: IoPgtableBehaviour): PgtableConfig {
  const hw = smmu.features
  const rules = { partialUnmap: io.partialUnmap, noAccessMap: io.noAccessMap, s2Concatenation: io.s2Concatenation }
  if (ctx.translation === 'stage 1') return { stage: 1, granule: 4096, ias: STAGE1_IAS, oas: hw.ias, ...rules }
  return { stage: 2, granule: 4096, ias: hw.ias, oas: hw.oas, ...rules }
}

function largestFitting(sizes: readonly number[], iova: number, pa: number, remaining: number): number {
  for (let i = sizes.length - 1; i >= 0; i--) {
    const s = sizes[i] as number
    if (s <= remaining && iova % s === 0 && pa % s === 0) return s
  }
  return sizes[0] as number
}
