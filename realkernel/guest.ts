/**
 * Boots one guest under QEMU with a time limit and returns what its serial console printed.
 * The console is QEMU's stdio; the whole output is also written to a log file for people.
 */
import { spawn, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import { GUEST_RESOURCES, type Machine } from './machines'

export type Accel = 'kvm' | 'tcg'

/** KVM when the guest has the host's architecture and /dev/kvm can be opened; TCG otherwise. */
export function chooseAccel(machine: Machine): Accel {
  if (!machine.kvmCapable || os.arch() !== 'x64') return 'tcg'
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK)
    return 'kvm'
  } catch {
    return 'tcg'
  }
}

export interface BootPlan {
  readonly machine: Machine
  readonly accel: Accel
  readonly kernel: string
  readonly initrd: string
  readonly append: string
}

/** The QEMU command line: the fixture's machine arguments, then the harness's own. */
export function qemuArgs(plan: BootPlan): string[] {
  return [
    ...plan.machine.machineArgs,
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

export interface BootResult {
  readonly output: string
  readonly seconds: number
  /** Why the boot is not usable; undefined when the guest ran the agent to its end. */
  readonly failure?: string
}

/**
 * Runs QEMU until the guest powers off or `timeoutSeconds` pass (then QEMU is killed). A guest
 * that never printed the agent's end is a failure whose message says how far it got.
 */
export function bootGuest(plan: BootPlan, timeoutSeconds: number, logFile: string): Promise<BootResult> {
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(plan.machine.qemu, qemuArgs(plan), { stdio: ['ignore', 'pipe', 'pipe'] })
    const chunks: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => chunks.push(b))
    child.stderr.on('data', (b: Buffer) => chunks.push(b))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutSeconds * 1000)
    let finished = false
    const finish = (exitNote: string): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      const output = Buffer.concat(chunks).toString('utf8')
      fs.writeFileSync(logFile, output)
      const seconds = (Date.now() - started) / 1000
      const reached = output.includes('@@ agent exit') ? 'end' : output.includes('@@ agent start') ? 'agent' : output.includes('@@ fact release') ? 'init' : 'none'
      let failure: string | undefined
      if (timedOut) {
        const where = { none: 'the kernel never reached /init', init: '/init never started the agent', agent: 'the agent never finished', end: 'the guest did not power off' }[reached]
        failure =
          `the ${plan.machine.name} guest did not finish within ${timeoutSeconds} s (${where}; ${plan.accel === 'tcg' ? 'TCG software emulation without KVM is slow: raise --timeout' : 'KVM'}). ` +
          `Console log: ${logFile}`
      } else if (reached !== 'end') {
        failure = `QEMU ${exitNote} before the agent finished (reached: ${reached}). Console log: ${logFile}`
      }
      resolve({ output, seconds, ...(failure === undefined ? {} : { failure }) })
    }
    child.on('error', (e) => finish(`could not start (${e.message})`))
    // 'close', not 'exit': the console's last bytes arrive before the pipes close.
    child.on('close', (code, signal) => finish(signal !== null ? `was killed by ${signal}` : `exited with ${code}`))
  })
}
