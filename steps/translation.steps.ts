/**
 * Translation steps: mappings a domain writes, raw descriptors a guest writes into its own memory,
 * the guest's stage 1 nested in a stage-2 context, translations looked up, and what the SMMU
 * reports (walk trace, IOTLB, SMMUv3 events, SMMUv1/v2 context-bank fault registers). A device's
 * DMA and its fault are dma.steps.ts'.
 *
 * The SMMU is the scenario's only one: of the VFIO machine when the scenario describes one, else
 * the one `Given an SMMU from fixture` added.
 */
import { defineParameterType, Given, Then, When, type DataTable } from '@cucumber/cucumber'
import {
  canonicalRows,
  contextBankFaultFields,
  describeTranslation,
  encodeEvent,
  eventFields,
  guestStage1Fields,
  hexOf,
  ok,
  selectFields,
  traceRows,
  type FaultKind,
  type Granule,
  type IommuProt,
  type WalkKind,
} from '../model'
import type { TckWorld } from './world'
import { check } from './expect'

const PROT_FLAGS = ['READ', 'WRITE', 'CACHE', 'NOEXEC', 'MMIO', 'PRIV'] as const

/** IOMMU_* prot flags as the kernel spells them: `READ|WRITE|CACHE|NOEXEC`. */
defineParameterType({
  name: 'iommuProt',
  regexp: new RegExp(`(?:${PROT_FLAGS.join('|')})(?:\\|(?:${PROT_FLAGS.join('|')}))*`),
  transformer: (s: string): IommuProt => {
    const f = new Set(s.split('|'))
    return { read: f.has('READ'), write: f.has('WRITE'), cache: f.has('CACHE'), noexec: f.has('NOEXEC'), mmio: f.has('MMIO'), priv: f.has('PRIV') }
  },
})

const FAULT_KINDS: Readonly<Record<string, FaultKind>> = {
  translation: 'translation',
  'access flag': 'accessFlag',
  permission: 'permission',
  'address size': 'addressSize',
  'external abort': 'externalAbort',
}

defineParameterType({
  name: 'faultKind',
  regexp: new RegExp(Object.keys(FAULT_KINDS).join('|')),
  transformer: (s: string): FaultKind => FAULT_KINDS[s] as FaultKind,
})

defineParameterType({
  name: 'granule',
  regexp: /4K|16K|64K/,
  transformer: (s: string): Granule => (Number(s.slice(0, -1)) * 1024) as Granule,
})

/** Bytes as hex pairs in quotes: `"de ad be ef"`. */
defineParameterType({
  name: 'hexBytes',
  regexp: /"[0-9a-fA-F]{2}(?: [0-9a-fA-F]{2})*"/,
  transformer: (s: string): Uint8Array => Uint8Array.from(s.slice(1, -1).split(' '), (b) => parseInt(b, 16)),
})

/** Which fetches of a walk: `stage-1`, `stage-2`, or `table-address stage-2`. */
defineParameterType({
  name: 'walkKind',
  regexp: /stage-1|stage-2|table-address stage-2/,
  transformer: (s: string): WalkKind => ({ 'stage-1': 'S1', 'stage-2': 'S2', 'table-address stage-2': 'S2 for S1 table' })[s] as WalkKind,
})

// ---- a domain's mappings (iommu_map / iommu_unmap) ----

Given('{domain} has mapped IOVA {addr} to PA {addr} size {addr} with {iommuProt}', function (this: TckWorld, d: string, iova: number, pa: number, size: number, prot: IommuProt) {
  this.each((run) => check.deepEqual(run.domain(d).map(BigInt(iova), pa, BigInt(size), prot), ok()))
})

When('{domain} maps IOVA {addr} to PA {addr} size {addr} with {iommuProt}', function (this: TckWorld, d: string, iova: number, pa: number, size: number, prot: IommuProt) {
  this.each((run) => (run.last = run.domain(d).map(BigInt(iova), pa, BigInt(size), prot)))
})

