/**
 * The recorded QEMU 10 oracle run (oracle/recorded/), replayed against the model: every DMA must
 * agree with what QEMU's SMMUv3 did, or differ only in a documented QEMU deviation. No QEMU here.
 */
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, it } from 'node:test'
import { ROOT } from '../../model/root'
import { decodeSte, encodeSte, QEMU_10_SMMUV3_ID, STE_CONFIG, encodeV3Event } from '../../model/smmu/v3'
import { caseMemory, caseSmmu, predict } from '../../oracle/case'
import { getProfile, loadFixture } from '../../model'
import { SmmuInstance } from '../../model/smmu/instance'
import { judge, knownDifferences } from '../../oracle/compare'
import { loadRun } from '../../oracle/record'
import { parseAgentOutput } from '../../oracle/qemu'

const RECORDED = path.join(ROOT, 'oracle', 'recorded')

describe('SMMUv3 oracle: recorded QEMU 10 runs replayed against the model', () => {
  for (const file of fs.readdirSync(RECORDED).filter((f) => f.endsWith('.json'))) {
    it(`${file}: every case agrees or differs in a documented QEMU way`, () => {
      const run = loadRun(fs.readFileSync(path.join(RECORDED, file), 'utf8'))
      assert.match(run.qemu, /QEMU emulator version 10\./)
      const results = judge(run.cases, run.observations)
      const ids = new Set(knownDifferences().map((k) => k.id))
      const unexplained = results.filter((r) => !r.agree && r.known === undefined)
      assert.deepEqual(unexplained.flatMap((r) => r.lines), [])
      for (const r of results) for (const k of r.known?.split('+') ?? []) assert.ok(ids.has(k), `unknown deviation ${k}`)
      assert.ok(results.filter((r) => r.agree).length > results.length / 2, 'most cases agree outright')
    })

    it(`${file}: each bad-t0sz / bad-s2t0sz case is refused by the T0SZ / S2T0SZ rule, not another`, () => {
      const run = loadRun(fs.readFileSync(path.join(RECORDED, file), 'utf8'))
      const expected = { 'bad-t0sz': 'C_BAD_CD by CD.T0SZ:', 'bad-s2t0sz': 'C_BAD_STE by STE.S2T0SZ:' } as const
      let seen = 0
      for (const c of run.cases) {
        const mutation = (Object.keys(expected) as (keyof typeof expected)[]).find((m) => c.name.endsWith(` ${m}`))
        if (mutation === undefined) continue
        seen++
        for (const p of predict(c)) assert.ok(p.event !== undefined && p.reason?.startsWith(expected[mutation]), `case ${c.id}: ${p.reason}`)
      }
      assert.ok(seen > 0, 'the run has such cases')
    })
  }

  it('every known difference cites QEMU source lines and the architecture', () => {
    for (const k of knownDifferences()) {
      assert.ok(k.qemu.length > 0 && k.qemu.every((q) => /^(hw|include)\/[\w/.-]+:\d+/.test(q)), k.id)
      assert.match(k.architecture, /IHI 0070|Arm ARM/)
    }
  })

  it('parses the agent output per DMA step', () => {
    const run = loadRun(fs.readFileSync(path.join(RECORDED, fs.readdirSync(RECORDED).filter((f) => f.endsWith('.json'))[0]), 'utf8'))
    const c = run.cases[0]
    const dmas = c.steps.filter((s) => s.op === 'dma')
    const lines = [`I 0000000000000008`, `C ${c.id.toString(16).padStart(16, '0')}`]
    for (const s of dmas) {
      lines.push('E 0000000800000010 0000000800000000 0000000000001000 0000000000000000', 'N 0000000000000002')
      lines.push(s.dir === 'read' ? 'R 00000000000000ff' : 'P 00000000000000ee')
    }
    const parsed = parseAgentOutput(lines.join('\n') + '\nD\n', [{ ...c, steps: dmas.map((s) => (s.dir === 'write' ? { ...s, peek: 0x1000 } : s)) }])
    const obs = parsed.observations.get(c.id)!
    assert.equal(obs.length, dmas.length)
    assert.equal(obs[0].count, 2)
    assert.equal(obs[0].events[0][0], 0x0000000800000010n)
  })
})

