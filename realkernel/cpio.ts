/**
 * A minimal writer for the cpio "newc" format the kernel unpacks as an initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst): per entry a 110-byte ASCII header
 * of 8-digit hex fields, the name with its NUL, padding to 4 bytes, the data, padding to 4 bytes;
 * the archive ends with an entry named TRAILER!!!.
 */

export type CpioEntry =
  | { readonly kind: 'dir'; readonly path: string }
  | { readonly kind: 'file'; readonly path: string; readonly data: Uint8Array | string; readonly mode?: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string }

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0')
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4
}

/** The archive's bytes (uncompressed). Paths are relative to the root, without a leading slash. */
export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = []
  let ino = 1
  const push = (name: string, mode: number, body: Buffer): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8')
    const header =
      '070701' +
      [ino++, mode, 0, 0, 1, 0, body.length, 0, 0, 0, 0, nameBytes.length, 0].map(hex8).join('')
    parts.push(Buffer.from(header, 'ascii'), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length)), body, Buffer.alloc(pad4(body.length)))
  }
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '')
    if (e.kind === 'dir') push(name, S_IFDIR | 0o755, Buffer.alloc(0))
    else if (e.kind === 'symlink') push(name, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'))
    else push(name, S_IFREG | (e.mode ?? 0o644), typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : Buffer.from(e.data))
  }
  ino = 0
  push('TRAILER!!!', 0, Buffer.alloc(0))
  return Buffer.concat(parts)
}
