/**
 * What the VFIO-level features and the transcript replay talk to: /dev/vfio seen as ioctl-like
 * calls returning a value or an errno. The model implements it (./model-backend.ts); a real
 * kernel in a guest can implement it too, and the same features run unchanged.
 *
 * Integers that are __u64 in the uapi are bigint here.
 */
import type { Result } from '../errno'
import type { HwInfoOut, HwInfoRequest, HwptAllocRequest, InvalidateOutcome, InvalidateRequest, IovaRangesOutcome, VeventqAllocRequest, ViommuAllocRequest } from '../iommufd/context'

/** Where MAP_DMA's vaddr points, said abstractly so that any backend can produce it. */
export type VaddrSpec =
  /** A fresh, page-aligned anonymous buffer of the mapping's size (the normal case). */
  | { readonly kind: 'buffer' }
  /** One byte into such a buffer: not aligned to the IOMMU page size. */
  | { readonly kind: 'misaligned' }
  /** An address with nothing mapped in the process: pinning fails. */
  | { readonly kind: 'unmapped' }
  /**
   * An mmap of a device's MMIO (a VFIO device region, VM_IO | VM_PFNMAP, no struct page): what a
   * VMM maps for peer-to-peer DMA to a BAR. type1 maps its PFNs (vaddr_get_pfns follows them);
   * iommufd pins user pages and refuses it (EFAULT) - docs/transcript-vmm.md.
   */
  | { readonly kind: 'pfnmap' }

export interface DmaMapRequest {
  readonly iova: bigint
  readonly size: bigint
  /** VFIO_DMA_MAP_FLAG_* as passed to the ioctl, unknown bits included. */
  readonly flags: number
  readonly vaddr: VaddrSpec
}

export interface DmaUnmapRequest {
  readonly iova: bigint
  readonly size: bigint
  /** VFIO_DMA_UNMAP_FLAG_*. */
  readonly flags: number
}

export interface IovaRange {
  readonly start: bigint
  /** Inclusive. */
  readonly end: bigint
}

/** VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION. */
export interface MigrationCap {
  readonly flags: number
  /** The smallest page size dirty pages are tracked at. */
  readonly pgsizeBitmap: bigint
  readonly maxDirtyBitmapSize: bigint
}

/** VFIO_IOMMU_GET_INFO, with the capability chain decoded. */
export interface IommuInfo {
  readonly flags: number
  readonly iovaPgsizes: bigint
  /** VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, when the kernel reports it. */
  readonly dmaAvail?: number
  /** VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, when the kernel reports it. */
  readonly iovaRanges?: readonly IovaRange[]
  /** VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, when the kernel reports it. */
  readonly migration?: MigrationCap
  /**
   * The capability chain as it was laid out (names in chain order: iova_range, migration,
   * dma_avail), whether or not it was copied.
   */
  readonly caps?: readonly string[]
  /**
   * For a call that gave its argsz (getInfo(argsz)): the argsz the kernel wrote back (the size the
   * whole chain needs when it did not fit), and whether the chain was copied (it fitted). The
   * capabilities above are what the kernel has; a caller sees them only when `capsCopied`.
   */
  readonly argsz?: number
  readonly capsCopied?: boolean
}

export interface GroupStatus {
  readonly viable: boolean
  readonly containerSet: boolean
}

/** What a device saw when it performed DMA through the IOMMU. */
export type DmaOutcome =
  | { readonly kind: 'ok'; readonly data?: Uint8Array }
  /**
   * The IOMMU refused the access; `detail` says why where the backend can tell. `silent`: it
   * recorded no event (an STE that aborts, a fault whose record is disabled), so neither the
   * device nor the kernel sees anything (docs/transcript-iommufd.md 3.6).
   */
  | { readonly kind: 'fault'; readonly detail?: string; readonly silent?: true }

export interface VfioContainer {
  getApiVersion(): Result<number>
  checkExtension(extension: number): Result<number>
  setIommu(type: number): Result<void>
  /**
   * VFIO_IOMMU_GET_INFO. With `argsz`, as a caller whose buffer holds that many bytes: EINVAL below
   * the struct's first 16 bytes; the chain is copied only when it fits (IommuInfo.argsz, capsCopied).
   */
  getInfo(argsz?: number): Result<IommuInfo>
  /** close() of the container fd: the container lives on while a group holds it. */
  close(): void
  mapDma(req: DmaMapRequest): Result<void>
  /** Success carries the size the kernel wrote back. */
  unmapDma(req: DmaUnmapRequest): Result<{ readonly unmapped: bigint }>
}

