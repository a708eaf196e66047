/** SMMU instances, iommu domains, the nesting request, attach/detach, and what a context holds. */
import { Given, Then, When } from '@cucumber/cucumber'
import type { CbarType, DomainAttr, DomainStage, HwTranslation, RequestedStage } from '../model'
import type { TckWorld } from './world'
import { check } from './expect'

Given('an SMMU from fixture {string}', function (this: TckWorld, fixture: string) {
  this.each((run) => run.addSmmu('smmu0', fixture))
})

Given('a new domain', function (this: TckWorld) {
  this.each((run) => run.domains.set('', run.system.iommu.allocDomain()))
})

Given('a new domain {string}', function (this: TckWorld, name: string) {
  this.each((run) => run.domains.set(name, run.system.iommu.allocDomain()))
})

When('a {request} domain is attached to stream {addr}', function (this: TckWorld, request: RequestedStage, sid: number) {
  this.each((run) => {
    const { domain, result } = run.system.attachNewDomain(request, run.theSmmu(), sid)
    run.domains.set('', domain)
    run.last = result
  })
})

When('a {request} domain {string} is attached to stream {addr}', function (this: TckWorld, request: RequestedStage, name: string, sid: number) {
  this.each((run) => {
    const { domain, result } = run.system.attachNewDomain(request, run.theSmmu(), sid)
    run.domains.set(name, domain)
    run.last = result
  })
})

When('the nesting attribute of {domain} is set to {int}', function (this: TckWorld, d: string, value: number) {
  this.each((run) => (run.last = run.domain(d).setAttr('NESTING', value)))
})

When('{attr} of {domain} is set to {int}', function (this: TckWorld, attr: DomainAttr, d: string, value: number) {
  this.each((run) => (run.last = run.domain(d).setAttr(attr, value)))
})

When('{attr} of {domain} is read', function (this: TckWorld, attr: DomainAttr, d: string) {
  this.each((run) => (run.last = run.domain(d).getAttr(attr)))
})

When('nesting is enabled on {domain}', function (this: TckWorld, d: string) {
  this.each((run) => (run.last = run.domain(d).enableNesting()))
})

When('{domain} is attached to stream {addr}', function (this: TckWorld, d: string, sid: number) {
  this.each((run) => (run.last = run.domain(d).attach(run.theSmmu(), sid)))
})

When('{domain} is detached from stream {addr}', function (this: TckWorld, d: string, sid: number) {
  this.each((run) => (run.last = run.domain(d).detach(sid)))
})

When('{domain} is freed', function (this: TckWorld, d: string) {
  this.each((run) => run.system.iommu.freeDomain(run.domain(d)))
})

Then('{domain} should have stage {stage}', function (this: TckWorld, d: string, stage: DomainStage) {
  this.each((run) => check.equal(run.domain(d).stage, stage))
})

Then('the nesting attribute of {domain} should read {int}', function (this: TckWorld, d: string, value: number) {
  this.each((run) => check.deepEqual(run.domain(d).getAttr('NESTING'), { ok: true, value }))
})

Then('{domain} should translate at {translation}', function (this: TckWorld, d: string, t: HwTranslation) {
  this.each((run) => check.equal(run.domain(d).context?.translation, t))
})

Then('{domain} should use context bank {int} of type {cbar}', function (this: TckWorld, d: string, bank: number, cbar: CbarType) {
  this.each((run) => {
    const ctx = run.domain(d).context
    check.deepEqual(ctx?.kind === 'context-bank' ? { bank: ctx.bank, cbar: ctx.cbar } : ctx, { bank, cbar })
  })
})

Then('{domain} should use a stream table entry', function (this: TckWorld, d: string) {
  this.each((run) => check.equal(run.domain(d).context?.kind, 'stream-table'))
})

Then('{domain} should have ASID {id} and VMID {id}', function (this: TckWorld, d: string, asid: number | undefined, vmid: number | undefined) {
  this.each((run) => {
    const ctx = run.domain(d).context
    check.deepEqual({ asid: ctx?.asid, vmid: ctx?.vmid }, { asid, vmid })
  })
})

Then('{domain} should have no context', function (this: TckWorld, d: string) {
  this.each((run) => check.equal(run.domain(d).context, undefined))
})

Then('the SMMU should have context banks {string} in use', function (this: TckWorld, list: string) {
  this.each((run) => check.equal(run.theSmmu().banksInUse().join(', '), list))
})
