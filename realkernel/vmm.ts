/**
 * A real VMM as the client (`npm run real-kernel -- --vmm NAME`): Debian's arm64 QEMU runs inside
 * the arm64 guest against edu bound to vfio-pci - with the legacy container, or with its iommufd
 * backend on a kernel built with IOMMUFD - under the capture library
 * (realkernel/capture/capture.c, LD_PRELOAD), and the capture becomes a recorded transcript
 * (realkernel/capture/convert.ts) that the model replays (docs/transcript-vmm.md). After the VMM
 * has exited, the guest agent runs a short transcript of its own (AFTER_EXIT, AFTER_EXIT_IOMMUFD):
 * what the kernel released when the VMM's descriptors were closed.
 *
 * The VMM's files reach the guest in a second gzip'd cpio archive appended to the initramfs (the
 * kernel unpacks concatenated archives in turn): QEMU's library closure under /vmm (by
 * scripts/fetch-vmm-qemu.sh), the capture library, and /etc/vmm.sh, which /init runs before the
 * agent. The guest prints the VMM's output as `@@ vmm-out` lines and the capture as `@@ cap`
 * lines.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import { spawnSync } from 'node:child_process'
import { cpioArchive, type CpioEntry } from './cpio'
import { CACHE, ROOT, SetupError, runScript, type PrepareOptions } from './prepare'

/** Debian's arm64 QEMU lines a VMM run can use (scripts/fetch-vmm-qemu.sh). */
export type VmmQemuLine = '7.2' | '10' | '11'

export interface VmmRun {
  /** --vmm NAME. */
  readonly name: string
  readonly qemu: VmmQemuLine
  /**
   * legacy: /dev/vfio/vfio and the group; iommufd: -object iommufd and the device's cdev; accel:
   * QEMU 11's accelerated SMMUv3 (nested through iommufd) in front of the device, a Linux guest
   * booting behind it under KVM.
   */
  readonly backend: 'legacy' | 'iommufd' | 'accel'
  /** The outer machine (realkernel/machines.ts) the VMM runs on. */
  readonly machine: string
  /** The kernel lines it runs on without --kernel. */
  readonly kernels: readonly string[]
  /** The host device the VMM is given (edu, bound to vfio-pci by /init). */
  readonly device: string
  /** The transcript group the device's group stands for (as in the machine's `groups`). */
  readonly group: number
  /**
   * io_uring in the guest that runs the VMM, set by /etc/vmm.sh and checked by the harness (its
   * fact, and the capture's io_uring_queue_init): `off` (kernel.io_uring_disabled=2, QEMU falls
   * back to ppoll) or `on` (0, as the VMM ships: QEMU 11 watches its descriptors with io_uring,
   * util/fdmon-io_uring.c). Unset: the kernel's default, not checked.
   */
  readonly ioUring?: 'off' | 'on'
}

export const VMM_RUNS: readonly VmmRun[] = [
  { name: 'qemu7.2', qemu: '7.2', backend: 'legacy', machine: 'virt', kernels: ['7.x'], device: '0000:00:01.0', group: 1 },
  { name: 'qemu10', qemu: '10', backend: 'legacy', machine: 'virt', kernels: ['7.x'], device: '0000:00:01.0', group: 1 },
  { name: 'qemu11', qemu: '11', backend: 'legacy', machine: 'virt', kernels: ['7.x'], device: '0000:00:01.0', group: 1 },
  // The iommufd backend needs IOMMUFD and VFIO_DEVICE_CDEV, which Debian's kernels lack: the
  // kernel built from Debian's source (realkernel/kernel-build.ts), on QEMU 10's nesting SMMUv3.
  { name: 'qemu10-iommufd', qemu: '10', backend: 'iommufd', machine: 'virt10', kernels: ['7.3-iommufd'], device: '0000:00:01.0', group: 1 },
  { name: 'qemu11-iommufd', qemu: '11', backend: 'iommufd', machine: 'virt10', kernels: ['7.3-iommufd'], device: '0000:00:01.0', group: 1 },
  // The nested path: a vIOMMU needs CANWBS (virt10-acpi-el2's IORT says it), KVM inside the TCG
  // guest needs EL2 (virtualization=on) and a kernel with KVM. With io_uring off, QEMU's close of
  // the vEVENTQ's fd releases the queue and every destroy succeeds; with io_uring on (QEMU as
  // shipped), a poll outstanding on that fd keeps the file, and four destroys are EBUSY
  // (realkernel/known-differences.json KD12-KD15; docs/transcript-vmm.md, "io_uring").
  { name: 'qemu11-accel', qemu: '11', backend: 'accel', machine: 'virt10-acpi-el2', kernels: ['7.3-iommufd-kvm'], device: '0000:00:01.0', group: 1, ioUring: 'off' },
  { name: 'qemu11-accel-io-uring', qemu: '11', backend: 'accel', machine: 'virt10-acpi-el2', kernels: ['7.3-iommufd-kvm'], device: '0000:00:01.0', group: 1, ioUring: 'on' },
]

