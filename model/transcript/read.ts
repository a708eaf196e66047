/**
 * How a transcript's lines reach the parser: from a text already in memory, or from a file read
 * as a stream, one chunk at a time, so a recording of millions of calls replays in memory that
 * does not grow with it (the line grammar is ./parse.ts's, and sees one line at a time either way).
 *
 * A line is the bytes up to a `\n` (a `\r` before it is dropped), decoded as UTF-8 on its own:
 * `\n` never occurs inside a multi-byte sequence, so splitting before decoding is exact. Only a
 * line can be refused: one longer than TRANSCRIPT_LINE_MAX_BYTES (TOO_LARGE, its bytes skipped
 * without being kept) or not valid UTF-8 (ENCODING, at the first bad byte's column); the lines
 * after it are read as usual.
 */
import * as fs from 'node:fs'
import { firstInvalidUtf8, openRegularFile, sizeText, type TextFileProblem } from '../textfile'

/**
 * The longest line a transcript may have: 1 MiB. A call line is under 200 bytes; the longest
 * shipped one (a get_info with its IOVA ranges) is under 150.
 */
export const TRANSCRIPT_LINE_MAX_BYTES = 1024 * 1024

/** Bytes read from a transcript file at a time. */
export const TRANSCRIPT_CHUNK_BYTES = 64 * 1024

/** One line as read: its text, or why it cannot be read (the column is 1-based). */
export type SourceLine =
  | { readonly line: number; readonly text: string }
  | { readonly line: number; readonly problem: { readonly code: 'TOO_LARGE' | 'ENCODING'; readonly column: number; readonly message: string } }

/** The lines of a text (a final newline ends the last line rather than starting an empty one). */
export function* textLines(text: string): Generator<SourceLine> {
  const parts = text.split('\n')
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop()
  for (let i = 0; i < parts.length; i++) {
    const t = parts[i] as string
    yield { line: i + 1, text: i < parts.length - 1 || text.endsWith('\n') ? t.replace(/\r$/, '') : t }
  }
}

/**
 * Open a transcript file: a regular file (NOT_FOUND or NOT_A_FILE otherwise). Its lines come from
 * `lines()`, which closes the file when the last one has been read (or `close()` before that).
 */
export function openTranscriptFile(file: string): TranscriptFile | { readonly problem: TextFileProblem } {
  const opened = openRegularFile(file, 'transcript')
  return 'problem' in opened ? opened : new TranscriptFile(opened.fd)
}

export class TranscriptFile {
  private open = true

  constructor(private readonly fd: number) {}

  close(): void {
    if (this.open) fs.closeSync(this.fd)
    this.open = false
  }

  /** The file's lines in order; at most one chunk and one line of it are held at a time. */
  *lines(): Generator<SourceLine> {
    try {
      yield* splitLines((buf) => fs.readSync(this.fd, buf, 0, buf.length, null))
    } finally {
      this.close()
    }
  }
}

/**
 * Lines from `read`, which fills a buffer and returns how many bytes it put there (0 at the end).
 * A line's pieces are kept until its newline, unless they pass the line limit: then only their
 * count is, and the line is reported as TOO_LARGE.
 */
export function* splitLines(read: (buf: Buffer) => number, chunkBytes = TRANSCRIPT_CHUNK_BYTES, maxLineBytes = TRANSCRIPT_LINE_MAX_BYTES): Generator<SourceLine> {
  const buf = Buffer.alloc(chunkBytes)
  const first = new TextDecoder('utf-8', { fatal: true })
  const rest = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
  // The start of the current line, from earlier chunks (copies: `buf` is reused), and its length.
  let pieces: Buffer[] = []
  let length = 0
  let line = 1
  const keep = (piece: Buffer): void => {
    length += piece.length
    // Past the limit the bytes are only counted: a pathological line costs no more memory.
    if (length <= maxLineBytes) pieces.push(Buffer.from(piece))
  }
  /** The line that ends here: `tail` is its part in `buf`; `newline` whether a \n ended it. */
  const finish = (tail: Buffer, newline: boolean): SourceLine => {
    const n = line++
    const total = length + tail.length
    const bytes = pieces.length === 0 ? tail : total > maxLineBytes ? Buffer.alloc(0) : Buffer.concat([...pieces, tail])
    pieces = []
    length = 0
    if (total > maxLineBytes) {
      return { line: n, problem: { code: 'TOO_LARGE', column: 1, message: `the line is ${total} bytes; the limit is ${sizeText(maxLineBytes)}` } }
    }
    const body = newline && bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.subarray(0, bytes.length - 1) : bytes
    try {
      // A byte-order mark is dropped at the start of the file only.
      return { line: n, text: (n === 1 ? first : rest).decode(body) }
    } catch {
      const bad = firstInvalidUtf8(body)
      const column = new TextDecoder('utf-8').decode(body.subarray(0, bad)).length + 1
      return { line: n, problem: { code: 'ENCODING', column, message: `invalid UTF-8 (byte 0x${(body[bad] ?? 0).toString(16).padStart(2, '0')}); transcripts are UTF-8 text` } }
    }
  }
  for (;;) {
    const n = read(buf)
    if (n === 0) break
    let start = 0
    for (;;) {
      const nl = buf.indexOf(0x0a, start)
      if (nl < 0 || nl >= n) break
      yield finish(buf.subarray(start, nl), true)
      start = nl + 1
    }
    if (start < n) keep(buf.subarray(start, n))
  }
  if (length > 0) yield finish(Buffer.alloc(0), false)
}
