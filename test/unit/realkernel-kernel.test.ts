/**
 * `npm run real-kernel`'s kernels of its own: the built 7.3-iommufd kernel (cache key, cached and
 * cold builds with a stub build script, progress), a user's --kernel-image (its arguments, what the
 * image says about itself), the ACPI machine's IORT upgrade, the iommufd transcript lines and the
 * recording header. No QEMU, no compiler, no network.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import { fetchSpecs } from '../../realkernel/harness'
import { formatIommufdRecording, iommufdExpectationHolds, isIommufdCall, parseResultReplies, splitTranscript } from '../../realkernel/iommufd-lines'
import { acpiChecksumOk, iortRootComplexes, iortWithCanwbs, IortError, tableUpgradeCpio } from '../../realkernel/iort'
import { buildKernel, buildKey, buildProgress, isObjectLine, KERNEL_BUILDS, kernelBuildByName, type KernelBuild } from '../../realkernel/kernel-build'
import { kernelImageInfo, KernelImageError, type KernelImageInfo } from '../../realkernel/kernel-image'
import { KERNELS, kernelByName, machineByName, type Machine } from '../../realkernel/machines'
import { chooseGuests, parseRunArgs, type RunOptions } from '../../realkernel/options'
import { recordingHeader, type RecordingHeader } from '../../realkernel/record'
import { ROOT } from '../../model/root'
import { initScript } from '../../realkernel/prepare'

const iommufdBuild = kernelBuildByName('7.3-iommufd') as KernelBuild

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tck-kernel-'))
}

describe('real-kernel: the 7.3-iommufd kernel line', () => {
  it('is built from Debian linux-source-7.3 with the committed fragment, for arm64', () => {
    const line = kernelByName('7.3-iommufd')
    assert.ok(line !== undefined)
    assert.equal(line.build, '7.3-iommufd')
    assert.equal(line.profile, 'linux-7.3')
    assert.deepEqual(line.machines, ['virt10', 'virt10-acpi', 'virt10-9.1', 'virt11-2smmu', 'virt11-2smmu-nested'])
    assert.equal(iommufdBuild.sourcePackage, 'linux-source-7.3')
    assert.ok(fs.existsSync(path.join(ROOT, iommufdBuild.fragment)))
  })

  it('the fragment turns on iommufd nesting and the VFIO cdev, every option built in', () => {
    const text = fs.readFileSync(path.join(ROOT, iommufdBuild.fragment), 'utf8')
    const options = text.split('\n').filter((l) => l.startsWith('CONFIG_'))
    assert.equal(options.length, 32)
    for (const o of ['CONFIG_IOMMUFD=y', 'CONFIG_ARM_SMMU_V3_IOMMUFD=y', 'CONFIG_VFIO_DEVICE_CDEV=y', 'CONFIG_ACPI_TABLE_UPGRADE=y', 'CONFIG_EFI_STUB=y']) assert.ok(options.includes(o), o)
    assert.ok(options.every((o) => o.endsWith('=y')), 'no modules')
  })

  it('is not part of a run without --kernel', () => {
    assert.deepEqual(
      KERNELS.filter((k) => k.byDefault).map((k) => k.name),
      ['6.1', '6.12', '7.x'],
    )
  })
})

describe('real-kernel: the build cache key', () => {
  it('names the kernel, the source version (Debian ~ and : made safe) and 12 hex digits', () => {
    assert.match(buildKey(iommufdBuild, '7.3.4-1~bpo13+1', 'CONFIG_X=y\n'), /^7\.3-iommufd-7\.3\.4-1_bpo13\+1-[0-9a-f]{12}$/)
    assert.match(buildKey(iommufdBuild, '1:7.3.4-1', 'CONFIG_X=y\n'), /^7\.3-iommufd-1_7\.3\.4-1-[0-9a-f]{12}$/)
  })
  it('is the same for the same source and fragment, and changes with either', () => {
    const a = buildKey(iommufdBuild, '7.3.4-1', 'CONFIG_A=y\n')
    assert.equal(buildKey(iommufdBuild, '7.3.4-1', 'CONFIG_A=y\n'), a)
    assert.notEqual(buildKey(iommufdBuild, '7.3.4-2', 'CONFIG_A=y\n'), a)
    assert.notEqual(buildKey(iommufdBuild, '7.3.4-1', 'CONFIG_A=y\nCONFIG_B=y\n'), a)
    assert.notEqual(buildKey({ ...iommufdBuild, sourcePackage: 'linux-source-7.4' }, '7.3.4-1', 'CONFIG_A=y\n'), a)
  })
})

describe('real-kernel: build progress', () => {
  it('counts make\'s CC and AS lines of objects, nothing else', () => {
    assert.ok(isObjectLine('  CC      init/main.o'))
    assert.ok(isObjectLine('  AS      arch/arm64/kernel/entry.o'))
    for (const l of ['  HOSTCC  scripts/dtc/dtc.o', '  LD      vmlinux', '  CC      scripts/mod/devicetable-offsets.s', '  UPD     include/config/kernel.release', 'make[1]: Entering directory']) assert.ok(!isObjectLine(l), l)
  })
  it('says objects done/total with a percentage that stays below 100 until the end', () => {
    assert.equal(buildProgress(0, 1500), 'objects 0/1500 (0%)')
    assert.equal(buildProgress(750, 1500), 'objects 750/1500 (50%)')
    assert.equal(buildProgress(1600, 1500), 'objects 1600/1601 (99%)')
  })
})

/** A build-kernel.sh stand-in: `version` prints one, `build` prints make lines and writes the Image. */
function stubScript(calls: string[][], objects: number): (args: readonly string[], line: (l: string) => void) => Promise<string> {
  return async (args, line) => {
    calls.push([...args])
    if (args[1] === 'version') return '7.3.4-1~bpo13+1\n'
    const out = args[5] as string
    line('kernel build: allnoconfig + iommufd.config')
    for (let i = 0; i < objects; i++) line(`  CC      obj${i}.o`)
    line('  LD      vmlinux')
    fs.mkdirSync(out, { recursive: true })
    fs.writeFileSync(path.join(out, 'Image'), 'image')
    fs.writeFileSync(path.join(out, 'release'), '7.3.4\n')
    fs.writeFileSync(path.join(out, 'seconds'), '583\n')
    fs.writeFileSync(path.join(out, 'objects'), `${objects}\n`)
    return ''
  }
}

