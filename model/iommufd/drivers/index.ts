/**
 * The iommufd side of each IOMMU driver of one kernel, by the kernel's driver name (a table, as
 * the iommu layer's DriverFacts are): what runs is chosen by the device's IOMMU, never by a test
 * of a driver's or a kernel's name.
 */
import type { IommuCore } from '../../iommu/core'
import type { IommuDriver, Profile } from '../../profiles'
import type { IommufdDriver } from '../driver'
import { ArmSmmuV3Iommufd } from './arm-smmu-v3'
import { ArmSmmuIommufd, IntelIommuIommufd } from './others'

export interface IommufdDrivers {
  readonly byName: Readonly<Record<IommuDriver, IommufdDriver>>
  /** arm-smmu-v3's, for its event queue and the host's event log. */
  readonly armSmmuV3: ArmSmmuV3Iommufd
}

export function createIommufdDrivers(profile: Profile, core: IommuCore): IommufdDrivers {
  const drivers = profile.iommu.drivers
  const armSmmuV3 = new ArmSmmuV3Iommufd(drivers['arm-smmu-v3'].iommufd, core)
  return {
    byName: {
      'arm-smmu': new ArmSmmuIommufd(core),
      'arm-smmu-v3': armSmmuV3,
      'intel-iommu': new IntelIommuIommufd(drivers['intel-iommu'].iommufd, core),
    },
    armSmmuV3,
  }
}

export { ArmSmmuV3Iommufd, probeArmSmmuV3, validateVste, type ArmSmmuV3Probe, type HostEvent } from './arm-smmu-v3'
