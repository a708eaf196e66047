/**
 * The recorded QEMU 10 oracle run (oracle/recorded/), replayed against the model: every DMA must
 * agree with what QEMU's SMMUv3 did, or differ only in a documented QEMU deviation. No QEMU here.
 */
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, it } from 'node:test'
import { createMemory } from '../../model/memory'
import { ROOT } from '../../model/root'
import { decodeSte, encodeSte, QEMU_10_SMMUV3_ID, SmmuV3, STE_CONFIG, encodeV3Event } from '../../model/smmu/v3'
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

  it('abort and bypass STEs: no event, and the input address passes untranslated', () => {
    const mem = createMemory({ oas: 48 })
    assert.ok(mem.ok)
    const smmu = new SmmuV3(mem.value)
    smmu.setStreamTable(0x1000, 4)
    const put = (words: bigint[]) => words.forEach((w, i) => mem.value.write(smmu.steAddress(3) + 8 * i, new Uint8Array(new BigUint64Array([w]).buffer)))
    put(encodeSte({ config: STE_CONFIG.ABORT }))
    assert.equal(smmu.translate(3, 0x5000).kind, 'aborted')
    put(encodeSte({ config: STE_CONFIG.BYPASS }))
    assert.deepEqual(smmu.translate(3, 0x5000), { kind: 'bypass', pa: 0x5000 })
    put(encodeSte({ valid: false }))
    const out = smmu.translate(3, 0x5000)
    assert.equal(out.kind, 'fault')
    if (out.kind === 'fault') assert.deepEqual(encodeV3Event(out.event), [0x0000_0003_0000_0004n, 0n, 0n, 0n])
    assert.equal(smmu.translate(16, 0).kind, 'fault')
  })
})
