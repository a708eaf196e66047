/**
 * iommufd steps: the VMM's calls written as transcript lines (docs/transcript-iommufd.md), run one
 * at a time on the scenario's machine (vfio.steps.ts, "the machine of fixture ..."), and what the
 * model shows of the result (the physical STE, the CD fetch, the host's event log).
 */
import { Given, Then, When, type DataTable } from '@cucumber/cucumber'
import { canonicalRows, hexOf, isFault, loadFixture, ModelBackend, ok, rowForKernel, TracingReader, traceRows, walkStage2 } from '../model'
import type { IommufdCtx } from '../model/iommufd/context'
import { ModelIommufdFile } from '../model/vfio/model-iommufd'
import { HwptNested } from '../model/iommufd/objects'
import { formatVerdict, parseTranscript, TranscriptSession, type Observed } from '../model/transcript'
import { runNestingRequest, type NestingOutcome } from '../model/transcript/nesting-request'
import type { Expected } from '../model/transcript'
import { STE_LAYOUT, steFields } from '../model/smmu/v3/structures'
import type { Result } from '../model'
import type { DmaDevice } from './dma.steps'
import { check } from './expect'
import type { ProfileRun, TckWorld } from './world'

const sessions = new WeakMap<ProfileRun, TranscriptSession>()
/** The last call a step ran, with what it produced. */
const lastCalls = new WeakMap<ProfileRun, { readonly callText: string; readonly produced: { readonly result: Result<Observed>; readonly entryNum?: number } }>()

function session(run: ProfileRun): TranscriptSession {
  let s = sessions.get(run)
  if (s === undefined) {
    s = new TranscriptSession(run.backend(), 'scenario')
    sessions.set(run, s)
  }
  return s
}

function modelBackend(run: ProfileRun): ModelBackend {
  const b = run.backend()
  if (!(b instanceof ModelBackend)) throw new Error('this step inspects the model; the backend is not the model')
  return b
}

/** Lines `call = result`: each must agree with the model. */
function runLines(run: ProfileRun, text: string): void {
  const parsed = parseTranscript(text, 'scenario')
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map((e) => `line ${e.line}:${e.column}: ${e.message}`).join('\n'))
  const s = session(run)
  for (const line of parsed.lines) {
    const v = s.runLine(line)
    if (v.kind !== 'agree') throw new Error(formatVerdict(v))
  }
}

/** One call, its result kept for the Then-steps (run.last too, for the outcome steps). */
function runCall(run: ProfileRun, callText: string): void {
  // Any errno is a result every call can have: it only makes the line parse.
  const parsed = parseTranscript(`${callText} = EPERM`, 'scenario')
  const line = parsed.lines[0]
  if (line === undefined) throw new Error(parsed.errors.map((e) => e.message).join('\n'))
  const produced = session(run).runCall(line.call)
  lastCalls.set(run, { callText, produced })
  const r = produced.result
  run.last = r.ok && r.value.kind === 'dma' ? ok(r.value.outcome) : r
}

function expectedOf(callText: string, resultText: string): Expected {
  const parsed = parseTranscript(`${callText} = ${resultText}`, 'scenario')
  const line = parsed.lines[0]
  if (line === undefined) throw new Error(parsed.errors.map((e) => e.message).join('\n'))
  return line.expected
}

Given('the VMM has run:', function (this: TckWorld, text: string) {
  this.each((run) => runLines(run, text))
})

When('the VMM runs:', function (this: TckWorld, text: string) {
  this.each((run) => runLines(run, text))
})

When('the VMM runs {string}', function (this: TckWorld, callText: string) {
  this.each((run) => runCall(run, callText))
})

Then('the result should be {string}', function (this: TckWorld, resultText: string) {
  this.each((run) => {
    const last = lastCalls.get(run)
    if (last === undefined) throw new Error('no call has run yet ("When the VMM runs ...")')
    const expected = expectedOf(last.callText, resultText)
    const s = session(run)
    check.ok(s.holds(expected, last.produced), `expected ${resultText}, the model gave ${s.describe(last.produced, expected)}`)
  })
})

Then('the result should be, by kernel:', function (this: TckWorld, table: DataTable) {
  this.each((run) => {
    const last = lastCalls.get(run)
    if (last === undefined) throw new Error('no call has run yet ("When the VMM runs ...")')
    const row = rowForKernel(table.hashes(), run.profile.name)
    const expected = expectedOf(last.callText, row.result as string)
    const s = session(run)
    check.ok(s.holds(expected, last.produced), `expected ${row.result as string} (kernel row "${row.kernel as string}"), the model gave ${s.describe(last.produced, expected)}`)
  })
})

/**
 * The device bound to iommufd as device N (its VFIO cdev), for the one DMA sentence of
 * dma.steps.ts: `the device bound to iommufd as device 1 reads 16 bytes at IOVA 0x10_0000`. The
 * outcome is the cdev's: a refusal is a fault even when it recorded no event.
 */
export function cdevDevice(id: number): DmaDevice {
  return { dma: (run, op, iova, length, data) => ({ outcome: session(run).deviceFile(id).dma(op, iova, length, data) }) }
}