When('{domain} unmaps IOVA {addr} size {addr}', function (this: TckWorld, d: string, iova: number, size: number) {
  this.each((run) => (run.last = run.domain(d).unmap(BigInt(iova), BigInt(size))))
})

// ---- the guest: its memory (IPAs) and its stage 1 ----

Given('the guest of stream {addr} has written {u64} at IPA {addr}', function (this: TckWorld, sid: number, value: bigint, ipa: number) {
  this.each((run) => check.deepEqual(run.guestMemory(sid).write64(ipa, value), ok()))
})

When('the guest of stream {addr} writes {u64} at IPA {addr}', function (this: TckWorld, sid: number, value: bigint, ipa: number) {
  this.each((run) => (run.last = run.guestMemory(sid).write64(ipa, value)))
})

When('the guest of stream {addr} writes {hexBytes} at IPA {addr}', function (this: TckWorld, sid: number, bytes: Uint8Array, ipa: number) {
  this.each((run) => (run.last = run.guestMemory(sid).write(ipa, bytes)))
})

Then('the guest of stream {addr} should read {u64} at IPA {addr}', function (this: TckWorld, sid: number, value: bigint, ipa: number) {
  this.each((run) => check.deepEqual(run.guestMemory(sid).read64(ipa), ok(value)))
})

Then('the guest of stream {addr} should read {hexBytes} at IPA {addr}', function (this: TckWorld, sid: number, bytes: Uint8Array, ipa: number) {
  this.each((run) => check.deepEqual(run.guestMemory(sid).read(ipa, bytes.length), ok(bytes)))
})

Given(
  'the guest of stream {addr} has installed stage 1 with TTB {addr}, T0SZ {int}, granule {granule}, IPS {int} bits, ASID {int}',
  function (this: TckWorld, sid: number, ttbr: number, t0sz: number, granule: Granule, oas: number, asid: number) {
    this.each((run) => check.equal(run.translationSmmu().installGuestStage1(sid, { ttbr, t0sz, granule, oas }, asid).ok, true))
  },
)

Given(
  'the guest of stream {addr} has installed stage 1 with TTB {addr}, T0SZ {int}, granule {granule}, IPS {int} bits, ASID {int}, its CD at IPA {addr}',
  function (this: TckWorld, sid: number, ttbr: number, t0sz: number, granule: Granule, oas: number, asid: number, cdIpa: number) {
    this.each((run) => check.equal(run.translationSmmu().installGuestStage1(sid, { ttbr, t0sz, granule, oas }, asid, { cdIpa }).ok, true))
  },
)

When(
  'the guest of stream {addr} installs stage 1 with TTB {addr}, T0SZ {int}, granule {granule}, IPS {int} bits, ASID {int}, its CD at IPA {addr}',
  function (this: TckWorld, sid: number, ttbr: number, t0sz: number, granule: Granule, oas: number, asid: number, cdIpa: number) {
    this.each((run) => (run.last = run.translationSmmu().installGuestStage1(sid, { ttbr, t0sz, granule, oas }, asid, { cdIpa })))
  },
)

When(
  'the guest of stream {addr} installs stage 1 with TTB {addr}, T0SZ {int}, granule {granule}, IPS {int} bits, ASID {int}',
  function (this: TckWorld, sid: number, ttbr: number, t0sz: number, granule: Granule, oas: number, asid: number) {
    this.each((run) => (run.last = run.translationSmmu().installGuestStage1(sid, { ttbr, t0sz, granule, oas }, asid)))
  },
)

When('the guest stage 1 of stream {addr} is removed', function (this: TckWorld, sid: number) {
  this.each((run) => (run.last = run.translationSmmu().removeGuestStage1(sid)))
})

Then('the guest stage 1 of stream {addr} should be:', function (this: TckWorld, sid: number, table: DataTable) {
  this.each((run) => {
    const g = run.translationSmmu().guestStage1(sid)
    check.ok(g !== undefined, 'no guest stage 1 on the stream')
    const { actual, expected } = selectFields(guestStage1Fields(g), table.rowsHash())
    check.deepEqual(actual, expected)
  })
})