describe('real-kernel: building the kernel (stub build script)', () => {
  it('cold: asks the version, builds into the key directory and shows objects done/total', async () => {
    const cache = tmp()
    const calls: string[][] = []
    const log: string[] = []
    const b = await buildKernel({ ...iommufdBuild, objectsEstimate: 4 }, { cache, install: true, log: (l) => log.push(l), runScript: stubScript(calls, 4) })
    assert.equal(b.built, true)
    assert.equal(b.release, '7.3.4')
    assert.equal(b.seconds, 583)
    assert.equal(b.source, 'linux-source-7.3 7.3.4-1~bpo13+1')
    assert.deepEqual(calls.map((c) => c[1]), ['version', 'build'])
    assert.equal(calls[1]?.[3], '7.3.4-1~bpo13+1')
    assert.equal(path.basename(calls[1]?.[5] as string), b.key)
    assert.equal(path.dirname(b.image), path.join(cache, 'kernel-build', b.key))
    const progress = log.filter((l) => l.includes('objects '))
    assert.deepEqual(
      progress.map((l) => /objects (\d+\/\d+)/.exec(l)?.[1]),
      ['1/4', '2/4', '3/4', '4/5'],
    )
    assert.ok(log.includes('kernel build: allnoconfig + iommufd.config'))
  })

  it('cached: the same version and fragment boot the Image already built, with no build', async () => {
    const cache = tmp()
    await buildKernel(iommufdBuild, { cache, install: true, log: () => undefined, runScript: stubScript([], 2) })
    const calls: string[][] = []
    const b = await buildKernel(iommufdBuild, { cache, install: true, log: () => undefined, runScript: stubScript(calls, 2) })
    assert.equal(b.built, false)
    assert.deepEqual(calls.map((c) => c[1]), ['version'])
  })

  it('--no-install: a cached build of this fragment will do; none is an error saying what to run', async () => {
    const cache = tmp()
    await assert.rejects(buildKernel(iommufdBuild, { cache, install: false, log: () => undefined, runScript: stubScript([], 1) }), /no cached 7\.3-iommufd kernel .*without --no-install/)
    await buildKernel(iommufdBuild, { cache, install: true, log: () => undefined, runScript: stubScript([], 1) })
    const calls: string[][] = []
    const b = await buildKernel(iommufdBuild, { cache, install: false, log: () => undefined, runScript: stubScript(calls, 1) })
    assert.deepEqual(calls, [])
    assert.equal(b.source, 'linux-source-7.3 7.3.4-1_bpo13+1')
  })

  it('the next cold build counts against the last build\'s objects, not the estimate', async () => {
    const cache = tmp()
    await buildKernel(iommufdBuild, { cache, install: true, log: () => undefined, runScript: stubScript([], 3) })
    const log: string[] = []
    const other: KernelBuild = { ...iommufdBuild, fragment: 'realkernel/kernel/iommufd.config', sourcePackage: 'linux-source-7.3' }
    // A new Debian version: a new key, so a build; its total is the 3 objects of the build before.
    const stub = stubScript([], 3)
    await buildKernel(other, { cache, install: true, log: (l) => log.push(l), runScript: (args, line) => (args[1] === 'version' ? Promise.resolve('7.3.5-1\n') : stub(args, line)) })
    assert.ok(log.some((l) => l.includes('objects 1/3')), log.join('\n'))
  })
})

