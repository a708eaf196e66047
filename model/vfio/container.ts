/**
 * The VFIO core as userspace sees it through /dev/vfio: containers, groups, SET_IOMMU, and the
 * ioctls passed through to the container's IOMMU driver (type1, the only one modelled).
 *
 * Facts: docs/facts/kernel-semantics.md#container-and-set_iommu: SET_IOMMU needs a group and may
 * happen once (EINVAL); a type no driver claims is ENODEV; a driver's open/attach failure is
 * returned and the container stays unset; ioctls for the driver before SET_IOMMU are EINVAL.
 */
import { fail, ok, type Result } from '../errno'
import type { VfioGroupSpec } from '../hw/features'
import type { SmmuInstance } from '../smmu/instance'
import type { DmaMapRequest, DmaOutcome, DmaUnmapRequest, GroupStatus, IommuInfo, VfioContainer, VfioGroup } from './backend'
import { Type1Iommu, type1Open, type Type1Env, type Type1Group } from './type1'
import { VFIO_API_VERSION } from './uapi'

export class ContainerModel implements VfioContainer {
  /** Groups in the order they were added (SET_IOMMU attaches them in this order). */
  readonly groups: GroupModel[] = []
  private driver?: Type1Iommu

  constructor(private readonly env: Type1Env) {}

  /** The container's type1 instance, once SET_IOMMU succeeded. */
  get iommu(): Type1Iommu | undefined {
    return this.driver
  }

  getApiVersion(): Result<number> {
    return ok(VFIO_API_VERSION)
  }

  checkExtension(extension: number): Result<number> {
    return ok(Type1Iommu.checkExtension(this.env, this.driver, extension))
  }

  setIommu(type: number): Result<void> {
    if (this.groups.length === 0) return fail('EINVAL', 'SET_IOMMU needs a group in the container first')
    if (this.driver !== undefined) return fail('EINVAL', 'the container already has an IOMMU driver')
    if (Type1Iommu.checkExtension(this.env, undefined, type) <= 0) return fail('ENODEV', `no IOMMU driver supports type ${type}`)
    const mode = type1Open(this.env.profile, type)
    if (!mode.ok) return mode
    const driver = new Type1Iommu(this.env, mode.value)
    for (const g of this.groups) {
      const r = driver.attachGroup(g)
      if (!r.ok) {
        driver.release()
        return r
      }
    }
    this.driver = driver
    return ok()
  }

  getInfo(argsz?: number): Result<IommuInfo> {
    return this.driver === undefined ? noDriver() : this.driver.getInfo(argsz)
  }

  /**
   * close() of the container fd (vfio_fops_release): each group in the container holds a
   * reference, so the container, its IOMMU driver and its mappings stay until the last group
   * leaves (removeGroup releases the driver then); with no group, nothing is left to release.
   */
  close(): void {
    // Nothing to do: a container without groups has no driver (the last group out took it).
  }

  /**
   * The VMM makes the buffer req.vaddr asks for, calls MAP_DMA, and munmaps the buffer again when
   * the call fails: a failed MAP leaves the process's address space and RAM as they were.
   */
  mapDma(req: DmaMapRequest): Result<void> {
    if (this.driver === undefined) return noDriver()
    const buffer = this.env.process.resolve(req.vaddr, req.size)
    const r = this.driver.map(req, buffer.vaddr)
    if (!r.ok) this.env.process.discard(buffer)
    return r
  }

  unmapDma(req: DmaUnmapRequest): Result<{ readonly unmapped: bigint }> {
    return this.driver === undefined ? noDriver() : this.driver.unmap(req)
  }

  /** VFIO_GROUP_SET_CONTAINER's container side: attach at once when the driver is set. */
  addGroup(group: GroupModel): Result<void> {
    if (this.driver !== undefined) {
      const r = this.driver.attachGroup(group)
      if (!r.ok) return r
    }
    this.groups.push(group)
    return ok()
  }

  /** The last group out takes the IOMMU driver (and every mapping) with it. */
  removeGroup(group: GroupModel): void {
    this.driver?.detachGroup(group)
    this.groups.splice(this.groups.indexOf(group), 1)
    if (this.groups.length === 0 && this.driver !== undefined) {
      this.driver.release()
      this.driver = undefined
    }
  }
}

