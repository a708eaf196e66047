/**
 * Boots one guest under QEMU with a time limit and returns what its serial console printed.
 * The console is QEMU's stdio; the whole output is also written to a log file for people.
 *
 * The accelerator (--accel auto|kvm|tcg, default auto): TCG for a guest of another architecture
 * than the host's; for the host's own, auto uses KVM only when /dev/kvm opens, and then proves it
 * by the boot itself - a guest under KVM that has not reached /init within KVM_PROOF_SECONDS (or
 * whose QEMU stops before it) is killed and booted again under TCG, with one line saying why.
 */
import { spawn, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import { GUEST_RESOURCES, type Machine } from './machines'

export type Accel = 'kvm' | 'tcg'
export type AccelMode = 'auto' | Accel
export const ACCEL_MODES: readonly AccelMode[] = ['auto', 'kvm', 'tcg']

/**
 * Seconds a guest under KVM gets to reach /init before auto mode gives up on KVM. Under KVM the
 * guests reach /init in a few seconds; under TCG on 2 cores it takes 10-40 s.
 */
export const KVM_PROOF_SECONDS = 30

/**
 * Default per-guest time limit (--timeout). Measured under TCG on 2 cores shared with other heavy
 * work (load average 10-24): the slowest guests (arm64, QEMU 10 virt-9.1) ran in 30-53 s; 300 s
 * leaves room for a slower or busier machine.
 */
export const DEFAULT_TIMEOUT_SECONDS = 300

/** What the host offers: its architecture, and why /dev/kvm cannot be used (undefined: it opens). */
export interface AccelHost {
  readonly arch: string
  readonly kvmProblem: () => string | undefined
}

export const THIS_HOST: AccelHost = {
  arch: os.arch(),
  kvmProblem: () => {
    try {
      fs.closeSync(fs.openSync('/dev/kvm', 'r+'))
      return undefined
    } catch (e) {
      return `/dev/kvm: ${(e as NodeJS.ErrnoException).code ?? String(e)}`
    }
  },
}

const GUEST_NODE_ARCH: Readonly<Record<Machine['arch'], string>> = { amd64: 'x64', arm64: 'arm64' }

export interface AccelChoice {
  readonly accel: Accel
  /** Why, in a few words ("arm64 guest on an x64 host", "/dev/kvm opens; proved by the boot"). */
  readonly why: string
  /** Auto mode chose KVM: a guest making no progress is restarted under TCG. */
  readonly fallbackToTcg: boolean
}

/** The accelerator for a machine; a string is why the asked-for one cannot be had. */
export function chooseAccel(machine: Machine, mode: AccelMode, host: AccelHost = THIS_HOST): AccelChoice | string {
  if (mode === 'tcg') return { accel: 'tcg', why: '--accel tcg', fallbackToTcg: false }
  if (!machine.kvmCapable || GUEST_NODE_ARCH[machine.arch] !== host.arch) {
    return { accel: 'tcg', why: `KVM cannot run an ${machine.arch} guest on this ${host.arch} host`, fallbackToTcg: false }
  }
  const problem = host.kvmProblem()
  if (mode === 'kvm') return problem === undefined ? { accel: 'kvm', why: '--accel kvm', fallbackToTcg: false } : `--accel kvm: ${problem}`
  if (problem !== undefined) return { accel: 'tcg', why: `no KVM (${problem})`, fallbackToTcg: false }
  return { accel: 'kvm', why: `/dev/kvm opens; KVM must reach /init within ${KVM_PROOF_SECONDS} s or the guest restarts under TCG`, fallbackToTcg: true }
}

export interface BootPlan {
  readonly machine: Machine
  /** The QEMU executable: a name on PATH or a path (QEMU 10). */
  readonly qemu: string
  readonly accel: Accel
  readonly kernel: string
  readonly initrd: string
  readonly append: string
  /** Firmware for -bios (EDK2 for an ACPI boot); none: QEMU boots the kernel itself. */
  readonly bios?: string
}

/** The QEMU command line: the fixture's machine arguments, then the harness's own. */
export function qemuArgs(plan: BootPlan): string[] {
  return [
    ...plan.machine.machineArgs,
    ...(plan.bios === undefined ? [] : ['-bios', plan.bios]),
    '-accel',
    plan.accel,
    ...GUEST_RESOURCES,
    '-nographic',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-kernel',
    plan.kernel,
    '-initrd',
    plan.initrd,
    '-append',
    plan.append,
  ]
}

/** The guest kernel's command line. loglevel=3 keeps kernel messages off the agent's console. */
export function kernelAppend(machine: Machine): string {
  return [`console=${machine.console}`, 'loglevel=3', 'panic=-1', ...machine.kernelArgs].join(' ')
}

export function qemuVersion(qemu: string): string {
  const r = spawnSync(qemu, ['--version'], { encoding: 'utf8' })
  return (r.stdout ?? '').split('\n')[0]?.trim() ?? 'unknown'
}

// ---------------------------------------------------------------------------------------------
// How far a guest got, read from its console

/** Stages of a boot, in order. */
export type Stage = 'qemu' | 'firmware' | 'kernel' | 'init' | 'agent' | 'end'
export const STAGES: readonly Stage[] = ['qemu', 'firmware', 'kernel', 'init', 'agent', 'end']

export const STAGE_TEXT: Readonly<Record<Stage, string>> = {
  qemu: 'QEMU started, no console output yet',
  firmware: 'firmware',
  kernel: 'kernel booting',
  init: '/init',
  agent: 'agent',
  end: 'agent finished',
}

/** What the guest printed so far says how far it got and how many of the agent's calls are done. */
export function progressOf(output: string): { stage: Stage; calls: number } {
  const calls = (output.match(/^@@ \d+ [=!>]/gm) ?? []).length
  let stage: Stage = 'qemu'
  if (output.includes('@@ agent exit')) stage = 'end'
  else if (output.includes('@@ agent start')) stage = 'agent'
  else if (output.includes('@@ fact ')) stage = 'init'
  // x86: the kernel's real-mode setup ("Probing EDD"), its decompressor, or SeaBIOS handing over
  // to the -kernel option ROM; any timestamped kernel message.
  else if (/Probing EDD|Decompressing Linux|Booting the kernel|Booting from ROM|EFI stub: |^\[\s*\d+\.\d+\]/m.test(output)) stage = 'kernel'
  else if (output.trim() !== '') stage = 'firmware'
  return { stage, calls }
}

export interface BootProgress {
  readonly stage: Stage
  readonly calls: number
  readonly seconds: number
}

export interface BootOptions {
  readonly timeoutSeconds: number
  /** Kill the guest when it has not reached /init after this many seconds (auto mode's KVM proof). */
  readonly initDeadlineSeconds?: number
  readonly logFile: string
  /** Called when the stage or the number of calls done changes. */
  readonly onProgress?: (p: BootProgress) => void
}

export interface BootResult {
  readonly output: string
  readonly seconds: number
  readonly accel: Accel
  readonly stage: Stage
  readonly calls: number
  /** The init deadline passed (the guest was killed). */
  readonly stalled: boolean
  /** Why the boot is not usable; undefined when the guest ran the agent to its end. */
  readonly failure?: string
}

/**
 * Runs QEMU until the guest powers off, the time limit passes, or (with initDeadlineSeconds) the
 * guest has not reached /init in time; then QEMU is killed. A guest that never printed the agent's
 * end is a failure whose message says how far it got, under which accelerator, and what to try.
 */
export function bootGuest(plan: BootPlan, opts: BootOptions): Promise<BootResult> {
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(plan.qemu, qemuArgs(plan), { stdio: ['ignore', 'pipe', 'pipe'] })
    const chunks: Buffer[] = []
    let text = ''
    let last = { stage: 'qemu' as Stage, calls: 0 }
    let killedFor: 'timeout' | 'stall' | undefined
    const elapsed = (): number => (Date.now() - started) / 1000
    const onData = (b: Buffer): void => {
      chunks.push(b)
      text += b.toString('latin1')
      const p = progressOf(text)
      if (p.stage !== last.stage || p.calls !== last.calls) {
        last = p
        opts.onProgress?.({ ...p, seconds: elapsed() })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    const timer = setTimeout(() => {
      killedFor = 'timeout'
      child.kill('SIGKILL')
    }, opts.timeoutSeconds * 1000)
    const stallTimer =
      opts.initDeadlineSeconds === undefined
        ? undefined
        : setTimeout(() => {
            if (STAGES.indexOf(progressOf(text).stage) < STAGES.indexOf('init')) {
              killedFor = 'stall'
              child.kill('SIGKILL')
            }
          }, opts.initDeadlineSeconds * 1000)
    let finished = false
    const finish = (exitNote: string): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      if (stallTimer !== undefined) clearTimeout(stallTimer)
      const output = Buffer.concat(chunks).toString('utf8')
      fs.writeFileSync(opts.logFile, output)
      const seconds = elapsed()
      const { stage, calls } = progressOf(output)
      const accelName = plan.accel.toUpperCase()
      let failure: string | undefined
      if (killedFor === 'stall') {
        failure = `under ${accelName} the guest had not reached /init after ${opts.initDeadlineSeconds} s (it got as far as: ${STAGE_TEXT[stage]}). Console log: ${opts.logFile}`
      } else if (killedFor === 'timeout') {
        const tryThis =
          plan.accel === 'kvm'
            ? 'try --accel tcg (KVM may not work on this host), or a larger --timeout'
            : `try --timeout ${opts.timeoutSeconds * 2} (TCG emulates every instruction and is slow on a loaded machine), or one guest at a time with --machine/--kernel`
        failure =
          `the ${plan.machine.name} guest did not finish within ${opts.timeoutSeconds} s under ${accelName}; it got as far as: ${STAGE_TEXT[stage]}` +
          `${stage === 'agent' ? ` (${calls} calls answered)` : ''}; ${tryThis}. Console log: ${opts.logFile}`
      } else if (stage !== 'end') {
        failure = `QEMU ${exitNote} under ${accelName} before the agent finished (it got as far as: ${STAGE_TEXT[stage]}). Console log: ${opts.logFile}`
      }
      resolve({ output, seconds, accel: plan.accel, stage, calls, stalled: killedFor === 'stall', ...(failure === undefined ? {} : { failure }) })
    }
    child.on('error', (e) => finish(`could not start (${e.message})`))
    // 'close', not 'exit': the console's last bytes arrive before the pipes close.
    child.on('close', (code, signal) => finish(signal !== null ? `was killed by ${signal}` : `exited with ${code}`))
  })
}