/** An arm64 Image: 64-byte header with "ARM\x64" at 56, then the banner somewhere inside. */
function armImage(banner: string): Buffer {
  const header = Buffer.alloc(64)
  header.write('ARM\x64', 56, 'latin1')
  return Buffer.concat([header, Buffer.alloc(100), Buffer.from('Linux version %s\0', 'latin1'), Buffer.from(`Linux version ${banner}\n\0`, 'latin1'), Buffer.alloc(50)])
}

describe('real-kernel: what a kernel image says about itself', () => {
  const banner = '7.3.4 (smmu-nesting-tck@realkernel) (aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0) #1 SMP Sun Nov 15 22:30:00 UTC 2026'
  const write = (bytes: Buffer): string => {
    const f = path.join(tmp(), 'image')
    fs.writeFileSync(f, bytes)
    return f
  }

  it('an arm64 Image: its banner (not the printf format) and sha256', () => {
    const bytes = armImage(banner)
    const info = kernelImageInfo(write(bytes))
    assert.deepEqual(info, { arch: 'arm64', format: 'Image', version: banner, release: '7.3.4', sha256: createHash('sha256').update(bytes).digest('hex') })
  })
  it('a gzip\'d Image (Debian\'s arm64 vmlinuz)', () => {
    const info = kernelImageInfo(write(zlib.gzipSync(armImage(banner))))
    assert.equal(info.format, 'Image.gz')
    assert.equal(info.release, '7.3.4')
  })
  it('an EFI zboot image: the payload named at offsets 8 and 12, compressed as offset 24 says', () => {
    const payload = zlib.gzipSync(armImage(banner))
    const header = Buffer.alloc(64)
    header.write('MZ', 0, 'latin1')
    header.write('zimg', 4, 'latin1')
    header.writeUInt32LE(64, 8)
    header.writeUInt32LE(payload.length, 12)
    header.write('gzip', 24, 'latin1')
    const info = kernelImageInfo(write(Buffer.concat([header, payload])))
    assert.deepEqual([info.arch, info.format, info.version], ['arm64', 'EFI zboot', banner])
  })
  it('an x86 bzImage: the version string the setup header points at', () => {
    const bytes = Buffer.alloc(0x400)
    bytes.write('HdrS', 0x202, 'latin1')
    bytes.writeUInt16LE(0x100, 0x20e)
    bytes.write('6.1.0-28-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1\0', 0x300, 'latin1')
    const info = kernelImageInfo(write(bytes))
    assert.deepEqual([info.arch, info.format, info.release], ['amd64', 'bzImage', '6.1.0-28-amd64'])
  })
  it('anything else is an error saying what was expected', () => {
    assert.throws(() => kernelImageInfo(write(Buffer.from('not a kernel at all, just text, long enough'))), /neither an arm64 Image .* nor an x86 bzImage/)
    assert.throws(() => kernelImageInfo('/nonexistent/Image'), KernelImageError)
  })
})

