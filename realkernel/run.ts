/**
 * npm run real-kernel [-- options]: run the VFIO transcripts on Linux booted in QEMU and compare
 * every call's result with the model's. Not part of `npm test` (it boots twelve guests: every kernel on every machine).
 *
 *   --machine NAME     virt (QEMU 7.2 arm64, SMMUv3 stage 1), q35 (QEMU 7.2 x86, VT-d), virt10 (QEMU 10
 *                      arm64, SMMUv3 with both stages), virt10-9.1-s2 (QEMU 10 -M virt-9.1, SMMUv3
 *                      stage 2 only), virt11-2smmu (QEMU 11 arm64, two SMMUv3s: stage 1 only and
 *                      nested, EDK2 + ACPI), virt11-2smmu-s2 (the same with stage 1 only and stage 2
 *                      only); repeatable; default: all
 *   --kernel LINE      6.1 (bookworm), 6.12 (bookworm-backports), 7.x (newest in trixie-backports);
 *                      repeatable; default: all
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
import { ACCEL_MODES, DEFAULT_TIMEOUT_SECONDS, type AccelMode } from './guest'
import { EXIT, runRealKernel } from './harness'
import { KERNELS, kernelByName, MACHINES, machineByName, type KernelLine, type Machine } from './machines'

function usage(message: string): number {
  process.stderr.write(`real-kernel: ${message}\nusage: npm run real-kernel -- [--machine ${MACHINES.map((m) => m.name).join('|')}]... [--kernel ${KERNELS.map((k) => k.name).join('|')}]... [--accel ${ACCEL_MODES.join('|')}] [--record] [--timeout SECONDS] [--no-install] [--quiet]\n`)
  return EXIT.SETUP
}

async function main(argv: readonly string[]): Promise<number> {
  const machines: Machine[] = []
  const kernels: KernelLine[] = []
  let accel: AccelMode = 'auto'
  let record = false
  let install = true
  let quiet = false
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--record') record = true
    else if (a === '--no-install') install = false
    else if (a === '--quiet') quiet = true
    else if (a === '--machine' || a === '--timeout' || a === '--kernel' || a === '--accel') {
      const v = argv[++i]
      if (v === undefined) return usage(`${a} needs a value`)
      if (a === '--timeout') {
        timeoutSeconds = Number(v)
        if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) return usage(`--timeout ${v}: not a number of seconds`)
      } else if (a === '--kernel') {
        const k = kernelByName(v)
        if (k === undefined) return usage(`unknown kernel ${v} (kernels: ${KERNELS.map((x) => x.name).join(', ')})`)
        if (!kernels.includes(k)) kernels.push(k)
      } else if (a === '--accel') {
        if (!(ACCEL_MODES as readonly string[]).includes(v)) return usage(`--accel ${v}: one of ${ACCEL_MODES.join(', ')}`)
        accel = v as AccelMode
      } else {
        const m = machineByName(v)
        if (m === undefined) return usage(`unknown machine ${v} (machines: ${MACHINES.map((x) => x.name).join(', ')})`)
        if (!machines.includes(m)) machines.push(m)
      }
    } else return usage(`unknown option ${a}`)
  }
  return runRealKernel({
    machines: machines.length > 0 ? machines : MACHINES,
    kernels: kernels.length > 0 ? kernels : KERNELS,
    accel,
    record,
    install,
    quiet,
    timeoutSeconds,
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
