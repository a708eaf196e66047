/**
 * `npm run real-kernel`'s command line, read into options (no side effects: test/unit tests it).
 * See realkernel/run.ts for what each option does.
 */
import { isProfileName } from '../model/profiles'
import { ACCEL_MODES, DEFAULT_TIMEOUT_SECONDS, type AccelMode } from './guest'
import { kernelImageInfo, KernelImageError, type KernelImageInfo } from './kernel-image'
import { KERNELS, kernelByName, MACHINES, machineByName, type KernelLine, type Machine } from './machines'
import { VMM_RUNS, vmmRunByName, type VmmRun } from './vmm'

/** A kernel the user built, given with --kernel-image. */
export interface ImageKernel {
  readonly path: string
  readonly modules?: string
  readonly profile: string
  readonly info: KernelImageInfo
}

export interface RunOptions {
  readonly machines: readonly Machine[]
  readonly kernels: readonly KernelLine[]
  readonly image?: ImageKernel
  /** --vmm: a real VMM runs in the guest instead of the agent's transcripts (realkernel/vmm.ts). */
  readonly vmms: readonly VmmRun[]
  readonly accel: AccelMode
  readonly record: boolean
  readonly install: boolean
  readonly quiet: boolean
  readonly timeoutSeconds: number
}

export function usageLine(): string {
  return (
    `usage: npm run real-kernel -- [--machine ${MACHINES.map((m) => m.name).join('|')}]... [--kernel ${KERNELS.map((k) => k.name).join('|')}]...\n` +
    '         [--accel ' +
    `${ACCEL_MODES.join('|')}] [--record] [--timeout SECONDS] [--no-install] [--quiet]\n` +
    `       npm run real-kernel -- --vmm ${VMM_RUNS.map((r) => r.name).join('|')}|all [--kernel LINE]... [options]\n` +
    '       npm run real-kernel -- --kernel-image PATH [--modules DIR] --profile PROFILE --machine NAME... [options]'
  )
}

/** Reads an image's facts; a stub in tests. */
export type ImageReader = (file: string) => KernelImageInfo

/**
 * The options, or the message saying what is wrong. Without --kernel and --kernel-image: every
 * kernel line that runs by default (Debian's), each on its own machines; a built kernel
 * (7.3-iommufd) only when named. With --machine, each kernel runs on the named machines that fit
 * it (its architecture; a machine only for iommufd takes only kernels that have iommufd).
 */