/**
 * Boots a guest with the chosen accelerator. When auto mode chose KVM and the guest does not reach
 * /init within KVM_PROOF_SECONDS (or QEMU stops before it), it is booted again under TCG; `say`
 * gets one line saying why.
 */
export async function runGuest(
  plan: BootPlan,
  choice: AccelChoice,
  opts: BootOptions & { readonly kvmProofSeconds?: number },
  say: (line: string) => void,
): Promise<BootResult> {
  if (!choice.fallbackToTcg) return bootGuest({ ...plan, accel: choice.accel }, opts)
  const proof = opts.kvmProofSeconds ?? KVM_PROOF_SECONDS
  const first = await bootGuest({ ...plan, accel: 'kvm' }, { ...opts, initDeadlineSeconds: Math.min(proof, opts.timeoutSeconds) })
  const reachedInit = STAGES.indexOf(first.stage) >= STAGES.indexOf('init')
  if (first.failure === undefined || reachedInit) return first
  const why = first.stalled ? `no progress under KVM: not at /init after ${proof} s (got as far as: ${STAGE_TEXT[first.stage]})` : `QEMU stopped under KVM before /init (${firstLine(first.output)})`
  say(`${why}; KVM does not work here: restarting under TCG (use --accel tcg to skip the try)`)
  return bootGuest({ ...plan, accel: 'tcg' }, opts)
}

function firstLine(output: string): string {
  const l = output
    .split('\n')
    .map((s) => s.trim())
    .find((s) => s !== '')
  return l === undefined ? 'no output' : l.slice(0, 120)
}
