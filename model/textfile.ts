/**
 * Reading the files a user names (fixtures, transcripts) without trusting them: regular files
 * only, at most a stated number of bytes, valid UTF-8; and user text made safe to print.
 *
 * The file is opened non-blocking, so a FIFO is refused at once instead of waiting for a writer;
 * the size is checked on the open descriptor and again while reading (a file that grows, or a
 * /proc file that says 0 bytes, is cut off at the limit + 1 byte).
 */
import * as fs from 'node:fs'

export type TextFileCode = 'NOT_FOUND' | 'NOT_A_FILE' | 'TOO_LARGE' | 'ENCODING'

export interface TextFileProblem {
  readonly code: TextFileCode
  /** 1-based; 1 unless the problem is at a place in the text (ENCODING). */
  readonly line: number
  readonly column: number
  readonly message: string
}

export type TextFileResult = { readonly text: string } | { readonly problem: TextFileProblem }

/** The limits, in bytes, stated in docs/input-limits.md. */
/** 256 KiB: the largest shipped fixture is under 4 KiB; the YAML parser needs about 1.6 s of CPU for 256 KiB of list. */
export const FIXTURE_MAX_BYTES = 256 * 1024

function problemOf(code: TextFileCode, message: string, line = 1, column = 1): { readonly problem: TextFileProblem } {
  return { problem: { code, line, column, message } }
}

/**
 * Open `file` for reading if it is a regular file: the descriptor and the size fstat gives, or
 * NOT_FOUND / NOT_A_FILE. Opened non-blocking, so a FIFO is refused at once. The caller closes it.
 */
export function openRegularFile(file: string, what: string): { readonly fd: number; readonly size: number } | { readonly problem: TextFileProblem } {
  let fd: number
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
  } catch (e) {
    return problemOf('NOT_FOUND', `cannot read ${what}: ${e instanceof Error ? e.message : String(e)}`)
  }
  try {
    const st = fs.fstatSync(fd)
    if (st.isFile()) return { fd, size: st.size }
    fs.closeSync(fd)
    return problemOf('NOT_A_FILE', `a ${what} is a regular file; this is ${fileKind(st)}`)
  } catch (e) {
    fs.closeSync(fd)
    return problemOf('NOT_FOUND', `cannot read ${what}: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/** The whole of a regular file of at most `maxBytes`, in UTF-8 (fixtures; transcripts are read by line). */
export function readTextFile(file: string, maxBytes: number, what: string): TextFileResult {
  const fail = problemOf
  const opened = openRegularFile(file, what)
  if ('problem' in opened) return opened
  const { fd, size } = opened
  let bytes: Buffer
  try {
    if (size > maxBytes) return fail('TOO_LARGE', `the ${what} is ${size} bytes; the limit is ${sizeText(maxBytes)}`)
    // Room for what fstat says plus one byte (to see a file that grew); more only as it comes.
    bytes = Buffer.alloc(Math.min(maxBytes + 1, Math.max(size + 1, 64 * 1024)))
    let got = 0
    for (;;) {
      if (got === bytes.length) {
        const bigger = Buffer.alloc(Math.min(maxBytes + 1, bytes.length * 2))
        bytes.copy(bigger)
        bytes = bigger
      }
      const n = fs.readSync(fd, bytes, got, bytes.length - got, null)
      if (n === 0) break
      got += n
      if (got > maxBytes) return fail('TOO_LARGE', `the ${what} is more than ${sizeText(maxBytes)}, the limit`)
    }
    bytes = bytes.subarray(0, got)
  } catch (e) {
    return fail('NOT_FOUND', `cannot read ${what}: ${e instanceof Error ? e.message : String(e)}`)
  } finally {
    fs.closeSync(fd)
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) }
  } catch {
    const bad = firstInvalidUtf8(bytes)
    const before = new TextDecoder('utf-8').decode(bytes.subarray(0, bad))
    const lineStart = before.lastIndexOf('\n') + 1
    const line = before.split('\n').length
    return fail('ENCODING', `invalid UTF-8 (byte 0x${(bytes[bad] ?? 0).toString(16).padStart(2, '0')}); ${what}s are UTF-8 text`, line, before.length - lineStart + 1)
  }
}

function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a FIFO (named pipe)'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSocket()) return 'a socket'
  return 'not a regular file'
}

export function sizeText(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB (${bytes} bytes)`
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB (${bytes} bytes)` : `${bytes} bytes`
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0
  while (i < b.length) {
    const c = b[i] as number
    const need = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1
    if (need < 0) return i
    for (let k = 1; k <= need; k++) {
      const d = b[i + k]
      if (d === undefined || (d & 0xc0) !== 0x80) return i
    }
    // Overlong 3/4-byte forms, surrogates and code points past U+10FFFF.
    const d1 = b[i + 1] ?? 0
    if ((c === 0xe0 && d1 < 0xa0) || (c === 0xed && d1 >= 0xa0) || (c === 0xf0 && d1 < 0x90) || (c === 0xf4 && d1 >= 0x90)) return i
    i += need + 1
  }
  return b.length
}

/**
 * User text for a one-line message: control characters (C0, DEL, C1), line and paragraph
 * separators and bidirectional overrides become \xNN or \u{NNNN}, so a key or a word cannot move
 * the cursor, colour the terminal or reorder what is shown.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (ch) => {
    const c = ch.codePointAt(0) as number
    return c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u{${c.toString(16)}}`
  })
}
