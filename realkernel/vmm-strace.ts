/**
 * The capture library counted a second way: Debian's arm64 strace runs the VMM in the same run
 * (realkernel/vmm.ts vmmScript), and the VFIO and iommufd ioctls it saw are compared with the ones
 * the capture wrote down, per ioctl number. The two look from different places: the library sees
 * the calls that go through libc's `ioctl` symbol on a descriptor it follows; strace (ptrace) sees
 * every ioctl system call any thread of the process makes, on any descriptor. A call made around
 * the symbol (a raw syscall, a static libc), or on a descriptor the library did not follow (one
 * inherited, or duplicated), is in strace's count only, and fails the run.
 *
 * Both counts come from one run of the VMM: two runs of a VMM need not make the same calls (the
 * accel run's count of IRQ masks and invalidations follows its guest's timing), so a second run
 * would compare two different executions.
 *
 * strace is run as `strace -f -q -e trace=ioctl -e raw=ioctl -o FILE`: every thread (-f: QEMU
 * forwards a guest's SMMU commands from its vCPU threads), ioctls only, their arguments undecoded
 * (raw: the request as its number, `ioctl(0x10, 0x3b6b, 0xffffd0a8c3f0) = 0`), so that the
 * comparison does not depend on which uapi names this strace knows.
 */
import type { ParsedCapture } from './capture/convert'

/**
 * VFIO's and iommufd's ioctls are `_IO(';', nr)`: no direction or size bits, type ';' (0x3b);
 * VFIO's numbers are 0x64 (VFIO_BASE, 100) and up, iommufd's 0x80 and up
 * (include/uapi/linux/vfio.h, iommufd.h; Documentation/userspace-api/ioctl/ioctl-number.rst gives
 * ';' 64-7F to vfio.h and 80-FF to iommufd.h, and ';' to nothing else).
 */
export function isVfioIommufdIoctl(cmd: number): boolean {
  return cmd >= 0x3b64 && cmd <= 0x3bff
}

const vfio = (n: number): number => 0x3b64 + n
const iommufd = (n: number): number => 0x3b80 + n

/**
 * The capture library's names of the ioctls and their numbers (include/uapi/linux/vfio.h: VFIO_BASE
 * + n; iommufd.h: IOMMUFD_CMD_*). Several names share a number: a container and a device read the
 * same numbers differently (VFIO_IOMMU_GET_INFO and VFIO_DEVICE_GET_PCI_HOT_RESET_INFO are both 12).
 */
export const IOCTL_NUMBERS: Readonly<Record<string, number>> = {
  VFIO_GET_API_VERSION: vfio(0),
  VFIO_CHECK_EXTENSION: vfio(1),
  VFIO_SET_IOMMU: vfio(2),
  VFIO_GROUP_GET_STATUS: vfio(3),
  VFIO_GROUP_SET_CONTAINER: vfio(4),
  VFIO_GROUP_UNSET_CONTAINER: vfio(5),
  VFIO_GROUP_GET_DEVICE_FD: vfio(6),
  VFIO_DEVICE_GET_INFO: vfio(7),
  VFIO_DEVICE_GET_REGION_INFO: vfio(8),
  VFIO_DEVICE_GET_IRQ_INFO: vfio(9),
  VFIO_DEVICE_SET_IRQS: vfio(10),
  VFIO_DEVICE_RESET: vfio(11),
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: vfio(12),
  VFIO_IOMMU_GET_INFO: vfio(12),
  VFIO_DEVICE_PCI_HOT_RESET: vfio(13),
  VFIO_IOMMU_MAP_DMA: vfio(13),
  VFIO_DEVICE_QUERY_GFX_PLANE: vfio(14),
  VFIO_IOMMU_UNMAP_DMA: vfio(14),
  VFIO_DEVICE_GET_GFX_DMABUF: vfio(15),
  VFIO_IOMMU_ENABLE: vfio(15),
  VFIO_DEVICE_IOEVENTFD: vfio(16),
  VFIO_IOMMU_DISABLE: vfio(16),
  VFIO_DEVICE_FEATURE: vfio(17),
  VFIO_IOMMU_DIRTY_PAGES: vfio(17),
  VFIO_DEVICE_BIND_IOMMUFD: vfio(18),
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: vfio(19),
  VFIO_DEVICE_DETACH_IOMMUFD_PT: vfio(20),
  IOMMU_DESTROY: iommufd(0x00),
  IOMMU_IOAS_ALLOC: iommufd(0x01),
  IOMMU_IOAS_ALLOW_IOVAS: iommufd(0x02),
  IOMMU_IOAS_COPY: iommufd(0x03),
  IOMMU_IOAS_IOVA_RANGES: iommufd(0x04),
  IOMMU_IOAS_MAP: iommufd(0x05),
  IOMMU_IOAS_UNMAP: iommufd(0x06),
  IOMMU_OPTION: iommufd(0x07),
  IOMMU_VFIO_IOAS: iommufd(0x08),
  IOMMU_HWPT_ALLOC: iommufd(0x09),
  IOMMU_GET_HW_INFO: iommufd(0x0a),
  IOMMU_HWPT_SET_DIRTY_TRACKING: iommufd(0x0b),
  IOMMU_HWPT_GET_DIRTY_BITMAP: iommufd(0x0c),
  IOMMU_HWPT_INVALIDATE: iommufd(0x0d),
  IOMMU_FAULT_QUEUE_ALLOC: iommufd(0x0e),
  IOMMU_IOAS_MAP_FILE: iommufd(0x0f),
  IOMMU_VIOMMU_ALLOC: iommufd(0x10),
  IOMMU_VDEVICE_ALLOC: iommufd(0x11),
  IOMMU_IOAS_CHANGE_PROCESS: iommufd(0x12),
  IOMMU_VEVENTQ_ALLOC: iommufd(0x13),
  IOMMU_HW_QUEUE_ALLOC: iommufd(0x14),
}

