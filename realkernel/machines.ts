/**
 * The guests `npm run real-kernel` boots: every kernel (Debian's 6.1, 6.12 and newest 7.x) on
 * every machine (QEMU 7.2's `virt` and `q35`, QEMU 10's `virt` and `virt-9.1` with a stage-2-only
 * SMMUv3), each machine as its fixture's comment describes it, and the transcripts each one runs.
 * A guest is a Debian kernel with a busybox initramfs holding the VFIO modules and the agent;
 * QEMU's edu device at 00:01.0 is bound to vfio-pci.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

export type GuestArch = 'arm64' | 'amd64'

/**
 * Which QEMU: the system's (7.2 on bookworm), QEMU 10 unpacked by scripts/fetch-qemu10.sh, or
 * QEMU 11 (trixie-backports) on its own trixie libraries, by realkernel/scripts/fetch-qemu11.sh.
 */
export type QemuLine = '7.2' | '10' | '11'

export interface RunTranscript {
  /** Repository-relative path of the transcript whose calls are run. */
  readonly source: string
  /** File name of its recording under transcripts/recorded/. */
  readonly recording: string
}

/** A kernel line: which Debian package, which behaviour profile its recordings replay with. */
export interface KernelLine {
  /** --kernel 6.1|6.12|7.x|7.3-iommufd, and realkernel/scripts/fetch-guest-packages.sh's name for it. */
  readonly name: string
  /** The behaviour profile of the model the recordings replay against. */
  readonly profile: string
  /** Where Debian has it. */
  readonly suite: string
  /**
   * Built here from Debian's source by realkernel/kernel-build.ts (its KERNEL_BUILDS name), with
   * every option built in; undefined: Debian's packaged kernel and modules.
   */
  readonly build?: string
  /** The architectures it exists for (a built kernel: the one it is built for). */
  readonly arches: readonly GuestArch[]
  /**
   * Which transcripts it runs: the VFIO container (type1) ones, the iommufd ones, or (a kernel
   * given as an image) both, the iommufd ones only when the guest has /dev/iommu.
   */
  readonly transcripts: 'type1' | 'iommufd' | 'any'
  /** The machines it boots on when no --machine is given. */
  readonly machines: readonly string[]
  /** Part of a run without --kernel (a built kernel is not: it takes minutes to build). */
  readonly byDefault: boolean
}

const DEBIAN_MACHINES = ['virt', 'q35', 'virt10', 'virt10-9.1-s2', 'virt11-2smmu', 'virt11-2smmu-s2']
const IOMMUFD_MACHINES = ['virt10', 'virt10-acpi', 'virt10-9.1', 'virt11-2smmu', 'virt11-2smmu-nested']

export const KERNELS: readonly KernelLine[] = [
  { name: '6.1', profile: 'linux-6.1', suite: 'bookworm', arches: ['arm64', 'amd64'], transcripts: 'type1', machines: DEBIAN_MACHINES, byDefault: true },
  { name: '6.12', profile: 'linux-6.12', suite: 'bookworm-backports', arches: ['arm64', 'amd64'], transcripts: 'type1', machines: DEBIAN_MACHINES, byDefault: true },
  { name: '7.x', profile: 'linux-7.3', suite: 'trixie-backports', arches: ['arm64', 'amd64'], transcripts: 'type1', machines: DEBIAN_MACHINES, byDefault: true },
  {
    // Debian's kernels are built without CONFIG_IOMMUFD: this one is built from Debian's
    // linux-source-7.3 with realkernel/kernel/iommufd.config (realkernel/kernel-build.ts).
    name: '7.3-iommufd',
    profile: 'linux-7.3',
    suite: 'trixie-backports (linux-source-7.3, built here)',
    build: '7.3-iommufd',
    arches: ['arm64'],
    transcripts: 'iommufd',
    machines: IOMMUFD_MACHINES,
    byDefault: false,
  },
  {
    // The same with KVM (realkernel/kernel/iommufd-kvm.config), on the machine that gives EL2:
    // for a VMM running its guest under KVM inside the TCG guest (realkernel/vmm.ts qemu11-accel).
    name: '7.3-iommufd-kvm',
    profile: 'linux-7.3',
    suite: 'trixie-backports (linux-source-7.3, built here)',
    build: '7.3-iommufd-kvm',
    arches: ['arm64'],
    transcripts: 'iommufd',
    machines: ['virt10-acpi-el2'],
    byDefault: false,
  },
]

