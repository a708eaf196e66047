/**
 * A VFIO device opened through its cdev (/dev/vfio/devices/vfioX) and bound to an iommufd
 * (drivers/vfio/device_cdev.c, drivers/vfio/iommufd.c, Linux 7.1).
 *
 * - VFIO_DEVICE_BIND_IOMMUFD (vfio_df_ioctl_bind_iommufd): argsz below 16, an unknown flag
 *   (TOKEN from 6.17 is not modelled) or a negative fd: EINVAL; bound already: EINVAL; then
 *   iommufd_device_bind. out_devid is the device object's ID.
 * - Any other ioctl before a bind: EINVAL (access not granted).
 * - VFIO_DEVICE_ATTACH_IOMMUFD_PT (vfio_df_ioctl_attach_pt): argsz below 12 or a flag other than
 *   ATTACH_PASID: EINVAL (no PASID in the model: any flag is EINVAL); then
 *   vfio_iommufd_physical_attach_ioas: iommufd_device_attach, or iommufd_device_replace when
 *   attached already; pt_id is written back.
 * - VFIO_DEVICE_DETACH_IOMMUFD_PT: a flag: EINVAL; detaching a device that is not attached does
 *   nothing and succeeds.
 * - close(): vfio_iommufd_physical_unbind (detach, then iommufd_device_unbind).
 */
import { fail, ok, type Result } from '../errno'
import type { IommufdCtx, IommufdKernel } from '../iommufd/context'
import type { IommufdDevice } from '../iommufd/device-info'
import type { Idev } from '../iommufd/objects'
import type { DmaOutcome, IommufdFile, VfioDeviceFile } from './backend'
import { ModelIommufdFile } from './model-iommufd'

export class VfioDeviceCdev implements VfioDeviceFile {
  private bound?: { readonly ctx: IommufdCtx; readonly idev: Idev }
  private closed = false

  constructor(
    readonly dev: IommufdDevice,
    private readonly kernel: IommufdKernel,
  ) {}

  get group(): number {
    return this.dev.group
  }

  /** The device object, once bound (model-only introspection). */
  get idev(): Idev | undefined {
    return this.bound?.idev
  }

  bindIommufd(iommufd: IommufdFile, flags = 0): Result<number> {
    this.requireOpen()
    if (flags !== 0) return fail('EINVAL', `VFIO_DEVICE_BIND_IOMMUFD flags 0x${flags.toString(16)}`)
    if (this.bound !== undefined) return fail('EINVAL', `${this.dev.name} is bound already`)
    if (!(iommufd instanceof ModelIommufdFile)) return fail('EBADF', 'the fd is not the model\'s /dev/iommu')
    const idev = iommufd.ctx.bindDevice(this.dev)
    if (!idev.ok) return idev
    this.bound = { ctx: iommufd.ctx, idev: idev.value }
    return ok(idev.value.id)
  }

  attachPt(ptId: number, flags = 0): Result<number> {
    this.requireOpen()
    if (this.bound === undefined) return fail('EINVAL', `${this.dev.name} is not bound to an iommufd`)
    if (flags !== 0) return fail('EINVAL', `VFIO_DEVICE_ATTACH_IOMMUFD_PT flags 0x${flags.toString(16)} (no PASID in the model)`)
    return this.bound.ctx.attachDevice(this.bound.idev, ptId)
  }

  detachPt(flags = 0): Result<void> {
    this.requireOpen()
    if (this.bound === undefined) return fail('EINVAL', `${this.dev.name} is not bound to an iommufd`)
    if (flags !== 0) return fail('EINVAL', `VFIO_DEVICE_DETACH_IOMMUFD_PT flags 0x${flags.toString(16)}`)
    this.bound.ctx.detachDevice(this.bound.idev)
    return ok()
  }

  close(): Result<void> {
    this.requireOpen()
    if (this.bound !== undefined) this.bound.ctx.unbindDevice(this.bound.idev)
    this.bound = undefined
    this.closed = true
    return ok()
  }

  /**
   * The device's DMA through its SMMU stream (its first StreamID): whatever the stream's STE says
   * now (blocked until attached). The SMMU's event queue is serviced after it.
   */
  dma(op: 'read' | 'write', iova: bigint, size: number, data?: Uint8Array): Result<DmaOutcome> {
    this.requireOpen()
    const sid = this.dev.streams[0] as number
    if (iova > BigInt(Number.MAX_SAFE_INTEGER)) return ok({ kind: 'fault', detail: `iova 0x${iova.toString(16)} is beyond every input address size` })
    const r = this.dev.smmu.dma(sid, op, Number(iova), size, data)
    const events = this.kernel.serviceEvents(this.dev)
    if (r.kind === 'ok') return ok(r.data === undefined ? { kind: 'ok' } : { kind: 'ok', data: r.data })
    const f = r.fault
    const detail = f.kind === 'streamNotTranslated' ? `stream 0x${sid.toString(16)}: ${f.reason}` : `${f.kind} fault, stage ${f.stage}, level ${f.level}, at 0x${r.at.toString(16)}`
    return ok(events === 0 ? { kind: 'fault', detail: `${detail}; no event recorded`, silent: true } : { kind: 'fault', detail })
  }

  private requireOpen(): void {
    if (this.closed) throw new Error(`${this.dev.name}'s cdev is closed`)
  }
}
