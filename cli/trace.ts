/**
 * `smmu-nesting-tck trace [options] -- <vmm command line>`: run a VMM under the capture library
 * (realkernel/capture/capture.c, built here with the host's C compiler, LD_PRELOAD) on a machine
 * with VFIO, and write what it asked VFIO as a transcript that `replay` accepts
 * (docs/transcript-vmm.md). `trace --convert CAPTURE` converts a capture log made elsewhere (the
 * library preloaded by hand, or a guest's) without running anything.
 *
 * Exit status: the VMM's own (a VMM killed by a signal: 128 + the signal); 2 for a usage error or
 * when the library cannot be built or the capture cannot be read.
 */
import { spawn, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Command, Option } from 'commander'
import { getProfile, isProfileName, PROFILE_NAMES, unknownProfileMessage, type ProfileName } from '../model/profiles'
import { ROOT } from '../model/root'
import { convertCapture, formatConverted, parseCapture, type Conversion } from '../realkernel/capture/convert'
import type { Io } from './replay'

export const TRACE_EXIT = { USAGE: 2 } as const

export interface TraceOptions {
  /** The VMM's command line (empty with `convert`). */
  readonly command: readonly string[]
  /** Convert this capture log instead of running a VMM. */
  readonly convert?: string
  /** The transcript to write. */
  readonly out: string
  /** Where the capture log goes (default: the transcript's name with .capture). */
  readonly capture?: string
  /** The profile whose uapi names the extensions (default: from the running kernel's release). */
  readonly profile?: string
  /** A prebuilt capture library (default: build realkernel/capture/capture.c with cc). */
  readonly library?: string
  /** Real group number -> transcript group number. */
  readonly groups: ReadonlyMap<number, number>
}

/** The profile for a kernel release: 6.1 up to 6.11, 6.12, 6.13 and later (their uapi differ in type 6's name). */
export function profileForRelease(release: string): ProfileName {
  const m = /^(\d+)\.(\d+)/.exec(release)
  const v = m === null ? 0 : Number(m[1]) * 1000 + Number(m[2])
  if (v >= 6013) return 'linux-7.3'
  if (v >= 6012) return 'linux-6.12'
  return 'linux-6.1'
}

/** Builds the capture library for this host into .cache/capture/ (again when the source is newer). */
export function buildHostLibrary(): { path: string } | { problem: string } {
  const src = path.join(ROOT, 'realkernel', 'capture', 'capture.c')
  const out = path.join(ROOT, '.cache', 'capture', `capture-${os.arch()}.so`)
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(src).mtimeMs) return { path: out }
  fs.mkdirSync(path.dirname(out), { recursive: true })
  const cc = process.env.CC ?? 'cc'
  const r = spawnSync(cc, ['-shared', '-fPIC', '-O2', '-Wall', '-o', `${out}.tmp`, src, '-ldl', '-lpthread'], { encoding: 'utf8' })
  if (r.error !== undefined) return { problem: `cannot run the C compiler "${cc}" (${r.error.message}): install one (Debian: apt-get install gcc libc6-dev) or give --library` }
  if (r.status !== 0) return { problem: `${cc} could not build ${path.relative(ROOT, src)}:\n${`${r.stdout}${r.stderr}`.trim()}` }
  fs.renameSync(`${out}.tmp`, out)
  return { path: out }
}

/** The transcript text of a conversion, with a header saying where it came from. */
export function traceTranscript(conversion: Conversion, about: { readonly command: string; readonly kernel: string; readonly profile: string; readonly capture: string }): string {
  const c = conversion.counts
  const groups = [...conversion.groups].map(([real, n]) => `group ${n} = /dev/vfio/${real}${conversion.devices.has(n) ? ` (device ${conversion.devices.get(n)})` : ''}`)
  const lines = [
    '# A VMM\'s VFIO calls, captured by `smmu-nesting-tck trace` (realkernel/capture/capture.c, LD_PRELOAD)',
    '# and written as transcript lines (docs/transcript-vmm.md). `device N` lines are device-level',
    '# calls, kept as the kernel answered them and outside the model.',
    '#',
    `#   VMM:     ${about.command}`,
    `#   Kernel:  ${about.kernel}`,
    `#   Capture: ${about.capture}: ${c.calls} VFIO calls: ${c.compared} for the model, ${c.outside} device-level, ${c.notConverted} not converted; ${c.eventfds} eventfds`,
    `#   Groups:  ${groups.length === 0 ? 'none opened' : groups.join('; ')}`,
    `#   Names:   extensions as the ${about.profile} profile's uapi names them`,
    '#',
    `#   Replay:  smmu-nesting-tck replay --profile ${about.profile} --fixture <your machine's fixture> <this file>`,
    '',
    ...formatConverted(conversion.lines),
  ]
  return `${lines.join('\n')}\n`
}