describe('real-kernel: --kernel and --kernel-image arguments', () => {
  const armInfo: KernelImageInfo = { arch: 'arm64', format: 'Image', version: '7.3.4 #1 SMP', release: '7.3.4', sha256: 'ab'.repeat(32) }
  const reader = (): KernelImageInfo => armInfo
  const ok = (argv: string[]): RunOptions => {
    const r = parseRunArgs(argv, reader)
    assert.ok(!('error' in r), 'error' in r ? r.error : '')
    return r as RunOptions
  }
  const err = (argv: string[]): string => {
    const r = parseRunArgs(argv, reader)
    assert.ok('error' in r, 'expected an error')
    return (r as { error: string }).error
  }

  it('--kernel 7.3-iommufd boots the three QEMU 10 machines of iommufd and QEMU 11\'s two two-SMMU ones', () => {
    const { guests, skipped } = chooseGuests(ok(['--kernel', '7.3-iommufd']))
    assert.deepEqual(
      guests.map((g) => `${g.kernel.name}@${g.machine.name}`),
      ['7.3-iommufd@virt10', '7.3-iommufd@virt10-acpi', '7.3-iommufd@virt10-9.1', '7.3-iommufd@virt11-2smmu', '7.3-iommufd@virt11-2smmu-nested'],
    )
    assert.deepEqual(skipped, [])
  })
  it('no --kernel: Debian\'s three lines on their own six machines (18 guests)', () => {
    const { guests } = chooseGuests(ok([]))
    assert.equal(guests.length, 18)
    assert.ok(guests.every((g) => g.kernel.build === undefined && g.machine.iommufdOnly !== true))
  })
  it('--machine picks among them; a kernel does not boot where it does not fit, and says so', () => {
    const { guests, skipped } = chooseGuests(ok(['--kernel', '7.x', '--kernel', '7.3-iommufd', '--machine', 'q35', '--machine', 'virt10-acpi']))
    assert.deepEqual(guests.map((g) => `${g.kernel.name}@${g.machine.name}`), ['7.x@q35', '7.3-iommufd@virt10-acpi'])
    assert.equal(skipped.length, 2)
    assert.match(skipped[0] as string, /^7\.x on virt10-acpi: the machine is for kernels with iommufd/)
    assert.match(skipped[1] as string, /^7\.3-iommufd on q35: no amd64 kernel/)
  })
  it('--kernel-image with --profile and --machine: one guest per machine, the image read once', () => {
    const r = ok(['--kernel-image', '/k/Image', '--profile', 'linux-7.3', '--machine', 'virt10', '--modules', '/k/mods'])
    assert.deepEqual(r.image, { path: '/k/Image', modules: '/k/mods', profile: 'linux-7.3', info: armInfo })
    const { guests } = chooseGuests(r)
    assert.deepEqual(guests.map((g) => [g.machine.name, g.kernel.name, g.kernel.profile, g.kernel.transcripts]), [['virt10', 'image', 'linux-7.3', 'any']])
  })
  it('--kernel-image errors: no profile, an unknown profile, no machine, the wrong architecture, with --kernel', () => {
    assert.match(err(['--kernel-image', '/k/Image', '--machine', 'virt10']), /needs --profile/)
    assert.match(err(['--kernel-image', '/k/Image', '--profile', 'linux-9.9', '--machine', 'virt10']), /--profile linux-9\.9: no such profile/)
    assert.match(err(['--kernel-image', '/k/Image', '--profile', 'linux-7.3']), /needs --machine/)
    assert.match(err(['--kernel-image', '/k/Image', '--profile', 'linux-7.3', '--machine', 'q35']), /is an arm64 Image; q35 is an amd64 machine/)
    assert.match(err(['--kernel-image', '/k/Image', '--profile', 'linux-7.3', '--machine', 'virt10', '--kernel', '7.x']), /do not go together/)
    assert.match(err(['--modules', '/k/mods']), /--modules goes with --kernel-image/)
    assert.match(err(['--kernel-image']), /--kernel-image needs a value/)
  })
  it('an image that cannot be read is an error naming it', () => {
    const r = parseRunArgs(['--kernel-image', '/nonexistent/Image', '--profile', 'linux-7.3', '--machine', 'virt10'])
    assert.ok('error' in r && /--kernel-image \/nonexistent\/Image: no such file/.test(r.error))
  })
})

