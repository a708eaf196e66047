/**
 * The iommu core of one kernel: allocates domains for the bus an SMMU sits on and keeps the
 * live ones. VFIO (a layer above) drives it.
 */
import type { IommuCoreBehaviour } from '../profiles'
import { IommuDomain } from './domain'

export class IommuCore {
  private nextId = 1
  private readonly domains = new Set<IommuDomain>()

  constructor(private readonly behaviour: IommuCoreBehaviour) {}

  /** iommu_domain_alloc(): a fresh unmanaged domain requesting stage 1. */
  allocDomain(): IommuDomain {
    const domain = new IommuDomain(this.nextId++, this.behaviour)
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
