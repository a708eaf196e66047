/**
 * Device DMA, one sentence whichever device does it:
 *
 *   the device <who> reads|writes <N> bytes at IOVA <address>
 *   the device <who> writes "<hex bytes>" at IOVA <address>
 *
 * <who> names the device: `at stream 0x10`, the device behind that stream of the scenario's one
 * SMMU, which reports where each byte went or the fault with its stage and level; or `of group 0`,
 * the first device of VFIO group 0 as a VMM sees it through the VfioBackend, which reports that
 * the DMA succeeded (and what it read) or faulted. The address is a __u64 ({u64}) in every form.
 * Then the steps below check what the last DMA did.
 *
 * or `bound to iommufd as device 1`, the VFIO device bound to the scenario's iommufd through its
 * cdev as transcript device 1 (iommufd.steps.ts), which reports success or a fault as the cdev
 * sees it. Another kind of device is one more alternative of {dmaDevice} whose transformer
 * returns a DmaDevice; the sentence, the address type and every Then step stay as they are.
 */
import { defineParameterType, Then, When, type DataTable } from '@cucumber/cucumber'
import { faultFields, ok, selectFields, type DmaOutcome, type DmaResult, type FaultKind, type Result } from '../model'
import { check } from './expect'
import { cdevDevice } from './iommufd.steps'
import type { ProfileRun, TckWorld } from './world'

/** A device that does DMA in a scenario, however it is reached. */
export interface DmaDevice {
  /**
   * `length` bytes read at `iova`, or `data` (a test pattern of `length` bytes when absent)
   * written: the outcome, and the SMMU's own report when the device is reached through one stream
   * of the model's SMMU (undefined when it is reached through an interface that does not say).
   */
  dma(run: ProfileRun, op: 'read' | 'write', iova: bigint, length: number, data?: Uint8Array): { readonly outcome: Result<DmaOutcome>; readonly smmu?: DmaResult }
}

/** The device behind stream `sid` of the scenario's one SMMU. */
function streamDevice(sid: number): DmaDevice {
  return {
    dma(run, op, iova, length, data) {
      if (iova > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`IOVA 0x${iova.toString(16)}: the model's SMMU takes addresses up to 2^53 - 1`)
      const smmu = run.translationSmmu().dma(sid, op, Number(iova), length, data)
      return { outcome: ok(smmu.kind === 'ok' ? { kind: 'ok', ...(smmu.data === undefined ? {} : { data: smmu.data }) } : { kind: 'fault' }), smmu }
    },
  }
}

/** The first device of VFIO group `id`, through the VfioBackend. */
function groupDevice(id: number): DmaDevice {
  return { dma: (run, op, iova, length, data) => ({ outcome: run.group(id).dma(op, iova, length, data) }) }
}

/** `at stream 0x10`, `of group 0` or `bound to iommufd as device 1`. */
defineParameterType({
  name: 'dmaDevice',
  regexp: /at stream (?:0x[0-9a-fA-F_]+|\d+)|of group \d+|bound to iommufd as device \d+/,
  transformer: (s: string): DmaDevice => {
    if (s.startsWith('at stream ')) return streamDevice(Number(s.slice('at stream '.length).replaceAll('_', '')))
    if (s.startsWith('of group ')) return groupDevice(Number(s.slice('of group '.length)))
    return cdevDevice(Number(s.slice('bound to iommufd as device '.length)))
  },
})

/** Perform the DMA under every profile and remember it for the Then steps. */
export function dmaStep(world: TckWorld, device: DmaDevice, op: 'read' | 'write', iova: bigint, length: number, data?: Uint8Array): void {
  world.each((run) => {
    const r = device.dma(run, op, iova, length, data)
    run.lastDma = r.smmu
    run.last = r.outcome
  })
}

When('the device {dmaDevice} {dmaOp} {int} bytes at IOVA {u64}', function (this: TckWorld, device: DmaDevice, op: 'read' | 'write', length: number, iova: bigint) {
  dmaStep(this, device, op, iova, length)
})

When('the device {dmaDevice} writes {hexBytes} at IOVA {u64}', function (this: TckWorld, device: DmaDevice, bytes: Uint8Array, iova: bigint) {
  dmaStep(this, device, 'write', iova, bytes.length, bytes)
})

// ---- what the last DMA did ----

/** The last DMA's outcome (the DMA call itself failing is a failure of the step). */
function outcome(run: ProfileRun): DmaOutcome {
  check.ok(run.last?.ok, 'the DMA call itself failed')
  return run.last.value as DmaOutcome
}

/** The SMMU's report of the last DMA: only a device named by its stream has one. */
function smmuReport(run: ProfileRun): DmaResult {
  check.ok(run.lastDma !== undefined, 'the last DMA reports only success or a fault (its device was not named by its stream: `the device at stream 0x..`)')
  return run.lastDma
}

Then('the DMA should {dmaOutcome}', function (this: TckWorld, expected: 'ok' | 'fault') {
  this.each((run) => check.equal(outcome(run).kind, expected))
})

Then('the DMA should have read {hexBytes}', function (this: TckWorld, bytes: Uint8Array) {
  this.each((run) => {
    const o = outcome(run)
    check.deepEqual(o.kind === 'ok' ? o.data : (run.lastDma ?? o), bytes)
  })
})

Then('the DMA should have reached PA {addr}', function (this: TckWorld, pa: number) {
  this.each((run) => {
    const r = smmuReport(run)
    check.deepEqual(r.kind === 'ok' ? r.pieces[0]?.pa : r, pa)
  })
})

Then('the DMA should take a {faultKind} fault at stage {int}, level {int}', function (this: TckWorld, kind: FaultKind, stage: number, level: number) {
  this.each((run) => {
    const r = smmuReport(run)
    check.equal(r.kind, 'fault', 'the DMA did not fault')
    const { actual, expected } = selectFields(faultFields(r.fault), { kind, stage: String(stage), level: String(level) })
    check.deepEqual(actual, expected)
  })
})

Then('the fault should be:', function (this: TckWorld, table: DataTable) {
  this.each((run) => {
    const r = smmuReport(run)
    check.equal(r.kind, 'fault', 'the DMA did not fault')
    const { actual, expected } = selectFields(faultFields(r.fault), table.rowsHash())
    check.deepEqual(actual, expected)
  })
})
