/**
 * Everything a guest needs before it boots, from Debian's packages only:
 *   1. host tools (QEMU, compilers, cpio) - scripts/install-host-packages.sh, apt-get install
 *   2. guest kernel + busybox-static per architecture - scripts/fetch-guest-packages.sh,
 *      apt-get download + dpkg-deb -x into .cache/realkernel/root-<arch>/
 *   3. the agent, compiled static for the guest's architecture
 *   4. the initramfs: busybox, the VFIO modules in dependency order, the agent, /init, commands
 * Downloads and builds stay under .cache/realkernel/ (ignored by git).
 */
import { spawn, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import { cpioArchive, type CpioEntry } from './cpio'
import { GUEST_MODULES, type GuestArch } from './machines'
import { ROOT } from '../model/root'

export { ROOT }
export const CACHE = path.join(ROOT, '.cache', 'realkernel')
const SCRIPTS = path.join(ROOT, 'realkernel', 'scripts')

/** A setup step failed; the message says what to do. */
export class SetupError extends Error {}

/**
 * Runs a command with a time limit, without blocking (so progress can be shown meanwhile); each
 * line it prints goes to `log` as it comes. Returns its output (or its stdout only).
 */
function run(cmd: string, args: readonly string[], what: string, timeoutMs: number, log: (line: string) => void, returns: 'all' | 'stdout' = 'all'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let all = ''
    let stdout = ''
    const partial = { out: '', err: '' }
    const take = (which: 'out' | 'err') => (b: Buffer) => {
      const text = b.toString('utf8')
      all += text
      if (which === 'out') stdout += text
      const lines = (partial[which] + text).split('\n')
      partial[which] = lines.pop() ?? ''
      for (const l of lines) if (l.trim() !== '') log(l)
    }
    child.stdout.on('data', take('out'))
    child.stderr.on('data', take('err'))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(new SetupError(`${what}: ${e.message}`))
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      if (timedOut) return reject(new SetupError(`${what}: gave up after ${Math.round(timeoutMs / 1000)} s (is the Debian archive reachable?)`))
      if (code !== 0) return reject(new SetupError(`${what}: ${cmd} exited with ${code}${all.trim() === '' ? '' : `:\n${all.trim().split('\n').slice(-8).join('\n')}`}`))
      resolve(returns === 'stdout' ? stdout : all)
    })
  })
}

/** Runs one of realkernel/scripts/ with bash (20 minutes at most); returns its stdout. */
export function runScript(name: string, args: readonly string[], what: string, log: (line: string) => void): Promise<string> {
  return run('bash', [path.join(SCRIPTS, name), ...args], what, 20 * 60_000, log, 'stdout')
}

