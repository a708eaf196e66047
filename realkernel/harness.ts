/**
 * `npm run real-kernel`: for each guest, compile its transcripts into one batch of agent commands,
 * boot the guest once, turn the agent's replies into a recorded transcript per source transcript,
 * and replay that recording against the model - one row per call: kernel result, model result,
 * agree / known difference / DIFFER.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { getProfile } from '../model/profiles'
import { parseTranscript, type ParsedTranscript } from '../model/transcript'
import { compareWithModel, formatRow, loadKnownDifferences, type Comparison } from './compare'
import { bootGuest, chooseAccel, kernelAppend, qemuArgs, qemuVersion, type BootPlan } from './guest'
import type { Machine } from './machines'
import { buildAgent, buildInitramfs, CACHE, guestKernel, prepareHost, ROOT, SetupError } from './prepare'
import { compileSession, parseFacts, parseReplies, resultText, type CompiledSession, type KernelResult } from './protocol'
import { formatRecording } from './record'

export const RECORDED_DIR = path.join(ROOT, 'transcripts', 'recorded')

export interface HarnessOptions {
  readonly machines: readonly Machine[]
  /** Write the recordings to transcripts/recorded/ (always written under .cache/realkernel/recorded/). */
  readonly record: boolean
  readonly install: boolean
  readonly timeoutSeconds: number
  /** Print only rows that are not plain agreements. */
  readonly quiet: boolean
  readonly out: (line: string) => void
  readonly err: (line: string) => void
}

interface MachineSummary {
  readonly machine: string
  readonly seconds: number
  readonly bootSeconds?: number
  readonly rows: number
  readonly agree: number
  readonly known: number
  readonly differ: number
  readonly failure?: string
}

export const EXIT = { OK: 0, DIFFER: 1, SETUP: 2 } as const

