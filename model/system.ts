/**
 * A simulated machine under one kernel: named SMMU instances built from fixtures, and the iommu
 * core. VFIO is layered on top of this.
 */
import { fail, ok, type Result } from './errno'
import type { FeatureSet } from './hw/features'
import { IommuCore } from './iommu/core'
import type { IommuDomain } from './iommu/domain'
import { getProfile, type Profile, type ProfileName } from './profiles'
import { SmmuInstance } from './smmu/instance'
import type { RequestedStage } from './smmu/stage'

export class System {
  readonly iommu: IommuCore
  private readonly instances = new Map<string, SmmuInstance>()

  constructor(readonly profile: Profile) {
    this.iommu = new IommuCore(profile.iommu)
  }

  /** Probe an SMMU built from `features` under the name `name`. */
  addSmmu(name: string, features: FeatureSet): Result<SmmuInstance> {
    if (this.instances.has(name)) return fail('EEXIST', `an SMMU named "${name}" already exists`)
    const probed = SmmuInstance.probe(name, features, this.profile.smmu)
    if (!probed.ok) return probed
    this.instances.set(name, probed.value)
    return ok(probed.value)
  }

  smmu(name: string): SmmuInstance | undefined {
    return this.instances.get(name)
  }

  smmus(): SmmuInstance[] {
    return [...this.instances.values()]
  }

  /**
   * What a user of the iommu API does for one device: iommu_domain_alloc(), ask for nesting when
   * `requested` is NESTED (with this kernel's API), then attach the stream. The domain is returned
   * even when a step failed, so its state can be inspected.
   */
  attachNewDomain(requested: RequestedStage, smmu: SmmuInstance, sid: number): { domain: IommuDomain; result: Result<void> } {
    const domain = this.iommu.allocDomain()
    if (requested === 'NESTED') {
      const asked = domain.requestNesting()
      if (!asked.ok) return { domain, result: asked }
    }
    return { domain, result: domain.attach(smmu, sid) }
  }
}

export function createSystem(profile: ProfileName | Profile): System {
  return new System(typeof profile === 'string' ? getProfile(profile) : profile)
}