/** Runs a command to its end (for quick local steps: compiling the agent). */
function runSync(cmd: string, args: readonly string[], what: string, timeoutMs: number): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 })
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`
  if (r.error !== undefined) throw new SetupError(`${what}: ${r.error.message}`)
  if (r.status !== 0) throw new SetupError(`${what}: ${cmd} exited with ${r.status}${out.trim() === '' ? '' : `:\n${out.trim().split('\n').slice(-8).join('\n')}`}`)
}

export interface PrepareOptions {
  /** Install missing host packages with apt-get (default); false: only check they are there. */
  readonly install: boolean
  readonly log: (line: string) => void
  /** Also the tools of a kernel build (make, flex, bison, bc: realkernel/kernel-build.ts). */
  readonly kernelBuild?: boolean
}

const HOST_COMMANDS = ['qemu-system-aarch64', 'qemu-system-x86_64', 'gcc', 'aarch64-linux-gnu-gcc', 'dpkg-deb', 'apt-get', 'xz', 'zstd']

function haveCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0
}

/** A guest kernel to fetch: its architecture and kernel line (6.1, 6.12, 7.x; or busybox, edk2 alone). */
export interface KernelSpec {
  readonly arch: GuestArch
  readonly kernel: string
}

/** Step 1: host tools (apt-get install); the caller says which step it is on. */
/** Debian packages a kernel build needs beyond the agent's compilers. */
const KERNEL_BUILD_PACKAGES = ['make', 'flex', 'bison', 'bc']

export async function installHostPackages(opts: PrepareOptions): Promise<void> {
  const extra = opts.kernelBuild === true ? KERNEL_BUILD_PACKAGES : []
  if (opts.install) await run('bash', [path.join(SCRIPTS, 'install-host-packages.sh'), ...extra], 'installing host packages', 15 * 60_000, opts.log)
  const missing = [...HOST_COMMANDS, ...extra].filter((c) => !haveCommand(c))
  if (missing.length > 0) throw new SetupError(`missing host commands: ${missing.join(', ')} (run without --no-install, or realkernel/scripts/install-host-packages.sh)`)
}

/** Step 2: the guest kernels and busybox (apt-get download into the cache). */
export async function fetchGuestPackages(specs: readonly KernelSpec[], opts: PrepareOptions): Promise<void> {
  if (opts.install) {
    await run('bash', [path.join(SCRIPTS, 'fetch-guest-packages.sh'), CACHE, ...specs.map((s) => `${s.arch}:${s.kernel}`)], 'fetching guest packages', 20 * 60_000, opts.log)
  }
  for (const s of specs) if (s.kernel !== 'busybox' && s.kernel !== 'edk2') guestKernel(s.arch, s.kernel)
}

/**
 * QEMU 10's binaries, unpacked beside the system's QEMU by scripts/fetch-qemu10.sh (it prints
 * their directory last). With install false, only the cached directory is looked at.
 */
export async function qemu10Dir(opts: PrepareOptions): Promise<string> {
  const script = path.join(ROOT, 'scripts', 'fetch-qemu10.sh')
  const cached = path.join(ROOT, '.cache', 'qemu-10', 'usr', 'bin')
  if (!opts.install) {
    if (fs.existsSync(path.join(cached, 'qemu-system-aarch64'))) return cached
    throw new SetupError(`no QEMU 10 in ${path.relative(ROOT, cached)} (run without --no-install, or bash scripts/fetch-qemu10.sh)`)
  }
  if (!fs.existsSync(script)) throw new SetupError('scripts/fetch-qemu10.sh is missing: QEMU 10 machines cannot run')
  const out = await run('bash', [script], 'fetching QEMU 10 (scripts/fetch-qemu10.sh)', 20 * 60_000, opts.log, 'stdout')
  const dir = out.trim().split('\n').pop()?.trim() ?? ''
  if (dir === '' || !fs.existsSync(path.join(dir, 'qemu-system-aarch64'))) throw new SetupError(`scripts/fetch-qemu10.sh printed no directory holding qemu-system-aarch64 (last line: "${dir}")`)
  return dir
}

/**
 * QEMU 11 (Debian trixie-backports) with Debian's arm64 UEFI firmware, unpacked with its trixie
 * libraries under .cache/realkernel/qemu-11/ by realkernel/scripts/fetch-qemu11.sh (it prints the
 * wrapper's directory last). With install false, only the cached wrapper is looked at.
 */
export async function qemu11Dir(opts: PrepareOptions): Promise<string> {
  const cache = path.join(CACHE, 'qemu-11')
  const cached = path.join(cache, 'bin')
  if (!opts.install) {
    if (fs.existsSync(path.join(cached, 'qemu-system-aarch64'))) return cached
    throw new SetupError(`no QEMU 11 in ${path.relative(ROOT, cached)} (run without --no-install, or bash realkernel/scripts/fetch-qemu11.sh ${path.relative(ROOT, cache)})`)
  }
  const out = await run('bash', [path.join(SCRIPTS, 'fetch-qemu11.sh'), cache], 'fetching QEMU 11 (realkernel/scripts/fetch-qemu11.sh)', 20 * 60_000, opts.log, 'stdout')
  const dir = out.trim().split('\n').pop()?.trim() ?? ''
  if (dir === '' || !fs.existsSync(path.join(dir, 'qemu-system-aarch64'))) throw new SetupError(`realkernel/scripts/fetch-qemu11.sh printed no directory holding qemu-system-aarch64 (last line: "${dir}")`)
  return dir
}

export interface GuestKernel {
  readonly arch: GuestArch
  /** The kernel line asked for: 6.1, 6.12, 7.x, 7.3-iommufd, image. */
  readonly line: string
  readonly vmlinuz: string
  readonly release: string
  /** lib/modules/<release> of the kernel; undefined: everything it needs is built in. */
  readonly modulesDir?: string
  readonly busybox: string
  /** "linux-image-6.1.0-56-arm64 6.1.192-2", "busybox-static 1:1.35.0-4+deb12u1+b1". */
  readonly packages: readonly string[]
}

function packagesOf(dir: string): string[] {
  const file = path.join(dir, '.packages')
  return fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => l.replace(/Package: (\S+) Version: (\S+)/, '$1 $2'))
    : []
}

/**
 * The unpacked kernel and busybox of one architecture and kernel line (after fetchGuestPackages).
 * 6.1 and 6.12 keep vmlinuz in /boot and modules in /lib/modules; 7.x both in /usr/lib/modules/VERSION/.
 */
export function guestKernel(arch: GuestArch, line: string): GuestKernel {
  const root = path.join(CACHE, `kernel-${arch}-${line}`)
  const busybox = path.join(CACHE, `busybox-${arch}`, 'bin', 'busybox')
  const missing = (): SetupError =>
    new SetupError(`no unpacked ${arch} ${line} guest kernel/busybox in ${path.relative(ROOT, root)} (run realkernel/scripts/fetch-guest-packages.sh ${path.relative(ROOT, CACHE)} ${arch}:${line})`)
  if (!fs.existsSync(busybox)) throw missing()
  const boot = path.join(root, 'boot')
  const bootImage = fs.existsSync(boot) ? fs.readdirSync(boot).find((f) => f.startsWith('vmlinuz-')) : undefined
  let vmlinuz: string
  let release: string
  let modulesDir: string
  if (bootImage !== undefined) {
    release = bootImage.slice('vmlinuz-'.length)
    vmlinuz = path.join(boot, bootImage)
    modulesDir = path.join(root, 'lib', 'modules', release)
  } else {
    const usrModules = path.join(root, 'usr', 'lib', 'modules')
    const rel = fs.existsSync(usrModules) ? fs.readdirSync(usrModules).find((r) => fs.existsSync(path.join(usrModules, r, 'vmlinuz'))) : undefined
    if (rel === undefined) throw missing()
    release = rel
    vmlinuz = path.join(usrModules, rel, 'vmlinuz')
    modulesDir = path.join(usrModules, rel)
  }
  return { arch, line, vmlinuz, release, modulesDir, busybox, packages: [...packagesOf(root), ...packagesOf(path.dirname(path.dirname(busybox)))] }
}

/**
 * A guest kernel that is not a Debian package: one built here (kernel-build.ts) or a user's
 * image (--kernel-image), with busybox from Debian (fetchGuestPackages with <arch>:busybox) and
 * its modules in `modulesDir` (lib/modules/<release>) or built in.
 */
export function otherGuestKernel(arch: GuestArch, line: string, image: string, release: string, packages: readonly string[], modulesDir?: string): GuestKernel {
  const busyboxRoot = path.join(CACHE, `busybox-${arch}`)
  const busybox = path.join(busyboxRoot, 'bin', 'busybox')
  if (!fs.existsSync(busybox)) throw new SetupError(`no unpacked ${arch} busybox in ${path.relative(ROOT, busyboxRoot)} (run realkernel/scripts/fetch-guest-packages.sh ${path.relative(ROOT, CACHE)} ${arch}:busybox)`)
  return { arch, line, vmlinuz: image, release, ...(modulesDir === undefined ? {} : { modulesDir }), busybox, packages: [...packages, ...packagesOf(busyboxRoot)] }
}

/** EDK2 for arm64 (Debian's qemu-efi-aarch64, fetched with arm64:edk2): the firmware of an ACPI boot. */
export function edk2Firmware(): string {
  const fd = path.join(CACHE, 'edk2-arm64', 'usr', 'share', 'qemu-efi-aarch64', 'QEMU_EFI.fd')
  if (!fs.existsSync(fd)) throw new SetupError(`no ${path.relative(ROOT, fd)} (run realkernel/scripts/fetch-guest-packages.sh ${path.relative(ROOT, CACHE)} arm64:edk2)`)
  return fd
}

/**
 * A modules directory as given to --modules: lib/modules/<release> itself, or a root holding
 * lib/modules/<release> (make modules_install INSTALL_MOD_PATH=DIR).
 */
export function resolveModulesDir(dir: string, release: string): string {
  const nested = path.join(dir, 'lib', 'modules', release)
  if (fs.existsSync(path.join(nested, 'kernel'))) return nested
  if (fs.existsSync(path.join(dir, 'kernel'))) return dir
  throw new SetupError(`--modules ${dir}: neither ${dir}/kernel nor ${dir}/lib/modules/${release}/kernel exists (modules of kernel ${release})`)
}

// ---------------------------------------------------------------------------------------------
// Agent

const COMPILERS: Readonly<Record<GuestArch, string>> = { amd64: 'gcc', arm64: 'aarch64-linux-gnu-gcc' }

/** Compiles realkernel/agent/*.c statically for the guest (once per run); returns the binary's path. */
const agents = new Map<GuestArch, string>()
export function buildAgent(arch: GuestArch): string {
  const done = agents.get(arch)
  if (done !== undefined) return done
  const out = path.join(CACHE, 'build', `agent-${arch}`)
  fs.mkdirSync(path.dirname(out), { recursive: true })
  const dir = path.join(ROOT, 'realkernel', 'agent')
  const sources = fs.readdirSync(dir).filter((f) => f.endsWith('.c')).sort().map((f) => path.join(dir, f))
  runSync(COMPILERS[arch], ['-static', '-O2', '-Wall', '-Wextra', '-Werror', '-o', out, ...sources], `compiling the ${arch} agent`, 120_000)
  agents.set(arch, out)
  return out
}

// ---------------------------------------------------------------------------------------------
// Modules

/** Module name as the kernel compares them: '-' and '_' are the same. */
function modName(s: string): string {
  return s.replace(/\.ko(\.xz|\.zst|\.gz)?$/, '').replace(/-/g, '_')
}

function findModules(dir: string, into = new Map<string, string>()): Map<string, string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) findModules(p, into)
    else if (/\.ko(\.xz|\.zst|\.gz)?$/.test(e.name)) into.set(modName(e.name), p)
  }
  return into
}

/** `depends=a,b` from a module's .modinfo section (Debian ships no modules.dep: depmod makes it). */
/**
 * A module file's bytes, decompressed: 6.12 and 7.x ship .ko.xz (Debian), which busybox's insmod
 * cannot load; 6.1 ships plain .ko.
 */
const moduleBytesCache = new Map<string, Buffer>()
export function moduleBytes(file: string): Buffer {
  const cached = moduleBytesCache.get(file)
  if (cached !== undefined) return cached
  let data: Buffer
  if (file.endsWith('.ko')) data = fs.readFileSync(file)
  else if (file.endsWith('.gz')) data = zlib.gunzipSync(fs.readFileSync(file))
  else {
    const tool = file.endsWith('.xz') ? 'xz' : 'zstd'
    const r = spawnSync(tool, ['-dc', file], { maxBuffer: 256 << 20 })
    if (r.status !== 0 || r.stdout === null) throw new SetupError(`cannot decompress ${file} with ${tool}: ${r.error?.message ?? String(r.stderr)}`)
    data = r.stdout
  }
  moduleBytesCache.set(file, data)
  return data
}

function moduleDepends(file: string): string[] {
  const m = /depends=([^\0]*)\0/.exec(moduleBytes(file).toString('latin1'))
  return m === null || m[1] === '' ? [] : (m[1] as string).split(',').map(modName)
}

/** The wanted modules and their dependencies, each after what it depends on; none for a kernel without modules. */
export function modulesInLoadOrder(kernel: GuestKernel, wanted: readonly string[] = GUEST_MODULES): { name: string; file: string }[] {
  if (kernel.modulesDir === undefined) return []
  const modulesDir = kernel.modulesDir
  const all = findModules(path.join(modulesDir, 'kernel'))
  const order: { name: string; file: string }[] = []
  const visit = (name: string, chain: readonly string[]): void => {
    if (order.some((o) => o.name === name)) return
    if (chain.includes(name)) throw new SetupError(`module dependency cycle: ${[...chain, name].join(' -> ')}`)
    const file = all.get(name)
    if (file === undefined) {
      throw new SetupError(`module ${name} is not in ${path.relative(ROOT, modulesDir)} (built into this kernel? then give no modules directory)`)
    }
    for (const dep of moduleDepends(file)) visit(dep, [...chain, name])
    order.push({ name, file })
  }
  for (const w of wanted) visit(modName(w), [])
  return order
}

// ---------------------------------------------------------------------------------------------
// Initramfs

const APPLETS = ['sh', 'mount', 'insmod', 'cat', 'echo', 'ls', 'readlink', 'basename', 'poweroff', 'dmesg', 'sed', 'grep', 'mkdir', 'uname', 'sleep', 'od', 'tr']

/**
 * /init: mount, load the VFIO modules (none when they are built in), bind every edu (1234:11e8)
 * to vfio-pci through driver_override, report facts (with ACPI: the IORT the kernel uses, in hex,
 * and whether the initrd upgraded a table; whether there is an iommufd), run the agent on the
 * commands, power off.
 */
export function initScript(modules: readonly string[]): string {
  return `#!/bin/sh