describe('SMMUv3 configuration from memory (IHI 0070 5.2, 5.4)', () => {
  const ste = (f: Parameters<typeof encodeSte>[0]) => decodeSte(encodeSte(f), QEMU_10_SMMUV3_ID)
  const s2 = { config: STE_CONFIG.S2_TRANS, s2T0sz: 24, s2Sl0: 1, s2Tg: 0, s2Ps: 2, s2Ttb: 0x4800_0000 }

  it('a valid stage-2 STE decodes to a stage-2 context with its VMID', () => {
    const d = ste({ ...s2, s2Vmid: 7 })
    assert.equal(d.kind, 'translate')
    if (d.kind === 'translate') {
      assert.equal(d.vmid, 7)
      assert.equal(d.stage2?.geometry.startLevel, 1)
    }
  })

  it('abort and bypass STEs written raw: no event, and the input address passes untranslated; V = 0 and a StreamID beyond SIDSIZE are recorded', () => {
    const smmu = caseSmmu(caseMemory())
    // By hand (IHI 0070 5.2): V [0] = 1, Config [3:1] = 0b000 abort / 0b100 bypass.
    const ste = (w0: bigint) => [w0, 0n, 0n, 0n, 0n, 0n, 0n, 0n]
    assert.ok(smmu.writeSte(3, ste(0x1n)).ok)
    const aborted = smmu.translate(3, 0x4000_5000)
    assert.equal(aborted.kind === 'streamNotTranslated' ? aborted.reason : aborted.kind, 'the STE aborts the stream')
    assert.deepEqual(smmu.drainEvents(), [])
    assert.ok(smmu.writeSte(3, ste(0x9n)).ok)
    const bypassed = smmu.translate(3, 0x4000_5000, { kind: 'write' })
    assert.equal(bypassed.kind === 'ok' ? bypassed.oa : bypassed.kind, 0x4000_5000)
    assert.deepEqual(smmu.drainEvents(), [])
    assert.ok(smmu.writeSte(3, ste(0x8n)).ok) // V = 0
    assert.equal(smmu.translate(3, 0x4000_5000).kind, 'streamNotTranslated')
    // C_BAD_STE (0x04) with StreamID 3 (7.3.5).
    assert.deepEqual(smmu.drainEvents().map(encodeV3Event), [[0x0000_0003_0000_0004n, 0n, 0n, 0n]])
    // qemu-smmuv3-10.0 has SIDSIZE 16: StreamID 0x1_0000 is C_BAD_STREAMID (0x02, 7.3.3).
    assert.equal(smmu.translate(0x1_0000, 0).kind, 'streamNotTranslated')
    assert.deepEqual(smmu.drainEvents().map(encodeV3Event), [[0x0001_0000_0000_0002n, 0n, 0n, 0n]])
  })

  it('CD.EPD0 = 1 is a stage-1 Translation fault, recorded under CD.R; a CD or an STE the bus cannot read is F_CD_FETCH / F_STE_FETCH', () => {
    const mem = caseMemory()
    const smmu = caseSmmu(mem)
    // By hand: STE V | Config 0b101 (stage 1) | S1ContextPtr 0x4800_0000 (IHI 0070 5.2).
    const ste = (w0: bigint) => [w0, 0n, 0n, 0n, 0n, 0n, 0n, 0n]
    // CD: T0SZ 25 | EPD0 [14] | EPD1 [30] | V [31] | AA64 [41] | R [45] | A [46] (5.4).
    const cd = (w0: bigint) => mem.write(0x4800_0000, new Uint8Array(new BigUint64Array([w0, 0n, 0n, 0n, 0n, 0n, 0n, 0n]).buffer))
    cd(0x0000_6200_c000_4019n)
    assert.ok(smmu.writeSte(8, ste(0x4800_000bn)).ok)
    const t = smmu.translate(8, 0x1000)
    assert.deepEqual(t.kind === 'translation' ? [t.stage, t.level] : t.kind, [1, 0])
    // F_TRANSLATION (0x10), StreamID 8; RnW 1 [35], CLASS IN (2) [41:40]; InputAddr 0x1000 (7.3.13).
    assert.deepEqual(smmu.drainEvents().map(encodeV3Event), [[0x0000_0008_0000_0010n, 0x0000_0208_0000_0000n, 0x1000n, 0n]])
    cd(0x0000_4200_c000_4019n) // R = 0: terminated, not recorded (3.12)
    smmu.configInvalidate({ op: 'CFGI_CD', sid: 8, ssid: 0 })
    assert.equal(smmu.translate(8, 0x1000).kind, 'translation')
    assert.deepEqual(smmu.drainEvents(), [])
    // S1ContextPtr 0x8_0000_0000: no RAM there. F_CD_FETCH (0x09), FetchAddr [51:3] in dword 3 (7.3.9).
    assert.ok(smmu.writeSte(8, ste(0x8_0000_000bn)).ok)
    assert.equal(smmu.translate(8, 0x1000).kind, 'streamNotTranslated')
    assert.deepEqual(smmu.drainEvents().map(encodeV3Event), [[0x0000_0008_0000_0009n, 0n, 0n, 0x8_0000_0000n]])
    // A stream table where the bus has nothing: F_STE_FETCH (0x03) at base + 8 * 64 (7.3.4).
    const holed = SmmuInstance.probe('holed', loadFixture('qemu-smmuv3-10.0'), getProfile('linux-6.12').smmu, mem, 0x8_0000_0000)
    assert.ok(holed.ok)
    assert.equal(holed.value.translate(8, 0x1000).kind, 'streamNotTranslated')
    assert.deepEqual(holed.value.drainEvents().map(encodeV3Event), [[0x0000_0008_0000_0003n, 0n, 0n, 0x8_0000_0200n]])
  })
})
