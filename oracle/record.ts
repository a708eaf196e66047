/**
 * A recorded oracle run: the cases (memory words, STE, steps) and what QEMU reported for each DMA,
 * as JSON with 64-bit values in hex. npm test replays it against the model (test/unit/smmu-oracle
 * .test.ts): no QEMU needed, and a model change that would disagree with QEMU fails there.
 */
import type { DmaObservation, OracleCase, Step } from './case'

const h = (v: bigint | number) => `0x${v.toString(16)}`
const b = (s: string) => BigInt(s)

interface RecordedStep {
  op: string
  dir?: 'read' | 'write'
  iova?: string
  peek?: string
  addr?: string
  value?: string
  cmd?: Record<string, unknown>
}

export interface RecordedRun {
  qemu: string
  cases: {
    id: number
    name: string
    ste: string[]
    memory: [string, string][]
    steps: RecordedStep[]
    observed: { data?: string; peek?: string; count: number; events: string[][] }[]
  }[]
}

export function recordRun(qemu: string, cases: readonly OracleCase[], observations: Map<number, DmaObservation[]>): string {
  const run: RecordedRun = {
    qemu,
    cases: cases.map((c) => ({
      id: c.id,
      name: c.name,
      ste: c.ste.map(h),
      memory: c.memory.map(([a, v]) => [h(a), h(v)]),
      steps: c.steps.map((s): RecordedStep => {
        if (s.op === 'dma') return { op: 'dma', dir: s.dir, iova: h(s.iova), ...(s.peek === undefined ? {} : { peek: h(s.peek) }) }
        if (s.op === 'patch') return { op: 'patch', addr: h(s.addr), value: h(s.value) }
        return { op: 'cmd', cmd: { ...s.cmd } }
      }),
      observed: (observations.get(c.id) ?? []).map((o) => ({
        ...(o.data === undefined ? {} : { data: h(o.data) }),
        ...(o.peek === undefined ? {} : { peek: h(o.peek) }),
        count: o.count,
        events: o.events.map((e) => e.map(h)),
      })),
    })),
  }
  return JSON.stringify(run, null, 1) + '\n'
}

export function loadRun(text: string): { qemu: string; cases: OracleCase[]; observations: Map<number, DmaObservation[]> } {
  const run = JSON.parse(text) as RecordedRun
  const observations = new Map<number, DmaObservation[]>()
  const cases = run.cases.map((c): OracleCase => {
    observations.set(
      c.id,
      c.observed.map((o) => ({
        data: o.data === undefined ? undefined : b(o.data),
        peek: o.peek === undefined ? undefined : b(o.peek),
        count: o.count,
        events: o.events.map((e) => [b(e[0]), b(e[1]), b(e[2]), b(e[3])] as const),
      })),
    )
    return {
      id: c.id,
      name: c.name,
      ste: c.ste.map(b),
      memory: c.memory.map(([a, v]) => [Number(a), b(v)] as const),
      steps: c.steps.map((s): Step => {
        if (s.op === 'dma') return { op: 'dma', dir: s.dir!, iova: Number(s.iova), ...(s.peek === undefined ? {} : { peek: Number(s.peek) }) }
        if (s.op === 'patch') return { op: 'patch', addr: Number(s.addr), value: b(s.value!) }
        return { op: 'cmd', cmd: s.cmd as Step extends { cmd: infer C } ? C : never }
      }),
    }
  })
  return { qemu: run.qemu, cases, observations }
}
