/**
 * A simulated machine under one kernel: named SMMU instances built from fixtures, and the iommu
 * core. VFIO is layered on top of this.
 */
import { fail, ok, type Result } from './errno'
import type { FeatureSet } from './hw/features'
import { IommuCore } from './iommu/core'
import { createMemory, createTableAllocator, type PhysMemory, type TableAllocator } from './memory'
import { createPgtable } from './pgtable'
import type { IommuDomain } from './iommu/domain'
import { getProfile, type Profile, type ProfileName } from './profiles'
import { DEFAULT_STRUCTURES_BASE, SmmuInstance, STRUCTURES_SPAN } from './smmu/instance'
import type { RequestedStage } from './smmu/stage'

/**
 * The machine's physical address map. Memory is sparse: only pages written to take space.
 *   RAM_BASE ..          RAM the VMM's buffers (and a guest's memory) are allocated from
 *   TABLE_POOL_BASE ..   pages for the host's IOMMU page tables
 * Both lie below 2^39 so every fixture's output address size reaches them.
 */
export const MEMORY_MAP = {
  OAS: 48,
  RAM_BASE: 0x8000_0000,
  RAM_SIZE: 0x8000_0000,
  TABLE_POOL_BASE: 0x1_0000_0000,
  TABLE_POOL_SIZE: 0x1000_0000,
} as const

export class System {
  readonly iommu: IommuCore
  readonly memory: PhysMemory
  /** Pages for IOMMU page tables. */
  readonly tablePool: TableAllocator
  /** Pages of RAM, for buffers a VMM maps for DMA. */
  readonly ram: TableAllocator
  private readonly instances = new Map<string, SmmuInstance>()

  constructor(readonly profile: Profile) {
    this.memory = expect(createMemory({ oas: MEMORY_MAP.OAS }), 'memory')
    this.tablePool = expect(createTableAllocator(this.memory, { base: MEMORY_MAP.TABLE_POOL_BASE, size: MEMORY_MAP.TABLE_POOL_SIZE }), 'table pool')
    this.ram = expect(createTableAllocator(this.memory, { base: MEMORY_MAP.RAM_BASE, size: MEMORY_MAP.RAM_SIZE }), 'RAM')
    this.iommu = new IommuCore(profile.iommu, { create: (cfg) => createPgtable(this.memory, this.tablePool, cfg) })
  }

  /** Probe an SMMU built from `features` under the name `name`. */
  addSmmu(name: string, features: FeatureSet): Result<SmmuInstance> {
    if (this.instances.has(name)) return fail('EEXIST', `an SMMU named "${name}" already exists`)
    const base = DEFAULT_STRUCTURES_BASE + this.instances.size * STRUCTURES_SPAN
    const probed = SmmuInstance.probe(name, features, this.profile.smmu, this.memory, base)
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

function expect<T>(r: Result<T>, what: string): T {
  if (!r.ok) throw new Error(`cannot set up ${what}: ${r.error.errno}: ${r.error.message}`)
  return r.value
}