describe('real-kernel: what a run fetches', () => {
  it('Debian\'s packages for Debian lines; busybox (and EDK2 for the ACPI machine) for a built kernel', () => {
    const m = (n: string): Machine => machineByName(n) as Machine
    const line = kernelByName('7.3-iommufd')
    assert.ok(line !== undefined)
    const deb = kernelByName('6.12')
    assert.ok(deb !== undefined)
    assert.deepEqual(
      fetchSpecs([
        { machine: m('virt10'), kernelLine: line },
        { machine: m('virt10-acpi'), kernelLine: line },
        { machine: m('q35'), kernelLine: deb },
      ]).map((s) => `${s.arch}:${s.kernel}`),
      ['arm64:busybox', 'arm64:edk2', 'amd64:6.12'],
    )
  })
})

/**
 * A minimal IORT (DEN 0049): the ACPI header, an SMMUv3 node (type 4) and a PCI root complex node
 * (type 2) whose memory access flags (node offset 23) are QEMU's 0x3.
 */
function qemuLikeIort(): Buffer {
  const smmu = Buffer.alloc(68)
  smmu[0] = 4
  smmu.writeUInt16LE(smmu.length, 1)
  smmu[3] = 4
  const rc = Buffer.alloc(56)
  rc[0] = 2
  rc.writeUInt16LE(rc.length, 1)
  rc[3] = 3
  rc.writeUInt32LE(1, 16) // cache coherent
  rc[23] = 0x3
  const header = Buffer.alloc(48)
  header.write('IORT', 0, 'latin1')
  header[8] = 3
  header.write('BOCHS ', 10, 'latin1')
  header.write('BXPC    ', 16, 'latin1')
  header.writeUInt32LE(1, 24)
  header.writeUInt32LE(2, 36)
  header.writeUInt32LE(48, 40)
  const table = Buffer.concat([header, smmu, rc])
  table.writeUInt32LE(table.length, 4)
  table[9] = (0x100 - table.reduce((a, b) => (a + b) & 0xff, 0)) & 0xff
  return table
}

