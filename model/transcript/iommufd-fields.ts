/**
 * How a transcript names the fields of the SMMUv3 structures a VMM hands to iommufd: a vSTE
 * (`vste="v cfg=s1 s1ctxptr=0x40001000"`, the first two words of an STE, IHI 0070 5.2) and a
 * command (`cmd="CFGI_CD sid=0x8 leaf"`, IHI 0070 4). The parser (parse-iommufd.ts) reads these
 * names; the formatters below write them, for transcripts made from raw words (a capture of a real
 * VMM: realkernel/capture/convert.ts). A formatted text stands for exactly the words it was made
 * from: every set bit is either in a named field or in a raw `w0=`/`w1=` residue, which the grammar
 * ORs with the named fields (docs/transcript-iommufd.md sections 4 and 5).
 */
import { CMD_LAYOUTS, CMD_WORDS, cmdOpName } from '../smmu/v3/commands'
import type { Field, Layout } from '../smmu/v3/fields'
import { STE_LAYOUT } from '../smmu/v3/structures'

/** Transcript names for STE fields that Linux names otherwise (STRTAB_STE_0_CFG, S1CTXPTR). */
export const VSTE_ALIASES: Readonly<Record<string, string>> = { cfg: 'config', s1ctxptr: 's1contextptr' }
/** Named values of vSTE fields (STE.Config, IHI 0070 5.2). */
export const VSTE_VALUES: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  config: { abort: 0b000, bypass: 0b100, s1: 0b101, s2: 0b110, nested: 0b111 },
}

/** The words a vSTE has (iommu_hwpt_arm_smmuv3.ste[2]). */
const VSTE_WORDS = 2

interface Named {
  readonly name: string
  readonly field: Field
  readonly values?: Readonly<Record<string, number>>
}

/** Fields written in hex whatever their value, as StreamIDs are (`virt_id=0x8`); others below 10 in decimal. */
const HEX_FIELDS: ReadonlySet<string> = new Set(['sid', 'ssid'])

const fieldBits = (f: Field): bigint => ((1n << BigInt(f.width)) - 1n) << BigInt(f.lo)

/**
 * `fields` named where their bits are set, then what no named field covers as raw words. A field
 * whose bits an earlier one already covers is left out (two names for the same bits).
 */
function formatWords(words: readonly bigint[], count: number, fields: readonly Named[], head: readonly string[]): string {
  const covered = new Array<bigint>(count).fill(0n)
  const out = [...head]
  for (const { name, field, values } of fields) {
    if (field.word >= count) continue
    const bits = fieldBits(field)
    const word = words[field.word] ?? 0n
    if ((word & bits) === 0n || ((covered[field.word] as bigint) & bits) === bits) continue
    covered[field.word] = (covered[field.word] as bigint) | bits
    const raw = (word & bits) >> BigInt(field.lo)
    const named = values === undefined ? undefined : Object.keys(values).find((k) => BigInt(values[k] as number) === raw)
    if (named !== undefined) out.push(`${name}=${named}`)
    else if (field.kind === 'flag') out.push(name)
    else if (field.kind === 'address') out.push(`${name}=0x${(raw << BigInt(field.lo)).toString(16)}`)
    else out.push(`${name}=${raw < 10n && !HEX_FIELDS.has(name) ? raw.toString() : `0x${raw.toString(16)}`}`)
  }
  for (let i = 0; i < count; i++) {
    const rest = (words[i] ?? 0n) & ~(covered[i] as bigint)
    if (rest !== 0n) out.push(`w${i}=0x${rest.toString(16)}`)
  }
  return out.length === 0 ? 'w0=0x0' : out.join(' ')
}

const ALIAS_OF: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(VSTE_ALIASES).map(([alias, name]) => [name, alias]))

const VSTE_FIELDS: readonly Named[] = Object.values(STE_LAYOUT as Layout).map((field) => {
  const name = field.name.toLowerCase()
  const values = VSTE_VALUES[name]
  return { name: ALIAS_OF[name] ?? name, field, ...(values === undefined ? {} : { values }) }
})

/** A vSTE's two words as the transcript's `vste="..."` text (without the quotes). */
export function formatVste(words: readonly bigint[]): string {
  return formatWords(words, VSTE_WORDS, VSTE_FIELDS, [])
}

/**
 * A command's two words as the transcript's `cmd="..."` text: its opcode's name and fields (named
 * by the layout's keys: sid, asid, addr, leaf, ...), or raw words for an opcode IHI 0070 does not
 * define.
 */
export function formatCommand(words: readonly bigint[]): string {
  const w0 = words[0] ?? 0n
  const name = cmdOpName(Number(w0 & 0xffn))
  if (name === undefined) return formatWords(words, CMD_WORDS, [], [])
  const fields = Object.entries(CMD_LAYOUTS[name] as Layout)
    .filter(([key]) => key !== 'opcode')
    .map(([key, field]) => ({ name: key, field }))
  const opcodeBits = 0xffn
  return formatWords([w0 & ~opcodeBits, words[1] ?? 0n], CMD_WORDS, fields, [name])
}