export async function runRealKernel(opts: HarnessOptions): Promise<number> {
  const started = Date.now()
  const archs = [...new Set(opts.machines.map((m) => m.arch))]
  opts.out(`real-kernel: preparing host tools and guest packages (${archs.join(', ')})`)
  try {
    prepareHost(archs, { install: opts.install, log: () => undefined })
  } catch (e) {
    if (e instanceof SetupError) {
      opts.err(`real-kernel: ${e.message}`)
      return EXIT.SETUP
    }
    throw e
  }
  opts.out(`real-kernel: prepared in ${secs(Date.now() - started)}`)

  const summaries: MachineSummary[] = []
  for (const machine of opts.machines) summaries.push(await runMachine(machine, opts))

  opts.out('')
  opts.out('machine  wall    boot+run  calls  agree  known  differ')
  for (const s of summaries) {
    const boot = s.bootSeconds === undefined ? '-' : `${s.bootSeconds.toFixed(1)}s`
    opts.out(`${s.machine.padEnd(8)} ${`${s.seconds.toFixed(1)}s`.padEnd(7)} ${boot.padEnd(9)} ${String(s.rows).padEnd(6)} ${String(s.agree).padEnd(6)} ${String(s.known).padEnd(6)} ${s.differ}${s.failure === undefined ? '' : '  FAILED'}`)
  }
  opts.out(`real-kernel: done in ${secs(Date.now() - started)}`)
  const failed = summaries.filter((s) => s.failure !== undefined)
  for (const f of failed) opts.err(`real-kernel: ${f.machine}: ${f.failure}`)
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

async function runMachine(machine: Machine, opts: HarnessOptions): Promise<MachineSummary> {
  const started = Date.now()
  const fail = (failure: string): MachineSummary => ({ machine: machine.name, seconds: (Date.now() - started) / 1000, rows: 0, agree: 0, known: 0, differ: 0, failure })
  opts.out('')
  opts.out(`== ${machine.name}: ${machine.qemu} ${machine.machineArgs.join(' ')}`)

  const uapi = getProfile(machine.profile).vfio.uapi
  const commands: string[] = []
  const sources: SourceTranscript[] = []
  for (const { source: rel, recording } of machine.transcripts) {
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

  let plan: BootPlan
  try {
    const kernel = guestKernel(machine.arch)
    const agent = buildAgent(machine.arch, () => undefined)
    const initrd = path.join(CACHE, 'build', `initrd-${machine.name}.gz`)
    fs.writeFileSync(initrd, buildInitramfs(kernel, agent, commands))
    plan = { machine, accel: chooseAccel(machine), kernel: kernel.vmlinuz, initrd, append: kernelAppend(machine) }
  } catch (e) {
    if (e instanceof SetupError) return fail(e.message)
    throw e
  }
  const kernel = guestKernel(machine.arch)
  opts.out(`   ${kernel.packages.join(', ')}; ${qemuVersion(machine.qemu)}; ${plan.accel.toUpperCase()}; ${commands.length} agent commands`)

  fs.mkdirSync(path.join(CACHE, 'logs'), { recursive: true })
  const logFile = path.join(CACHE, 'logs', `${machine.name}.log`)
  const boot = await bootGuest(plan, opts.timeoutSeconds, logFile)
  if (boot.failure !== undefined) return fail(boot.failure)
  opts.out(`   booted and ran in ${boot.seconds.toFixed(1)} s (console log: ${path.relative(ROOT, logFile)})`)

  const replies = parseReplies(boot.output)
  const facts = parseFacts(boot.output)
  const problems = [...(facts.get('insmod-failed') ?? []).map((m) => `insmod ${m} failed`)]
  for (const p of problems) opts.err(`   guest: ${p}`)

  const known = loadKnownDifferences()
  const totals = { rows: 0, agree: 0, known: 0, differ: 0 }
  for (const src of sources) {
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
        kernel: describeKernel(facts, kernel.packages),
        qemu: `${qemuVersion(machine.qemu)}, ${plan.accel.toUpperCase()}`,
        machineLines: machineLines(plan),
        guest: [
          `busybox initramfs (realkernel/prepare.ts); modules ${(facts.get('modules') ?? []).join(' ') || 'vfio, vfio_iommu_type1, vfio_pci and their dependencies'} loaded`,
          'with insmod; edu bound to vfio-pci through driver_override',
          ...(facts.get('irq-remapping') !== undefined ? ['interrupt remapping enabled (DMAR-IR)'] : []),
        ],
        groups: describeGroups(machine, src.aliasSeq, replies),
        profile: machine.profile,
        fixture: machine.fixture,
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

    let comparison: Comparison
    try {
      comparison = compareWithModel(text, recordingRel, known)
    } catch (e) {
      return fail(`cannot replay the recording of ${src.rel}: ${e instanceof Error ? e.message : String(e)}`)
    }
    opts.out('')
    opts.out(`-- ${src.rel}: kernel vs model (${comparison.profile}, ${comparison.fixture})${opts.record ? `, recorded to ${recordingRel}` : ''}`)
    for (const l of src.session.lines) {
      const r = results.get(l.line.line)
      if (r !== undefined && !r.ok) opts.out(`  ERROR  ${src.rel}:${l.line.line}  ${l.line.callText}: not run on the kernel: ${r.problem}`)
    }
    for (const row of comparison.rows) {
      if (!opts.quiet || row.verdict !== 'agree') opts.out(formatRow(base, row))
    }
    const count = (v: string): number => comparison.rows.filter((r) => r.verdict === v).length
    const notRun = [...results.values()].filter((r) => !r.ok).length
    totals.rows += comparison.rows.length + notRun
    totals.agree += count('agree')
    totals.known += count('known')
    totals.differ += count('differ') + count('error') + notRun
    opts.out(`   ${count('agree')} agree, ${count('known')} known differences, ${count('differ') + count('error') + notRun} differ`)
  }
  return { machine: machine.name, seconds: (Date.now() - started) / 1000, bootSeconds: boot.seconds, ...totals }
}

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
  let current = plan.machine.qemu
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