describe('real-kernel: the ACPI machine\'s IORT says CANWBS', () => {
  it('sets bit 2 of every root complex\'s memory access flags, raises the OEM revision, keeps the checksum', () => {
    const original = qemuLikeIort()
    assert.ok(acpiChecksumOk(original))
    const upgraded = iortWithCanwbs(original)
    assert.equal(upgraded[48 + 68 + 23], 0x7)
    assert.equal(upgraded.readUInt32LE(24), 2)
    assert.equal(upgraded.reduce((a, b) => (a + b) & 0xff, 0), 0)
    assert.deepEqual(Buffer.concat([upgraded.subarray(0, 9), upgraded.subarray(10, 24), upgraded.subarray(28, 48 + 68 + 23), upgraded.subarray(48 + 68 + 24)]), Buffer.concat([original.subarray(0, 9), original.subarray(10, 24), original.subarray(28, 48 + 68 + 23), original.subarray(48 + 68 + 24)]), 'nothing else changes')
    assert.deepEqual(iortRootComplexes(upgraded), [{ offset: 48 + 68, memoryAccessFlags: 0x7 }])
    assert.equal(original[48 + 68 + 23], 0x3, 'the original is left as it was')
  })
  it('refuses what is not an IORT, a bad checksum, or one without a root complex', () => {
    assert.throws(() => iortWithCanwbs(Buffer.alloc(64)), /not an IORT/)
    const bad = qemuLikeIort()
    bad[30] = (bad[30] as number) ^ 1
    assert.throws(() => iortWithCanwbs(bad), /bad checksum/)
    const noRc = qemuLikeIort()
    noRc[48 + 68] = 4
    noRc[9] = ((noRc[9] as number) - 2) & 0xff
    assert.throws(() => iortWithCanwbs(noRc), IortError)
  })
  it('goes to the kernel as kernel/firmware/acpi/IORT.aml in an uncompressed newc cpio', () => {
    const cpio = tableUpgradeCpio({ IORT: Buffer.from('table') })
    const text = cpio.toString('latin1')
    assert.ok(text.startsWith('070701'))
    assert.ok(text.includes('kernel/firmware/acpi/IORT.aml\0'))
    assert.ok(text.includes('TRAILER!!!'))
  })
})

/**
 * QEMU 11.1.3's own IORT of virt11-2smmu-nested (two `-device arm-smmuv3`, EDK2 + ACPI), as the
 * guest printed it (/sys/firmware/acpi/tables/IORT, 364 bytes, revision 5): an ITS group (type 0,
 * offset 48), the two SMMUv3 nodes (type 4; base 0xc000000 at offset 72, 0xc020000 at offset 160)
 * and ONE PCI root complex node (type 2, offset 248, memory access flags 0x3) whose ID mappings
 * send RIDs 0x0-0xff (bus 0) to the first SMMU, 0x8000-0x81ff (the pxb's buses 0x80-0x81) to the
 * second, and the rest straight to the ITS. So one CANWBS bit covers both SMMUs' devices.
 */
const QEMU11_TWO_SMMU_IORT = Buffer.from(
  [
    '494f52546c0100000508424f434853204258504320202020010000004258504301000000040000003000000000000000',
    '001800010000000000000000000000000100000000000000045800040100000001000000440000000000000c00000000',
    '010000000000000000000000000000000000000090000000910000009300000092000000000000000000000000000000',
    'ffff0000000000003000000000000000045800040200000001000000440000000000020c000000000100000000000000',
    '00000000000000000000000094000000950000009700000096000000000000000000000000000000ffff000000000000',
    '300000000000000002740003030000000400000024000000010000000000000300000000000000004000000000000000',
    'ff00000000000000480000000000000000800000ff01000000800000a00000000000000000010000ff7e000000010000',
    '300000000000000000820000ff7d0000008200003000000000000000',
  ].join(''),
  'hex',
)