export function parseRunArgs(argv: readonly string[], readImage: ImageReader = kernelImageInfo): RunOptions | { readonly error: string } {
  const machines: Machine[] = []
  const kernels: KernelLine[] = []
  let accel: AccelMode = 'auto'
  let record = false
  let install = true
  let quiet = false
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS
  let imagePath: string | undefined
  let modules: string | undefined
  let profile: string | undefined
  const vmms: VmmRun[] = []
  const withValue = new Set(['--machine', '--timeout', '--kernel', '--accel', '--kernel-image', '--modules', '--profile', '--vmm'])
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--record') record = true
    else if (a === '--no-install') install = false
    else if (a === '--quiet') quiet = true
    else if (withValue.has(a)) {
      const v = argv[++i]
      if (v === undefined || v.startsWith('--')) return { error: `${a} needs a value` }
      if (a === '--timeout') {
        timeoutSeconds = Number(v)
        if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) return { error: `--timeout ${v}: not a number of seconds` }
      } else if (a === '--kernel') {
        const k = kernelByName(v)
        if (k === undefined) return { error: `unknown kernel ${v} (kernels: ${KERNELS.map((x) => x.name).join(', ')})` }
        if (!kernels.includes(k)) kernels.push(k)
      } else if (a === '--accel') {
        if (!(ACCEL_MODES as readonly string[]).includes(v)) return { error: `--accel ${v}: one of ${ACCEL_MODES.join(', ')}` }
        accel = v as AccelMode
      } else if (a === '--kernel-image') {
        if (imagePath !== undefined) return { error: '--kernel-image is given once' }
        imagePath = v
      } else if (a === '--vmm') {
        const wanted = v === 'all' ? VMM_RUNS : [vmmRunByName(v)]
        if (wanted[0] === undefined) return { error: `unknown VMM run ${v} (runs: ${VMM_RUNS.map((r) => r.name).join(', ')}, all)` }
        for (const r of wanted as VmmRun[]) if (!vmms.includes(r)) vmms.push(r)
      } else if (a === '--modules') modules = v
      else if (a === '--profile') profile = v
      else {
        const m = machineByName(v)
        if (m === undefined) return { error: `unknown machine ${v} (machines: ${MACHINES.map((x) => x.name).join(', ')})` }
        if (!machines.includes(m)) machines.push(m)
      }
    } else return { error: `unknown option ${a}` }
  }
  const common = { accel, record, install, quiet, timeoutSeconds, vmms }
  if (vmms.length > 0 && (machines.length > 0 || imagePath !== undefined)) return { error: '--vmm runs on its own machine and kernels: give --vmm or --machine/--kernel-image, not both' }
  if (imagePath === undefined) {
    if (modules !== undefined || profile !== undefined) return { error: `${modules !== undefined ? '--modules' : '--profile'} goes with --kernel-image` }
    return { ...common, machines, kernels }
  }
  if (kernels.length > 0) return { error: '--kernel-image and --kernel do not go together (one kernel at a time)' }
  if (profile === undefined) return { error: `--kernel-image needs --profile (the behaviour the kernel is held to, e.g. linux-7.3)` }
  if (!isProfileName(profile)) return { error: `--profile ${profile}: no such profile` }
  if (machines.length === 0) return { error: `--kernel-image needs --machine (${MACHINES.map((x) => x.name).join(', ')})` }
  let info: KernelImageInfo
  try {
    info = readImage(imagePath)
  } catch (e) {
    if (e instanceof KernelImageError) return { error: `--kernel-image ${e.message}` }
    throw e
  }
  const wrong = machines.filter((m) => m.arch !== info.arch)
  if (wrong.length > 0) return { error: `--kernel-image ${imagePath} is an ${info.arch} ${info.format}; ${wrong.map((m) => `${m.name} is an ${m.arch} machine`).join(', ')}` }
  return { ...common, machines, kernels: [], image: { path: imagePath, ...(modules === undefined ? {} : { modules }), profile, info } }
}

/** One guest to boot: a machine and the kernel it runs. */
export interface GuestChoice {
  readonly machine: Machine
  readonly kernel: KernelLine
}

/**
 * The kernel line of a --kernel-image: its profile's, running the type1 transcripts of its
 * machines and, when the kernel has /dev/iommu, the iommufd ones.
 */
export function imageKernelLine(image: ImageKernel, machines: readonly Machine[]): KernelLine {
  return {
    name: 'image',
    profile: image.profile,
    suite: `--kernel-image ${image.path}`,
    arches: [image.info.arch],
    transcripts: 'any',
    machines: machines.map((m) => m.name),
    byDefault: false,
  }
}

/**
 * The guests of a run, and notes on the combinations left out (a kernel on a machine of another
 * architecture, a kernel without iommufd on a machine only for iommufd).
 */
export function chooseGuests(opts: Pick<RunOptions, 'machines' | 'kernels' | 'image'>): { guests: GuestChoice[]; skipped: string[] } {
  const kernels = opts.image !== undefined ? [imageKernelLine(opts.image, opts.machines)] : opts.kernels.length > 0 ? opts.kernels : KERNELS.filter((k) => k.byDefault)
  const guests: GuestChoice[] = []
  const skipped: string[] = []
  for (const kernel of kernels) {
    const machines = opts.machines.length > 0 ? opts.machines : kernel.machines.map((n) => machineByName(n) as Machine)
    for (const machine of machines) {
      if (!kernel.arches.includes(machine.arch)) skipped.push(`${kernel.name} on ${machine.name}: no ${machine.arch} kernel`)
      else if (machine.iommufdOnly === true && kernel.transcripts === 'type1') skipped.push(`${kernel.name} on ${machine.name}: the machine is for kernels with iommufd (--kernel 7.3-iommufd, --kernel-image)`)
      else guests.push({ machine, kernel })
    }
  }
  return { guests, skipped }
}
