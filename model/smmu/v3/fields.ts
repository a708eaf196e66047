/**
 * Structures made of 64-bit little-endian words, described once as a table of fields (word, low
 * bit, width, kind) from which both the encoder and the decoder are driven: a field's position is
 * written in one place only. The SMMUv3 STE, CD and event record (structures.ts, events.ts) are
 * such tables.
 *
 * Kinds: a flag is one bit (boolean); a uint is a number; an address is the word's bits
 * [lo + width - 1 : lo] kept in place (bits below lo are zero), as a number (at most 53 significant
 * bits, so exact); a word is a 64-bit value kept as a bigint (the event record's InputAddr).
 */

export type FieldKind = 'flag' | 'uint' | 'address' | 'word'

export interface Field<K extends FieldKind = FieldKind> {
  /** The field's name in Arm IHI 0070. */
  readonly name: string
  readonly word: number
  readonly lo: number
  readonly width: number
  readonly kind: K
}

export type Layout = Readonly<Record<string, Field>>

type ValueOf<F> = F extends Field<'flag'> ? boolean : F extends Field<'word'> ? bigint : number

/** The decoded values of a layout's fields, by the layout's keys. */
export type FieldsOf<L extends Layout> = { readonly [K in keyof L]: ValueOf<L[K]> }

export const flag = (name: string, word: number, bit: number): Field<'flag'> => ({ name, word, lo: bit, width: 1, kind: 'flag' })
export const uint = (name: string, word: number, lo: number, width: number): Field<'uint'> => ({ name, word, lo, width, kind: 'uint' })
/** Address bits [hi:lo] of a word, kept in place. */
export const address = (name: string, word: number, hi: number, lo: number): Field<'address'> => ({ name, word, lo, width: hi - lo + 1, kind: 'address' })
export const word64 = (name: string, word: number): Field<'word'> => ({ name, word, lo: 0, width: 64, kind: 'word' })

const mask = (width: number): bigint => (1n << BigInt(width)) - 1n

/** The bits of one field's value, in place in its word; throws when the value does not fit. */
function place(key: string, f: Field, value: unknown): bigint {
  let v: bigint
  if (f.kind === 'flag') {
    if (typeof value !== 'boolean') throw new Error(`${f.name}: a flag takes a boolean, not ${String(value)}`)
    v = value ? 1n : 0n
  } else if (f.kind === 'word') {
    if (typeof value !== 'bigint') throw new Error(`${f.name}: a 64-bit word takes a bigint`)
    v = BigInt.asUintN(64, value)
  } else {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Error(`${f.name} (${key}): ${String(value)} is not a non-negative integer`)
    v = BigInt(value)
    if (f.kind === 'address') {
      if (v % (1n << BigInt(f.lo)) !== 0n) throw new Error(`${f.name}: address 0x${value.toString(16)} is not aligned to bit ${f.lo}`)
      v >>= BigInt(f.lo)
    }
  }
  if (v > mask(f.width)) throw new Error(`${f.name}: ${String(value)} does not fit ${f.width} bit(s) at [${f.lo + f.width - 1}:${f.lo}]`)
  return v << BigInt(f.lo)
}

/** The words of a structure of `count` words holding `values`. */
export function encodeFields<L extends Layout>(layout: L, count: number, values: FieldsOf<L>): bigint[] {
  const words = new Array<bigint>(count).fill(0n)
  for (const key of Object.keys(layout)) {
    const f = layout[key]
    words[f.word] |= place(key, f, (values as Record<string, unknown>)[key])
  }
  return words
}

/** Every field of `layout` read from `words` (missing words read as zero). */
export function decodeFields<L extends Layout>(layout: L, words: readonly bigint[]): FieldsOf<L> {
  const out: Record<string, boolean | number | bigint> = {}
  for (const key of Object.keys(layout)) {
    const f = layout[key]
    const raw = ((words[f.word] ?? 0n) >> BigInt(f.lo)) & mask(f.width)
    out[key] = f.kind === 'flag' ? raw === 1n : f.kind === 'word' ? raw : f.kind === 'address' ? Number(raw << BigInt(f.lo)) : Number(raw)
  }
  return out as FieldsOf<L>
}

/** Every field zero (false, 0, 0n). */
export function zeroFields<L extends Layout>(layout: L): FieldsOf<L> {
  const out: Record<string, boolean | number | bigint> = {}
  for (const key of Object.keys(layout)) {
    const f = layout[key]
    out[key] = f.kind === 'flag' ? false : f.kind === 'word' ? 0n : 0
  }
  return out as FieldsOf<L>
}

/** Pairs of fields of `layout` that share a bit (a layout error unless the pair is declared alternatives). */
export function overlaps(layout: Layout): [string, string][] {
  const keys = Object.keys(layout)
  const out: [string, string][] = []
  for (let i = 0; i < keys.length; i++) {
    for (let j = i + 1; j < keys.length; j++) {
      const a = layout[keys[i]]
      const b = layout[keys[j]]
      if (a.word === b.word && a.lo < b.lo + b.width && b.lo < a.lo + a.width) out.push([keys[i], keys[j]])
    }
  }
  return out
}

/** 64-bit words as the little-endian bytes the SMMU reads. */
export function leBytes(words: readonly bigint[]): Uint8Array {
  const bytes = new Uint8Array(words.length * 8)
  const view = new DataView(bytes.buffer)
  words.forEach((w, i) => view.setBigUint64(i * 8, BigInt.asUintN(64, w), true))
  return bytes
}
