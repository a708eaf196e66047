/**
 * The iommu core of one kernel: allocates domains for the bus an SMMU sits on and keeps the
 * live ones. VFIO (a layer above) drives it.
 */
import type { DriverFamily, IommuCoreBehaviour } from '../profiles'
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

  /** iommu_domain_free(). */
  freeDomain(domain: IommuDomain): void {
    domain.free()
    this.domains.delete(domain)
  }

  liveDomains(): IommuDomain[] {
    return [...this.domains]
  }
}
