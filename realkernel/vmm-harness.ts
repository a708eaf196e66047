/**
 * `npm run real-kernel -- --vmm NAME`: a real VMM as the client (realkernel/vmm.ts). For each run
 * and kernel line: boot the outer machine with the VMM's files in the initramfs, let the VMM start
 * under the capture library and quit, turn the capture into transcript lines
 * (realkernel/capture/convert.ts), add the agent's calls after the VMM's exit, write the
 * recording, and replay it against the model: every container, group and device-open call
 * compared, device-level calls counted as outside the model.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { resolveFixturePath } from '../model/hw'
import { getProfile, isProfileName } from '../model/profiles'
import { printable } from '../model/textfile'
import { parseTranscript, type TranscriptLine } from '../model/transcript'
import { convertCapture, formatConverted, parseCapture, type Conversion, type ParsedCapture } from './capture/convert'
import { compareWithModel, formatRow, loadKnownDifferences } from './compare'
import { chooseAccel, kernelAppend, qemuVersion, runGuest, STAGE_TEXT, THIS_HOST, type BootPlan } from './guest'
import { EXIT, machineLines, RECORDED_DIR, type GuestRunOptions } from './harness'
import { kernelByName, kernelLabel, machineByName, machineFixtures, type KernelLine } from './machines'
import { buildKernel, kernelBuildByName, KernelBuildError, tenthsLog, type BuiltKernel } from './kernel-build'
import { iommufdCommand, iommufdExpectationHolds, parseResultReplies, splitTranscript } from './iommufd-lines'
import { buildAgent, buildInitramfs, CACHE, edk2Firmware, fetchGuestPackages, guestKernel, installHostPackages, otherGuestKernel, qemu10Dir, ROOT, SetupError, type GuestKernel } from './prepare'
import { iortFromFact, iortWithCanwbs, IortError, tableUpgradeCpio } from './iort'
import { compileSession, parseFacts, parseReplies, resultText } from './protocol'
import { expectationHolds, recordedLine } from './record'
import { AFTER_EXIT, AFTER_EXIT_IOMMUFD, buildCaptureLibrary, closurePackage, parseVmmOutput, vmmArchive, vmmArgs, vmmQemuClosure, vmmRecordingName, vmmStraceClosure, type VmmQemuLine, type VmmRun } from './vmm'
import { captureIoctlCounts, compareIoctlCounts, describeComparison, parseStrace } from './vmm-strace'

/** Raw capture logs of the committed VMM recordings. */
export const CAPTURES_DIR = path.join(RECORDED_DIR, 'captures')

export interface VmmHarnessOptions extends GuestRunOptions {
  readonly runs: readonly VmmRun[]
  /** The kernel lines to run every run on; empty: each run's own (VmmRun.kernels). */
  readonly kernels: readonly KernelLine[]
}

