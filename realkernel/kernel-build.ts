/**
 * Guest kernels built from Debian's kernel source (realkernel/scripts/build-kernel.sh): Debian's
 * own kernels are built without CONFIG_IOMMUFD, so the iommufd path needs one of our own. The
 * build is `make ARCH=arm64 allnoconfig` plus a fragment committed in the repository, every option
 * built in; its Image is cached under .cache/realkernel/kernel-build/<key>/, the key naming the
 * source package's version and a hash of the fragment and the recipe, so a changed fragment or a
 * new Debian source builds again and anything else boots the cached Image.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { ROOT } from '../model/root'
import type { GuestArch } from './machines'

/** A kernel the backend builds itself. */
export interface KernelBuild {
  /** --kernel NAME. */
  readonly name: string
  readonly arch: GuestArch
  /** Debian's source package (arch all; the .deb holds /usr/src/<package>.tar.xz). */
  readonly sourcePackage: string
  readonly suite: string
  /** Repository-relative path of the configuration fragment (KCONFIG_ALLCONFIG). */
  readonly fragment: string
  /**
   * Objects (`CC` and `AS` lines of make) a build compiles, for the progress of a cold build that
   * has no earlier build of its own to count from: measured on the first build of this fragment.
   */
  readonly objectsEstimate: number
}

/**
 * How build-kernel.sh turns source + fragment into an Image: part of the cache key, so that a
 * change of recipe (a new step, another make target) cannot reuse an Image built the old way.
 * Raise the number when build-kernel.sh changes what it builds.
 */
export const RECIPE = 'build-kernel.sh r1: make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- allnoconfig (KCONFIG_ALLCONFIG) Image'

export const KERNEL_BUILDS: readonly KernelBuild[] = [
  {
    name: '7.3-iommufd',
    arch: 'arm64',
    sourcePackage: 'linux-source-7.3',
    suite: 'trixie-backports',
    fragment: 'realkernel/kernel/iommufd.config',
    objectsEstimate: 1022,
  },
]

export function kernelBuildByName(name: string): KernelBuild | undefined {
  return KERNEL_BUILDS.find((b) => b.name === name || `linux-${b.name}` === name)
}

/**
 * The cache directory's name for a build of `build` from source `version` with fragment text
 * `fragment`: "<name>-<version>-<12 hex of sha256(recipe, fragment)>", the version's characters
 * outside [A-Za-z0-9._+-] (Debian's `~` and `:`) written as `_`.
 */
export function buildKey(build: KernelBuild, version: string, fragment: string): string {
  const hash = createHash('sha256').update(`${RECIPE}\n${build.arch}\n${build.sourcePackage}\n`).update(fragment).digest('hex').slice(0, 12)
  return `${build.name}-${version.replace(/[^A-Za-z0-9._+-]/g, '_')}-${hash}`
}

/** A line of make's output that stands for one object compiled ("  CC      init/main.o"). */
export function isObjectLine(line: string): boolean {
  return /^ {2}(CC|AS) {2,}\S+\.o$/.test(line.trimEnd())
}

/** "objects 312/1500 (21%)": how far a build is; never over 99% before it ends. */
export function buildProgress(done: number, total: number): string {
  const shown = Math.max(total, done + 1)
  return `objects ${done}/${shown} (${Math.min(99, Math.floor((100 * done) / shown))}%)`
}

export interface BuiltKernel {
  readonly build: KernelBuild
  readonly image: string
  /** The kernel's release (include/config/kernel.release), e.g. "7.3.4". */
  readonly release: string
  /** "linux-source-7.3 7.3.4-1~bpo13+1" */
  readonly source: string
  readonly key: string
  /** Built by this call (false: taken from the cache). */
  readonly built: boolean
  /** The build's make time in seconds, as build-kernel.sh measured it. */
  readonly seconds?: number
}

export interface KernelBuildOptions {
  /** .cache/realkernel */
  readonly cache: string
  /** Look the version up and build when needed (false: only a cached Image will do). */
  readonly install: boolean
  readonly log: (line: string) => void
  /** Runs build-kernel.sh with the arguments; each output line goes to `line`. Tests stub it. */
  readonly runScript?: (args: readonly string[], line: (l: string) => void) => Promise<string>
}

const SCRIPT = path.join(ROOT, 'realkernel', 'scripts', 'build-kernel.sh')

/** Error of a kernel build, with what to do about it. */
export class KernelBuildError extends Error {}

