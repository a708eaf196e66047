/**
 * `npm run real-kernel`: for each guest, compile its transcripts into one batch of agent commands,
 * boot the guest once, turn the agent's replies into a recorded transcript per source transcript,
 * and replay that recording against the model - one row per call: kernel result, model result,
 * agree / known difference / DIFFER.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { resolveFixturePath } from '../model/hw'
import { getProfile, isProfileName } from '../model/profiles'
import { parseTranscript, type ParsedTranscript } from '../model/transcript'
import { compareWithModel, formatRow, loadKnownDifferences, type Comparison } from './compare'
import { createHash } from 'node:crypto'
import { chooseAccel, DEFAULT_TIMEOUT_SECONDS, kernelAppend, qemuArgs, qemuVersion, runGuest, STAGE_TEXT, THIS_HOST, type AccelHost, type AccelMode, type BootPlan, type BootProgress } from './guest'
import { formatIommufdRecording, iommufdCommand, isIommufdCall, parseResultReplies, splitTranscript, type SplitTranscript } from './iommufd-lines'
import { iortFromFact, iortRootComplexes, iortWithCanwbs, tableUpgradeCpio, IortError } from './iort'
import { buildKernel, kernelBuildByName, KernelBuildError, type BuiltKernel } from './kernel-build'
import { iommufdTranscriptsFor, kernelLabel, machineFixtures, transcriptsFor, type KernelLine, type Machine, type RunTranscript } from './machines'
import type { GuestChoice, ImageKernel } from './options'
import { buildAgent, buildInitramfs, CACHE, edk2Firmware, fetchGuestPackages, guestKernel, installHostPackages, otherGuestKernel, qemu10Dir, qemu11Dir, resolveModulesDir, ROOT, SetupError, type GuestKernel, type KernelSpec } from './prepare'
import { compileSession, parseFacts, parseReplies, resultText, type CompiledSession, type KernelResult } from './protocol'
import { formatRecording, type RecordingHeader } from './record'

export const RECORDED_DIR = path.join(ROOT, 'transcripts', 'recorded')

export interface HarnessOptions {
  /** The guests to boot (options.ts chooseGuests). */
  readonly guests: readonly GuestChoice[]
  /** The kernel of --kernel-image, when the guests run it. */
  readonly image?: ImageKernel
  /** Write the recordings to transcripts/recorded/ (always written under .cache/realkernel/recorded/). */
  readonly record: boolean
  readonly install: boolean
  readonly timeoutSeconds: number
  readonly accel: AccelMode
  /** Print only rows that are not plain agreements. */
  readonly quiet: boolean
  readonly out: (line: string) => void
  readonly err: (line: string) => void
  /** Progress on one updating line (a terminal) instead of plain lines. */
  readonly tty?: boolean
  readonly host?: AccelHost
}

/** One guest: a machine booting a kernel line. */
interface Guest {
  readonly machine: Machine
  readonly kernelLine: KernelLine
}

/** What a guest's kernel line needs fetched or built (Debian's packages, busybox, EDK2). */
export function fetchSpecs(guests: readonly Guest[]): KernelSpec[] {
  const specs = new Map<string, KernelSpec>()
  for (const g of guests) {
    const kernel = g.kernelLine.build === undefined && g.kernelLine.transcripts !== 'any' ? g.kernelLine.name : 'busybox'
    specs.set(`${g.machine.arch}:${kernel}`, { arch: g.machine.arch, kernel })
    if (g.machine.firmware === 'edk2') specs.set('arm64:edk2', { arch: 'arm64', kernel: 'edk2' })
  }
  return [...specs.values()]
}

interface GuestSummary {
  readonly guest: string
  readonly accel: string
  readonly seconds: number
  readonly bootSeconds?: number
  readonly rows: number
  readonly agree: number
  readonly known: number
  readonly differ: number
  /** Recordings not compared: the model has no such profile or fixture yet. */
  readonly uncompared: readonly string[]
  readonly failure?: string
}

export const EXIT = { OK: 0, DIFFER: 1, SETUP: 2 } as const

/**
 * Progress of long work: plain lines, or on a terminal one line rewritten in place (cleared before
 * any other output).
 */
class Progress {
  private status = ''
  private timer: NodeJS.Timeout | undefined
  constructor(
    private readonly out: (line: string) => void,
    private readonly tty: boolean,
  ) {}

