/**
 * The iommu core of one kernel: allocates domains for the bus an SMMU sits on and keeps the
 * live ones. VFIO (a layer above) drives it.
 */
import type { Result } from '../errno'
import { driverFamily, type DriverFamily, type IommuCoreBehaviour } from '../profiles'
import type { SmmuInstance } from '../smmu/instance'
import type { DomainStage } from '../smmu/stage'
import { IommuDomain, type PageTableFactory } from './domain'

export class IommuCore {
  private nextId = 1
  private readonly domains = new Set<IommuDomain>()

  constructor(
    private readonly behaviour: IommuCoreBehaviour,
    private readonly tables: PageTableFactory,
  ) {}

  /** iommu_domain_alloc(bus): a fresh unmanaged domain of the bus's driver, requesting stage 1. */
  allocDomain(family: DriverFamily = 'arm-smmu'): IommuDomain {
    const domain = new IommuDomain(this.nextId++, this.behaviour, this.tables, family)
    this.domains.add(domain)
    return domain
  }

  /**
   * iommu_paging_domain_alloc(dev) for a device behind `smmu`: a domain of that SMMU's driver,
   * finalised against it already when the driver does so at allocation (DriverFacts.finalise).
   */
  allocDomainFor(smmu: SmmuInstance): Result<IommuDomain> {
    return this.allocBound(smmu, undefined, (domain) => domain.finaliseAtAlloc())
  }

  /**
   * A driver's domain_alloc_paging_flags(dev) as iommufd calls it (drivers/iommu/iommufd/
   * hw_pagetable.c iommufd_hwpt_paging_alloc): a domain of that SMMU's driver, of `stage` (S1, or
   * S2 for a nest parent), bound to the SMMU at once.
   */
  allocDeviceDomain(smmu: SmmuInstance, stage: DomainStage): Result<IommuDomain> {
    return this.allocBound(smmu, stage, (domain) => domain.finaliseForDevice())
  }

  private allocBound(
    smmu: SmmuInstance,
    stage: DomainStage | undefined,
    finalise: (domain: IommuDomain) => Result<void>,
  ): Result<IommuDomain> {
    const domain = new IommuDomain(this.nextId++, this.behaviour, this.tables, driverFamily(smmu.features.arch), smmu, stage)
    const finalised = finalise(domain)
    if (!finalised.ok) {
      domain.free()
      return finalised
    }
    this.domains.add(domain)
    return { ok: true, value: domain }
  }

  /** iommu_domain_free(). */
  freeDomain(domain: IommuDomain): void {
    domain.free()
    this.domains.delete(domain)
  }

  liveDomains(): IommuDomain[] {
    return [...this.domains]
  }
}