interface VmmSummary {
  readonly name: string
  readonly seconds: number
  readonly bootSeconds?: number
  readonly compared: number
  readonly agree: number
  readonly known: number
  readonly differ: number
  readonly outside: number
  readonly notConverted: number
  readonly failure?: string
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

export async function runVmmRuns(opts: VmmHarnessOptions): Promise<number> {
  const started = Date.now()
  const log = (line: string): void => opts.out(`   ${line.trim()}`)
  const closures = new Map<VmmQemuLine, string>()
  const pairs = opts.runs.flatMap((run) => (opts.kernels.length > 0 ? opts.kernels : run.kernels.map((k) => kernelByName(k) as KernelLine)).map((kernelLine) => ({ run, kernelLine })))
  const kernelLines = [...new Set(pairs.map((p) => p.kernelLine))]
  const built = new Map<string, BuiltKernel>()
  let qemu10: string | undefined
  let strace = ''
  try {
    opts.out(`real-kernel: [1/4] install: host packages${opts.install ? '' : ' (--no-install: checking only)'}`)
    await installHostPackages({ install: opts.install, log, kernelBuild: kernelLines.some((k) => k.build !== undefined) })
    opts.out(`real-kernel: [2/4] fetch: arm64 kernels (${kernelLines.map((k) => k.name).join(', ')}) and the VMM's QEMU (${[...new Set(opts.runs.map((r) => r.qemu))].join(', ')})`)
    const edk2 = pairs.some((p) => p.run.backend === 'accel' || machineByName(p.run.machine)?.firmware === 'edk2')
    await fetchGuestPackages(
      [...kernelLines.map((k) => ({ arch: 'arm64' as const, kernel: k.build === undefined ? k.name : 'busybox' })), ...(edk2 ? [{ arch: 'arm64' as const, kernel: 'edk2' }] : [])],
      { install: opts.install, log },
    )
    for (const k of kernelLines) {
      if (k.build === undefined) continue
      const build = kernelBuildByName(k.build)
      if (build === undefined) throw new SetupError(`no kernel build named ${k.build}`)
      const b = await buildKernel(build, { cache: CACHE, install: opts.install, log: tenthsLog(log, log) })
      built.set(k.name, b)
    }
    if (pairs.some((p) => machineByName(p.run.machine)?.qemuLine === '10')) qemu10 = await qemu10Dir({ install: opts.install, log })
    for (const r of opts.runs) if (!closures.has(r.qemu)) closures.set(r.qemu, await vmmQemuClosure(r.qemu, { install: opts.install, log }))
    strace = await vmmStraceClosure({ install: opts.install, log })
  } catch (e) {
    if (e instanceof SetupError || e instanceof KernelBuildError) {
      opts.err(`real-kernel: ${e.message}`)
      return EXIT.SETUP
    }
    throw e
  }
  opts.out(`real-kernel: prepared in ${secs(Date.now() - started)}`)
  const summaries: VmmSummary[] = []
  for (const { run, kernelLine } of pairs) summaries.push(await runOne(run, kernelLine, { closure: closures.get(run.qemu) as string, strace, built: built.get(kernelLine.name), qemu10 }, opts))
  opts.out('')
  opts.out('vmm run                          wall    boot+run  compared  agree  known  differ  outside  not converted')
  for (const s of summaries) {
    const boot = s.bootSeconds === undefined ? '-' : `${s.bootSeconds.toFixed(1)}s`
    opts.out(
      `${s.name.padEnd(32)} ${`${s.seconds.toFixed(1)}s`.padEnd(7)} ${boot.padEnd(9)} ${String(s.compared).padEnd(9)} ${String(s.agree).padEnd(6)} ${String(s.known).padEnd(6)} ${String(s.differ).padEnd(7)} ${String(s.outside).padEnd(8)} ${s.notConverted}${s.failure === undefined ? '' : '  FAILED'}`,
    )
  }
  opts.out(`real-kernel: done in ${secs(Date.now() - started)}`)
  const failed = summaries.filter((s) => s.failure !== undefined)
  for (const f of failed) opts.err(`real-kernel: ${f.name}: ${f.failure}`)
  if (failed.length > 0) return EXIT.SETUP
  return summaries.some((s) => s.differ > 0 || s.notConverted > 0) ? EXIT.DIFFER : EXIT.OK
}

interface RunInputs {
  readonly closure: string
  /** Debian's arm64 strace's closure: it runs the VMM too (realkernel/vmm-strace.ts). */
  readonly strace: string
  /** The kernel, when its line is built here. */
  readonly built?: BuiltKernel | undefined
  readonly qemu10?: string | undefined
}

async function runOne(run: VmmRun, kernelLine: KernelLine, inputs: RunInputs, opts: VmmHarnessOptions): Promise<VmmSummary> {
  const { closure } = inputs
  const started = Date.now()
  const name = `${run.name} ${run.backend} linux-${kernelLine.name}`
  const empty = { compared: 0, agree: 0, known: 0, differ: 0, outside: 0, notConverted: 0 }
  const fail = (failure: string): VmmSummary => ({ name, seconds: (Date.now() - started) / 1000, ...empty, failure })
  const machine = machineByName(run.machine)
  if (machine === undefined) return fail(`no machine ${run.machine}`)
  opts.out('')
  opts.out(`== [3/4] ${name}: QEMU ${run.qemu} (arm64) as the VMM in the ${machine.name} guest`)
  let initrd: string
  let kernel: GuestKernel
  const profile = kernelLine.profile
  const uapi = getProfile(isProfileName(profile) ? profile : 'linux-6.1').vfio.uapi
  const afterText = run.backend === 'legacy' ? AFTER_EXIT : AFTER_EXIT_IOMMUFD
  const after = parseTranscript(afterText, 'after-exit')
  const commands = [`session after-exit`, `alias ${run.group} ${run.device}`]
  const seqOf = new Map<number, number>()
  if (run.backend !== 'legacy') {
    for (const l of splitTranscript(afterText).lines) {
      commands.push(iommufdCommand(l.callText))
      seqOf.set(l.line, commands.length)
    }
  } else {
    for (const l of compileSession(after, uapi, { [run.group]: run.device }).lines) {
      if (l.command === undefined) continue
      commands.push(l.command)
      seqOf.set(l.line.line, commands.length)
    }
  }
  try {
    const b = inputs.built
    kernel = b === undefined ? guestKernel('arm64', kernelLine.name) : otherGuestKernel('arm64', kernelLine.name, b.image, b.release, [`${b.source} built with ${b.build.fragment}`])
    const base = buildInitramfs(kernel, buildAgent('arm64'), commands)
    initrd = path.join(CACHE, 'build', `initrd-vmm-${run.name}-${run.backend}-${kernelLine.name}.gz`)
    fs.mkdirSync(path.dirname(initrd), { recursive: true })
    const inner = run.backend === 'accel' ? { firmware: edk2Firmware(), image: kernel.vmlinuz, busybox: kernel.busybox } : undefined
    fs.writeFileSync(initrd, Buffer.concat([base, vmmArchive(run, closure, buildCaptureLibrary(), inner, inputs.strace)]))
  } catch (e) {
    if (e instanceof SetupError) return fail(e.message)
    throw e
  }
  const choice = chooseAccel(machine, opts.accel, opts.host ?? THIS_HOST)
  if (typeof choice === 'string') return fail(choice)
  const qemu = machine.qemuLine === '10' ? path.join(inputs.qemu10 as string, machine.qemu) : machine.qemu
  const bios = machine.firmware === 'edk2' ? edk2Firmware() : undefined
  let plan: BootPlan = { machine, qemu, accel: choice.accel, kernel: kernel.vmlinuz, initrd, append: kernelAppend(machine), ...(bios === undefined ? {} : { bios }) }
  const qemuVer = qemuVersion(qemu)
  // A machine whose IORT must say CANWBS: QEMU's own IORT, read by one boot without the VMM, is
  // given back upgraded through the kernel's ACPI table upgrade (realkernel/iort.ts, as harness.ts).
  if (machine.iortCanwbs === true) {
    const probeInitrd = path.join(CACHE, 'build', `initrd-vmm-${machine.name}-iort-probe.gz`)
    fs.writeFileSync(probeInitrd, buildInitramfs(kernel, buildAgent('arm64'), []))
    opts.out(`   reading QEMU's IORT: one boot with no commands`)
    const probe = await runGuest({ ...plan, initrd: probeInitrd }, choice, { timeoutSeconds: opts.timeoutSeconds, logFile: path.join(CACHE, 'logs', `vmm-${machine.name}-iort-probe.log`) }, (l) => opts.out(`   ${l}`))
    const hex = probe.failure === undefined ? parseFacts(probe.output).get('iort')?.[0] : undefined
    if (hex === undefined) return fail(`the boot that reads QEMU's IORT ${probe.failure ?? 'found no /sys/firmware/acpi/tables/IORT'}`)
    let upgraded: Buffer
    try {
      upgraded = iortWithCanwbs(iortFromFact(hex))
    } catch (e) {
      if (e instanceof IortError) return fail(`QEMU's IORT: ${e.message}`)
      throw e
    }
    const withIort = initrd.replace(/\.gz$/, '-iort.img')
    fs.writeFileSync(withIort, Buffer.concat([tableUpgradeCpio({ IORT: upgraded }), fs.readFileSync(initrd)]))
    plan = { ...plan, initrd: withIort }
    opts.out('   IORT: QEMU\'s, its PCI root complex saying CANWBS, given through the kernel\'s ACPI table upgrade')
  }
  opts.out(`   ${kernel.packages.join(', ')}; ${qemuVer}; ${choice.accel.toUpperCase()}; VMM ${closurePackage(closure)}; initramfs ${(fs.statSync(initrd).size / 1e6).toFixed(1)} MB`)
  fs.mkdirSync(path.join(CACHE, 'logs'), { recursive: true })
  const logFile = path.join(CACHE, 'logs', `vmm-${run.name}-${run.backend}-${kernelLine.name}.log`)
  opts.out(`== [4/4] booting (console log: ${path.relative(ROOT, logFile)})`)
  let stage = ''
  const onProgress = (p: { stage: keyof typeof STAGE_TEXT; seconds: number }): void => {
    if (p.stage !== stage) opts.out(`   ${p.seconds.toFixed(1)} s: ${STAGE_TEXT[p.stage]}`)
    stage = p.stage
  }
  // A VMM that boots its own guest under KVM inside TCG takes minutes, not seconds.
  const timeoutSeconds = run.backend === 'accel' ? Math.max(opts.timeoutSeconds, 1200) : opts.timeoutSeconds
  const boot = await runGuest(plan, choice, { timeoutSeconds, logFile, onProgress }, (l) => opts.out(`   ${l}`))
  if (boot.failure !== undefined) return fail(boot.failure)
  const vmm = parseVmmOutput(boot.output)
  if (vmm.capture === '') return fail(`the guest printed no capture (VMM exit status ${vmm.exitStatus ?? '?'}; its output: ${vmm.vmmOut.slice(0, 5).join(' | ')}). Console log: ${logFile}`)
  opts.out(`   booted and ran in ${boot.seconds.toFixed(1)} s; the VMM exited with ${vmm.exitStatus ?? '?'}`)
  for (const l of vmm.vmmOut) opts.out(`   vmm: ${printable(l)}`)

  const facts = parseFacts(boot.output)
  const capture = parseCapture(vmm.capture)
  // io_uring as the run asked (vmm.ts vmmScript): the guest's sysctl, and what the VMM's
  // io_uring_queue_init answered in the capture.
  const rings = ioUringRings(capture)
  if (run.ioUring !== undefined) {
    const problem = ioUringProblem(run.ioUring, facts.get('io_uring_disabled')?.[0], rings)
    if (problem !== undefined) return fail(`${problem}. Console log: ${logFile}`)
  }
  const realGroup = (facts.get('device') ?? []).map((d) => /^(\S+) \S+ group=(\d+)/.exec(d)).find((m) => m !== null && m[1] === run.device)?.[2]
  const label = kernelLabel(facts.get('release')?.[0] ?? kernel.release)
  const groupNames = new Map<number, number>(realGroup === undefined ? [] : [[Number(realGroup), run.group]])
  // `@@ fact cdev vfio0 0000:00:01.0`: the run's device's cdev is device `run.group`.
  const cdevNames = new Map<string, number>((facts.get('cdev') ?? []).flatMap((f) => {
    const [cdev, dev] = f.split(' ')
    return dev === run.device && cdev !== undefined ? [[cdev, run.group] as [string, number]] : []
  }))
  const conversion = convertCapture(capture, { uapi, groupNames, cdevNames })
  for (const p of capture.problems) opts.err(`   capture: ${p}`)
  // strace's count of the same run's VFIO and iommufd ioctls against the capture's, per number.
  if (vmm.strace === undefined) return fail(`the guest printed no strace count (strace ran the VMM? its output: ${vmm.vmmOut.slice(0, 5).join(' | ')}). Console log: ${logFile}`)
  const straced = parseStrace(vmm.strace)
  const captured = captureIoctlCounts(capture)
  const ioctls = compareIoctlCounts(straced.counts, captured.counts)
  const straceLine = `strace: ${describeComparison(ioctls)} (${vmm.straceIoctls ?? '?'} ioctls of any kind in all)`
  opts.out(`   ${straceLine}`)
  const unread = [...straced.unreadable.map((l) => `strace line not read: ${l}`), ...captured.unknown.map((l) => `capture ioctl of no known number: ${l}`)]
  if (!ioctls.agree || unread.length > 0) return fail(`${straceLine}${unread.length === 0 ? '' : `; ${unread.slice(0, 3).join('; ')}`}. Console log: ${logFile}`)
  const replies = parseReplies(boot.output)
  const resultReplies = parseResultReplies(boot.output)
  const afterLines =
    run.backend !== 'legacy'
      ? splitTranscript(afterText).lines.map((l) => {
          const seq = seqOf.get(l.line)
          const said = seq === undefined ? undefined : resultReplies.get(seq)
          const why = seq === undefined ? undefined : replies.get(seq)
          const result = said !== undefined ? { ok: true as const, text: said } : { ok: false as const, problem: why?.kind === '!' ? `the agent could not run it: ${why.text}` : 'the agent printed no reply' }
          return recordedLine(l.callText, result, (kernelText) => iommufdExpectationHolds(l.expectedText, kernelText), l.expectedText, 45)
        })
      : after.lines.map((l) => {
          const seq = seqOf.get(l.line)
          return afterExitLine(l, seq === undefined ? undefined : resultText(l.call, replies.get(seq)))
        })
  const base = vmmRecordingName(run, label)
  const recordingRel = path.relative(ROOT, path.join(RECORDED_DIR, base))
  const header: VmmRecordingHeader = {
    run,
    kernel: describeKernel(facts, kernel.packages),
    qemu: `${qemuVer}, ${boot.accel.toUpperCase()}`,
    machineLines: machineLines({ ...plan, accel: boot.accel }),
    vmm: `${closurePackage(closure)} (arm64), run in the guest under the capture library`,
    guest: kernel.modulesDir === undefined ? 'busybox initramfs (realkernel/prepare.ts), IOMMU, VFIO and iommufd built in, with the VMM\'s files (realkernel/vmm.ts); edu bound to vfio-pci' : 'busybox initramfs (realkernel/prepare.ts) with the VMM\'s files (realkernel/vmm.ts); edu bound to vfio-pci',
    groups: `group ${run.group} = ${run.device} (edu) = /dev/vfio/${realGroup ?? '?'} in this guest`,
    profile,
    fixtures: machineFixtures(machine),
    recordingPath: recordingRel,
    conversion,
    strace: `${describeComparison(ioctls)} (Debian's ${closurePackage(inputs.strace, 'strace')}, arm64, ran the same VMM run: strace -f -e trace=ioctl -e raw=ioctl)`,
    ...(run.ioUring === undefined ? {} : { ioUring: describeIoUring(run.ioUring, rings) }),
    afterLines,
  }
  // Compared before it is written: the header names the known differences (realkernel/compare.ts),
  // so that a reader whose `replay` reports them differing sees why.
  const absent = machineFixtures(machine).find((f) => !fs.existsSync(resolveFixturePath(f)))
  const comparison = isProfileName(profile) && absent === undefined ? compareWithModel(formatVmmRecording(header), recordingRel, loadKnownDifferences()) : undefined
  const knownIds = [...new Set((comparison?.rows ?? []).flatMap((r) => (r.known === undefined ? [] : [r.known.id])))]
  const text = formatVmmRecording({ ...header, ...(knownIds.length === 0 ? {} : { known: knownIds }) })
  const captureName = base.replace(/\.vfio$/, '.capture')
  const cached = path.join(CACHE, 'recorded', base)
  fs.mkdirSync(path.join(CACHE, 'recorded', 'captures'), { recursive: true })
  fs.writeFileSync(cached, text)
  fs.writeFileSync(path.join(CACHE, 'recorded', 'captures', captureName), vmm.capture)
  if (opts.record) {
    // The capture beside its recording: test/unit/vmm-capture.test.ts converts it again and
    // finds the recording's lines.
    fs.mkdirSync(CAPTURES_DIR, { recursive: true })
    fs.writeFileSync(path.join(RECORDED_DIR, base), text)
    fs.writeFileSync(path.join(CAPTURES_DIR, captureName), vmm.capture)
    // strace's VFIO and iommufd ioctl lines beside it: test/unit/vmm-strace.test.ts counts both again.
    fs.writeFileSync(path.join(CAPTURES_DIR, captureName.replace(/\.capture$/, '.strace')), vmm.strace)
  }
  const c = conversion.counts
  opts.out(`   capture: ${c.calls} VFIO calls (${c.compared} for the model, ${c.outside} device-level, ${c.notConverted} not converted), ${c.eventfds} eventfds`)
  if (comparison === undefined) return fail(`not compared: the model has no ${!isProfileName(profile) ? `profile ${profile}` : `fixture ${absent}`}`)
  opts.out(`-- ${base}: kernel vs model (${comparison.profile}, ${comparison.fixture})${opts.record ? `, recorded to ${recordingRel}` : ''}`)
  for (const row of comparison.rows) if (!opts.quiet || (row.verdict !== 'agree' && row.verdict !== 'outside')) opts.out(formatRow(base, row))
  const count = (v: string): number => comparison.rows.filter((r) => r.verdict === v).length
  const differ = count('differ') + count('error')
  opts.out(`   ${count('agree')} agree, ${count('known')} known differences, ${differ} differ, ${count('outside')} outside the model, ${c.notConverted} not converted`)
  return {
    name,
    seconds: (Date.now() - started) / 1000,
    bootSeconds: boot.seconds,
    compared: comparison.rows.length - count('outside'),
    agree: count('agree'),
    known: count('known'),
    differ,
    outside: count('outside'),
    notConverted: c.notConverted,
  }
}

/** What the VMM's io_uring_queue_init calls answered (capture `uring_init` lines). */
export interface IoUringRings {
  /** Rings set up (io_uring_queue_init = 0). */
  readonly setUp: number
  /** Calls refused, by errno (EPERM when kernel.io_uring_disabled is 2). */
  readonly refused: readonly string[]
  /** Polls the VMM submitted on followed descriptors (uring_poll_add). */
  readonly polls: number
}

export function ioUringRings(capture: ParsedCapture): IoUringRings {
  const inits = capture.events.filter((e) => e.call === 'uring_init')
  return {
    setUp: inits.filter((e) => e.ret === 0n).length,
    refused: inits.filter((e) => e.ret !== 0n).map((e) => e.errno ?? 'EIO'),
    polls: capture.events.filter((e) => e.call === 'uring_poll_add').length,
  }
}

/**
 * Why the run's io_uring is not what it asked for, or undefined. off: kernel.io_uring_disabled=2
 * (io_uring_allowed refuses every io_uring_setup, io_uring/io_uring.c) and no ring in the capture;
 * on: 0, and the VMM set up at least one ring (QEMU falls back to ppoll silently when it cannot).
 */
export function ioUringProblem(wanted: 'off' | 'on', sysctl: string | undefined, rings: IoUringRings): string | undefined {
  const said = `kernel.io_uring_disabled: ${sysctl ?? 'no such sysctl'}`
  if (wanted === 'off') {
    if (sysctl !== '2') return `io_uring was not turned off in the guest (${said})`
    if (rings.setUp > 0) return `io_uring was off (${said}), yet the capture shows ${rings.setUp} ring(s) set up`
    return undefined
  }
  if (sysctl !== '0') return `io_uring was not on in the guest (${said})`
  if (rings.setUp === 0) return `io_uring was on (${said}), yet the VMM set up no ring (io_uring_queue_init: ${rings.refused.join(', ') || 'never called'})`
  return undefined
}

/** The header's io_uring words. */
export function describeIoUring(wanted: 'off' | 'on', rings: IoUringRings): string {
  if (wanted === 'off') return `io_uring off in the guest running it (kernel.io_uring_disabled=2; the VMM's io_uring_queue_init: ${rings.refused.length === 0 ? 'never called' : rings.refused.join(', ')})`
  return `io_uring on, as the VMM ships (kernel.io_uring_disabled=0; the VMM set up ${rings.setUp} ring(s), ${rings.polls} poll(s) of followed descriptors)`
}

/** An AFTER_EXIT line with the kernel's result, marked where AFTER_EXIT expected otherwise. */
function afterExitLine(line: TranscriptLine, result: ReturnType<typeof resultText> | undefined): string {
  const holds = (kernel: string): boolean => {
    const expected = parseTranscript(`${line.callText} = ${kernel}`, 'after-exit').lines[0]?.expected
    return expected !== undefined && expectationHolds(line.expected, expected)
  }
  return recordedLine(line.callText, result, holds, line.expectedText, 45)
}

/** `Linux <release> <version> (Debian <package>)`, from the guest's facts. */
function describeKernel(facts: Map<string, string[]>, packages: readonly string[]): string {
  const release = facts.get('release')?.[0] ?? '?'
  const version = facts.get('version')?.[0] ?? ''
  const pkg = packages.find((p) => p.startsWith('linux-image-'))
  return `Linux ${release} ${version}${pkg === undefined ? '' : ` (Debian ${pkg})`}`.trim()
}

export interface VmmRecordingHeader {
  readonly run: VmmRun
  readonly kernel: string
  readonly qemu: string
  readonly machineLines: readonly string[]
  readonly vmm: string
  readonly guest: string
  readonly groups: string
  readonly profile: string
  readonly fixtures: readonly string[]
  readonly recordingPath: string
  readonly conversion: Conversion
  /** What strace saw of the same run, against the capture (realkernel/vmm-strace.ts). */
  readonly strace?: string
  /** io_uring in the guest running the VMM, checked (describeIoUring). */
  readonly ioUring?: string
  /** The ids of realkernel/known-differences.json that the recording's comparison met. */
  readonly known?: readonly string[]
  /** The agent's lines after the VMM's exit, recorded (record.ts recordedLine). */
  readonly afterLines: readonly string[]
}

export function formatVmmRecording(h: VmmRecordingHeader): string {
  const c = h.conversion.counts
  const vmmLine = `qemu-system-aarch64 ${vmmArgs(h.run).join(' ')}`
  const out = [
    '# Recorded on a real kernel: the VFIO calls of a real VMM, Debian\'s QEMU, captured by',
    '# realkernel/capture/capture.c (LD_PRELOAD) while it started in a QEMU guest and quit, turned into',
    '# transcript lines by realkernel/capture/convert.ts; then the guest agent\'s calls after the VMM had',
    `# exited. Written by \`npm run real-kernel -- --vmm ${h.run.name} --record\`, not by hand (docs/transcript-vmm.md).`,
    '# Container, group and device-open lines are compared with the model; `device N` lines are',
    '# device-level calls, kept as the kernel answered them, outside the model.',
    '#',
    `#   Kernel:  ${h.kernel}`,
    `#   QEMU:    ${h.qemu}`,
    ...h.machineLines.map((l, i) => `#   ${i === 0 ? 'Machine: ' : '         '}${l}`),
    `#   Guest:   ${h.guest}`,
    `#   VMM:     ${h.vmm}:`,
    `#            ${vmmLine}`,
    ...(h.run.backend === 'accel' ? ['#            no monitor: its guest changes the device\'s domain, powers off its slot and then itself'] : ['#            its monitor fed "quit"']),
    ...(h.ioUring === undefined ? [] : [`#            ${h.ioUring}: docs/transcript-vmm.md, "io_uring"`]),
    `#   Capture: ${c.calls} VFIO calls: ${c.compared} for the model, ${c.outside} device-level (outside the model), ${c.notConverted} not converted; ${c.eventfds} eventfds`,
    ...(h.strace === undefined ? [] : [`#   strace:  ${h.strace}`]),
    `#   Groups:  ${h.groups}`,
    '#',
    `#   Profile: ${h.profile}          Fixture: ${h.fixtures.join(' ')}`,
    `#   Replay:  npx smmu-nesting-tck replay --profile ${h.profile} ${h.fixtures.map((f) => `--fixture ${f}`).join(' ')} ${h.recordingPath}`,
    ...(h.known === undefined
      ? []
      : [`#   Known:   ${h.known.join(', ')} (realkernel/known-differences.json): lines where the kernel and the model differ, each with the kernel's rule;`, '#            replay reports them as differing, npm test and npm run real-kernel as known']),
    '',
    ...formatConverted(h.conversion.lines),
    '',
    `# After the VMM's exit: the guest agent's calls (realkernel/vmm.ts ${h.run.backend === 'legacy' ? 'AFTER_EXIT' : 'AFTER_EXIT_IOMMUFD'})`,
    ...h.afterLines,
  ]
  return `${out.join('\n')}\n`
}
