/**
 * The pieces every transcript line's parse shares: words with their columns, the problem a line
 * reports, key=value arguments and numbers.
 */
import type { TranscriptErrorCode } from './syntax'

export const U64_MAX = (1n << 64n) - 1n
export const U32_MAX = (1n << 32n) - 1n
/**
 * Largest DMA one line may ask a device for: 16 MiB (docs/input-limits.md). The model moves the
 * bytes through the SMMU page by page and a write carries them in memory; larger transfers are
 * refused rather than left to take seconds and gigabytes.
 */
export const DMA_SIZE_MAX = 16n * 1024n * 1024n

/** A word of the line and where it starts (1-based column). */
export interface Word {
  readonly text: string
  readonly column: number
}

/** Thrown inside the parser only, to leave a line's parse; becomes a TranscriptError. */
export class LineProblem {
  constructor(
    readonly code: TranscriptErrorCode,
    readonly column: number,
    readonly message: string,
  ) {}
}

export function problem(code: TranscriptErrorCode, at: Word | number, message: string): LineProblem {
  return new LineProblem(code, typeof at === 'number' ? at : at.column, message)
}

/**
 * The words of `code` (a line without its comment) with their columns. A word may hold a quoted
 * value, `key="words with blanks"` (no `"` inside): it stays one word, quotes included.
 */
export function splitWords(code: string, offset = 0): Word[] {
  return [...code.matchAll(/[^\s"]+="[^"]*"|\S+/g)].map((m) => ({ text: m[0], column: (m.index ?? 0) + 1 + offset }))
}

/** key=value arguments, each key at most once; bare words go to `bare`. */
export function keyValues(args: readonly Word[], keys: readonly string[], verb: string): { values: Map<string, Word>; bare: Word[] } {
  const values = new Map<string, Word>()
  const bare: Word[] = []
  for (const a of args) {
    const eq = a.text.indexOf('=')
    if (eq < 0) {
      bare.push(a)
      continue
    }
    const key = a.text.slice(0, eq)
    if (!keys.includes(key)) throw problem('BAD_ARGUMENT', a, `${verb} has no argument "${key}" (arguments: ${keys.map((k) => `${k}=`).join(' ')})`)
    if (values.has(key)) throw problem('DUPLICATE_ARGUMENT', a, `${key}= given twice`)
    values.set(key, { text: a.text.slice(eq + 1), column: a.column + eq + 1 })
  }
  return { values, bare }
}

export function required(values: Map<string, Word>, key: string, verb: Word, example: string): Word {
  const w = values.get(key)
  if (w === undefined) throw problem('MISSING_ARGUMENT', verb, `${verb.text} needs ${key}= (e.g. ${example})`)
  return w
}

/** Hex (0x..) or decimal, `_` allowed between digits. */
export function parseNumberText(text: string): bigint | undefined {
  if (/^0[xX][0-9a-fA-F]+(_[0-9a-fA-F]+)*$/.test(text) || /^[0-9]+(_[0-9]+)*$/.test(text)) return BigInt(text.replaceAll('_', ''))
  return undefined
}

export function number(word: Word, max: bigint): bigint {
  if (word.text === '') throw problem('BAD_NUMBER', word, 'a number is missing')
  const n = parseNumberText(word.text)
  if (n === undefined) throw problem('BAD_NUMBER', word, `"${word.text}" is not a number (hex 0x.. or decimal)`)
  if (n > max) {
    const limit = max === U64_MAX ? 'does not fit in 64 bits' : max === U32_MAX ? 'does not fit in 32 bits' : max === DMA_SIZE_MAX ? 'is more than one dma line moves (16 MiB, 0x1000000)' : `is larger than 0x${max.toString(16)}`
    throw problem('BAD_NUMBER', word, `${word.text} ${limit}`)
  }
  return n
}
