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
import type { IommuCoreBehaviour } from '../profiles'
import type { SmmuContext } from '../smmu/context'
import { hex, type SmmuInstance } from '../smmu/instance'
import type { DomainStage, RequestedStage } from '../smmu/stage'

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
  private freed = false

  constructor(
    readonly id: number,
    private readonly api: IommuCoreBehaviour,
  ) {}

  /** iommu_domain_set_attr(domain, attr, &value). */
  setAttr(attr: DomainAttr, value: number): Result<void> {
    this.requireApi('domain-attr', 'iommu_domain_set_attr')
    if (attr !== 'NESTING') return fail('ENODEV', `arm-smmu does not implement DOMAIN_ATTR_${attr}`)
    return this.setNestingRequest(value !== 0)
  }

  /** iommu_domain_get_attr(domain, attr, &value): NESTING reads stage == NESTED. */
  getAttr(attr: DomainAttr): Result<number> {
    this.requireApi('domain-attr', 'iommu_domain_get_attr')
    this.requireLive()
    if (attr !== 'NESTING') return fail('ENODEV', `arm-smmu does not implement DOMAIN_ATTR_${attr}`)
    return ok(this.stageField === 'NESTED' ? 1 : 0)
  }

  /** iommu_enable_nesting(domain) (5.13 and later). */
  enableNesting(): Result<void> {
    this.requireApi('enable-nesting', 'iommu_enable_nesting')
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
      // arm_smmu_init_domain_context fixes the stage up before it looks for a free context,
      // so even a failed first attach leaves the stage field fixed up (as in the kernel).
      this.stageField = smmu.stageFor(this.stageField)
      const allocated = smmu.allocateContext(this.stageField)
      if (!allocated.ok) return allocated
      this.boundTo = smmu
      this.ctx = allocated.value
    } else if (this.boundTo !== smmu) {
      return fail('EINVAL', `domain ${this.id} is bound to SMMU ${this.boundTo.name}, cannot attach a stream of ${smmu.name}`)
    }
    const bound = smmu.bindStream(sid, this.ctx as SmmuContext)
    if (!bound.ok) return bound
    this.streamIds.add(sid)
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
    if (this.boundTo !== undefined && this.ctx !== undefined) this.boundTo.releaseContext(this.ctx)
    this.freed = true
  }

  get isFreed(): boolean {
    return this.freed
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
