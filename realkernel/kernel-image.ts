/**
 * What a kernel image says about itself, read from its bytes: its architecture (arm64 Image or
 * x86 bzImage), its version string (the `linux_banner` "Linux version 7.3.4 (...) #1 SMP ..."
 * that `uname -v` and /proc/version are made from) and its sha256. For `--kernel-image`, whose
 * recording header names the kernel by these rather than by a Debian package.
 *
 * Formats (Documentation/arch/arm64/booting.rst, Documentation/arch/x86/boot.rst):
 *   - arm64 Image: magic "ARM\x64" at offset 56; the banner is in the image, uncompressed.
 *   - gzip'd Image (Debian's arm64 vmlinuz before EFI zboot): gzip magic 1f 8b at 0.
 *   - EFI zboot (drivers/firmware/efi/libstub/zboot-header.S): "MZ" at 0, "zimg" at 4, payload
 *     offset and size (le32) at 8 and 12, compression name at 24 ("gzip", "zstd", ...).
 *   - x86 bzImage: "HdrS" at 0x202; kernel_version at 0x20e (le16) + 0x200 points at the version
 *     string the setup code prints ("6.1.0-28-amd64 (debian-kernel@...) #1 SMP ...").
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as zlib from 'node:zlib'
import type { GuestArch } from './machines'

export interface KernelImageInfo {
  readonly arch: GuestArch
  readonly format: 'Image' | 'Image.gz' | 'EFI zboot' | 'bzImage'
  /** "7.3.4 (user@host) (gcc ...) #1 SMP ..." without the leading "Linux version ". */
  readonly version: string
  /** The release: the version's first word, e.g. "7.3.4" or "6.1.0-28-amd64". */
  readonly release: string
  readonly sha256: string
}

/** An image this backend cannot boot or read, with why. */
export class KernelImageError extends Error {}

const BANNER = Buffer.from('Linux version ')

/** The `linux_banner` in a decompressed image: "Linux version " up to the line's end. */
export function bannerIn(bytes: Buffer): string | undefined {
  let at = bytes.indexOf(BANNER)
  while (at >= 0) {
    const end = bytes.indexOf(0x0a, at)
    const nul = bytes.indexOf(0, at)
    const stop = [end, nul].filter((x) => x >= 0).reduce((a, b) => Math.min(a, b), bytes.length)
    const text = bytes.subarray(at + BANNER.length, stop).toString('latin1')
    // The banner proper has a "#<n>" build number; other copies ("Linux version %s") do not.
    if (/^\S+ .*#\d/.test(text)) return text.trim()
    at = bytes.indexOf(BANNER, at + 1)
  }
  return undefined
}

function decompress(kind: string, data: Buffer, file: string): Buffer {
  if (kind === 'gzip') return zlib.gunzipSync(data)
  const tools: Record<string, string[]> = { zstd: ['zstd', '-dc'], xz: ['xz', '-dc'], lzma: ['xz', '--format=lzma', '-dc'], bzip2: ['bzip2', '-dc'], lz4: ['lz4', '-dc'] }
  const tool = tools[kind]
  if (tool === undefined) throw new KernelImageError(`${file}: EFI zboot image compressed with ${kind}, which this backend cannot read`)
  const r = spawnSync(tool[0] as string, tool.slice(1), { input: data, maxBuffer: 512 << 20 })
  if (r.status !== 0 || r.stdout === null) throw new KernelImageError(`${file}: cannot decompress its ${kind} payload with ${tool[0]}`)
  return r.stdout
}

/** Reads architecture, version string and checksum of a kernel image. */
export function kernelImageInfo(file: string): KernelImageInfo {
  if (!fs.existsSync(file)) throw new KernelImageError(`${file}: no such file`)
  const bytes = fs.readFileSync(file)
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  const done = (arch: GuestArch, format: KernelImageInfo['format'], version: string | undefined): KernelImageInfo => {
    if (version === undefined || version === '') throw new KernelImageError(`${file}: a ${format} without a Linux version string`)
    return { arch, format, version, release: version.split(' ')[0] as string, sha256 }
  }
  if (bytes.length > 0x210 && bytes.toString('latin1', 0x202, 0x206) === 'HdrS') {
    const off = bytes.readUInt16LE(0x20e)
    if (off === 0) throw new KernelImageError(`${file}: a bzImage whose header has no kernel_version`)
    const start = 0x200 + off
    const end = bytes.indexOf(0, start)
    return done('amd64', 'bzImage', bytes.toString('latin1', start, end < 0 ? start + 256 : end).trim())
  }
  if (bytes.length > 64 && bytes.toString('latin1', 56, 60) === 'ARM\x64') return done('arm64', 'Image', bannerIn(bytes))
  if (bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const inner = zlib.gunzipSync(bytes)
    if (inner.toString('latin1', 56, 60) !== 'ARM\x64') throw new KernelImageError(`${file}: gzip data that is not an arm64 Image`)
    return done('arm64', 'Image.gz', bannerIn(inner))
  }
  if (bytes.length > 32 && bytes.toString('latin1', 0, 2) === 'MZ' && bytes.toString('latin1', 4, 8) === 'zimg') {
    const offset = bytes.readUInt32LE(8)
    const size = bytes.readUInt32LE(12)
    const kind = bytes.toString('latin1', 24, 32).replace(/\0.*$/s, '')
    const inner = decompress(kind, bytes.subarray(offset, offset + size), file)
    if (inner.toString('latin1', 56, 60) !== 'ARM\x64') throw new KernelImageError(`${file}: an EFI zboot image whose payload is not an arm64 Image`)
    return done('arm64', 'EFI zboot', bannerIn(inner))
  }
  throw new KernelImageError(`${file}: neither an arm64 Image (plain, gzip'd or EFI zboot) nor an x86 bzImage`)
}
