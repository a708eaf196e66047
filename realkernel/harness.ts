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
import { chooseAccel, DEFAULT_TIMEOUT_SECONDS, kernelAppend, qemuArgs, qemuVersion, runGuest, STAGE_TEXT, THIS_HOST, type AccelHost, type AccelMode, type BootPlan, type BootProgress } from './guest'
import { kernelLabel, machineFixtures, transcriptsFor, type KernelLine, type Machine } from './machines'
import { buildAgent, buildInitramfs, CACHE, fetchGuestPackages, guestKernel, installHostPackages, qemu10Dir, qemu11Dir, ROOT, SetupError, type GuestKernel } from './prepare'
import { compileSession, parseFacts, parseReplies, resultText, type CompiledSession, type KernelResult } from './protocol'
import { formatRecording } from './record'

export const RECORDED_DIR = path.join(ROOT, 'transcripts', 'recorded')

export interface HarnessOptions {
  readonly machines: readonly Machine[]
  readonly kernels: readonly KernelLine[]
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
  const guests: Guest[] = opts.kernels.flatMap((kernelLine) => opts.machines.map((machine) => ({ machine, kernelLine })))
  const specs = [...new Map(guests.map((g) => [`${g.machine.arch}:${g.kernelLine.name}`, { arch: g.machine.arch, kernel: g.kernelLine.name }])).values()]
  /** A stage: its line, then (on a terminal) the elapsed time and the last thing its work said. */
  const stage = async <T>(n: number, what: string, work: (log: (line: string) => void) => T | Promise<T>): Promise<T> => {
    const t = Date.now()
    let last = ''
    progress.line(`real-kernel: [${n}/4] ${what}`)
    progress.live(() => `real-kernel: [${n}/4] ${secs(Date.now() - t)}${last === '' ? '' : `: ${last}`}`)
    await new Promise((r) => setImmediate(r))
    try {
      return await work((line) => {
        last = line.trim()
        progress.step(`   ${last}`)
      })
    } finally {
      progress.stop()
      if (Date.now() - t > 1000) progress.line(`real-kernel: [${n}/4] done in ${secs(Date.now() - t)}`)
    }
  }
  let qemu10: string | undefined
  let qemu11: string | undefined
  const wantsQemu11 = guests.some((g) => g.machine.qemuLine === '11')
  try {
    await stage(1, `install: host packages${opts.install ? '' : ' (--no-install: checking only)'}`, (log) => installHostPackages({ install: opts.install, log }))
    await stage(2, `fetch: guest kernels (${specs.map((s) => `${s.arch} ${s.kernel}`).join(', ')})${guests.some((g) => g.machine.qemuLine === '10') ? ' and QEMU 10' : ''}${wantsQemu11 ? ' and QEMU 11' : ''}`, async (log) => {
      await fetchGuestPackages(specs, { install: opts.install, log })
      if (guests.some((g) => g.machine.qemuLine === '10')) qemu10 = await qemu10Dir({ install: opts.install, log })
      if (wantsQemu11) qemu11 = await qemu11Dir({ install: opts.install, log })
    })
  } catch (e) {
    if (e instanceof SetupError) {
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
      all.push(prepareGuest(g, qemu10, qemu11))
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
        `${s.failure === undefined ? '' : '  FAILED'}${s.uncompared.length > 0 ? '  (not compared: no model profile/fixture yet)' : ''}`,
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

interface SourceTranscript {
  readonly rel: string
  readonly recording: string
  readonly text: string
  readonly parsed: ParsedTranscript
  readonly session: CompiledSession
  /** Agent sequence number of each runnable transcript line. */
  readonly seqOf: Map<number, number>
  /** Sequence number of each `alias` command: group -> seq. */
  readonly aliasSeq: Map<number, number>
}

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
}

function guestName(g: Guest, label?: string): string {
  return `${g.machine.name} ${label ?? `linux-${g.kernelLine.name}`}`
}

function prepareGuest(g: Guest, qemu10: string | undefined, qemu11?: string): PreparedGuest | GuestSummary {
  const { machine, kernelLine } = g
  try {
    const kernel = guestKernel(machine.arch, kernelLine.name)
    const label = kernelLabel(kernel.release)
    const profile = kernelLine.profile
    // Until the model knows a kernel's profile, its calls are compiled with 6.1's uapi names.
    const uapi = getProfile(isProfileName(profile) ? profile : 'linux-6.1').vfio.uapi
    const commands: string[] = []
    const sources: SourceTranscript[] = []
    for (const { source: rel, recording } of transcriptsFor(machine, label, ROOT)) {
      const text = fs.readFileSync(path.join(ROOT, rel), 'utf8')
      const parsed = parseTranscript(text, rel)
      const session = compileSession(parsed, uapi, machine.groups)
      const aliasSeq = new Map<number, number>()
      for (const c of session.preamble) {
        commands.push(c)
        const alias = /^alias (\d+) /.exec(c)
        if (alias !== null) aliasSeq.set(Number(alias[1]), commands.length)
      }
      const seqOf = new Map<number, number>()
      for (const l of session.lines) {
        if (l.command === undefined) continue
        commands.push(l.command)
        seqOf.set(l.line.line, commands.length)
      }
      sources.push({ rel, recording, text, parsed, session, seqOf, aliasSeq })
    }
    const agent = buildAgent(machine.arch)
    const initrd = path.join(CACHE, 'build', `initrd-${machine.name}-${kernelLine.name}.gz`)
    fs.writeFileSync(initrd, buildInitramfs(kernel, agent, commands))
    const qemu = machine.qemuLine === '10' ? path.join(qemu10 as string, machine.qemu) : machine.qemuLine === '11' ? path.join(qemu11 as string, machine.qemu) : machine.qemu
    return {
      name: guestName(g, label),
      guest: g,
      kernel,
      profile,
      label,
      qemu,
      plan: { machine, qemu, kernel: kernel.vmlinuz, initrd, append: kernelAppend(machine) },
      commands,
      sources,
    }
  } catch (e) {
    if (e instanceof SetupError) return { guest: guestName(g), accel: '-', seconds: 0, rows: 0, agree: 0, known: 0, differ: 0, uncompared: [], failure: e.message }
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
  const logFile = path.join(CACHE, 'logs', `${machine.name}-${p.guest.kernelLine.name}.log`)
  let now: BootProgress = { stage: 'qemu', calls: 0, seconds: 0 }
  let accelNow = choice.accel
  const t0 = Date.now()
  const describe = (q: BootProgress): string => `${STAGE_TEXT[q.stage]}${q.stage === 'agent' || q.stage === 'end' ? `, calls ${q.calls}/${p.commands.length}` : ''}`
  progress.live(() => `   guest ${n} of ${total} ${p.name} ${accelNow.toUpperCase()} ${((Date.now() - t0) / 1000).toFixed(0)} s: ${describe(now)}`)
  const boot = await runGuest(
    { ...p.plan, accel: choice.accel },
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
  const facts = parseFacts(boot.output)
  const problems = [...(facts.get('insmod-failed') ?? []).map((m) => `insmod ${m} failed`)]
  for (const pr of problems) opts.err(`   guest: ${pr}`)

  const known = loadKnownDifferences()
  const totals = { rows: 0, agree: 0, known: 0, differ: 0 }
  const uncompared: string[] = []
  const plan: BootPlan = { ...p.plan, accel: boot.accel }
  for (const src of p.sources) {
    const results = new Map<number, KernelResult>()
    for (const l of src.session.lines) {
      const seq = src.seqOf.get(l.line.line)
      results.set(l.line.line, seq === undefined ? { ok: false, problem: l.problem ?? 'not compiled' } : resultText(l.line.call, replies.get(seq)))
    }
    const base = src.recording
    const recordingRel = path.relative(ROOT, path.join(RECORDED_DIR, base))
    const text = formatRecording(
      {
        source: src.rel,
        kernel: describeKernel(facts, p.kernel.packages),
        qemu: `${qemuVer}, ${boot.accel.toUpperCase()}`,
        machineLines: machineLines(plan),
        guest: [
          `busybox initramfs (realkernel/prepare.ts); modules ${(facts.get('modules') ?? []).join(' ') || 'vfio, vfio_iommu_type1, vfio_pci and their dependencies'} loaded`,
          'with insmod; edu bound to vfio-pci through driver_override',
          ...(facts.get('irq-remapping') !== undefined ? ['interrupt remapping enabled (DMAR-IR)'] : []),
        ],
        groups: describeGroups(machine, src.aliasSeq, replies),
        profile: p.profile,
        fixture: machine.fixture,
        ...(machine.moreFixtures === undefined ? {} : { moreFixtures: machine.moreFixtures }),
        recordingPath: recordingRel,
      },
      src.parsed,
      src.text,
      results,
    )
    const cached = path.join(CACHE, 'recorded', base)
    fs.mkdirSync(path.dirname(cached), { recursive: true })
    fs.writeFileSync(cached, text)
    if (opts.record) {
      fs.mkdirSync(RECORDED_DIR, { recursive: true })
      fs.writeFileSync(path.join(RECORDED_DIR, base), text)
    }
    opts.out('')
    const notRun = [...results.values()].filter((r) => !r.ok).length
    for (const l of src.session.lines) {
      const r = results.get(l.line.line)
      if (r !== undefined && !r.ok) opts.out(`  ERROR  ${src.rel}:${l.line.line}  ${l.line.callText}: not run on the kernel: ${r.problem}`)
    }
    const absent = machineFixtures(machine).find((f) => !fs.existsSync(resolveFixturePath(f)))
    const missing = !isProfileName(p.profile) ? `profile ${p.profile}` : absent !== undefined ? `fixture ${absent}` : undefined
    if (missing !== undefined) {
      const note = `${base}: recorded${opts.record ? ` to ${recordingRel}` : ''}, not compared: the model has no ${missing} yet`
      opts.out(`-- ${src.rel}: ${note}`)
      uncompared.push(note)
      totals.rows += src.session.lines.length
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

function describeKernel(facts: Map<string, string[]>, packages: readonly string[]): string {
  const release = facts.get('release')?.[0] ?? '?'
  const version = facts.get('version')?.[0] ?? ''
  const pkg = packages.find((p) => p.startsWith('linux-image-'))
  return `Linux ${release} ${version}${pkg === undefined ? '' : ` (Debian ${pkg})`}`.trim()
}

/** The QEMU command line as printed in a header: paths reduced to file names, split for width. */
function machineLines(plan: BootPlan): string[] {
  const args = qemuArgs(plan).map((a) => (a === plan.kernel || a === plan.initrd ? path.basename(a) : a.includes(' ') ? `"${a}"` : a))
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