/** Count per ioctl number. */
export type IoctlCounts = ReadonlyMap<number, number>

export interface StraceCount {
  /** VFIO and iommufd ioctls per number, each call counted once (where it started). */
  readonly counts: IoctlCounts
  /** Every ioctl strace wrote a start for (KVM's included). */
  readonly ioctls: number
  /** Lines that look like an ioctl's start but could not be read (their text). */
  readonly unreadable: readonly string[]
}

function add(m: Map<number, number>, cmd: number): void {
  m.set(cmd, (m.get(cmd) ?? 0) + 1)
}

/**
 * Reads strace's output (`-f -e raw=ioctl -o FILE`: "PID  ioctl(FD, CMD, ARG) = RET", a call
 * another thread interrupted split into "... <unfinished ...>" and "<... ioctl resumed>...").
 * Only a call's start is counted: a resumed line carries no request.
 */
export function parseStrace(text: string): StraceCount {
  const counts = new Map<number, number>()
  const unreadable: string[] = []
  let ioctls = 0
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    // "PID  ioctl(" (-o FILE) or "[pid PID] ioctl(" (stderr) at the start; the resumed half is
    // "PID  <... ioctl resumed>".
    const start = /^(?:\[pid\s+\d+\]\s*|\d+\s+)?ioctl\((.*)$/.exec(line)
    if (start === null) continue
    ioctls++
    const args = /^\s*(-?(?:0x[0-9a-f]+|\d+)),\s*(0x[0-9a-f]+|\d+)\b/i.exec(start[1] as string)
    if (args === null) {
      unreadable.push(line)
      continue
    }
    const cmd = Number(BigInt(args[2] as string))
    if (isVfioIommufdIoctl(cmd)) add(counts, cmd)
  }
  return { counts, ioctls, unreadable }
}

/**
 * The capture's VFIO and iommufd ioctls per number (every process of the capture; KVM's are not
 * VFIO's). A name the library wrote is turned into its number; a call it did not know it wrote
 * as `cmd=0x..`.
 */
export function captureIoctlCounts(capture: ParsedCapture): { counts: IoctlCounts; unknown: readonly string[] } {
  const counts = new Map<number, number>()
  const unknown: string[] = []
  for (const e of capture.events) {
    if (e.call !== 'ioctl' || e.subject?.kind.startsWith('kvm')) continue
    const cmdText = e.args.get('cmd')
    const cmd = e.name !== undefined ? IOCTL_NUMBERS[e.name] : cmdText !== undefined ? Number(BigInt(cmdText)) : undefined
    if (cmd === undefined) {
      unknown.push(`capture line ${e.line}: ${e.name ?? e.argText.join(' ')}`)
      continue
    }
    if (isVfioIommufdIoctl(cmd)) add(counts, cmd)
  }
  return { counts, unknown }
}

export interface IoctlComparison {
  readonly straceTotal: number
  readonly captureTotal: number
  /** Numbers seen by either, ascending. */
  readonly numbers: readonly number[]
  /** The numbers whose counts differ, with both counts. */
  readonly mismatches: readonly { readonly cmd: number; readonly strace: number; readonly capture: number }[]
  readonly agree: boolean
}

function total(m: IoctlCounts): number {
  let n = 0
  for (const v of m.values()) n += v
  return n
}

export function compareIoctlCounts(strace: IoctlCounts, capture: IoctlCounts): IoctlComparison {
  const numbers = [...new Set([...strace.keys(), ...capture.keys()])].sort((a, b) => a - b)
  const mismatches = numbers.flatMap((cmd) => {
    const s = strace.get(cmd) ?? 0
    const c = capture.get(cmd) ?? 0
    return s === c ? [] : [{ cmd, strace: s, capture: c }]
  })
  return { straceTotal: total(strace), captureTotal: total(capture), numbers, mismatches, agree: mismatches.length === 0 }
}

/** The number as the capture library would name it (`0x3b70 VFIO_IOMMU_GET_INFO/VFIO_DEVICE_GET_PCI_HOT_RESET_INFO`). */
export function ioctlLabel(cmd: number): string {
  const names = Object.entries(IOCTL_NUMBERS)
    .filter(([, n]) => n === cmd)
    .map(([name]) => name)
  return `0x${cmd.toString(16)}${names.length === 0 ? '' : ` ${names.join('/')}`}`
}

/** "279 VFIO/iommufd ioctls, the capture 279; ...": strace's count against the capture's, for the recording's header. */
export function describeComparison(c: IoctlComparison): string {
  const head = `${c.straceTotal} VFIO/iommufd ioctls, the capture ${c.captureTotal}`
  if (c.agree) return `${head}; the same count for each of the ${c.numbers.length} ioctl numbers`
  return `${head}; they differ for ${c.mismatches.map((m) => `${ioctlLabel(m.cmd)} (strace ${m.strace}, capture ${m.capture})`).join(', ')}`
}