export interface Machine {
  /** Short name: --machine virt|q35|virt10|virt10-9.1-s2. */
  readonly name: string
  readonly arch: GuestArch
  readonly qemuLine: QemuLine
  /** QEMU's executable name (found on PATH for 7.2, in QEMU 10's directory for 10). */
  readonly qemu: string
  /** QEMU's machine arguments, as the fixture's comment gives them (without kernel, initrd, console). */
  readonly machineArgs: readonly string[]
  /** The guest kernel's command line, apart from the harness's own console/log options. */
  readonly kernelArgs: readonly string[]
  readonly console: string
  /** Fixture the recordings are replayed with. */
  readonly fixture: string
  /**
   * Fixtures of the machine's further SMMUs, one each, after `fixture` in the order of the
   * machine's -device lines; the recordings replay with all of them (see machineFixtures).
   */
  readonly moreFixtures?: readonly string[]
  /**
   * Whose hand-written transcript this machine runs when it has none of its own for a kernel:
   * transcripts/qemu-<name>-<iommu>-linux-X.Y.vfio for each name in turn.
   */
  readonly transcriptsOf: readonly string[]
  readonly iommu: string
  /** Transcript group number -> the PCI device whose IOMMU group it stands for. */
  readonly groups: Readonly<Record<number, string>>
  /** KVM can run it when the guest has the host's architecture (and KVM works: see guest.ts). */
  readonly kvmCapable: boolean
  /**
   * Boots through EDK2 (Debian's qemu-efi-aarch64, `-bios QEMU_EFI.fd`) with ACPI instead of a
   * device tree; the kernel is started by the firmware as an EFI stub.
   */
  readonly firmware?: 'edk2'
  /**
   * The IORT QEMU writes is upgraded (the kernel's ACPI table upgrade from the initrd) so that
   * the PCI root complex says CANWBS: realkernel/iort.ts.
   */
  readonly iortCanwbs?: boolean
  /** Only for kernels with IOMMUFD (it exists for the iommufd transcripts). */
  readonly iommufdOnly?: boolean
}

const ARM_VIRT_TAIL = ['-cpu', 'max', '-nodefaults', '-device', 'edu,addr=01.0']

/**
 * QEMU 11's two-SMMU machine: an SMMUv3 of stage `first` (default stage 1 only) in front of pcie.0
 * (edu at 00:02.0) and one of stage `second` in front of a pxb-pcie bus (bus 0x80; edu behind a
 * root port, at 81:00.0), booted through EDK2 (Debian's QEMU_EFI.fd, found in QEMU 11's data
 * directory).
 */
function twoSmmuArgs(second: 'nested' | '2', first: '1' | 'nested' = '1'): string[] {
  return [
    ...['-M', 'virt,gic-version=3', '-cpu', 'max', '-nodefaults', '-bios', 'QEMU_EFI.fd'],
    ...['-device', 'pxb-pcie,id=pxb1,bus_nr=0x80,bus=pcie.0,addr=01.0', '-device', 'pcie-root-port,id=rp1,bus=pxb1,chassis=1'],
    ...['-device', `arm-smmuv3,primary-bus=pcie.0,stage=${first}`, '-device', `arm-smmuv3,primary-bus=pxb1,stage=${second}`],
    ...['-device', 'edu,bus=pcie.0,addr=02.0', '-device', 'edu,bus=rp1,addr=00.0'],
  ]
}