export function vmmRunByName(name: string): VmmRun | undefined {
  return VMM_RUNS.find((r) => r.name === name)
}

/**
 * The VMM's command line (after the executable): a virt machine with 64 MiB of RAM that realizes
 * the vfio-pci device and stops before running anything (-S), its monitor on stdio (the guest
 * feeds it `quit`). The RAM is two NUMA nodes of 32 MiB, each its own memory backend, so that the
 * VMM maps two regions (its memory listener sees two RAM sections: 0x40000000 and 0x42000000).
 */
export function vmmArgs(run: VmmRun): string[] {
  const ram = ['-m', '64', '-object', 'memory-backend-ram,id=m0,size=32M', '-object', 'memory-backend-ram,id=m1,size=32M', '-numa', 'node,memdev=m0', '-numa', 'node,memdev=m1']
  const base = ['-M', 'virt', '-cpu', 'max', ...ram, '-nodefaults', '-display', 'none', '-S', '-monitor', 'stdio']
  if (run.backend === 'legacy') return [...base, '-device', `vfio-pci,host=${run.device}`]
  if (run.backend === 'iommufd') return [...base, '-object', 'iommufd,id=fd0', '-device', `vfio-pci,host=${run.device},iommufd=fd0`]
  // accel: the guest runs (no -S) under KVM, boots EDK2 and Linux behind the accelerated SMMUv3,
  // changes the device's domain and unplugs it (innerInitramfs), and powers off, which ends the
  // VMM. The device sits in a PCIe root port's slot, which the guest can power off (pciehp).
  return [
    ...['-M', 'virt,gic-version=3', '-accel', 'kvm', '-cpu', 'host', '-m', '128', '-nodefaults', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot'],
    ...['-bios', `${INNER}/QEMU_EFI.fd`, '-kernel', `${INNER}/Image`, '-initrd', `${INNER}/initrd.gz`, '-append', 'console=ttyAMA0 acpi=force panic=-1'],
    ...['-object', 'iommufd,id=fd0', '-device', 'arm-smmuv3,primary-bus=pcie.0,accel=on'],
    ...['-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=1', '-device', `vfio-pci,host=${run.device},bus=rp0,iommufd=fd0`],
  ]
}

/** Where the accel run's inner guest (firmware, kernel, initramfs) lies in the outer guest. */
const INNER = '/vmm/inner'

/**
 * The accel run's inner guest. Its /init does what makes QEMU 11 free the nested objects it made
 * (hw/arm/smmuv3-accel.c; docs/transcript-vmm.md, "What frees what"):
 *  1. the device's group to `identity` and back to `DMA` (/sys/kernel/iommu_groups/N/type; no
 *     driver is bound, so iommu_group_store_type lets it): the SMMU driver rewrites the device's
 *     STE from stage 1 to bypass and back, each with CFGI_STE; QEMU attaches its bypass HWPT and
 *     frees the stage-1 vSTE HWPT (smmuv3_accel_install_ste frees the previous one), then
 *     allocates a new one;
 *  2. the device's slot powered off (pciehp, /sys/bus/pci/slots/N/power): the kernel removes the
 *     device (its release domain, blocked: an abort STE, the stage-1 HWPT freed again), then turns
 *     slot power and indicator off, and QEMU unplugs the vfio-pci device
 *     (pcie_cap_slot_write_config): smmuv3_accel_unset_iommu_device frees the vDEVICE and, the
 *     last device gone, the vEVENTQ, the abort and bypass HWPTs and the vIOMMU; VFIO's detach
 *     frees the nest parent and the IOAS and closes the device;
 *  3. power off.
 */
export function innerInitramfs(busybox: string): Buffer {
  const init = `#!/bin/sh
# The guest of the VMM's guest (realkernel/vmm.ts): its SMMU driver has probed the accelerated
# vSMMU and written the STEs by now.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "inner: Linux $(uname -r) up"
dmesg | grep -i -e smmu -e iommu -e pciehp | sed 's/^/inner: /'
dev=
for d in /sys/bus/pci/devices/*; do
  echo "inner: $d $(cat $d/vendor):$(cat $d/device) group $(basename "$(readlink $d/iommu_group)")"
  [ "$(cat $d/vendor):$(cat $d/device)" = "0x1234:0x11e8" ] && dev=$d
done
if [ -n "$dev" ]; then
  g=$dev/iommu_group
  echo "inner: edu $(basename $dev): domain $(cat $g/type)"
  echo identity > $g/type && echo "inner: domain $(cat $g/type)"
  echo DMA > $g/type && echo "inner: domain $(cat $g/type)"
  a=$(basename $dev)
  for s in /sys/bus/pci/slots/*; do
    [ "$(cat $s/address 2>/dev/null)" = "\${a%.*}" ] || continue
    echo 0 > $s/power && echo "inner: slot $(basename $s) powered off"
  done
  [ -e "$dev" ] && echo "inner: $(basename $dev) still there" || echo "inner: $(basename $dev) removed"
fi
poweroff -f
`
  const entries: CpioEntry[] = [
    ...['bin', 'proc', 'sys', 'dev'].map((p): CpioEntry => ({ kind: 'dir', path: p })),
    { kind: 'file', path: 'bin/busybox', data: fs.readFileSync(busybox), mode: 0o755 },
    ...['sh', 'mount', 'echo', 'dmesg', 'grep', 'sed', 'uname', 'basename', 'readlink', 'cat', 'poweroff'].map((a): CpioEntry => ({ kind: 'symlink', path: `bin/${a}`, target: 'busybox' })),
    { kind: 'file', path: 'init', data: init, mode: 0o755 },
  ]
  return zlib.gzipSync(cpioArchive(entries), { level: 6 })
}

/** What the accel run's inner guest needs: firmware, kernel, busybox. */
export interface InnerGuest {
  readonly firmware: string
  readonly image: string
  readonly busybox: string
}

/**
 * The recording's file name under transcripts/recorded/: `vmm-<name>[-<backend>]-<machine>-<kernel>`,
 * the backend added when the run's name does not say it (qemu7.2 -> qemu7.2-legacy; qemu11-accel
 * and qemu11-accel-io-uring as they are).
 */
export function vmmRecordingName(run: VmmRun, label: string): string {
  const named = `${run.name}-`.includes(`-${run.backend}-`)
  return `vmm-${named ? run.name : `${run.name}-${run.backend}`}-${run.machine}-${label}.vfio`
}

/**
 * What the agent runs once a VMM of the iommufd backend has exited: the device's cdev opens and
 * binds to a new iommufd (the VMM's files are gone: vfio_iommufd_physical_unbind ran at its
 * close, and iommufd_fops_release destroyed its objects), attaches to a new IOAS, maps and lets the
 * device read through it.
 */
export const AFTER_EXIT_IOMMUFD = `# After the VMM's exit (run by the guest agent, not by the VMM)
device 1 bind                                 = ok
ioas 1 alloc                                  = ok
device 1 attach pt=ioas:1                     = ok
ioas 1 map iova=0x100000 size=0x200000 rw     = ok
device 1 dma read iova=0x100000 size=0x40     = ok
device 1 detach                               = ok
`

/**
 * What the agent runs once the VMM has exited: the group opens again (the VMM's group file is
 * gone: a group is open once at a time, vfio_group_fops_open), sits in no container
 * (vfio_group_fops_release detached it), and a new container can take it, map, and let the device
 * read through it. (The IOVA is below 2^28: edu's DMA engine masks addresses to 28 bits, QEMU
 * hw/misc/edu.c dma_mask, so the VMM's guest RAM at 0x40000000 is out of its reach.)
 */
export const AFTER_EXIT = `# After the VMM's exit (run by the guest agent, not by the VMM)
group 1 status                                = viable
open                                          = ok
group 1 set_container                         = ok
set_iommu TYPE1v2_IOMMU                       = ok
map iova=0x100000 size=0x200000 rw            = ok
dma read iova=0x100000 size=0x40              = ok
unmap all                                     = ok unmapped=0x200000
group 1 unset_container                       = ok
`

// ---------------------------------------------------------------------------------------------
// Preparing

/** The closure of Debian's arm64 QEMU of one line (scripts/fetch-vmm-qemu.sh prints its directory last). */
export async function vmmQemuClosure(line: VmmQemuLine, opts: PrepareOptions): Promise<string> {
  const cache = path.join(CACHE, `vmm-qemu-${line}`)
  const closure = path.join(cache, 'closure')
  if (!opts.install) {
    if (fs.existsSync(path.join(closure, 'bin', 'qemu-system-aarch64'))) return closure
    throw new SetupError(`no arm64 QEMU ${line} in ${path.relative(ROOT, closure)} (run without --no-install, or bash realkernel/scripts/fetch-vmm-qemu.sh ${path.relative(ROOT, cache)} ${line})`)
  }
  const out = await runScript('fetch-vmm-qemu.sh', [cache, line], `fetching the arm64 QEMU ${line} for the VMM`, opts.log)
  const dir = out.trim().split('\n').pop()?.trim() ?? ''
  if (!fs.existsSync(path.join(dir, 'bin', 'qemu-system-aarch64'))) throw new SetupError(`fetch-vmm-qemu.sh printed no closure directory (last line: "${dir}")`)
  return dir
}

/** Debian's arm64 strace (bookworm) and its libraries (scripts/fetch-vmm-qemu.sh strace). */
export async function vmmStraceClosure(opts: PrepareOptions): Promise<string> {
  const cache = path.join(CACHE, 'vmm-strace')
  const closure = path.join(cache, 'closure')
  if (!opts.install) {
    if (fs.existsSync(path.join(closure, 'bin', 'strace'))) return closure
    throw new SetupError(`no arm64 strace in ${path.relative(ROOT, closure)} (run without --no-install, or bash realkernel/scripts/fetch-vmm-qemu.sh ${path.relative(ROOT, cache)} strace)`)
  }
  const out = await runScript('fetch-vmm-qemu.sh', [cache, 'strace'], 'fetching the arm64 strace for the VMM', opts.log)
  const dir = out.trim().split('\n').pop()?.trim() ?? ''
  if (!fs.existsSync(path.join(dir, 'bin', 'strace'))) throw new SetupError(`fetch-vmm-qemu.sh strace printed no closure directory (last line: "${dir}")`)
  return dir
}

/** Compiles the capture library for arm64 (realkernel/capture/capture.c, a shared object). */
export function buildCaptureLibrary(): string {
  const out = path.join(CACHE, 'build', 'capture-arm64.so')
  fs.mkdirSync(path.dirname(out), { recursive: true })
  const src = path.join(ROOT, 'realkernel', 'capture', 'capture.c')
  const r = spawnSync('aarch64-linux-gnu-gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-o', out, src, '-ldl'], { encoding: 'utf8', timeout: 120_000 })
  if (r.error !== undefined) throw new SetupError(`compiling the capture library: ${r.error.message}`)
  if (r.status !== 0) throw new SetupError(`compiling the capture library: aarch64-linux-gnu-gcc exited with ${r.status}:\n${`${r.stdout}${r.stderr}`.trim().split('\n').slice(-8).join('\n')}`)
  return out
}