describe('real-kernel: QEMU 11\'s IORT with two SMMUv3 nodes says CANWBS', () => {
  /** An ID mapping of a node (DEN 0049 3.4): input base, count (IDs - 1), output base, output node. */
  const mapping = (node: number, i: number): [number, number, number, number] => {
    const at = node + QEMU11_TWO_SMMU_IORT.readUInt32LE(node + 12) + 20 * i
    return [0, 4, 8, 12].map((o) => QEMU11_TWO_SMMU_IORT.readUInt32LE(at + o)) as [number, number, number, number]
  }
  it('is the table the guest printed: one root complex for both SMMUs, bus 0 to the first, buses 0x80-0x81 to the second', () => {
    assert.equal(QEMU11_TWO_SMMU_IORT.length, 364)
    assert.ok(acpiChecksumOk(QEMU11_TWO_SMMU_IORT))
    assert.deepEqual(iortRootComplexes(QEMU11_TWO_SMMU_IORT), [{ offset: 248, memoryAccessFlags: 0x3 }])
    assert.deepEqual([72, 160].map((n) => [QEMU11_TWO_SMMU_IORT[n], Number(QEMU11_TWO_SMMU_IORT.readBigUInt64LE(n + 16))]), [[4, 0xc000000], [4, 0xc020000]])
    assert.deepEqual(mapping(248, 0), [0x0, 0xff, 0x0, 72])
    assert.deepEqual(mapping(248, 1), [0x8000, 0x1ff, 0x8000, 160])
  })
  it('the upgrade sets CANWBS in that one node: flags 0x3 -> 0x7, OEM revision 1 -> 2, nothing else but the checksum', () => {
    const upgraded = iortWithCanwbs(QEMU11_TWO_SMMU_IORT)
    assert.ok(acpiChecksumOk(upgraded))
    assert.deepEqual(iortRootComplexes(upgraded), [{ offset: 248, memoryAccessFlags: 0x7 }])
    assert.equal(upgraded.readUInt32LE(24), 2)
    const changed = [...upgraded.keys()].filter((i) => upgraded[i] !== QEMU11_TWO_SMMU_IORT[i])
    assert.deepEqual(changed, [9, 24, 248 + 23])
  })
})

describe('real-kernel: iommufd transcript lines', () => {
  const text = [
    '# a comment',
    'device 1 bind                          = ok      # bind',
    'hwpt 2 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x4001000"   = ok',
    'viommu 1 invalidate cmd="CFGI_CD sid=0x8 # not a comment"   = EIO entry_num=0',
    'broken line without a result',
    'open = ok',
    '',
  ].join('\n')
  it('splits call and result at the first blank-surrounded "=", keeps quoted text, drops comments', () => {
    const s = splitTranscript(text)
    assert.deepEqual(
      s.lines.map((l) => [l.line, l.callText, l.expectedText]),
      [
        [2, 'device 1 bind', 'ok'],
        [3, 'hwpt 2 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x4001000"', 'ok'],
        [4, 'viommu 1 invalidate cmd="CFGI_CD sid=0x8 # not a comment"', 'EIO entry_num=0'],
        [6, 'open', 'ok'],
      ],
    )
    assert.deepEqual(s.errors, [{ line: 5, message: 'no " = <result>"' }])
  })
  it('knows iommufd calls from container calls', () => {
    assert.ok(isIommufdCall('device 1 bind'))
    assert.ok(isIommufdCall('guest cd ipa=0x4001000'))
    assert.ok(!isIommufdCall('open'))
    assert.ok(!isIommufdCall('group 1 status'))
  })
  it('reads the agent\'s "@@ <seq> > <result>" lines', () => {
    assert.deepEqual([...parseResultReplies('junk\n@@ 3 > ok id=2\r\n@@ 4 = 0 OK\n@@ 5 > F_TRANSLATION seq=0 sid=0x8\n')], [
      [3, 'ok id=2'],
      [5, 'F_TRANSLATION seq=0 sid=0x8'],
    ])
  })
  it('a written result holds when the kernel says the same records with at least the fields written', () => {
    assert.ok(iommufdExpectationHolds('ok', 'ok id=3'))
    assert.ok(iommufdExpectationHolds('ok type=ARM_SMMUV3 idr0=0xd44101b', 'ok type=ARM_SMMUV3 data_len=0x28 idr0=0x0d44101b idr1=0x2730010'))
    assert.ok(iommufdExpectationHolds('F_TRANSLATION sid=0x8', 'F_TRANSLATION seq=0 sid=0x8 rnw=1'))
    assert.ok(!iommufdExpectationHolds('ok', 'EOPNOTSUPP'))
    assert.ok(!iommufdExpectationHolds('EIO entry_num=0', 'EIO entry_num=1'))
    assert.ok(!iommufdExpectationHolds('F_TRANSLATION', 'F_TRANSLATION seq=0 F_TRANSLATION seq=1'))
    assert.ok(!iommufdExpectationHolds('ok id=3', 'ok'))
  })
})