const VIRT10_ACPI: Machine = {
  // virt10 (QEMU 10) booted through EDK2 with ACPI: QEMU's IORT, upgraded by the
  // kernel's ACPI table upgrade so that the PCI root complex node says CANWBS (memory access
  // flags bit 2), which arm-smmu-v3 needs (with FEAT_NESTING, lacking S2FWB) for a vIOMMU.
  name: 'virt10-acpi',
  arch: 'arm64',
  qemuLine: '10',
  qemu: 'qemu-system-aarch64',
  machineArgs: ['-M', 'virt,iommu=smmuv3,gic-version=3', ...ARM_VIRT_TAIL],
  kernelArgs: ['acpi=force'],
  console: 'ttyAMA0',
  fixture: 'qemu-smmuv3-10.0-acpi-canwbs',
  transcriptsOf: ['virt10-acpi'],
  iommu: 'smmuv3',
  groups: { 1: '0000:00:01.0' },
  kvmCapable: false,
  firmware: 'edk2',
  iortCanwbs: true,
  iommufdOnly: true,
}

export const MACHINES: readonly Machine[] = [
  {
    name: 'virt',
    arch: 'arm64',
    qemuLine: '7.2',
    qemu: 'qemu-system-aarch64',
    machineArgs: ['-M', 'virt,iommu=smmuv3,gic-version=3', ...ARM_VIRT_TAIL],
    kernelArgs: [],
    console: 'ttyAMA0',
    fixture: 'qemu-smmuv3-7.2',
    transcriptsOf: ['virt'],
    iommu: 'smmuv3',
    groups: { 1: '0000:00:01.0' },
    kvmCapable: false,
  },
  {
    name: 'q35',
    arch: 'amd64',
    qemuLine: '7.2',
    qemu: 'qemu-system-x86_64',
    machineArgs: ['-M', 'q35,kernel-irqchip=split', '-nodefaults', '-device', 'intel-iommu,intremap=on', '-device', 'edu,addr=01.0'],
    // no_timer_check: under TCG on a loaded host the kernel's check that the timer interrupt
    // arrives through the interrupt-remapped IO-APIC can time out ("timer doesn't work through
    // Interrupt-remapped IO-APIC", a panic); it says nothing about VFIO.
    kernelArgs: ['intel_iommu=on', 'no_timer_check'],
    console: 'ttyS0',
    fixture: 'qemu-q35-intel-iommu-7.2',
    transcriptsOf: ['q35'],
    iommu: 'intel-iommu',
    groups: { 1: '0000:00:01.0' },
    kvmCapable: true,
  },
  {
    // QEMU 10's virt (virt-9.2 and later) builds its SMMUv3 with both stages (stage=nested).
    name: 'virt10',
    arch: 'arm64',
    qemuLine: '10',
    qemu: 'qemu-system-aarch64',
    machineArgs: ['-M', 'virt,iommu=smmuv3,gic-version=3', ...ARM_VIRT_TAIL],
    kernelArgs: [],
    console: 'ttyAMA0',
    fixture: 'qemu-smmuv3-10.0',
    transcriptsOf: ['virt10', 'virt'],
    iommu: 'smmuv3',
    groups: { 1: '0000:00:01.0' },
    kvmCapable: false,
  },
  {
    // -global arm-smmuv3.stage= takes effect only on virt-9.1 and older: stage 2 only.
    name: 'virt10-9.1-s2',
    arch: 'arm64',
    qemuLine: '10',
    qemu: 'qemu-system-aarch64',
    machineArgs: ['-M', 'virt-9.1,iommu=smmuv3,gic-version=3', '-global', 'arm-smmuv3.stage=2', ...ARM_VIRT_TAIL],
    kernelArgs: [],
    console: 'ttyAMA0',
    fixture: 'qemu-smmuv3-10.0-virt-9.1-s2',
    // Stage 2 only: every domain is stage 2, as a nesting domain is on virt10 under 6.1.
    transcriptsOf: ['virt10-9.1-s2', 'virt10', 'virt'],
    iommu: 'smmuv3',
    groups: { 1: '0000:00:01.0' },
    kvmCapable: false,
  },
  {
    // QEMU 11.1's pluggable SMMUv3 (-device arm-smmuv3, refused by QEMU 10): two SMMUs of
    // different capability, each in front of its own PCI bus with an edu behind it - stage 1 only
    // on pcie.0 (edu at 00:02.0, stream 0x10), both stages on a pxb-pcie bus (bus 0x80, a root port,
    // edu at 81:00.0, stream 0x8100). The device tree describes only pcie.0's SMMU, so the guest boots
    // through EDK2 (Debian's qemu-efi-aarch64) with ACPI: QEMU's IORT maps each bus to its SMMU.
    // docs/real-kernel-two-smmu.md says how it was found and what each kernel does on it.
    name: 'virt11-2smmu',
    arch: 'arm64',
    qemuLine: '11',
    qemu: 'qemu-system-aarch64',
    machineArgs: twoSmmuArgs('nested'),
    kernelArgs: ['acpi=force'],
    console: 'ttyAMA0',
    fixture: 'qemu-smmuv3-11.1-s1',
    moreFixtures: ['qemu-smmuv3-11.1-nested'],
    transcriptsOf: ['virt11-2smmu'],
    iommu: 'smmuv3',
    // Group 1 behind the stage-1-only SMMU, group 2 behind the nesting one (as in the fixtures).
    groups: { 1: '0000:00:02.0', 2: '0000:81:00.0' },
    kvmCapable: false,
  },
  {
    // virt11-2smmu with a stage-2-only SMMU on the pxb-pcie bus: its domains are stage 2 (aperture
    // 2^44) whatever the container type, so the two apertures differ on every kernel, not only on
    // 6.1's nesting containers.
    name: 'virt11-2smmu-s2',
    arch: 'arm64',
    qemuLine: '11',
    qemu: 'qemu-system-aarch64',
    machineArgs: twoSmmuArgs('2'),
    kernelArgs: ['acpi=force'],
    console: 'ttyAMA0',
    fixture: 'qemu-smmuv3-11.1-s1',
    moreFixtures: ['qemu-smmuv3-11.1-s2'],
    transcriptsOf: ['virt11-2smmu-s2'],
    iommu: 'smmuv3',
    groups: { 1: '0000:00:02.0', 2: '0000:81:00.0' },
    kvmCapable: false,
  },
  {
    // Both SMMUs of virt11-2smmu with both stages (stage=nested), for the IOMMUFD kernel: a
    // vIOMMU on each, and the rules that keep each vIOMMU, nest parent and nested HWPT on its own
    // SMMU. The IORT is upgraded to say CANWBS (as on virt10-acpi): QEMU's SMMUv3 has no S2FWB, and
    // arm-smmu-v3 grants a vIOMMU only to a CANWBS master then. docs/real-kernel-two-smmu.md.
    name: 'virt11-2smmu-nested',
    arch: 'arm64',
    qemuLine: '11',
    qemu: 'qemu-system-aarch64',
    machineArgs: twoSmmuArgs('nested', 'nested'),
    kernelArgs: ['acpi=force'],
    console: 'ttyAMA0',
    fixture: 'qemu-smmuv3-11.1-pcie0-nested-canwbs',
    moreFixtures: ['qemu-smmuv3-11.1-pxb-nested-canwbs'],
    transcriptsOf: ['virt11-2smmu-nested'],
    iommu: 'smmuv3',
    groups: { 1: '0000:00:02.0', 2: '0000:81:00.0' },
    kvmCapable: false,
    // EDK2 is QEMU 11's own (trixie's QEMU_EFI.fd, `-bios` in machineArgs), not `firmware`.
    iortCanwbs: true,
    iommufdOnly: true,
  },
  VIRT10_ACPI,
  {
    // virt10-acpi with EL2 for its guest (virtualization=on): KVM runs inside the TCG guest, for
    // a VMM that gives its own guest -accel kvm (realkernel/vmm.ts qemu11-accel).
    ...VIRT10_ACPI,
    name: 'virt10-acpi-el2',
    machineArgs: ['-M', 'virt,iommu=smmuv3,gic-version=3,virtualization=on', ...ARM_VIRT_TAIL],
  },
  {
    // virt-9.1 with its default SMMUv3 stage: stage 1 only (no S2P, so no nest parent).
    name: 'virt10-9.1',
    arch: 'arm64',
    qemuLine: '10',
    qemu: 'qemu-system-aarch64',
    machineArgs: ['-M', 'virt-9.1,iommu=smmuv3,gic-version=3', ...ARM_VIRT_TAIL],
    kernelArgs: [],
    console: 'ttyAMA0',
    fixture: 'qemu-smmuv3-10.0-virt-9.1',
    transcriptsOf: ['virt10-9.1'],
    iommu: 'smmuv3',
    groups: { 1: '0000:00:01.0' },
    kvmCapable: false,
    iommufdOnly: true,
  },
]