# smmu-nesting-tck real-kernel guest: written by realkernel/prepare.ts
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fact() { echo "@@ fact $*"; }
fact release "$(uname -r)"
fact version "$(uname -v)"
fact cmdline "$(cat /proc/cmdline)"
${
    modules.length === 0
      ? ''
      : `for m in ${modules.join(' ')}; do
  insmod /lib/modules/$m.ko || fact insmod-failed $m
done
`
  }fact modules $(sed 's/ .*//' /proc/modules)
for d in /sys/bus/pci/devices/*; do
  [ "$(cat $d/vendor):$(cat $d/device)" = "0x1234:0x11e8" ] || continue
  echo vfio-pci > $d/driver_override
  echo \${d##*/} > /sys/bus/pci/drivers_probe
done
for d in /sys/bus/pci/devices/*; do
  g=none; [ -e $d/iommu_group ] && g=$(basename "$(readlink $d/iommu_group)")
  drv=none; [ -e $d/driver ] && drv=$(basename "$(readlink $d/driver)")
  fact device \${d##*/} $(cat $d/vendor):$(cat $d/device) group=$g driver=$drv
done
dmesg | grep -q 'Enabled IRQ remapping' && fact irq-remapping enabled
[ -e /sys/firmware/acpi/tables/IORT ] && fact iort $(od -An -v -tx1 /sys/firmware/acpi/tables/IORT | tr -d ' \n')
dmesg | grep 'Table Upgrade: override' | sed 's/^.*ACPI: /@@ fact acpi-upgrade /'
[ -e /dev/iommu ] && fact iommufd /dev/iommu
fact vfio $(ls /dev/vfio)
# A VMM run's second archive (realkernel/vmm.ts) brings /etc/vmm.sh: the VMM runs before the agent.
[ -x /etc/vmm.sh ] && /etc/vmm.sh
echo "@@ agent start"
/agent /etc/commands
echo "@@ agent exit $?"
dmesg | sed 's/^/## dmesg /'
poweroff -f
`
}

/**
 * The guest's initramfs (gzip'd newc cpio) running `commands`; `prefix` (an uncompressed cpio, the
 * ACPI table upgrade's) goes in front of it.
 */
export function buildInitramfs(kernel: GuestKernel, agent: string, commands: readonly string[], prefix?: Buffer): Buffer {
  const modules = modulesInLoadOrder(kernel)
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'etc', 'lib', 'lib/modules', 'tmp'].map((p): CpioEntry => ({ kind: 'dir', path: p })),
    { kind: 'file', path: 'bin/busybox', data: fs.readFileSync(kernel.busybox), mode: 0o755 },
    ...APPLETS.map((a): CpioEntry => ({ kind: 'symlink', path: `bin/${a}`, target: 'busybox' })),
    ...modules.map((m): CpioEntry => ({ kind: 'file', path: `lib/modules/${m.name}.ko`, data: moduleBytes(m.file) })),
    { kind: 'file', path: 'agent', data: fs.readFileSync(agent), mode: 0o755 },
    { kind: 'file', path: 'init', data: initScript(modules.map((m) => m.name)), mode: 0o755 },
    { kind: 'file', path: 'etc/commands', data: `${commands.join('\n')}\n` },
  ]
  const archive = zlib.gzipSync(cpioArchive(entries), { level: 6 })
  return prefix === undefined ? archive : Buffer.concat([prefix, archive])
}
