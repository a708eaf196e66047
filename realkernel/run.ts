/**
 * npm run real-kernel [-- options]: run the VFIO transcripts on Linux booted in QEMU and compare
 * every call's result with the model's. Not part of `npm test` (by default it boots twelve guests:
 * every Debian kernel on every machine of its own).
 *
 *   --machine NAME     virt (QEMU 7.2 arm64, SMMUv3 stage 1), q35 (QEMU 7.2 x86, VT-d), virt10 (QEMU 10
 *                      arm64, SMMUv3 with both stages), virt10-9.1-s2 (QEMU 10 -M virt-9.1, SMMUv3
 *                      stage 2 only), virt11-2smmu (QEMU 11 arm64, two SMMUv3s: stage 1 only and
 *                      nested, EDK2 + ACPI), virt11-2smmu-s2 (the same with stage 1 only and stage 2
 *                      only), virt10-acpi (virt10 booted through EDK2 with ACPI, the IORT
 *                      saying CANWBS), virt10-9.1 (QEMU 10 -M virt-9.1, SMMUv3 stage 1 only; the
 *                      last two only for kernels with iommufd); repeatable; default: each kernel's own
 *   --kernel LINE      6.1 (bookworm), 6.12 (bookworm-backports), 7.x (newest in trixie-backports),
 *                      7.3-iommufd (built here from Debian's linux-source-7.3 with
 *                      realkernel/kernel/iommufd.config: runs the iommufd transcripts on virt10,
 *                      virt10-acpi and virt10-9.1); repeatable; default: the three Debian lines
 *   --kernel-image PATH  a kernel of your own (arm64 Image, plain, gzip'd or EFI zboot; or an x86
 *                      bzImage for q35), with --profile PROFILE (the behaviour it is held to, e.g.
 *                      linux-7.3) and --machine; --modules DIR gives its modules (lib/modules/<release>,
 *                      or the INSTALL_MOD_PATH of make modules_install), else VFIO is taken to be
 *                      built in. Runs the machine's transcripts for the profile (the iommufd ones only
 *                      when the kernel has /dev/iommu); recordings end in -image.vfio
 *   --vmm NAME         instead of the agent's transcripts: a real VMM (Debian's arm64 QEMU) runs in
 *                      the guest under the capture library and its calls are replayed
 *                      (realkernel/vmm.ts, docs/transcript-vmm.md): qemu7.2, qemu10, qemu11
 *                      (legacy container, kernel 7.x), qemu10-iommufd, qemu11-iommufd (the iommufd
 *                      backend, kernel 7.3-iommufd on virt10), or all; repeatable; --kernel
 *                      overrides each run's kernels
 *   --accel MODE       auto (default: KVM when /dev/kvm opens, the guest shares the host's
 *                      architecture and KVM proves itself by reaching /init quickly; else TCG),
 *                      kvm, or tcg
 *   --record           also write the recordings to transcripts/recorded/ (committed, replayed by npm test)
 *   --timeout SECONDS  per guest boot (default 300)
 *   --no-install       do not apt-get anything; fail if something is missing
 *   --quiet            print only calls where kernel and model differ
 *
 * Exit status: 0 when kernel and model agree on every call (or differ only as documented in
 * realkernel/known-differences.json), 1 when they differ otherwise, 2 when a guest could not be
 * prepared or booted.
 */
import { EXIT, runRealKernel } from './harness'
import { chooseGuests, parseRunArgs, usageLine } from './options'
import { runVmmRuns } from './vmm-harness'

async function main(argv: readonly string[]): Promise<number> {
  const opts = parseRunArgs(argv)
  if ('error' in opts) {
    process.stderr.write(`real-kernel: ${opts.error}\n${usageLine()}\n`)
    return EXIT.SETUP
  }
  if (opts.vmms.length > 0) {
    return runVmmRuns({
      runs: opts.vmms,
      kernels: opts.kernels,
      accel: opts.accel,
      record: opts.record,
      install: opts.install,
      quiet: opts.quiet,
      timeoutSeconds: opts.timeoutSeconds,
      out: (l) => process.stdout.write(`${l}\n`),
      err: (l) => process.stderr.write(`${l}\n`),
    })
  }
  const { guests, skipped } = chooseGuests(opts)
  for (const s of skipped) process.stdout.write(`real-kernel: not booting ${s}\n`)
  if (guests.length === 0) {
    process.stderr.write('real-kernel: no guest to boot (see the lines above)\n')
    return EXIT.SETUP
  }
  return runRealKernel({
    guests,
    ...(opts.image === undefined ? {} : { image: opts.image }),
    accel: opts.accel,
    record: opts.record,
    install: opts.install,
    quiet: opts.quiet,
    timeoutSeconds: opts.timeoutSeconds,
    tty: process.stdout.isTTY === true,
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
  })
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`real-kernel: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exitCode = 70
  },
)