/** A word for sh, single-quoted when it needs quoting. */
function shellWord(w: string): string {
  return /^[A-Za-z0-9_./:=,+@-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`
}

/** Where the strace closure lies in the guest (scripts/fetch-vmm-qemu.sh strace). */
const STRACE = '/vmm/strace'

/**
 * /etc/vmm.sh: run the VMM under the capture library - and under strace, when the archive has it
 * (realkernel/vmm-strace.ts: both count the same run's ioctls) - feed its monitor `quit`, print
 * what it said, the capture, and strace's VFIO and iommufd ioctl lines (`ioctl(FD, 0x3bNN, ...`).
 */
export function vmmScript(run: VmmRun): string {
  const args = vmmArgs(run).map(shellWord).join(' ')
  // The accel run's guest ends the VMM by powering off; the others wait at the monitor for `quit`.
  const input = run.backend === 'accel' ? 'true' : 'echo quit'
  const vmm = `/vmm/lib/ld-linux-aarch64.so.1 --library-path /vmm/lib /vmm/bin/qemu-system-aarch64 ${args}`
  // QEMU 11 watches a descriptor with io_uring when the kernel lets it (util/fdmon-io_uring.c): an
  // IORING_OP_POLL_ADD holds the file until the main loop submits its POLL_REMOVE. So the
  // vEVENTQ's file outlives QEMU's close(), and the IOMMU_DESTROY that follows is EBUSY
  // (iommufd_eventq_fops_release has not run). The run says which it wants: off (QEMU falls back
  // to ppoll, its close releases the queue) or on, as QEMU ships (docs/transcript-vmm.md,
  // "io_uring"); the harness checks the fact.
  const ioUring =
    run.ioUring === undefined ? '' : `echo ${run.ioUring === 'off' ? 2 : 0} > /proc/sys/kernel/io_uring_disabled\necho "@@ fact io_uring_disabled $(cat /proc/sys/kernel/io_uring_disabled)"\n`
  return `#!/bin/sh
# smmu-nesting-tck VMM run ${run.name}: written by realkernel/vmm.ts
echo "@@ vmm start ${run.name}"
# QEMU opens a VFIO cdev as /dev/char/MAJ:MIN, as udev would have linked it.
mkdir -p /dev/char
for c in /dev/vfio/devices/*; do
  [ -e "$c" ] || continue
  ln -sf "$c" "/dev/char/$(cat /sys/class/vfio-dev/\${c##*/}/dev)"
  echo "@@ fact cdev \${c##*/} $(basename "$(readlink /sys/class/vfio-dev/\${c##*/}/device)")"
done
${ioUring}if [ -x ${STRACE}/bin/strace ]; then
  # strace gives the capture library to the VMM only (-E), not to itself.
  ${input} | ${STRACE}/lib/ld-linux-aarch64.so.1 --library-path ${STRACE}/lib ${STRACE}/bin/strace -f -q -e trace=ioctl -e raw=ioctl -o /tmp/strace.log \\
    -E SMMU_TCK_CAPTURE=/tmp/capture.log -E LD_PRELOAD=/vmm/capture.so \\
    ${vmm} > /tmp/vmm.out 2>&1
else
  ${input} | SMMU_TCK_CAPTURE=/tmp/capture.log LD_PRELOAD=/vmm/capture.so \\
    ${vmm} > /tmp/vmm.out 2>&1
fi
echo "@@ vmm exit $?"
sed 's/^/@@ vmm-out /' /tmp/vmm.out
sed 's/^/@@ cap /' /tmp/capture.log
if [ -f /tmp/strace.log ]; then
  echo "@@ strace ioctls $(grep -c 'ioctl(' /tmp/strace.log)"
  grep -E 'ioctl\\([^,]*, 0x3b[0-9a-f]{2}[,)]' /tmp/strace.log | sed 's/^/@@ st /'
fi
echo "@@ vmm end"
`
}

/** A closure's files (bin/<exe>, lib/*) under `dir` in the guest. */
function closureEntries(closure: string, dir: string, exe: string): CpioEntry[] {
  return [
    { kind: 'file', path: `${dir}/bin/${exe}`, data: fs.readFileSync(path.join(closure, 'bin', exe)), mode: 0o755 },
    ...fs
      .readdirSync(path.join(closure, 'lib'))
      .sort()
      .map((f): CpioEntry => ({ kind: 'file', path: `${dir}/lib/${f}`, data: fs.readFileSync(path.join(closure, 'lib', f)), mode: 0o755 })),
  ]
}

/**
 * The second archive: the QEMU closure under /vmm, the capture library, /etc/vmm.sh, and strace's
 * closure under /vmm/strace when given.
 */
export function vmmArchive(run: VmmRun, closure: string, capture: string, inner?: InnerGuest, strace?: string): Buffer {
  const entries: CpioEntry[] = [
    ...['vmm', 'vmm/bin', 'vmm/lib', 'etc'].map((p): CpioEntry => ({ kind: 'dir', path: p })),
    ...(strace === undefined ? [] : [...['vmm/strace', 'vmm/strace/bin', 'vmm/strace/lib'].map((p): CpioEntry => ({ kind: 'dir', path: p })), ...closureEntries(strace, 'vmm/strace', 'strace')]),
    ...(inner === undefined
      ? []
      : [
          { kind: 'dir', path: 'vmm/inner' } as CpioEntry,
          { kind: 'file', path: 'vmm/inner/QEMU_EFI.fd', data: fs.readFileSync(inner.firmware) } as CpioEntry,
          { kind: 'file', path: 'vmm/inner/Image', data: fs.readFileSync(inner.image) } as CpioEntry,
          { kind: 'file', path: 'vmm/inner/initrd.gz', data: innerInitramfs(inner.busybox) } as CpioEntry,
        ]),
    ...closureEntries(closure, 'vmm', 'qemu-system-aarch64'),
    { kind: 'file', path: 'vmm/capture.so', data: fs.readFileSync(capture), mode: 0o755 },
    { kind: 'file', path: 'etc/vmm.sh', data: vmmScript(run), mode: 0o755 },
  ]
  return zlib.gzipSync(cpioArchive(entries), { level: 6 })
}

/** The package the closure came from ("qemu-system-arm 1:7.2+dfsg-7+deb12u18+b3", "strace 6.1-0.1"). */
export function closurePackage(closure: string, pkg = 'qemu-system-arm'): string {
  const file = path.join(closure, '.packages')
  const line = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${pkg} `)) : undefined
  return line ?? `${pkg} (unknown version)`
}