  line(text: string): void {
    this.clear()
    this.out(text)
  }

  /** A status that changes over time: `render` is called again every second on a terminal. */
  live(render: () => string): void {
    this.stop()
    if (!this.tty) return
    const draw = (): void => {
      this.status = render()
      process.stdout.write(`\r\x1b[K${this.status.slice(0, (process.stdout.columns || 100) - 1)}`)
    }
    draw()
    this.timer = setInterval(draw, 1000)
  }

  /** A change worth a plain line when not on a terminal (on a terminal the live line shows it). */
  step(text: string): void {
    if (!this.tty) this.out(text)
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.clear()
  }

  private clear(): void {
    if (this.tty && this.status !== '') process.stdout.write('\r\x1b[K')
    this.status = ''
  }
}

export async function runRealKernel(opts: HarnessOptions): Promise<number> {
  const started = Date.now()
  const progress = new Progress(opts.out, opts.tty === true)
  const guests: Guest[] = opts.guests.map((g) => ({ machine: g.machine, kernelLine: g.kernel }))
  const specs = fetchSpecs(guests)
  const builds = [...new Set(guests.map((g) => g.kernelLine.build).filter((b): b is string => b !== undefined))]
  /**
   * A stage: its line, then (on a terminal) the elapsed time and the last thing its work said.
   * `log` lines are printed when not on a terminal; `status` only changes the live line.
   */
  const stage = async <T>(n: number, what: string, work: (log: (line: string) => void, status: (line: string) => void) => T | Promise<T>): Promise<T> => {
    const t = Date.now()
    let last = ''
    progress.line(`real-kernel: [${n}/4] ${what}`)
    progress.live(() => `real-kernel: [${n}/4] ${secs(Date.now() - t)}${last === '' ? '' : `: ${last}`}`)
    await new Promise((r) => setImmediate(r))
    try {
      return await work(
        (line) => {
          last = line.trim()
          progress.step(`   ${last}`)
        },
        (line) => {
          last = line.trim()
        },
      )
    } finally {
      progress.stop()
      if (Date.now() - t > 1000) progress.line(`real-kernel: [${n}/4] done in ${secs(Date.now() - t)}`)
    }
  }
  let qemu10: string | undefined
  let qemu11: string | undefined
  const wantsQemu11 = guests.some((g) => g.machine.qemuLine === '11')
  const built = new Map<string, BuiltKernel>()
  try {
    await stage(1, `install: host packages${opts.install ? '' : ' (--no-install: checking only)'}`, (log) => installHostPackages({ install: opts.install, log, kernelBuild: builds.length > 0 }))
    const what = [
      specs.some((s) => !['busybox', 'edk2'].includes(s.kernel)) ? `guest kernels (${specs.filter((s) => !['busybox', 'edk2'].includes(s.kernel)).map((s) => `${s.arch} ${s.kernel}`).join(', ')})` : 'busybox',
      ...(specs.some((s) => s.kernel === 'edk2') ? ['EDK2'] : []),
      ...(guests.some((g) => g.machine.qemuLine === '10') ? ['QEMU 10'] : []),
      ...(wantsQemu11 ? ['QEMU 11'] : []),
      ...builds.map((b) => `the ${b} kernel (built from source when not cached)`),
    ]
    await stage(2, `fetch: ${what.join(', ')}`, async (log, status) => {
      await fetchGuestPackages(specs, { install: opts.install, log })
      if (guests.some((g) => g.machine.qemuLine === '10')) qemu10 = await qemu10Dir({ install: opts.install, log })
      if (wantsQemu11) qemu11 = await qemu11Dir({ install: opts.install, log })
      for (const name of builds) {
        const build = kernelBuildByName(name)
        if (build === undefined) throw new SetupError(`no kernel build named ${name} in realkernel/kernel-build.ts`)
        let shown = -1
        const b = await buildKernel(build, {
          cache: CACHE,
          install: opts.install,
          log: (line) => {
            // Object counts go to the live line; without a terminal, one line every 10 %.
            const pct = /\((\d+)%\)/.exec(line)
            if (pct === null) return log(line)
            status(line)
            const tenth = Math.floor(Number(pct[1]) / 10)
            if (tenth !== shown) {
              shown = tenth
              progress.step(`   ${line.replace(/ \S+$/, '')}`)
            }
          },
        })
        log(`${name}: ${b.built ? `built in ${b.seconds ?? '?'} s` : 'cached'}: ${path.relative(ROOT, b.image)} (Linux ${b.release}, ${b.source})`)
        built.set(name, b)
      }
    })
  } catch (e) {
    if (e instanceof SetupError || e instanceof KernelBuildError) {
      progress.line(`real-kernel: ${e.message}`)
      opts.err(`real-kernel: ${e.message}`)
      return EXIT.SETUP
    }
    throw e
  }
  opts.out(`real-kernel: prepared in ${secs(Date.now() - started)}`)

  const prepared: (PreparedGuest | GuestSummary)[] = await stage(3, `build: agents and ${guests.length} initramfs`, async () => {
    const all: (PreparedGuest | GuestSummary)[] = []
    for (const g of guests) {
      all.push(prepareGuest(g, { qemu10, qemu11 }, built, opts.image))
      await new Promise((r) => setImmediate(r)) // let the progress line tick between guests
    }
    return all
  })

  const summaries: GuestSummary[] = []
  for (const [i, p] of prepared.entries()) {
    if ('failure' in p && p.failure !== undefined && !('plan' in p)) summaries.push(p as GuestSummary)
    else summaries.push(await runPrepared(p as PreparedGuest, i + 1, prepared.length, opts, progress))
  }

  opts.out('')
  opts.out('guest                      accel  wall    boot+run  calls  agree  known  differ')
  for (const s of summaries) {
    const boot = s.bootSeconds === undefined ? '-' : `${s.bootSeconds.toFixed(1)}s`
    opts.out(
      `${s.guest.padEnd(26)} ${s.accel.padEnd(6)} ${`${s.seconds.toFixed(1)}s`.padEnd(7)} ${boot.padEnd(9)} ${String(s.rows).padEnd(6)} ${String(s.agree).padEnd(6)} ${String(s.known).padEnd(6)} ${s.differ}` +
        `${s.failure === undefined ? '' : '  FAILED'}${s.uncompared.length > 0 ? '  (some recordings not compared or not run: see below)' : ''}`,
    )
  }
  opts.out(`real-kernel: done in ${secs(Date.now() - started)}`)
  for (const s of summaries) for (const u of s.uncompared) opts.out(`real-kernel: ${s.guest}: ${u}`)
  const failed = summaries.filter((s) => s.failure !== undefined)
  for (const f of failed) opts.err(`real-kernel: ${f.guest}: ${f.failure}`)
  if (failed.length > 0) return EXIT.SETUP
  return summaries.some((s) => s.differ > 0) ? EXIT.DIFFER : EXIT.OK
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

/** What every transcript a guest runs has. */
interface SourceBase {
  readonly rel: string
  readonly recording: string
  readonly text: string
  /** Agent sequence number of each runnable transcript line. */
  readonly seqOf: Map<number, number>
  /** Sequence number of each `alias` command: group -> seq. */
  readonly aliasSeq: Map<number, number>
}

/** A transcript of VFIO container calls, compiled by protocol.ts. */
interface Type1Source extends SourceBase {
  readonly kind: 'type1'
  readonly parsed: ParsedTranscript
  readonly session: CompiledSession
}

/** A transcript of iommufd calls, run by the agent as written (iommufd-lines.ts). */
interface IommufdSource extends SourceBase {
  readonly kind: 'iommufd'
  readonly split: SplitTranscript
  /** Run only when the guest has /dev/iommu (a kernel given as an image may not). */
  readonly needsIommufd: boolean
}

type SourceTranscript = Type1Source | IommufdSource

interface PreparedGuest {
  readonly name: string
  readonly guest: Guest
  readonly kernel: GuestKernel
  /** The profile the recordings name: the kernel line's, e.g. linux-7.3. */
  readonly profile: string
  readonly label: string
  readonly qemu: string
  readonly plan: Omit<BootPlan, 'accel'>
  readonly commands: readonly string[]
  readonly sources: readonly SourceTranscript[]
  readonly agent: string
  /** How the kernel was had: a Debian package, built here, or given as an image. */
  readonly origin: { readonly kind: 'debian' } | { readonly kind: 'built'; readonly built: BuiltKernel } | { readonly kind: 'image'; readonly image: ImageKernel }
}

function guestName(g: Guest, label?: string): string {
  return `${g.machine.name} ${g.kernelLine.build !== undefined ? g.kernelLine.name : g.kernelLine.transcripts === 'any' ? `${label ?? '?'} (image)` : (label ?? `linux-${g.kernelLine.name}`)}`
}

/** Recording names of a kernel given as an image end in -image: they never replace Debian's. */
function imageRecording(t: RunTranscript): RunTranscript {
  return { ...t, recording: t.recording.replace(/\.vfio$/, '-image.vfio') }
}

/** The transcripts a guest runs (machines.ts), as the kernel line says. */
function guestTranscripts(g: Guest, label: string): { t: RunTranscript; kind: 'type1' | 'iommufd' }[] {
  const { machine, kernelLine } = g
  const type1 = kernelLine.transcripts !== 'iommufd' && machine.iommufdOnly !== true ? transcriptsFor(machine, label, ROOT) : []
  const iommufd = kernelLine.transcripts !== 'type1' ? iommufdTranscriptsFor(machine, label, ROOT) : []
  const all = [...type1.map((t) => ({ t, kind: 'type1' as const })), ...iommufd.map((t) => ({ t, kind: 'iommufd' as const }))]
  return kernelLine.transcripts === 'any' ? all.map((x) => ({ ...x, t: imageRecording(x.t) })) : all
}

function prepareGuest(g: Guest, dirs: { readonly qemu10?: string | undefined; readonly qemu11?: string | undefined }, built: ReadonlyMap<string, BuiltKernel>, image: ImageKernel | undefined): PreparedGuest | GuestSummary {
  const { machine, kernelLine } = g
  try {
    let kernel: GuestKernel
    let origin: PreparedGuest['origin']
    const b = kernelLine.build === undefined ? undefined : built.get(kernelLine.build)
    if (b !== undefined) {
      kernel = otherGuestKernel(machine.arch, kernelLine.name, b.image, b.release, [`${b.source} built with ${b.build.fragment}`])
      origin = { kind: 'built', built: b }
    } else if (kernelLine.transcripts === 'any' && image !== undefined) {
      const modulesDir = image.modules === undefined ? undefined : resolveModulesDir(image.modules, image.info.release)
      kernel = otherGuestKernel(machine.arch, 'image', path.resolve(image.path), image.info.release, [], modulesDir)
      origin = { kind: 'image', image }
    } else {
      kernel = guestKernel(machine.arch, kernelLine.name)
      origin = { kind: 'debian' }
    }
    const profile = kernelLine.profile
    // A kernel given as an image runs the transcripts of the profile it is held to.
    const label = origin.kind === 'image' && /^linux-\d+\.\d+$/.test(profile) ? profile : kernelLabel(kernel.release)
    // Until the model knows a kernel's profile, its calls are compiled with 6.1's uapi names.
    const uapi = getProfile(isProfileName(profile) ? profile : 'linux-6.1').vfio.uapi
    const commands: string[] = []
    const sources: SourceTranscript[] = []
    for (const { t, kind } of guestTranscripts(g, label)) {
      const { source: rel, recording } = t
      const text = fs.readFileSync(path.join(ROOT, rel), 'utf8')
      const preamble = [`session ${path.basename(rel)}`, ...Object.entries(machine.groups).map(([grp, dev]) => `alias ${grp} ${dev}`)]
      const needsIommufd = kind === 'iommufd' && kernelLine.transcripts === 'any'
      const aliasSeq = new Map<number, number>()
      for (const c of needsIommufd ? [...preamble, 'require /dev/iommu'] : preamble) {
        commands.push(c)
        const alias = /^alias (\d+) /.exec(c)
        if (alias !== null) aliasSeq.set(Number(alias[1]), commands.length)
      }
      const seqOf = new Map<number, number>()
      if (kind === 'type1') {
        const parsed = parseTranscript(text, rel)
        const session = compileSession(parsed, uapi, machine.groups)
        for (const l of session.lines) {
          if (l.command === undefined) continue
          commands.push(l.command)
          seqOf.set(l.line.line, commands.length)
        }
        sources.push({ kind, rel, recording, text, parsed, session, seqOf, aliasSeq })
      } else {
        const split = splitTranscript(text)
        for (const l of split.lines) {
          if (!isIommufdCall(l.callText)) continue
          commands.push(iommufdCommand(l.callText))
          seqOf.set(l.line, commands.length)
        }
        sources.push({ kind, rel, recording, text, split, seqOf, aliasSeq, needsIommufd })
      }
    }
    if (sources.length === 0) throw new SetupError(`no transcript for ${machine.name} on ${label} (transcripts/qemu-${machine.name}-*-${label}.vfio)`)
    const agent = buildAgent(machine.arch)
    const initrd = path.join(CACHE, 'build', `initrd-${machine.name}-${kernelLine.name}.gz`)
    fs.writeFileSync(initrd, buildInitramfs(kernel, agent, commands))
    const qemu = machine.qemuLine === '10' ? path.join(dirs.qemu10 as string, machine.qemu) : machine.qemuLine === '11' ? path.join(dirs.qemu11 as string, machine.qemu) : machine.qemu
    const bios = machine.firmware === 'edk2' ? edk2Firmware() : undefined
    return {
      name: guestName(g, label),
      guest: g,
      kernel,
      profile,
      label,
      qemu,
      plan: { machine, qemu, kernel: kernel.vmlinuz, initrd, append: kernelAppend(machine), ...(bios === undefined ? {} : { bios }) },
      commands,
      sources,
      agent,
      origin,
    }
  } catch (e) {
    if (e instanceof SetupError) return { guest: guestName(g), accel: '-', seconds: 0, rows: 0, agree: 0, known: 0, differ: 0, uncompared: [], failure: e.message }
    throw e
  }
}

/**
 * QEMU's own IORT for this machine (QEMU version, machine arguments and firmware): read once by
 * booting the guest with no commands (its /init prints the table in hex), then cached under
 * .cache/realkernel/iort/. The IORT depends on QEMU's version (10.0.2 writes revision 3).
 */
async function qemuIort(p: PreparedGuest, choice: Exclude<ReturnType<typeof chooseAccel>, string>, opts: HarnessOptions, progress: Progress): Promise<Buffer | string> {
  const key = createHash('sha256')
    .update([qemuVersion(p.qemu), ...p.guest.machine.machineArgs, p.plan.bios ?? ''].join('\n'))
    .digest('hex')
    .slice(0, 16)
  const file = path.join(CACHE, 'iort', `${p.guest.machine.name}-${key}.aml`)
  if (fs.existsSync(file)) return fs.readFileSync(file)
  progress.line(`   reading QEMU's IORT: one boot with no commands (cached afterwards in ${path.relative(ROOT, file)})`)
  const initrd = path.join(CACHE, 'build', `initrd-${p.guest.machine.name}-iort-probe.gz`)
  fs.writeFileSync(initrd, buildInitramfs(p.kernel, p.agent, []))
  const logFile = path.join(CACHE, 'logs', `${p.guest.machine.name}-iort-probe.log`)
  const boot = await runGuest({ ...p.plan, initrd, accel: choice.accel }, choice, { timeoutSeconds: opts.timeoutSeconds, logFile }, (line) => progress.line(`   ${line}`))
  if (boot.failure !== undefined) return `the boot that reads QEMU's IORT failed: ${boot.failure}`
  const hex = parseFacts(boot.output).get('iort')?.[0]
  if (hex === undefined) return `the guest found no /sys/firmware/acpi/tables/IORT (is the kernel booting with ACPI? console log: ${path.relative(ROOT, logFile)})`
  try {
    const table = iortFromFact(hex)
    iortRootComplexes(table)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, table)
    return table
  } catch (e) {
    if (e instanceof IortError) return `QEMU's IORT as the guest printed it: ${e.message}`
    throw e
  }
}

