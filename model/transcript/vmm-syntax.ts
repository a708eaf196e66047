/**
 * The lines a real VMM's capture adds to the transcript grammar (docs/transcript-vmm.md): the
 * explicit opens and closes of groups and the container, the device a group hands out, the
 * process's exit, and the device-level calls kept as the kernel answered them (outside the
 * model). `device N close` is docs/transcript-iommufd.md's line, for a device a group handed out
 * too.
 */

/** `group N open` (open of /dev/vfio/N), `group N close`, `group N get_device` (VFIO_GROUP_GET_DEVICE_FD). */
export type VmmGroupAction = 'open' | 'close' | 'get_device'

/** Device-level calls on a VFIO device fd, outside the model (docs/transcript-vmm.md, "Device lines"). */
export type DeviceIoAction =
  | 'info'
  | 'region_info'
  | 'irq_info'
  | 'set_irqs'
  | 'reset'
  | 'hot_reset_info'
  | 'hot_reset'
  | 'feature'
  | 'ioeventfd'
  | 'gfx_plane'
  | 'gfx_dmabuf'
  | 'ioctl'
  | 'read'
  | 'write'
  | 'mmap'

export const DEVICE_IO_ACTIONS: readonly DeviceIoAction[] = [
  'info',
  'region_info',
  'irq_info',
  'set_irqs',
  'reset',
  'hot_reset_info',
  'hot_reset',
  'feature',
  'ioeventfd',
  'gfx_plane',
  'gfx_dmabuf',
  'ioctl',
  'read',
  'write',
  'mmap',
]

export type VmmCall =
  /** close() of the container fd. */
  | { readonly op: 'close' }
  /** The process exits: the kernel closes every fd it still has (devices, groups, the container). */
  | { readonly op: 'exit' }
  /** open("/dev/iommu") and close() of it (docs/transcript-vmm.md; otherwise /dev/iommu is opened when first needed). */
  | { readonly op: 'iommufd_open' }
  | { readonly op: 'iommufd_close' }
  /** open() of device N's cdev, explicitly (otherwise the first line naming device N opens it). */
  | { readonly op: 'device_open'; readonly device: number }
  /** IOMMU_IOAS_IOVA_RANGES with room for `numIovas` ranges. */
  | { readonly op: 'ioas_iova_ranges'; readonly n: number; readonly numIovas: number }
  /** A device-level call, kept with its arguments as written (`key=value` words). */
  | { readonly op: 'device_io'; readonly device: number; readonly action: DeviceIoAction; readonly args: readonly string[] }
