/**
 * VFIO steps: a machine (IOMMUs from fixtures, groups), then ioctl-level calls through the
 * VfioBackend. Names of IOMMU types and extensions are resolved per profile (the nesting type is 5
 * in the RFC, 6 once merged).
 */
import { Given, Then, When, type DataTable } from '@cucumber/cucumber'
import { rowForKernel, VFIO_DMA_UNMAP_FLAG_ALL, type DomainStage, type IovaRange, type VaddrSpec } from '../model'
import type { TckWorld } from './world'
import { check } from './expect'

Given('an SMMU from fixture {string} with VFIO group {int} at stream {addr}', function (this: TckWorld, fixture: string, group: number, sid: number) {
  this.each((run) => run.addMachineIommu(fixture, [{ id: group, streams: [sid], viable: true }]))
})

Given('an SMMU from fixture {string} with a non-viable VFIO group {int} at stream {addr}', function (this: TckWorld, fixture: string, group: number, sid: number) {
  this.each((run) => run.addMachineIommu(fixture, [{ id: group, streams: [sid], viable: false }]))
})

Given('VFIO group {int} at stream {addr} is behind the same SMMU {string}', function (this: TckWorld, group: number, sid: number, fixture: string) {
  this.each((run) => run.addMachineGroup(fixture, { id: group, streams: [sid], viable: true }))
})

Given('the SMMU {string} reserves IOVA {u64} to {u64} for MSIs', function (this: TckWorld, fixture: string, start: bigint, end: bigint) {
  this.each((run) =>
    run.editMachine(fixture, (hw) => ({ ...hw, vfio: { ...hw.vfio, reservedRegions: [...hw.vfio.reservedRegions, { start, end, type: 'sw-msi' }] } })),
  )
})

Given('the machine boots with vfio_iommu_type1.dma_entry_limit={int}', function (this: TckWorld, limit: number) {
  this.each((run) => run.editMachineAll((hw) => ({ ...hw, vfio: { ...hw.vfio, dmaEntryLimit: limit } })))
})

Given('the machine of fixture {string}', function (this: TckWorld, fixture: string) {
  this.each((run) => run.addMachineIommu(fixture))
})

Given('group {int} is in the container', function (this: TckWorld, group: number) {
  this.each((run) => check.deepEqual(run.group(group).setContainer(run.container()), { ok: true, value: undefined }))
})

Given('the container is set to {uapi}', function (this: TckWorld, type: string) {
  this.each((run) => check.deepEqual(run.container().setIommu(run.extension(type)), { ok: true, value: undefined }))
})

When('group {int} is added to the container', function (this: TckWorld, group: number) {
  this.each((run) => (run.last = run.group(group).setContainer(run.container())))
})

When('group {int} is removed from the container', function (this: TckWorld, group: number) {
  this.each((run) => (run.last = run.group(group).unsetContainer()))
})

When('the container\'s IOMMU is set to {uapi}', function (this: TckWorld, type: string) {
  this.each((run) => (run.last = run.container().setIommu(run.extension(type))))
})

When('the container\'s IOMMU is set to type {int}', function (this: TckWorld, type: number) {
  this.each((run) => (run.last = run.container().setIommu(type)))
})

When('the API version is read', function (this: TckWorld) {
  this.each((run) => (run.last = run.container().getApiVersion()))
})

Then('the answer should be {int}', function (this: TckWorld, value: number) {
  this.each((run) => check.deepEqual(run.last, { ok: true, value }))
})

Then('CHECK_EXTENSION\\({uapi}) should answer {int}', function (this: TckWorld, ext: string, value: number) {
  this.each((run) => check.deepEqual(run.container().checkExtension(run.extension(ext)), { ok: true, value }))
})

Then('CHECK_EXTENSION\\({int}) should answer {int}', function (this: TckWorld, ext: number, value: number) {
  this.each((run) => check.deepEqual(run.container().checkExtension(ext), { ok: true, value }))
})

Then('{uapi} should be {int} in this kernel', function (this: TckWorld, name: string, value: number) {
  this.each((run) => check.equal(run.backend().extension(name), value))
})

Then('{uapi} should not exist in this kernel', function (this: TckWorld, name: string) {
  this.each((run) => check.equal(run.backend().extension(name), undefined))
})

Then('group {int} should report {string}', function (this: TckWorld, group: number, status: string) {
  this.each((run) => {
    const s = run.group(group).getStatus()
    check.ok(s.ok)
    const flags = [s.value.viable ? 'viable' : '', s.value.containerSet ? 'container set' : ''].filter((f) => f !== '')
    check.equal(flags.length === 0 ? 'nothing' : flags.join(', '), status)
  })
})

// ---- MAP / UNMAP ----

function mapStep(this: TckWorld, iova: bigint, size: bigint, flags: number, vaddr: VaddrSpec): void {
  this.each((run) => (run.last = run.container().mapDma({ iova, size, flags, vaddr })))
}