async function runPrepared(p: PreparedGuest, n: number, total: number, opts: HarnessOptions, progress: Progress): Promise<GuestSummary> {
  const started = Date.now()
  const { machine } = p.guest
  const fail = (failure: string, accel = '-'): GuestSummary => ({ guest: p.name, accel, seconds: (Date.now() - started) / 1000, rows: 0, agree: 0, known: 0, differ: 0, uncompared: [], failure })
  const choice = chooseAccel(machine, opts.accel, opts.host ?? THIS_HOST)
  progress.line('')
  progress.line(`== [4/4] guest ${n} of ${total}: ${p.name}: ${p.qemu === machine.qemu ? machine.qemu : path.relative(ROOT, p.qemu)} ${machine.machineArgs.join(' ')}`)
  if (typeof choice === 'string') return fail(choice)
  const qemuVer = qemuVersion(p.qemu)
  progress.line(`   ${p.kernel.packages.join(', ')}; ${qemuVer}; ${choice.accel.toUpperCase()} (${choice.why}); ${p.commands.length} agent commands`)
  fs.mkdirSync(path.join(CACHE, 'logs'), { recursive: true })

  let plan0 = p.plan
  let iortNote: string | undefined
  if (machine.iortCanwbs === true) {
    const original = await qemuIort(p, choice, opts, progress)
    if (typeof original === 'string') return fail(original, choice.accel.toUpperCase())
    const upgraded = iortWithCanwbs(original)
    const initrd = p.plan.initrd.replace(/\.gz$/, '-iort.img')
    fs.writeFileSync(initrd, Buffer.concat([tableUpgradeCpio({ IORT: upgraded }), fs.readFileSync(p.plan.initrd)]))
    plan0 = { ...p.plan, initrd }
    const flags = (t: Buffer): string => iortRootComplexes(t).map((rc) => `0x${rc.memoryAccessFlags.toString(16)}`).join(',')
    iortNote = `IORT: QEMU's (${original.length} bytes), its PCI root complex memory access flags ${flags(original)} -> ${flags(upgraded)} (CANWBS), OEM revision +1`
    progress.line(`   ${iortNote}: given through the kernel's ACPI table upgrade (kernel/firmware/acpi/IORT.aml)`)
  }

  const logFile = path.join(CACHE, 'logs', `${machine.name}-${p.guest.kernelLine.name}.log`)
  let now: BootProgress = { stage: 'qemu', calls: 0, seconds: 0 }
  let accelNow = choice.accel
  const t0 = Date.now()
  const describe = (q: BootProgress): string => `${STAGE_TEXT[q.stage]}${q.stage === 'agent' || q.stage === 'end' ? `, calls ${q.calls}/${p.commands.length}` : ''}`
  progress.live(() => `   guest ${n} of ${total} ${p.name} ${accelNow.toUpperCase()} ${((Date.now() - t0) / 1000).toFixed(0)} s: ${describe(now)}`)
  const boot = await runGuest(
    { ...plan0, accel: choice.accel },
    choice,
    {
      timeoutSeconds: opts.timeoutSeconds,
      logFile,
      onProgress: (q) => {
        const stageChanged = q.stage !== now.stage
        now = q
        if (stageChanged) progress.step(`   ${q.seconds.toFixed(1)} s: ${describe(q)}`)
      },
    },
    (line) => {
      progress.line(`   ${line}`)
      accelNow = 'tcg'
      now = { stage: 'qemu', calls: 0, seconds: 0 }
    },
  )
  progress.stop()
  if (boot.failure !== undefined) {
    progress.line(`   FAILED: ${boot.failure}`)
    return fail(boot.failure, boot.accel.toUpperCase())
  }
  opts.out(`   booted and ran in ${boot.seconds.toFixed(1)} s under ${boot.accel.toUpperCase()} (console log: ${path.relative(ROOT, logFile)})`)

  const replies = parseReplies(boot.output)
  const resultReplies = parseResultReplies(boot.output)
  const facts = parseFacts(boot.output)
  const problems = [...(facts.get('insmod-failed') ?? []).map((m) => `insmod ${m} failed`)]
  for (const pr of problems) opts.err(`   guest: ${pr}`)

  const known = loadKnownDifferences()
  const totals = { rows: 0, agree: 0, known: 0, differ: 0 }
  const uncompared: string[] = []
  const plan: BootPlan = { ...plan0, accel: boot.accel }
  const modules = facts.get('modules')?.join(' ').trim() ?? ''
  for (const src of p.sources) {
    const base = src.recording
    const recordingRel = path.relative(ROOT, path.join(RECORDED_DIR, base))
    if (src.kind === 'iommufd' && src.needsIommufd && facts.get('iommufd') === undefined) {
      const note = `${base}: not run: this kernel has no /dev/iommu (built without CONFIG_IOMMUFD?)`
      opts.out('')
      opts.out(`-- ${src.rel}: ${note}`)
      uncompared.push(note)
      continue
    }
    const header: RecordingHeader = {
      source: src.rel,
      kernel: describeKernel(facts, p),
      ...(p.origin.kind === 'image' ? { image: [p.origin.image.info.version.startsWith('Linux') ? p.origin.image.info.version : `Linux version ${p.origin.image.info.version}`, `${path.basename(p.origin.image.path)}, ${p.origin.image.info.format}, sha256 ${p.origin.image.info.sha256}`] } : {}),
      qemu: `${qemuVer}, ${boot.accel.toUpperCase()}`,
      machineLines: machineLines(plan),
      guest: [
        p.kernel.modulesDir === undefined
          ? 'busybox initramfs (realkernel/prepare.ts); no modules: IOMMU, VFIO and iommufd are built into the kernel'
          : `busybox initramfs (realkernel/prepare.ts); modules ${modules || 'vfio, vfio_iommu_type1, vfio_pci and their dependencies'} loaded`,
        ...(p.kernel.modulesDir === undefined ? ['edu bound to vfio-pci through driver_override'] : ['with insmod; edu bound to vfio-pci through driver_override']),
        ...(facts.get('irq-remapping') !== undefined ? ['interrupt remapping enabled (DMAR-IR)'] : []),
        ...(iortNote !== undefined ? [`${iortNote}; dmesg: ${facts.get('acpi-upgrade')?.[0] ?? 'no "Table Upgrade: override" line'}`] : []),
      ],
      groups: describeGroups(machine, src.aliasSeq, replies),
      profile: p.profile,
      fixture: machine.fixture,
      ...(machine.moreFixtures === undefined ? {} : { moreFixtures: machine.moreFixtures }),
      recordingPath: recordingRel,
      ...(src.kind === 'iommufd'
        ? { dma: 'by edu\'s DMA engine; "fault" = an SMMU event for it (a host fault report or a vEVENTQ record); "misplaced" = done, bytes not at ipa=' }
        : {}),
    }
    let text: string
    let notRun: number
    let lines: number
    if (src.kind === 'type1') {
      const results = new Map<number, KernelResult>()
      for (const l of src.session.lines) {
        const seq = src.seqOf.get(l.line.line)
        results.set(l.line.line, seq === undefined ? { ok: false, problem: l.problem ?? 'not compiled' } : resultText(l.line.call, replies.get(seq)))
      }
      text = formatRecording(header, src.parsed, src.text, results)
      notRun = [...results.values()].filter((r) => !r.ok).length
      lines = src.session.lines.length
      for (const l of src.session.lines) {
        const r = results.get(l.line.line)
        if (r !== undefined && !r.ok) opts.out(`  ERROR  ${src.rel}:${l.line.line}  ${l.line.callText}: not run on the kernel: ${r.problem}`)
      }
    } else {
      const results = new Map<number, { ok: true; text: string } | { ok: false; problem: string }>()
      for (const l of src.split.lines) {
        const seq = src.seqOf.get(l.line)
        const said = seq === undefined ? undefined : resultReplies.get(seq)
        const agentProblem = seq === undefined ? undefined : replies.get(seq)
        results.set(
          l.line,
          seq === undefined
            ? { ok: false, problem: 'not an iommufd call (docs/transcript-iommufd.md)' }
            : said !== undefined
              ? { ok: true, text: said }
              : { ok: false, problem: agentProblem?.kind === '!' ? `the agent could not run it: ${agentProblem.text}` : 'the agent printed no reply (the guest stopped before it)' },
        )
      }
      text = formatIommufdRecording(header, src.text, results)
      notRun = [...results.values()].filter((r) => !r.ok).length
      lines = src.split.lines.length
      for (const l of src.split.lines) {
        const r = results.get(l.line)
        if (r !== undefined && !r.ok) opts.out(`  ERROR  ${src.rel}:${l.line}  ${l.callText}: not run on the kernel: ${r.problem}`)
      }
    }
    const cached = path.join(CACHE, 'recorded', base)
    fs.mkdirSync(path.dirname(cached), { recursive: true })
    fs.writeFileSync(cached, text)
    if (opts.record) {
      fs.mkdirSync(RECORDED_DIR, { recursive: true })
      fs.writeFileSync(path.join(RECORDED_DIR, base), text)
    }
    opts.out('')
    const missing = !isProfileName(p.profile)
      ? `profile ${p.profile}`
      : machineFixtures(machine).some((f) => !fs.existsSync(resolveFixturePath(f)))
        ? `fixture ${machineFixtures(machine).find((f) => !fs.existsSync(resolveFixturePath(f))) as string}`
        : parseTranscript(text, base).errors.length > 0
          ? 'reader for iommufd calls (model/transcript does not parse them)'
          : undefined
    if (missing !== undefined) {
      const note = `${base}: recorded${opts.record ? ` to ${recordingRel}` : ''}, not compared: the model has no ${missing} yet`
      opts.out(`-- ${src.rel}: ${note}`)
      if (src.kind === 'iommufd') for (const l of splitTranscript(text).lines) opts.out(`  kernel ${base}:${l.line}  ${l.callText.padEnd(44)} = ${l.expectedText}`)
      uncompared.push(note)
      totals.rows += lines
      totals.differ += notRun
      continue
    }
    let comparison: Comparison
    try {
      comparison = compareWithModel(text, recordingRel, known)
    } catch (e) {
      return fail(`cannot replay the recording of ${src.rel}: ${e instanceof Error ? e.message : String(e)}`, boot.accel.toUpperCase())
    }
    opts.out(`-- ${src.rel}: kernel vs model (${comparison.profile}, ${comparison.fixture})${opts.record ? `, recorded to ${recordingRel}` : ''}`)
    for (const row of comparison.rows) {
      if (!opts.quiet || row.verdict !== 'agree') opts.out(formatRow(base, row))
    }
    const count = (v: string): number => comparison.rows.filter((r) => r.verdict === v).length
    totals.rows += comparison.rows.length + notRun
    totals.agree += count('agree')
    totals.known += count('known')
    totals.differ += count('differ') + count('error') + notRun
    opts.out(`   ${count('agree')} agree, ${count('known')} known differences, ${count('differ') + count('error') + notRun} differ`)
  }
  return { guest: p.name, accel: boot.accel.toUpperCase(), seconds: (Date.now() - started) / 1000, bootSeconds: boot.seconds, ...totals, uncompared }
}

