/**
 * npm run real-kernel [-- options]: run the VFIO transcripts on Linux booted in QEMU and compare
 * every call's result with the model's. Not part of `npm test` (it boots two guests).
 *
 *   --machine NAME     virt (arm64, SMMUv3) or q35 (x86, VT-d); repeatable; default: both
 *   --record           also write the recordings to transcripts/recorded/ (committed, replayed by npm test)
 *   --timeout SECONDS  per guest boot (default 600)
 *   --no-install       do not apt-get anything; fail if something is missing
 *   --quiet            print only calls where kernel and model differ
 *
 * Exit status: 0 when kernel and model agree on every call (or differ only as documented in
 * realkernel/known-differences.json), 1 when they differ otherwise, 2 when a guest could not be
 * prepared or booted.
 */
import { EXIT, runRealKernel } from './harness'
import { MACHINES, machineByName, type Machine } from './machines'

function usage(message: string): number {
  process.stderr.write(`real-kernel: ${message}\nusage: npm run real-kernel -- [--machine ${MACHINES.map((m) => m.name).join('|')}]... [--record] [--timeout SECONDS] [--no-install] [--quiet]\n`)
  return EXIT.SETUP
}

async function main(argv: readonly string[]): Promise<number> {
  const machines: Machine[] = []
  let record = false
  let install = true
  let quiet = false
  let timeoutSeconds = 600
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--record') record = true
    else if (a === '--no-install') install = false
    else if (a === '--quiet') quiet = true
    else if (a === '--machine' || a === '--timeout') {
      const v = argv[++i]
      if (v === undefined) return usage(`${a} needs a value`)
      if (a === '--timeout') {
        timeoutSeconds = Number(v)
        if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) return usage(`--timeout ${v}: not a number of seconds`)
      } else {
        const m = machineByName(v)
        if (m === undefined) return usage(`unknown machine ${v}`)
        machines.push(m)
      }
    } else return usage(`unknown option ${a}`)
  }
  return runRealKernel({
    machines: machines.length > 0 ? machines : MACHINES,
    record,
    install,
    quiet,
    timeoutSeconds,
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
