/**
 * The two guests `npm run real-kernel` boots, each as its fixture's comment describes it, and the
 * transcripts each one runs. A guest is a Debian kernel with a busybox initramfs holding the VFIO
 * modules and the agent; QEMU's edu device at 00:01.0 is bound to vfio-pci.
 */

export type GuestArch = 'arm64' | 'amd64'

export interface RunTranscript {
  /** Repository-relative path of the transcript whose calls are run. */
  readonly source: string
  /** File name of its recording under transcripts/recorded/. */
  readonly recording: string
}

export interface Machine {
  /** Short name: --machine virt|q35. */
  readonly name: string
  readonly arch: GuestArch
  readonly qemu: string
  /** QEMU's machine arguments, as the fixture's comment gives them (without kernel, initrd, console). */
  readonly machineArgs: readonly string[]
  /** The guest kernel's command line, apart from the harness's own console/log options. */
  readonly kernelArgs: readonly string[]
  readonly console: string
  /** Behaviour profile and fixture the recorded transcripts are replayed with. */
  readonly profile: string
  readonly fixture: string
  /** Transcript group number -> the PCI device whose IOMMU group it stands for. */
  readonly groups: Readonly<Record<number, string>>
  /** Transcripts whose calls run on this guest, and the name of each one's recording. */
  readonly transcripts: readonly RunTranscript[]
  /** KVM is used when /dev/kvm is there and the guest has the host's architecture. */
  readonly kvmCapable: boolean
}

export const MACHINES: readonly Machine[] = [
  {
    name: 'virt',
    arch: 'arm64',
    qemu: 'qemu-system-aarch64',
    machineArgs: ['-M', 'virt,iommu=smmuv3,gic-version=3', '-cpu', 'max', '-nodefaults', '-device', 'edu,addr=01.0'],
    kernelArgs: [],
    console: 'ttyAMA0',
    profile: 'linux-6.1',
    fixture: 'qemu-smmuv3-7.2',
    groups: { 1: '0000:00:01.0' },
    transcripts: [
      { source: 'transcripts/qemu-virt-smmuv3-linux-6.1.vfio', recording: 'qemu-virt-smmuv3-linux-6.1.vfio' },
      { source: 'realkernel/transcripts/type1-container-rules.vfio', recording: 'qemu-virt-type1-container-rules-linux-6.1.vfio' },
    ],
    kvmCapable: false,
  },
  {
    name: 'q35',
    arch: 'amd64',
    qemu: 'qemu-system-x86_64',
    machineArgs: ['-M', 'q35,kernel-irqchip=split', '-nodefaults', '-device', 'intel-iommu,intremap=on', '-device', 'edu,addr=01.0'],
    kernelArgs: ['intel_iommu=on'],
    console: 'ttyS0',
    profile: 'linux-6.1',
    fixture: 'qemu-q35-intel-iommu-7.2',
    groups: { 1: '0000:00:01.0' },
    transcripts: [
      { source: 'transcripts/qemu-q35-intel-iommu-linux-6.1.vfio', recording: 'qemu-q35-intel-iommu-linux-6.1.vfio' },
      { source: 'realkernel/transcripts/type1-container-rules.vfio', recording: 'qemu-q35-type1-container-rules-linux-6.1.vfio' },
    ],
    kvmCapable: true,
  },
]

/** Memory and CPUs every guest gets; not part of what the fixtures describe. */
export const GUEST_RESOURCES: readonly string[] = ['-m', '1024', '-smp', '2']

/** The modules the initramfs loads (their dependencies are found from each module's .modinfo). */
export const GUEST_MODULES: readonly string[] = ['vfio_iommu_type1', 'vfio_pci']

export function machineByName(name: string): Machine | undefined {
  return MACHINES.find((m) => m.name === name)
}