export { DEFAULT_TIMEOUT_SECONDS }

function describeKernel(facts: Map<string, string[]>, p: PreparedGuest): string {
  const release = facts.get('release')?.[0] ?? '?'
  const version = facts.get('version')?.[0] ?? ''
  const pkg = p.kernel.packages.find((x) => x.startsWith('linux-image-'))
  const from =
    p.origin.kind === 'built'
      ? ` (built here from Debian ${p.origin.built.source} with ${p.origin.built.build.fragment})`
      : p.origin.kind === 'image'
        ? ` (--kernel-image ${path.basename(p.origin.image.path)})`
        : pkg === undefined
          ? ''
          : ` (Debian ${pkg})`
  return `Linux ${release} ${version}${from}`.trim()
}

/** The QEMU command line as printed in a header: paths reduced to file names, split for width. */
export function machineLines(plan: BootPlan): string[] {
  const args = qemuArgs(plan).map((a) => (a === plan.kernel || a === plan.initrd || a === plan.bios ? path.basename(a) : a.includes(' ') ? `"${a}"` : a))
  const lines: string[] = []
  let current = path.basename(plan.qemu)
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string
    const piece = a.startsWith('-') && i + 1 < args.length && !(args[i + 1] as string).startsWith('-') ? `${a} ${args[++i] as string}` : a
    if (current.length + piece.length + 1 > 96) {
      lines.push(`${current} \\`)
      current = `  ${piece}`
    } else current = `${current} ${piece}`
  }
  lines.push(current)
  return lines
}

function describeGroups(machine: Machine, aliasSeq: Map<number, number>, replies: ReturnType<typeof parseReplies>): string {
  return Object.entries(machine.groups)
    .map(([g, dev]) => {
      const seq = aliasSeq.get(Number(g))
      const real = seq === undefined ? undefined : replies.get(seq)?.details.get('group')
      return `group ${g} = ${dev} (edu) = /dev/vfio/${real ?? '?'} in this guest`
    })
    .join('; ')
}