/** Every fixture a machine's recordings replay with: one per SMMU. */
export function machineFixtures(machine: Machine): readonly string[] {
  return [machine.fixture, ...(machine.moreFixtures ?? [])]
}

/** Memory and CPUs every guest gets; not part of what the fixtures describe. */
export const GUEST_RESOURCES: readonly string[] = ['-m', '1024', '-smp', '2']

/** The modules the initramfs loads (their dependencies are found from each module's .modinfo). */
export const GUEST_MODULES: readonly string[] = ['vfio_iommu_type1', 'vfio_pci']

export function machineByName(name: string): Machine | undefined {
  return MACHINES.find((m) => m.name === name)
}

export function kernelByName(name: string): KernelLine | undefined {
  return KERNELS.find((k) => k.name === name || `linux-${k.name}` === name || (k.name === '7.x' && /^7(\.\d+)?$/.test(name)))
}

/**
 * The iommufd transcript a machine runs on a kernel (transcripts/qemu-<machine>-iommufd-<label>.vfio),
 * recorded under the same name; none when the machine has no such transcript.
 */
export function iommufdTranscriptsFor(machine: Machine, label: string, root: string): RunTranscript[] {
  const source = `transcripts/qemu-${machine.name}-iommufd-${label}.vfio`
  return fs.existsSync(path.join(root, source)) ? [{ source, recording: path.basename(source) }] : []
}