export class GroupModel implements VfioGroup, Type1Group {
  private containerOf?: ContainerModel
  /** The group file is open (vfio_group_fops_open allows one at a time). */
  private opened = false
  /** Device files open through VFIO_GROUP_GET_DEVICE_FD (each holds the group file). */
  private devicesOpen = 0
  /** The group file was closed while a device was open: released when the last device closes. */
  private closePending = false

  constructor(
    private readonly spec: VfioGroupSpec,
    readonly smmu: SmmuInstance,
  ) {}

  get id(): number {
    return this.spec.id
  }

  get streams(): readonly number[] {
    return this.spec.streams
  }

  get reservedRegions() {
    return this.smmu.features.vfio.reservedRegions
  }

  get container(): ContainerModel | undefined {
    return this.containerOf
  }

  getStatus(): Result<GroupStatus> {
    return ok({ viable: this.spec.viable, containerSet: this.containerOf !== undefined })
  }

  setContainer(container: VfioContainer): Result<void> {
    if (!(container instanceof ContainerModel)) throw new Error('a model group needs a model container')
    if (!this.spec.viable) return fail('EPERM', `group ${this.id} is not viable: not all its devices are bound to vfio drivers`)
    if (this.containerOf !== undefined) return fail('EINVAL', `group ${this.id} is already in a container`)
    const r = container.addGroup(this)
    if (!r.ok) return r
    this.containerOf = container
    return ok()
  }

  unsetContainer(): Result<void> {
    if (this.containerOf === undefined) return fail('EINVAL', `group ${this.id} is not in a container`)
    // vfio_group_ioctl_unset_container: container_users counts the group and each open device.
    if (this.devicesOpen > 0) return fail('EBUSY', `group ${this.id} has ${this.devicesOpen} device file(s) open`)
    this.containerOf.removeGroup(this)
    this.containerOf = undefined
    return ok()
  }

  /** open("/dev/vfio/N"): one open file at a time (vfio_group_fops_open: EBUSY). */
  open(): Result<void> {
    if (this.opened) return fail('EBUSY', `group ${this.id} is open already (a group is opened once at a time)`)
    this.opened = true
    this.closePending = false
    return ok()
  }

  /**
   * VFIO_GROUP_GET_DEVICE_FD (vfio_df_group_open, and through it vfio_group_use_container): EINVAL
   * unless the group is in a container whose IOMMU driver is set.
   */
  getDevice(): Result<void> {
    if (this.containerOf === undefined) return fail('EINVAL', `group ${this.id} is in no container`)
    if (this.containerOf.iommu === undefined) return fail('EINVAL', `group ${this.id}'s container has no IOMMU driver yet (VFIO_SET_IOMMU first)`)
    this.devicesOpen++
    return ok()
  }

  closeDevice(): void {
    if (this.devicesOpen === 0) throw new Error(`group ${this.id} has no device open`)
    this.devicesOpen--
    if (this.devicesOpen === 0 && this.closePending) this.release()
  }

  /** close() of the group file; a device file still open keeps the group file until it closes. */
  close(): void {
    if (this.devicesOpen > 0) this.closePending = true
    else this.release()
  }

  /** vfio_group_fops_release: out of its container, and the group may be opened again. */
  private release(): void {
    if (this.containerOf !== undefined) {
      this.containerOf.removeGroup(this)
      this.containerOf = undefined
    }
    this.opened = false
    this.closePending = false
  }

  dma(op: 'read' | 'write', iova: bigint, size: number, data?: Uint8Array): Result<DmaOutcome> {
    const sid = this.spec.streams[0] as number
    if (iova > BigInt(Number.MAX_SAFE_INTEGER)) return ok({ kind: 'fault', detail: `iova 0x${iova.toString(16)} is beyond every input address size` })
    const r = this.smmu.dma(sid, op, Number(iova), size, data)
    if (r.kind === 'ok') return ok(r.data === undefined ? { kind: 'ok' } : { kind: 'ok', data: r.data })
    const f = r.fault
    const detail = f.kind === 'streamNotTranslated' ? `stream 0x${sid.toString(16)}: ${f.reason}` : `${f.kind} fault, stage ${f.stage}, level ${f.level}, at 0x${r.at.toString(16)}`
    return ok({ kind: 'fault', detail })
  }
}

function noDriver(): Result<never> {
  return fail('EINVAL', 'the container has no IOMMU driver yet (VFIO_SET_IOMMU first)')
}
