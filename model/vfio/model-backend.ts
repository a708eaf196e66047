/**
 * The model as a VfioBackend: a System built from fixtures under one behaviour profile, its
 * groups taken from each fixture's `vfio.groups`.
 */
import { fail, ok, type Result } from '../errno'
import type { FeatureSet } from '../hw/features'
import { IommufdKernel } from '../iommufd/context'
import type { IommufdDevice } from '../iommufd/device-info'
import { driverFamily, getProfile, iommuDriver, type Profile, type ProfileName } from '../profiles'
import { System } from '../system'
import type { IommufdFile, VfioBackend, VfioContainer, VfioDeviceFile, VfioGroup } from './backend'
import { VfioDeviceCdev } from './cdev'
import { ContainerModel, GroupModel } from './container'
import { ModelIommufdFile } from './model-iommufd'
import { ProcessMemory } from './process'
import type { Type1Env } from './type1'
import { extensionValue } from './uapi'

export interface ModelBackendOptions {
  readonly profile: ProfileName | Profile
  /** One SMMU (or VT-d unit) per fixture, named after the fixture. */
  readonly fixtures: readonly FeatureSet[]
}

export class ModelBackend implements VfioBackend {
  readonly name = 'model'
  readonly system: System
  readonly env: Type1Env
  /** The kernel's iommufd (its drivers' iommufd sides); opened by openIommufd. */
  readonly iommufd: IommufdKernel
  private readonly groups = new Map<number, GroupModel>()
  /** Each group's (first) device, as iommufd sees it. */
  private readonly devices = new Map<number, IommufdDevice>()
  /** Which fixture each group comes from, and fixtures whose groups this kernel hides: for messages. */
  private readonly groupSources = new Map<number, string>()
  private readonly hiddenGroups: string[] = []

  constructor(opts: ModelBackendOptions) {
    const profile = typeof opts.profile === 'string' ? getProfile(opts.profile) : opts.profile
    this.system = new System(profile)
    const limits = opts.fixtures.flatMap((f) => (f.vfio.dmaEntryLimit === undefined ? [] : [f.vfio.dmaEntryLimit]))
    this.iommufd = new IommufdKernel(profile, this.system.iommu)
    this.env = {
      profile,
      iommu: this.system.iommu,
      process: new ProcessMemory(this.system.ram, this.system.memory),
      ...(limits.length > 0 ? { dmaEntryLimit: Math.min(...limits) } : {}),
      nestingProbe: () => this.nestingProbe(),
    }
    opts.fixtures.forEach((hw, i) => {
      const twice = opts.fixtures.filter((f) => f.name === hw.name).length > 1
      const smmu = this.system.addSmmu(twice ? `${hw.name}#${i}` : hw.name, hw)
      // A kernel without a driver for this IOMMU exposes none of its groups (ENOENT on open).
      if (!smmu.ok && smmu.error.errno === 'ENODEV') {
        if (hw.vfio.groups.length > 0) this.hiddenGroups.push(`${hw.name}'s ${hw.vfio.groups.map((g) => g.id).join(', ')} (this kernel has no driver for ${hw.arch})`)
        return
      }
      if (!smmu.ok) throw new Error(`SMMU from ${hw.name}: ${smmu.error.errno}: ${smmu.error.message}`)
      for (const spec of hw.vfio.groups) {
        if (this.groups.has(spec.id)) throw new Error(`group ${spec.id} is defined by two fixtures`)
        this.groups.set(spec.id, new GroupModel(spec, smmu.value))
        this.groupSources.set(spec.id, hw.name)
        this.devices.set(spec.id, {
          name: `group ${spec.id}'s device${spec.device === undefined ? '' : ` (${spec.device})`}`,
          group: spec.id,
          smmu: smmu.value,
          streams: spec.streams,
          reservedRegions: hw.vfio.reservedRegions,
          canwbs: hw.firmware.iortCanwbs,
          driver: iommuDriver(hw.arch),
        })
      }
    })
  }

  openContainer(): Result<VfioContainer> {
    return ok(new ContainerModel(this.env))
  }

  openGroup(id: number): Result<VfioGroup> {
    const g = this.groups.get(id)
    if (g === undefined) return fail('ENOENT', `/dev/vfio/${id} does not exist: ${this.describeGroups()}`)
    const opened = g.open()
    return opened.ok ? ok(g) : opened
  }

  /** `the machine's groups: 1 (qemu-smmuv3-7.2), 2 (mmu-500)`, for a group that is not there. */
  private describeGroups(): string {
    const groups = [...this.groupSources].sort(([a], [b]) => a - b).map(([id, fixture]) => `${id} (${fixture})`)
    const have = groups.length === 0 ? "the machine's fixtures define no VFIO groups (a fixture's vfio: groups: section adds them)" : `the machine's groups: ${groups.join(', ')}`
    return this.hiddenGroups.length === 0 ? have : `${have}; not exposed: ${this.hiddenGroups.join('; ')}`
  }

  /** open("/dev/iommu"): ENOENT on a kernel without iommufd. */
  openIommufd(): Result<IommufdFile> {
    const ctx = this.iommufd.open(this.env.process)
    return ctx.ok ? ok(new ModelIommufdFile(ctx.value, this.env.process)) : ctx
  }

  /** open() of group N's device cdev: ENOENT without the cdev (a kernel without iommufd) or without the group. */
  openDevice(group: number): Result<VfioDeviceFile> {
    if (this.env.profile.iommufd === undefined) return fail('ENOENT', '/dev/vfio/devices does not exist: this kernel has no VFIO device cdev')
    const dev = this.devices.get(group)
    if (dev === undefined) return fail('ENOENT', `no device cdev for group ${group}: ${this.describeGroups()}`)
    return ok(new VfioDeviceCdev(dev, this.iommufd))
  }

  extension(name: string): number | undefined {
    return extensionValue(this.env.profile.vfio.uapi, name)
  }

  /** The review's probe: does any IOMMU driver of the machine accept nesting on a fresh domain? */
  private nestingProbe(): boolean {
    const families = new Set(this.system.smmus().map((s) => driverFamily(s.features.arch)))
    return [...families].some((family) => {
      const domain = this.system.iommu.allocDomain(family)
      const accepted = domain.requestNesting().ok
      this.system.iommu.freeDomain(domain)
      return accepted
    })
  }
}

export function createModelBackend(opts: ModelBackendOptions): ModelBackend {
  return new ModelBackend(opts)
}