When('the guest of stream {addr} invalidates ASID {int} at IOVA {addr}', function (this: TckWorld, sid: number, asid: number, iova: number) {
  this.each((run) => (run.last = run.translationSmmu().guestInvalidate(sid, { asid, iova })))
})

When('the guest of stream {addr} invalidates ASID {int}', function (this: TckWorld, sid: number, asid: number) {
  this.each((run) => (run.last = run.translationSmmu().guestInvalidate(sid, { asid })))
})

// ---- translations looked up without DMA (device DMA: dma.steps.ts) ----

Then('IOVA {addr} on stream {addr} should translate to PA {addr}', function (this: TckWorld, iova: number, sid: number, pa: number) {
  this.each((run) => check.equal(describeTranslation(run.translationSmmu().translate(sid, iova)), `PA ${hexOf(pa)}`))
})

Then('IOVA {addr} on stream {addr} should take a {faultKind} fault at stage {int}, level {int}', function (this: TckWorld, iova: number, sid: number, kind: FaultKind, stage: number, level: number) {
  this.each((run) => check.equal(describeTranslation(run.translationSmmu().translate(sid, iova)), `${kind} fault, stage ${stage}, level ${level}`))
})

// ---- memory and page tables ----

Then('physical memory at PA {addr} should hold {hexBytes}', function (this: TckWorld, pa: number, bytes: Uint8Array) {
  this.each((run) => check.deepEqual(run.translationSystem().memory.read(pa, bytes.length), bytes))
})

Then('the descriptor at PA {addr} should be {u64}', function (this: TckWorld, pa: number, value: bigint) {
  this.each((run) => check.equal(hexOf(run.translationSystem().memory.read64(pa) as bigint), hexOf(value)))
})

Then('the walk of IOVA {addr} on stream {addr} should read:', function (this: TckWorld, iova: number, sid: number, table: DataTable) {
  this.each((run) => check.deepEqual(traceRows(run.translationSmmu().explainWalk(sid, iova).reads), canonicalRows(table.rows())))
})

Then('the {walkKind} descriptors of the walk of IOVA {addr} on stream {addr} should be:', function (this: TckWorld, kind: WalkKind, iova: number, sid: number, table: DataTable) {
  this.each((run) => check.deepEqual(traceRows(run.translationSmmu().explainWalk(sid, iova).reads, kind), canonicalRows(table.rows())))
})

// ---- IOTLB ----

Then('the SMMU\'s IOTLB should hold {int} entry/entries', function (this: TckWorld, n: number) {
  this.each((run) => check.equal(run.translationSmmu().tlbSize, n))
})

// ---- fault reports ----

Then('the SMMU should have queued {int} event(s)', function (this: TckWorld, n: number) {
  this.each((run) => check.equal(run.translationSmmu().events().length, n))
})

Then('the last event should be:', function (this: TckWorld, table: DataTable) {
  this.each((run) => {
    const e = run.translationSmmu().events().at(-1)
    check.ok(e !== undefined, 'the event queue is empty')
    const { actual, expected } = selectFields(eventFields(e), table.rowsHash())
    check.deepEqual(actual, expected)
  })
})

Then('the last event record should be {u64}, {u64}, {u64}, {u64}', function (this: TckWorld, dw0: bigint, dw1: bigint, dw2: bigint, dw3: bigint) {
  this.each((run) => {
    const e = run.translationSmmu().events().at(-1)
    check.ok(e !== undefined, 'the event queue is empty')
    check.deepEqual(encodeEvent(e), [dw0, dw1, dw2, dw3])
  })
})

Then('context bank {int} should hold the fault:', function (this: TckWorld, bank: number, table: DataTable) {
  this.each((run) => {
    const f = run.translationSmmu().contextBankFault(bank)
    check.ok(f !== undefined, `context bank ${bank} recorded no fault`)
    const { actual, expected } = selectFields(contextBankFaultFields(f), table.rowsHash())
    check.deepEqual(actual, expected)
  })
})