function runBuildScript(args: readonly string[], line: (l: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    const tail: string[] = []
    const partial = { out: '', err: '' }
    const take = (which: 'out' | 'err') => (b: Buffer) => {
      const text = b.toString('utf8')
      if (which === 'out') stdout += text
      const lines = (partial[which] + text).split('\n')
      partial[which] = lines.pop() ?? ''
      for (const l of lines) {
        tail.push(l)
        if (tail.length > 12) tail.shift()
        line(l)
      }
    }
    child.stdout.on('data', take('out'))
    child.stderr.on('data', take('err'))
    child.on('error', (e) => reject(new KernelBuildError(`build-kernel.sh: ${e.message}`)))
    child.on('close', (code) => {
      if (code === 0) resolve(stdout)
      else reject(new KernelBuildError(`build-kernel.sh ${args[1] ?? ''} exited with ${code}:\n${tail.filter((l) => l.trim() !== '').join('\n')}`))
    })
  })
}

/** The newest cached build of `build` (any version or fragment), for offline runs. */
function cachedBuilds(cache: string, build: KernelBuild): string[] {
  const dir = path.join(cache, 'kernel-build')
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir)
    .filter((d) => d.startsWith(`${build.name}-`) && fs.existsSync(path.join(dir, d, 'Image')))
    .sort((a, b) => fs.statSync(path.join(dir, b, 'Image')).mtimeMs - fs.statSync(path.join(dir, a, 'Image')).mtimeMs)
}

function readBuilt(build: KernelBuild, dir: string, key: string, source: string, built: boolean): BuiltKernel {
  const secondsFile = path.join(dir, 'seconds')
  const seconds = fs.existsSync(secondsFile) ? Number(fs.readFileSync(secondsFile, 'utf8').trim()) : undefined
  return {
    build,
    image: path.join(dir, 'Image'),
    release: fs.readFileSync(path.join(dir, 'release'), 'utf8').trim(),
    source,
    key,
    built,
    ...(seconds === undefined || Number.isNaN(seconds) ? {} : { seconds }),
  }
}

/** Objects the last finished build of `build` compiled, else the estimate. */
function expectedObjects(cache: string, build: KernelBuild): number {
  for (const d of cachedBuilds(cache, build)) {
    const n = Number(fs.readFileSync(path.join(cache, 'kernel-build', d, 'objects'), { encoding: 'utf8', flag: 'r' }).trim())
    if (Number.isFinite(n) && n > 0) return n
  }
  return build.objectsEstimate
}

/**
 * The Image of `build`: the cached one when its key (today's source version + fragment) has been
 * built, else built now (progress as "objects done/total" through `log`).
 */
export async function buildKernel(build: KernelBuild, opts: KernelBuildOptions): Promise<BuiltKernel> {
  const run = opts.runScript ?? runBuildScript
  const fragmentPath = path.join(ROOT, build.fragment)
  const fragment = fs.readFileSync(fragmentPath, 'utf8')
  const buildDir = path.join(opts.cache, 'kernel-build')
  if (!opts.install) {
    // Offline: the source version cannot be asked for; a cached build of this fragment will do.
    const hashTail = buildKey(build, 'x', fragment).slice(-12)
    const cached = cachedBuilds(opts.cache, build).find((d) => d.endsWith(`-${hashTail}`))
    if (cached === undefined) throw new KernelBuildError(`no cached ${build.name} kernel built from ${build.fragment} in ${path.relative(ROOT, buildDir)} (run without --no-install to build it)`)
    const version = cached.slice(build.name.length + 1, -13)
    return readBuilt(build, path.join(buildDir, cached), cached, `${build.sourcePackage} ${version}`, false)
  }
  const versionOut = await run([opts.cache, 'version', build.sourcePackage], opts.log)
  const version = versionOut.trim().split('\n').pop()?.trim() ?? ''
  if (version === '') throw new KernelBuildError(`build-kernel.sh printed no version of ${build.sourcePackage}`)
  const key = buildKey(build, version, fragment)
  const dir = path.join(buildDir, key)
  const source = `${build.sourcePackage} ${version}`
  if (fs.existsSync(path.join(dir, 'Image')) && fs.existsSync(path.join(dir, 'release'))) {
    opts.log(`${build.name}: ${source}, ${build.fragment}: cached (${path.relative(ROOT, dir)})`)
    return readBuilt(build, dir, key, source, false)
  }
  const total = expectedObjects(opts.cache, build)
  let done = 0
  opts.log(`${build.name}: building ${source} with ${build.fragment} (nice -n 19 make -j2; about ${total} objects)`)
  await run([opts.cache, 'build', build.sourcePackage, version, fragmentPath, dir], (l) => {
    if (isObjectLine(l)) {
      done++
      opts.log(`${build.name}: ${buildProgress(done, total)} ${l.trim().split(/\s+/).pop() ?? ''}`)
    } else if (l.startsWith('kernel build:')) opts.log(l)
  })
  if (!fs.existsSync(path.join(dir, 'Image'))) throw new KernelBuildError(`build-kernel.sh finished without ${path.relative(ROOT, path.join(dir, 'Image'))}`)
  return readBuilt(build, dir, key, source, true)
}
