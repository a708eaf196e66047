/**
 * The transcript reading layer (model/transcript/read.ts): lines split from chunks of bytes, each
 * decoded on its own, wherever the chunk boundaries fall; a line too long or not UTF-8 refused at
 * its line and the others read; and at most one chunk read ahead of the line handed out.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseLines, textLines, type SourceLine } from '../../model/transcript'
import { splitLines } from '../../model/transcript/read'

/** A reader over `bytes` that hands out at most `step` bytes per call, counting what it gave. */
function source(bytes: Buffer, step = bytes.length): { read: (buf: Buffer) => number; given: () => number } {
  let at = 0
  return {
    read: (buf) => {
      const n = Math.min(step, buf.length, bytes.length - at)
      bytes.copy(buf, 0, at, at + n)
      at += n
      return n
    },
    given: () => at,
  }
}

function show(lines: Iterable<SourceLine>): string[] {
  return [...lines].map((l) => ('text' in l ? `${l.line}: ${JSON.stringify(l.text)}` : `${l.line}:${l.problem.column} ${l.problem.code} ${l.problem.message}`))
}

describe('splitting a transcript into lines', () => {
  const text = '\ufeffopen = ok\r\n# caf\u00e9 \u2713 \ud83d\ude00\n\napi_version = 0\r\ncheck_extension 6 = 1'
  const expected = ['1: "open = ok"', '2: "# café ✓ 😀"', '3: ""', '4: "api_version = 0"', '5: "check_extension 6 = 1"']

  it('gives the same lines for every chunk size, a multi-byte character or CRLF split between chunks included', () => {
    const bytes = Buffer.from(text)
    for (const chunk of [1, 2, 3, 5, 7, 64]) {
      assert.deepEqual(show(splitLines(source(bytes).read, chunk)), expected, `chunks of ${chunk} bytes`)
      assert.deepEqual(show(splitLines(source(bytes, 1).read, chunk)), expected, `chunks of ${chunk} bytes, one byte per read`)
    }
  })

  it('reads a text in memory the same way (a BOM is the text decoder\'s to drop)', () => {
    assert.deepEqual(show(textLines(text.slice(1))), expected)
    assert.deepEqual(show(textLines('a\nb\n')), ['1: "a"', '2: "b"'])
    assert.deepEqual(show(textLines('')), ['1: ""'])
  })

  it('drops a byte-order mark at the start of the file only', () => {
    assert.deepEqual(show(splitLines(source(Buffer.from('open = ok\n\ufeffapi_version = 0\n')).read, 4)), ['1: "open = ok"', '2: "\ufeffapi_version = 0"'])
  })

  it('refuses a line that is not UTF-8 at the first bad byte, and reads the next one', () => {
    const bytes = Buffer.concat([Buffer.from('open = ok\n# ca\u00e9 '), Buffer.from([0xc3, 0x28]), Buffer.from(' x\napi_version = 0\n')])
    assert.deepEqual(show(splitLines(source(bytes).read, 5)), [
      '1: "open = ok"',
      '2:7 ENCODING invalid UTF-8 (byte 0xc3); transcripts are UTF-8 text',
      '3: "api_version = 0"',
    ])
  })

  it('refuses a line longer than the limit, by its length, and reads the next one', () => {
    const max = 16
    const bytes = Buffer.from(`${'a'.repeat(max)}\n${'b'.repeat(max + 1)}\r\n${'c'.repeat(100)}\nopen = ok`)
    assert.deepEqual(show(splitLines(source(bytes).read, 4, max)), [
      `1: "${'a'.repeat(max)}"`,
      '2:1 TOO_LARGE the line is 18 bytes; the limit is 16 bytes',
      '3:1 TOO_LARGE the line is 100 bytes; the limit is 16 bytes',
      '4: "open = ok"',
    ])
  })

  it('hands out each line having read at most one chunk past it (32 MiB of lines, never held)', () => {
    const line = Buffer.from(`${'api_version = 0'.padEnd(127)}\n`)
    const lines = 256 * 1024
    let made = 0
    // The transcript is made as it is read: 32 MiB that exist only one chunk at a time.
    const read = (buf: Buffer): number => {
      let n = 0
      while (n + line.length <= buf.length && made < lines * line.length) {
        line.copy(buf, n)
        n += line.length
        made += line.length
      }
      return n
    }
    const chunk = 64 * 1024
    let count = 0
    let ahead = 0
    for (const l of splitLines(read, chunk)) {
      assert.ok('text' in l)
      count++
      ahead = Math.max(ahead, made - count * line.length)
    }
    assert.equal(count, lines)
    assert.ok(ahead <= chunk, `read ${ahead} bytes ahead of the line handed out`)
  })

  it('parseLines turns a refused line into that line\'s error and goes on', () => {
    const bytes = Buffer.concat([Buffer.from('open = ok\n'), Buffer.from([0xff]), Buffer.from(' = ok\napi_version = 0\n')])
    const items = [...parseLines(splitLines(source(bytes).read), 't.vfio')].map((i) => ('code' in i ? `${i.line}:${i.column} ${i.code}` : `${i.line} ${i.callText}`))
    assert.deepEqual(items, ['1 open', '2:1 ENCODING', '3 api_version'])
  })
})