// ---------------------------------------------------------------------------------------------
// Reading the guest's console

export interface VmmOutput {
  /** The capture log, as the library wrote it. */
  readonly capture: string
  /** What the VMM printed (its monitor, its errors). */
  readonly vmmOut: readonly string[]
  /** The VMM's exit status; undefined when the guest did not say. */
  readonly exitStatus?: number
  /** strace's VFIO and iommufd ioctl lines, when the VMM ran under strace. */
  readonly strace?: string
  /** Every ioctl strace saw (KVM's included). */
  readonly straceIoctls?: number
}

export function parseVmmOutput(console: string): VmmOutput {
  const capture: string[] = []
  const vmmOut: string[] = []
  let exitStatus: number | undefined
  const strace: string[] = []
  let straceIoctls: number | undefined
  for (const raw of console.split(/\r?\n/)) {
    const st = /@@ st (.*)$/.exec(raw)
    if (st !== null) {
      strace.push(st[1] as string)
      continue
    }
    const all = /@@ strace ioctls (\d+)/.exec(raw)
    if (all !== null) {
      straceIoctls = Number(all[1])
      continue
    }
    const cap = /@@ cap (.*)$/.exec(raw)
    if (cap !== null) {
      capture.push(cap[1] as string)
      continue
    }
    const out = /@@ vmm-out ?(.*)$/.exec(raw)
    if (out !== null) {
      vmmOut.push(out[1] as string)
      continue
    }
    const exit = /@@ vmm exit (\d+)/.exec(raw)
    if (exit !== null) exitStatus = Number(exit[1])
  }
  return {
    capture: capture.length === 0 ? '' : `${capture.join('\n')}\n`,
    vmmOut,
    ...(exitStatus === undefined ? {} : { exitStatus }),
    ...(straceIoctls === undefined ? {} : { strace: strace.length === 0 ? '' : `${strace.join('\n')}\n`, straceIoctls }),
  }
}