export function addTraceCommand(program: Command, io: Io, done: (status: number) => void): void {
  program
    .command('trace')
    .summary('run a VMM under the capture library and write its VFIO calls as a transcript')
    .description(
      'Run a VMM (everything after "--") with the capture library preloaded (realkernel/capture/capture.c, built with ' +
        'the host\'s C compiler, or --library), on a machine with VFIO, and write every VFIO call it made, with the ' +
        'kernel\'s answer, as a transcript that `replay` accepts (docs/transcript-vmm.md). The VMM runs with this ' +
        'terminal: answer its monitor as usual. With --convert, turn an existing capture log into a transcript instead.',
    )
    .argument('[command...]', 'the VMM and its arguments, after --')
    .addOption(new Option('-o, --out <file>', 'the transcript to write').default('trace.vfio'))
    .addOption(new Option('--capture <file>', 'where the capture log goes (default: the transcript with .capture)'))
    .addOption(new Option('--convert <capture>', 'convert this capture log; run nothing'))
    .addOption(new Option('-p, --profile <name>', `whose uapi names the extensions: ${PROFILE_NAMES.join(', ')} (default: from this kernel's release)`))
    .addOption(new Option('--library <file>', 'a prebuilt capture library (default: build it with cc into .cache/capture/)'))
    .addOption(new Option('-g, --group <real=n>', 'call /dev/vfio/<real> group <n> in the transcript (repeatable)').argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .addHelpText(
      'after',
      `
Examples:
  sudo smmu-nesting-tck trace -o qemu.vfio -- qemu-system-aarch64 -M virt -cpu host -accel kvm -m 1024 \\
       -nodefaults -display none -monitor stdio -device vfio-pci,host=0000:01:00.0
  smmu-nesting-tck replay --profile linux-7.3 --fixture my-smmu.yaml qemu.vfio
  smmu-nesting-tck trace --convert qemu.capture -o qemu.vfio --profile linux-6.1

Exit status: the VMM's own; ${TRACE_EXIT.USAGE} for a usage error, a library that cannot be built, a capture that cannot be read.`,
    )
    .action(async (command: string[], opts: { out: string; capture?: string; convert?: string; profile?: string; library?: string; group?: string[] }) => {
      const groups = new Map<number, number>()
      for (const g of opts.group ?? []) {
        const m = /^(\d+)=(\d+)$/.exec(g)
        if (m === null) {
          io.err(`smmu-nesting-tck: --group ${g}: expected REAL=N (e.g. --group 12=1)`)
          return done(TRACE_EXIT.USAGE)
        }
        groups.set(Number(m[1]), Number(m[2]))
      }
      done(
        await runTrace(
          {
            command,
            out: opts.out,
            groups,
            ...(opts.convert === undefined ? {} : { convert: opts.convert }),
            ...(opts.capture === undefined ? {} : { capture: opts.capture }),
            ...(opts.profile === undefined ? {} : { profile: opts.profile }),
            ...(opts.library === undefined ? {} : { library: opts.library }),
          },
          io,
        ),
      )
    })
}

export async function runTrace(opts: TraceOptions, io: Io): Promise<number> {
  if (opts.profile !== undefined && !isProfileName(opts.profile)) {
    io.err(`smmu-nesting-tck: ${unknownProfileMessage(opts.profile)}`)
    return TRACE_EXIT.USAGE
  }
  const profile: ProfileName = opts.profile !== undefined && isProfileName(opts.profile) ? opts.profile : profileForRelease(os.release())
  const capturePath = opts.convert ?? opts.capture ?? opts.out.replace(/(\.vfio)?$/, '.capture')
  let status = 0
  let command = '(converted from a capture log)'
  if (opts.convert === undefined) {
    if (opts.command.length === 0) {
      io.err('smmu-nesting-tck: trace needs the VMM\'s command line after "--" (or --convert CAPTURE)')
      return TRACE_EXIT.USAGE
    }
    const library = opts.library !== undefined ? { path: path.resolve(opts.library) } : buildHostLibrary()
    if ('problem' in library) {
      io.err(`smmu-nesting-tck: ${library.problem}`)
      return TRACE_EXIT.USAGE
    }
    fs.writeFileSync(capturePath, '')
    command = opts.command.join(' ')
    const preload = [library.path, ...(process.env.LD_PRELOAD === undefined || process.env.LD_PRELOAD === '' ? [] : [process.env.LD_PRELOAD])].join(':')
    status = await new Promise<number>((resolve) => {
      const child = spawn(opts.command[0] as string, opts.command.slice(1), {
        stdio: 'inherit',
        env: { ...process.env, LD_PRELOAD: preload, SMMU_TCK_CAPTURE: path.resolve(capturePath) },
      })
      child.on('error', (e) => {
        io.err(`smmu-nesting-tck: cannot run ${opts.command[0]}: ${e.message}`)
        resolve(127)
      })
      child.on('close', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : (os.constants.signals[signal] ?? 0))))
    })
  }
  let text: string
  try {
    text = fs.readFileSync(capturePath, 'utf8')
  } catch (e) {
    io.err(`smmu-nesting-tck: cannot read the capture ${capturePath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
    return TRACE_EXIT.USAGE
  }
  const parsed = parseCapture(text)
  for (const p of parsed.problems) io.err(`smmu-nesting-tck: ${capturePath}: ${p}`)
  if (parsed.header.pid === undefined && parsed.events.length === 0) {
    io.err(`smmu-nesting-tck: ${capturePath} holds no capture: did the library load? (a set-uid VMM, or one linked statically, ignores LD_PRELOAD)`)
    return opts.convert === undefined ? status || TRACE_EXIT.USAGE : TRACE_EXIT.USAGE
  }
  const conversion = convertCapture(parsed, { uapi: getProfile(profile).vfio.uapi, groupNames: opts.groups })
  fs.writeFileSync(opts.out, traceTranscript(conversion, { command, kernel: `${os.type()} ${os.release()}`, profile, capture: capturePath }))
  const c = conversion.counts
  io.out(`smmu-nesting-tck: wrote ${opts.out}: ${c.calls} VFIO calls (${c.compared} for the model, ${c.outside} device-level, ${c.notConverted} not converted) from ${capturePath}`)
  io.out(`  replay it: smmu-nesting-tck replay --profile ${profile} --fixture <your machine's fixture> ${opts.out}`)
  return status
}