When('the VMM maps iova {u64} size {u64} {access}', function (this: TckWorld, iova: bigint, size: bigint, flags: number) {
  mapStep.call(this, iova, size, flags, { kind: 'buffer' })
})

When('the VMM maps iova {u64} size {u64} with flags {mapFlags}', function (this: TckWorld, iova: bigint, size: bigint, flags: number) {
  mapStep.call(this, iova, size, flags, { kind: 'buffer' })
})

When('the VMM maps iova {u64} size {u64} {access} from a misaligned vaddr', function (this: TckWorld, iova: bigint, size: bigint, flags: number) {
  mapStep.call(this, iova, size, flags, { kind: 'misaligned' })
})

When('the VMM maps iova {u64} size {u64} {access} from an unmapped vaddr', function (this: TckWorld, iova: bigint, size: bigint, flags: number) {
  mapStep.call(this, iova, size, flags, { kind: 'unmapped' })
})

Given('the VMM has mapped iova {u64} size {u64} {access}', function (this: TckWorld, iova: bigint, size: bigint, flags: number) {
  this.each((run) => check.deepEqual(run.container().mapDma({ iova, size, flags, vaddr: { kind: 'buffer' } }), { ok: true, value: undefined }))
})

When('the VMM unmaps iova {u64} size {u64}', function (this: TckWorld, iova: bigint, size: bigint) {
  this.each((run) => (run.last = run.container().unmapDma({ iova, size, flags: 0 })))
})

When('the VMM unmaps iova {u64} size {u64} with flags {unmapFlags}', function (this: TckWorld, iova: bigint, size: bigint, flags: number) {
  this.each((run) => (run.last = run.container().unmapDma({ iova, size, flags })))
})

When('the VMM unmaps everything', function (this: TckWorld) {
  this.each((run) => (run.last = run.container().unmapDma({ iova: 0n, size: 0n, flags: VFIO_DMA_UNMAP_FLAG_ALL })))
})

Then('the operation should succeed, unmapping {u64} bytes', function (this: TckWorld, unmapped: bigint) {
  this.each((run) => check.deepEqual(run.last, { ok: true, value: { unmapped } }))
})

Then('GET_INFO should report page sizes {u64}', function (this: TckWorld, pgsizes: bigint) {
  this.each((run) => {
    const info = run.container().getInfo()
    check.ok(info.ok, `GET_INFO failed: ${info.ok ? '' : info.error.errno}`)
    check.equal(`0x${info.value.iovaPgsizes.toString(16)}`, `0x${pgsizes.toString(16)}`)
  })
})

Then('GET_INFO should report IOVA ranges {ranges}', function (this: TckWorld, ranges: IovaRange[]) {
  this.each((run) => {
    const info = run.container().getInfo()
    check.ok(info.ok)
    check.deepEqual(info.value.iovaRanges ?? [], ranges)
  })
})

Then('GET_INFO should report {int} DMA mappings available', function (this: TckWorld, avail: number) {
  this.each((run) => {
    const info = run.container().getInfo()
    check.ok(info.ok)
    check.equal(info.value.dmaAvail, avail)
  })
})

Then('GET_INFO should report no capabilities', function (this: TckWorld) {
  this.each((run) => {
    const info = run.container().getInfo()
    check.ok(info.ok)
    check.deepEqual({ dmaAvail: info.value.dmaAvail, ranges: info.value.iovaRanges }, { dmaAvail: undefined, ranges: undefined })
  })
})

Then('GET_INFO should fail with {errno}', function (this: TckWorld, errno: string) {
  this.each((run) => {
    const info = run.container().getInfo()
    check.equal(info.ok ? 'success' : info.error.errno, errno)
  })
})

// ---- model introspection (what the kernel does not show userspace) ----

Then('the container should hold {int} IOMMU domain(s)', function (this: TckWorld, count: number) {
  this.each((run) => check.equal(run.modelType1()?.liveDomains().length ?? 0, count))
})

Then('the number of IOMMU domains in the container should be {int}', function (this: TckWorld, count: number) {
  this.each((run) => check.equal(run.modelType1()?.liveDomains().length ?? 0, count))
})

Then('the domain of group {int} should have stage {stage}', function (this: TckWorld, group: number, stage: DomainStage) {
  this.each((run) => check.equal(run.modelType1()?.domainOf(group)?.stage, stage))
})

Then('groups {int} and {int} should share one domain', function (this: TckWorld, a: number, b: number) {
  this.each((run) => {
    const t1 = run.modelType1()
    check.ok(t1?.domainOf(a) !== undefined && t1.domainOf(a) === t1.domainOf(b))
  })
})

Then('CHECK_EXTENSION\\({uapi}) should answer, by kernel:', function (this: TckWorld, ext: string, table: DataTable) {
  this.each((run) => {
    const row = rowForKernel(table.hashes(), run.profile.name)
    check.deepEqual(run.container().checkExtension(run.extension(ext)), { ok: true, value: Number(row.answer) }, `kernel row "${row.kernel}"`)
  })
})