describe('real-kernel: the recording of an iommufd transcript', () => {
  const header: RecordingHeader = {
    source: 'transcripts/x.vfio',
    kernel: 'Linux 7.3.4 #1 SMP (--kernel-image Image)',
    image: ['Linux version 7.3.4 (u@h) #1 SMP', 'Image, Image, sha256 ' + 'cd'.repeat(32)],
    qemu: 'QEMU emulator version 10.0.2, TCG',
    machineLines: ['qemu-system-aarch64 -M virt,iommu=smmuv3'],
    guest: ['busybox'],
    groups: 'group 1 = 0000:00:01.0',
    profile: 'linux-7.3',
    fixture: 'qemu-smmuv3-10.0',
    recordingPath: 'transcripts/recorded/x.vfio',
  }
  it('the header names the image\'s version string and its sha256', () => {
    const lines = recordingHeader(header)
    assert.ok(lines.includes('#   Image:   Linux version 7.3.4 (u@h) #1 SMP'))
    assert.ok(lines.includes(`#            Image, Image, sha256 ${'cd'.repeat(32)}`))
    assert.ok(lines.includes('#   Profile: linux-7.3          Fixture: qemu-smmuv3-10.0'))
  })
  it('each call with the kernel\'s result; "# transcript:" where the source expected otherwise; not-run lines say why', () => {
    const source = 'device 1 bind = ok\n\n# c\nioas 1 alloc = ok id=9\nhwpt 1 alloc device=1 pt=ioas:1 = ok\n'
    const results = new Map<number, { ok: true; text: string } | { ok: false; problem: string }>([
      [1, { ok: true, text: 'ok id=1' }],
      [4, { ok: true, text: 'ok id=2' }],
      [5, { ok: false, problem: 'the agent could not run it: x' }],
    ])
    const out = formatIommufdRecording(header, source, results).split('\n')
    const body = out.slice(out.indexOf('') + 1)
    assert.deepEqual(body, [
      `${'device 1 bind'.padEnd(60)} = ok id=1`,
      '',
      `${'ioas 1 alloc'.padEnd(60)} = ok id=2   # transcript: ok id=9`,
      '# not run: hwpt 1 alloc device=1 pt=ioas:1 (the agent could not run it: x)',
      '',
    ])
  })
})

describe('real-kernel: every kernel build is a kernel line', () => {
  it('each KERNEL_BUILDS entry has a --kernel line naming it', () => {
    for (const b of KERNEL_BUILDS) assert.equal(kernelByName(b.name)?.build, b.name)
  })
})

describe('real-kernel: the guest\'s /init for a kernel with everything built in', () => {
  it('loads no modules, and says which IORT the kernel uses and whether there is an iommufd', () => {
    const none = initScript([])
    assert.ok(!none.includes('insmod'), 'no insmod without modules')
    assert.ok(initScript(['vfio', 'vfio_pci']).includes('for m in vfio vfio_pci; do'))
    assert.match(none, /\/sys\/firmware\/acpi\/tables\/IORT \] && fact iort \$\(od -An -v -tx1 /)
    assert.match(none, /Table Upgrade: override/)
    assert.match(none, /\[ -e \/dev\/iommu \] && fact iommufd/)
  })
})
