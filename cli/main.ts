/**
 * The command-line tool. `bin/smmu-nesting-tck.js` runs this compiled (dist/cli/main.js); tests
 * call `main()` directly or spawn the shim.
 *
 *   smmu-nesting-tck replay --profile linux-6.1 --fixture qemu-smmuv3-7.2 transcripts/x.vfio
 *   smmu-nesting-tck fixtures validate | fixtures list
 *   smmu-nesting-tck explain --fixture mmu-500 [--profile merged]
 *   smmu-nesting-tck trace -o vmm.vfio -- qemu-system-aarch64 ... -device vfio-pci,host=...
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Command, CommanderError, Option } from 'commander'
import { PROFILE_NAMES } from '../model/profiles'
import { ROOT } from '../model/root'
import { listFixtureNames } from '../model/hw'
import { BACKENDS, backendNames } from './backends'
import { addExplainCommand } from './explain'
import { addFixturesCommand } from './fixtures'
import { EXIT, runReplay, type Io } from './replay'
import { addTraceCommand } from './trace'

const GRAMMAR = `
Transcript lines (docs/transcripts.md has the whole grammar):
  open                                   = ok
  api_version                            = 0
  check_extension TYPE1_NESTING          = 1
  group 1 status                         = viable,container_set
  group 1 set_container                  = ok        (also: group N unset_container)
  set_iommu TYPE1v2_IOMMU                = ok | EINVAL | ENODEV ...
  get_info                               = pgsizes=0x40201000 dma_avail=65535 ranges=0x0-0x7ffffff,...
  map iova=0x100000 size=0x4000 rw       = ok        (r | w | rw | flags=0x..; vaddr=misaligned|unmapped)
  unmap iova=0x100000 size=0x1000        = ok unmapped=0x1000
  unmap all                              = ok unmapped=0x4000
  dma read iova=0x100000 size=0x40       = ok | fault  (dma write ...; group=N when several groups)
"#" starts a comment. Numbers are hex (0x..) or decimal. Errnos are Linux names.`

function exitStatus(): string {
  return `
Output: one line per call, "file:line: agree: <call> = <expected>", or "differ: ... (model: <answer>)",
or "error: <reason>" for a line that cannot be replayed; then "N agree, N differ".
Exit status: ${EXIT.AGREE} every line agrees, ${EXIT.DIFFER} a line differs or is in error, ${EXIT.USAGE} usage error.`
}

/** The version in package.json (the tool runs from a checkout, so it is always there). */
function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version?: string }
  return pkg.version ?? 'unknown'
}

/** A repeatable option: every value, in order. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** Run the tool with `argv` (without node and script); resolves to the exit status. */
export async function main(argv: readonly string[], io: Io = consoleIo()): Promise<number> {
  let status: number = EXIT.AGREE
  const program = new Command('smmu-nesting-tck')
    .description('An executable specification of nested IOMMU translation for VFIO on ARM SMMUs.')
    .version(`smmu-nesting-tck ${packageVersion()}`, '-V, --version', 'print the version and exit')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .showHelpAfterError('(smmu-nesting-tck <command> --help for usage)')
    .addHelpText(
      'after',
      `\nExamples:\n  smmu-nesting-tck replay --profile linux-6.1 --fixture qemu-smmuv3-7.2 transcripts/qemu-virt-smmuv3-linux-6.1.vfio` +
        `\n  smmu-nesting-tck fixtures validate my-smmu.yaml\n  smmu-nesting-tck explain --fixture mmu-500 --profile merged` +
        `\n  smmu-nesting-tck trace -o vmm.vfio -- qemu-system-aarch64 ... -device vfio-pci,host=0000:01:00.0` +
        `\n\nExit status: 0 success, 1 a transcript line differs or a fixture is invalid, 2 usage error (each command's --help says more).`,
    )

  program
    .command('replay')
    .summary('replay transcripts of VFIO calls and say where the model agrees')
    .description(
      'Replay text transcripts of VFIO calls, with the results a VMM observed, against a behaviour profile ' +
        '(a kernel) and machine fixtures, and say line by line where the model agrees or differs. ' +
        'Each transcript is replayed on a fresh machine.',
    )
    .argument('<transcript...>', 'transcript files')
    .addOption(new Option('-p, --profile <name>', `behaviour profile: ${PROFILE_NAMES.join(', ')}`).makeOptionMandatory())
    .addOption(
      new Option('-f, --fixture <name>', 'machine fixture: a catalogue name (see below) or a path to a YAML file; repeat for several IOMMUs')
        .argParser(collect)
        .makeOptionMandatory(),
    )
    .addOption(new Option('-b, --backend <name>', `what answers the calls: ${Object.values(BACKENDS).map((b) => `${b.name} (${b.summary})`).join('; ')}`).default('model'))
    .option('-q, --quiet', 'print only lines that differ or are in error, and the summary')
    .addHelpText('after', () => `${GRAMMAR}\n${exitStatus()}\n\nFixtures in the catalogue: ${listFixtureNames().join(', ')}\nBackends: ${backendNames().join(', ')}`)
    .action(async (transcripts: string[], opts: { profile: string; fixture: string[]; backend: string; quiet?: boolean }) => {
      status = await runReplay({ profile: opts.profile, fixtures: opts.fixture, backend: opts.backend, quiet: opts.quiet === true, transcripts }, io)
    })

  addFixturesCommand(program, io, (code) => (status = code))
  addExplainCommand(program, io, (code) => (status = code))
  addTraceCommand(program, io, (code) => (status = code))

  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.AGREE : EXIT.USAGE
    throw e
  } finally {
    io.flush?.()
  }
  return status
}

/**
 * Standard output and error. Output lines are written 64 KiB at a time (a replay prints a line per
 * call: one write each made a million-line replay spend a fifth of its time in them); anything
 * buffered goes out before an error line, so the two stay in order on a terminal.
 */
function consoleIo(): Io {
  let pending: string[] = []
  let size = 0
  const flush = (): void => {
    if (pending.length === 0) return
    process.stdout.write(pending.join(''))
    pending = []
    size = 0
  }
  return {
    out: (line) => {
      pending.push(`${line}\n`)
      size += line.length + 1
      if (size >= 64 * 1024) flush()
    },
    err: (line) => {
      flush()
      process.stderr.write(`${line}\n`)
    },
    flush,
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`smmu-nesting-tck: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
      process.exitCode = 70
    },
  )
}