// ---- what the model shows ----

/** The physical STE's eight words, or only the fields named (| field | value |). */
Then('the STE of stream {addr} should be:', function (this: TckWorld, sid: number, table: DataTable) {
  this.each((run) => {
    const words = run.translationSmmu().readSte(sid)
    if (words === undefined) throw new Error(`stream ${hexOf(sid)} has no STE`)
    const header = table.raw()[0] ?? []
    if (header[0] === 'word') {
      const actual = words.map((w, i) => [String(i), hexOf(w)])
      check.deepEqual(actual, canonicalRows(table.rows()).map((r) => [r[0] as string, r[1] as string]))
      return
    }
    const f = steFields(words) as Readonly<Record<string, boolean | number>>
    const byName = new Map(Object.entries(STE_LAYOUT).map(([k, field]) => [field.name, k]))
    for (const [name, value] of table.rows()) {
      const key = byName.get(name as string)
      if (key === undefined) throw new Error(`the STE has no field ${name as string}`)
      const v = f[key]
      check.equal(hexOf(typeof v === 'boolean' ? (v ? 1 : 0) : (v as number)), hexOf(Number(BigInt((value as string).replaceAll('_', '')))), `STE.${name as string}`)
    }
  })
})

/**
 * The CD's fetch: STE.S1ContextPtr is an IPA, translated by the nest parent's stage 2 before the
 * SMMU reads the CD (IHI 0070 3.3.2); every stage-2 descriptor it reads, then the CD's PA.
 */
Then('the CD of stream {addr} should be fetched through stage 2:', function (this: TckWorld, sid: number, table: DataTable) {
  this.each((run) => {
    const smmu = run.translationSmmu()
    const words = smmu.readSte(sid)
    if (words === undefined) throw new Error(`stream ${hexOf(sid)} has no STE`)
    const cdIpa = steFields(words).s1ContextPtr
    const parent = parentDomainOfStream(run, sid)
    const reader = new TracingReader(run.translationSystem().memory)
    const t = walkStage2(reader, parent, cdIpa, { kind: 'read' })
    const rows = traceRows(reader.reads).map((r) => ['S2 for CD', ...r.slice(1)])
    rows.push(['CD', '-', isFault(t) ? 'fault' : hexOf(t.oa), '-'])
    check.deepEqual(rows, canonicalRows(table.rows()))
  })
})

/** The stage-2 context of the nest parent whose nested HWPT the stream's device is attached to. */
function parentDomainOfStream(run: ProfileRun, sid: number) {
  for (const obj of modelContext(run).objects.live()) {
    if (obj.type === 'device' && obj.dev.streams.includes(sid) && obj.attached instanceof HwptNested) {
      const regime = obj.attached.parent.domain.pageTable?.context
      if (regime?.stage === 2) return regime
    }
  }
  throw new Error(`stream ${hexOf(sid)}'s device is not attached to a nested HWPT`)
}

/** The iommufd context the scenario's calls opened (model-only introspection). */
function modelContext(run: ProfileRun): IommufdCtx {
  const f = session(run).iommufdFile
  if (!(f instanceof ModelIommufdFile)) throw new Error('no /dev/iommu of the model is open in this scenario')
  return f.ctx
}

Then('the host should have logged {int} event(s)', function (this: TckWorld, n: number) {
  this.each((run) => check.equal(modelBackend(run).iommufd.drivers.armSmmuV3.hostLog.length, n))
})

Then('the host\'s last logged event should be {word} for stream {addr}', function (this: TckWorld, name: string, sid: number) {
  this.each((run) => {
    const log = modelBackend(run).iommufd.drivers.armSmmuV3.hostLog
    const last = log[log.length - 1]
    check.equal(last === undefined ? 'none' : `${last.event.name} ${hexOf(last.event.sid)}`, `${name} ${hexOf(sid)}`)
  })
})

// ---- the nesting request ----

Given('the machine of fixture {string} with VFIO group {int} at stream {addr}, unless it has that group', function (this: TckWorld, fixture: string, group: number, sid: number) {
  this.each((run) => {
    const hw = loadFixture(fixture)
    const has = hw.vfio.groups.some((g) => g.id === group)
    run.addMachineIommu(fixture, has ? [] : [{ id: group, streams: [sid], viable: true }])
  })
})

const nestingOutcomes = new WeakMap<ProfileRun, NestingOutcome>()

When('the VMM asks for nesting through iommufd for device {int}', function (this: TckWorld, device: number) {
  this.each((run) => {
    const outcome = runNestingRequest(session(run), device, (callText, produced) => {
      lastCalls.set(run, { callText, produced })
      run.last = produced.result
    })
    nestingOutcomes.set(run, outcome)
  })
})

Then('the nesting request should end with {string}', function (this: TckWorld, outcome: string) {
  this.each((run) => {
    const got = nestingOutcomes.get(run)
    check.equal(got?.outcome, outcome, got?.why === undefined ? '' : ` (${got.why})`)
  })
})