export interface VfioGroup {
  readonly id: number
  getStatus(): Result<GroupStatus>
  setContainer(container: VfioContainer): Result<void>
  unsetContainer(): Result<void>
  /**
   * VFIO_GROUP_GET_DEVICE_FD for the group's device: needs the group in a container whose IOMMU
   * is set (vfio_df_group_open: EINVAL otherwise). The device stays open until closeDevice().
   */
  getDevice(): Result<void>
  /** close() of a device fd the group gave. */
  closeDevice(): void
  /**
   * close() of the group fd: the group leaves its container (vfio_group_fops_release) once no
   * device of it is open any more (a device file holds the group file), and may be opened again.
   */
  close(): void
  /**
   * The group's (first) device performs DMA at `iova` through the IOMMU: a read of `size` bytes,
   * or a write of `data` (or of `size` bytes of a test pattern).
   */
  dma(op: 'read' | 'write', iova: bigint, size: number, data?: Uint8Array): Result<DmaOutcome>
}

export interface VfioBackend {
  readonly name: string
  /** open("/dev/vfio/vfio"). */
  openContainer(): Result<VfioContainer>
  /** open("/dev/vfio/N"); EBUSY while the group is open already (vfio_group_fops_open). */
  openGroup(id: number): Result<VfioGroup>
  /** open("/dev/iommu"); undefined: this backend has no iommufd at all. */
  openIommufd?(): Result<IommufdFile>
  /** open() of the cdev of group N's (first) device, /dev/vfio/devices/vfioX. */
  openDevice?(group: number): Result<VfioDeviceFile>
  /** The uapi value of an extension name in this backend's kernel (undefined: no such name). */
  extension(name: string): number | undefined
}

// ---- iommufd and the VFIO device cdev ---------------------------------------------------------
// /dev/iommu and /dev/vfio/devices/vfioX as userspace sees them: ioctls taking and returning
// numbers and bytes, kernel object IDs included (the transcript replay names objects by its own
// numbers and keeps their IDs).

export type { HwInfoOut, HwInfoRequest, HwptAllocRequest, InvalidateOutcome, InvalidateRequest, IovaRangesOutcome, VeventqAllocRequest, ViommuAllocRequest } from '../iommufd/context'

export interface IoasMapUserRequest {
  readonly ioasId: number
  readonly flags: number
  readonly iova: bigint
  readonly length: bigint
  /** Where user_va points: the VMM makes the buffer (and gives it back if the call fails). */
  readonly vaddr: VaddrSpec
}

/** A vEVENTQ's file descriptor. */
export interface VeventqFile {
  /** Its object ID (out_veventq_id). */
  readonly id: number
  /** read(fd, buf, count): the bytes read (empty: nothing queued). */
  read(count: number): Result<Uint8Array>
  /** poll(POLLIN): something is queued. */
  readable(): boolean
  /** close(fd): the fd's reference on the queue goes (a read afterwards: EBADF). */
  close(): Result<void>
}

export interface IommufdFile {
  destroy(id: number): Result<void>
  ioasAlloc(): Result<number>
  ioasMap(req: IoasMapUserRequest): Result<void>
  /** Success carries the length written back (bytes unmapped). */
  ioasUnmap(ioasId: number, iova: bigint, length: bigint): Result<bigint>
  /** IOMMU_IOAS_CHANGE_PROCESS (docs/transcript-vmm.md). */
  ioasChangeProcess(): Result<void>
  /** IOMMU_IOAS_IOVA_RANGES with room for `maxIovas` ranges (docs/transcript-vmm.md). */
  ioasIovaRanges(ioasId: number, maxIovas: number): IovaRangesOutcome
  hwptAlloc(req: HwptAllocRequest): Result<number>
  viommuAlloc(req: ViommuAllocRequest): Result<number>
  vdeviceAlloc(viommuId: number, devId: number, virtId: bigint): Result<number>
  hwptInvalidate(req: InvalidateRequest): InvalidateOutcome
  getHwInfo(req: HwInfoRequest): Result<HwInfoOut>
  veventqAlloc(req: VeventqAllocRequest): Result<VeventqFile>
  /**
   * The VMM's CPU writes or reads its guest's memory: the buffer mapped at IOAS address `ipa`
   * (IOMMU_IOAS_MAP's user_va). false / undefined: no mapping of that IOAS holds the whole range.
   */
  guestWrite(ioasId: number, ipa: bigint, bytes: Uint8Array): boolean
  guestRead(ioasId: number, ipa: bigint, length: number): Uint8Array | undefined
}

/** An open VFIO device cdev (/dev/vfio/devices/vfioX). */
export interface VfioDeviceFile {
  readonly group: number
  /** VFIO_DEVICE_BIND_IOMMUFD: out_devid. */
  bindIommufd(iommufd: IommufdFile, flags?: number): Result<number>
  /** VFIO_DEVICE_ATTACH_IOMMUFD_PT: pt_id as written back (an IOAS's automatic HWPT). */
  attachPt(ptId: number, flags?: number): Result<number>
  /** VFIO_DEVICE_DETACH_IOMMUFD_PT. */
  detachPt(flags?: number): Result<void>
  /** close(): the device is unbound (detached first). */
  close(): Result<void>
  /** The device does DMA at `iova` through whatever its IOMMU is attached to. */
  dma(op: 'read' | 'write', iova: bigint, size: number, data?: Uint8Array): Result<DmaOutcome>
}
