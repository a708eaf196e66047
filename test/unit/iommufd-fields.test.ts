/**
 * The names a transcript gives a vSTE's and a command's fields (model/transcript/iommufd-fields.ts),
 * written from raw words for transcripts made from a real VMM's capture: worked examples whose
 * words are encoded by hand from Arm IHI 0070 (5.2 STE, 4.3 CFGI_*, 4.4 TLBI_*), and the property
 * that the parser reads every formatted text back to exactly the words it was made from.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { parseTranscript } from '../../model/transcript'
import { formatCommand, formatVste } from '../../model/transcript/iommufd-fields'

/** The bytes the parser makes of `vste="..."` / `cmd="..."`, as 64-bit words. */
function parsedWords(line: string): bigint[] {
  const parsed = parseTranscript(`${line} = ok`, 't.vfio')
  assert.deepEqual(parsed.errors, [], line)
  const call = parsed.lines[0]?.call
  assert.ok(call !== undefined && call.op === 'object', line)
  const action = call.action
  const bytes = action.kind === 'alloc_hwpt' ? action.data : action.kind === 'invalidate' ? action.entries.entries[0] : undefined
  assert.ok(bytes !== undefined, line)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return [view.getBigUint64(0, true), view.getBigUint64(8, true)]
}

const vsteLine = (words: readonly bigint[]): string => `hwpt 2 alloc device=1 pt=viommu:1 vste="${formatVste(words)}"`
const cmdLine = (words: readonly bigint[]): string => `viommu 1 invalidate cmd="${formatCommand(words)}"`

describe('vSTE words by field name', () => {
  it('names V, Config, S1ContextPtr and the S1 cache fields of a guest\'s stage-1 STE', () => {
    // IHI 0070 5.2: V [0]; Config [3:1] 0b101 (stage 1 translate); S1ContextPtr [55:6] = 0x4150_2000;
    // word 1: S1DSS [1:0] = 0b10, S1CIR [3:2] = 0b01, S1COR [5:4] = 0b01, S1CSH [7:6] = 0b11.
    assert.equal(formatVste([0x4150_2000n | (0b101n << 1n) | 1n, 0b11_01_01_10n]), 'v cfg=s1 s1ctxptr=0x41502000 s1dss=2 s1cir=1 s1cor=1 s1csh=3')
  })
  it('names the abort and bypass STEs a VMM pre-builds (Config 0b000 and 0b100)', () => {
    assert.equal(formatVste([0x1n, 0n]), 'v')
    assert.equal(formatVste([0x9n, 0n]), 'v cfg=bypass')
    assert.equal(formatVste([0n, 0n]), 'w0=0x0')
  })
  it('keeps bits no field of the two words holds as a raw residue', () => {
    // Bits [58:56] of word 0 are above S1ContextPtr [55:6] and below S1CDMax [63:59]: no field.
    assert.equal(formatVste([(1n << 56n) | 1n, 0n]), 'v w0=0x100000000000000')
  })
})

describe('command words by field name', () => {
  it('names CFGI_CD, TLBI_NH_ASID and TLBI_NSNH_ALL as a guest issues them', () => {
    // CFGI_CD (0x05): SID w0[63:32], Leaf w1[0]. TLBI_NH_ASID (0x11): ASID w0[63:48]. TLBI_NSNH_ALL (0x30).
    assert.equal(formatCommand([(0x100n << 32n) | 0x05n, 1n]), 'CFGI_CD sid=0x100 leaf')
    assert.equal(formatCommand([(3n << 48n) | 0x11n, 0n]), 'TLBI_NH_ASID asid=3')
    assert.equal(formatCommand([0x30n, 0n]), 'TLBI_NSNH_ALL')
  })
  it('names TLBI_NH_VA\'s address, VMID, ASID and Leaf', () => {
    // 0x12: VMID w0[47:32], ASID w0[63:48]; Leaf w1[0]; Address w1[63:12].
    assert.equal(formatCommand([(1n << 48n) | (2n << 32n) | 0x12n, 0x10_0000n | 1n]), 'TLBI_NH_VA vmid=2 asid=1 leaf addr=0x100000')
  })
  it('writes an opcode IHI 0070 does not define as raw words', () => {
    assert.equal(formatCommand([0xffn, 0x1n]), 'w0=0xff w1=0x1')
  })
})

describe('formatted text reads back to its words', () => {
  const word = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
  // Commands: a defined opcode most of the time, any low byte otherwise.
  const opcode = fc.oneof(fc.constantFrom(0x01n, 0x02n, 0x03n, 0x04n, 0x05n, 0x06n, 0x10n, 0x11n, 0x12n, 0x13n, 0x20n, 0x28n, 0x2an, 0x30n, 0x40n, 0x41n, 0x44n, 0x46n), fc.bigInt({ min: 0n, max: 0xffn }))
  it('for any vSTE', () => {
    fc.assert(fc.property(word, word, (w0, w1) => assert.deepEqual(parsedWords(vsteLine([w0, w1])), [w0, w1])), { seed: 25, numRuns: 300 })
  })
  it('for any command', () => {
    fc.assert(fc.property(opcode, word, word, (op, w0, w1) => {
      const words = [(w0 & ~0xffn) | op, w1]
      assert.deepEqual(parsedWords(cmdLine(words)), words)
    }), { seed: 25, numRuns: 300 })
  })
})