/** "linux-6.12" from a kernel release such as "6.12.95+deb12-arm64" or "7.3.4+deb13-amd64". */
export function kernelLabel(release: string): string {
  const m = /^(\d+)\.(\d+)/.exec(release)
  return m === null ? `linux-${release}` : `linux-${m[1]}.${m[2]}`
}

/**
 * The transcripts a machine runs on a kernel: the hand-written one for this kernel
 * (transcripts/qemu-<name>-<iommu>-linux-X.Y.vfio, names from transcriptsOf in turn, else the
 * last name's 6.1 transcript), then the container rules. Recordings are named after the machine
 * and the kernel actually booted.
 */
export function transcriptsFor(machine: Machine, label: string, root: string): RunTranscript[] {
  const names = machine.transcriptsOf
  const candidates = [...names.map((n) => `transcripts/qemu-${n}-${machine.iommu}-${label}.vfio`), `transcripts/qemu-${names[names.length - 1] as string}-${machine.iommu}-linux-6.1.vfio`]
  const source = candidates.find((c) => fs.existsSync(path.join(root, c))) as string
  return [
    { source, recording: `qemu-${machine.name}-${machine.iommu}-${label}.vfio` },
    { source: 'realkernel/transcripts/type1-container-rules.vfio', recording: `qemu-${machine.name}-type1-container-rules-${label}.vfio` },
  ]
}
