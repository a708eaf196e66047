/**
 * Model-based reliability campaign over the VFIO model (fast-check commands + modelRun).
 *
 * Random sequences of VFIO calls run against the model (createModelBackend) and against a small
 * reference written here from the uapi and kernel rules (what a VMM may rely on), on random
 * machines (1 or 2 SMMUs from the synthetic fixtures, 1 to 3 groups each, sometimes a
 * non-viable group, sometimes a tiny dma_entry_limit) under every behaviour profile.
 *
 * Commands: open a container; SET_CONTAINER / UNSET_CONTAINER a group; SET_IOMMU with the v2 or
 * the nesting type (the "nesting attribute" choice) or a type no driver has; MAP_DMA (random
 * pages, permissions, and sometimes an unaligned or unmapped vaddr); MAP_DMA and UNMAP_DMA of sizes
 * up to the uapi's limits (__u64: 2^64 - page, 2^63, 2^60, ... at iovas up to the top of the space);
 * UNMAP_DMA; UNMAP_ALL; a group's device reading or writing through the IOMMU.
 *
 * The reference predicts exactly what it can know without the driver internals: MAP/UNMAP results
 * and errnos (v2 semantics, kernel check order), the set of mappings, which bytes a device reaches
 * and where they land (the buffer a MAP pinned), and the container/group bookkeeping. Where the
 * answer depends on the hardware and profile (an attach that fails for lack of banks or nesting),
 * it takes the model's answer and checks that a failure changed nothing.
 *
 * Invariants after every step:
 *   - a failed call changed nothing observable (mappings, drivers, group membership, live domains,
 *     contexts, context banks in use, the VMM's buffers and next mmap address, RAM in use);
 *   - each container's mappings equal the reference's;
 *   - every mapped IOVA translates to its buffer: a device reads what the VMM's buffer holds (the
 *     bytes are written into the buffer's RAM first) and its writes land there; unmapped IOVAs fault;
 *   - context banks, ASIDs and VMIDs are unique per SMMU among live domains, the banks in use are
 *     exactly the live domains' banks, and no domain outlives its container's groups.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  createModelBackend,
  getProfile,
  loadFixture,
  PROFILE_NAMES,
  type ContainerModel,
  type FeatureSet,
  type GroupModel,
  type IommuDomain,
  type ModelBackend,
  type ProfileName,
  type Result,
  type TableAllocator,
} from '../../model'
import { prng } from '../../lib/prng'

const PAGE = 0x1000
/** Mappings live in a window of WINDOW_PAGES pages from WINDOW_BASE (inside every aperture). */
const WINDOW_BASE = 0x10_0000
const WINDOW_PAGES = 48
const MAX_MAP_PAGES = 6
const MAX_CONTAINERS = 3

const FLAG_READ = 1
const FLAG_WRITE = 2
const MAP_FLAG_VADDR = 4
const UNMAP_FLAG_ALL = 2

// ---------------------------------------------------------------------------------------------
// Machines

const FIXTURES = ['synthetic-nested', 'synthetic-s1-s2', 'synthetic-s1-only', 'synthetic-s2-only', 'synthetic-one-bank', 'synthetic-smmuv3-nested'] as const
const PROFILES: readonly ProfileName[] = PROFILE_NAMES

export interface MachineSpec {
  readonly profile: ProfileName
  readonly smmus: readonly { readonly fixture: (typeof FIXTURES)[number]; readonly groups: readonly { readonly viable: boolean }[] }[]
  /** vfio_iommu_type1.dma_entry_limit on the command line (only kernels with the limit read it). */
  readonly dmaEntryLimit?: number
  /** Calls made before the random ones: group 0 into container 0, then SET_IOMMU of this type. */
  readonly prologue: 'none' | 'v2' | 'nesting'
}

export const machineArb: fc.Arbitrary<MachineSpec> = fc.record(
  {
    profile: fc.constantFrom(...PROFILES),
    smmus: fc.array(
      fc.record({
        fixture: fc.constantFrom(...FIXTURES),
        groups: fc.array(fc.record({ viable: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) }), { minLength: 1, maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 2 },
    ),
    dmaEntryLimit: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 6 }) }),
    prologue: fc.constantFrom<MachineSpec['prologue']>('none', 'v2', 'v2', 'nesting', 'nesting', 'nesting'),
  },
  { requiredKeys: ['profile', 'smmus', 'prologue'] },
)

function featureSets(spec: MachineSpec): FeatureSet[] {
  let nextGroup = 0
  return spec.smmus.map((s) => {
    const hw = loadFixture(s.fixture)
    // Group ids are numbered across the machine; streams repeat per SMMU (each has its own).
    const groups = s.groups.map((g, j) => ({ id: nextGroup++, streams: [0x10 + 8 * j, 0x11 + 8 * j], viable: g.viable }))
    return { ...hw, vfio: { groups, reservedRegions: [], ...(spec.dmaEntryLimit === undefined ? {} : { dmaEntryLimit: spec.dmaEntryLimit }) } }
  })
}

// ---------------------------------------------------------------------------------------------
// The reference

interface RefMapping {
  readonly iova: number
  readonly size: number
  readonly read: boolean
  readonly write: boolean
  /** PA of the buffer the MAP pinned (the device's bytes go there). */
  readonly pa: number
}

interface RefContainer {
  readonly groups: number[]
  driver?: 'v2' | 'nesting'
  /** Sorted by iova, never overlapping. */
  maps: RefMapping[]
  dmaAvail: number
  /** A MAP near the uapi's size limit failed here (later MAPs must not notice). */
  hugeFailed?: boolean
}

interface RefGroup {
  readonly id: number
  readonly viable: boolean
  container?: number
}

export interface CampaignStats {
  runs: number
  steps: number
  byCommand: Record<string, number>
  failedCalls: number
  /** Calls that succeeded, by command. */
  succeeded: Record<string, number>
  /** Calls that failed, by command and errno ("map EEXIST"). */
  errnos: Record<string, number>
  dmaOk: number
  dmaFault: number
  translationProbes: number
  faultProbes: number
  /** Ordinary MAPs that succeeded in a container after a MAP near the uapi's size limit failed there. */
  mapsAfterHugeFailure: number
}

export function newStats(): CampaignStats {
  return { runs: 0, steps: 0, byCommand: {}, failedCalls: 0, succeeded: {}, errnos: {}, dmaOk: 0, dmaFault: 0, translationProbes: 0, faultProbes: 0, mapsAfterHugeFailure: 0 }
}

interface Model {
  readonly spec: MachineSpec
  readonly profile: ProfileName
  readonly containers: RefContainer[]
  readonly groups: RefGroup[]
  readonly stats: CampaignStats
  readonly rand: () => number
}

interface Real {
  readonly backend: ModelBackend
  readonly containers: ContainerModel[]
  readonly groups: (GroupModel | undefined)[]
  /** RAM allocations made during the current call (the spy on the machine's RAM allocator). */
  readonly allocations: { pa: number; bytes: number }[]
}

type Cmd = fc.Command<Model, Real>

function count(m: Model, name: string): void {
  m.stats.steps++
  m.stats.byCommand[name] = (m.stats.byCommand[name] ?? 0) + 1
}

/** Everything a failed call must leave as it was. */
function observe(r: Real): string {
  const containers = r.containers.map((c) => ({
    driver: c.iommu !== undefined,
    maps: c.iommu?.mappings().map((m) => `${m.iova}+${m.size}`) ?? [],
    avail: c.iommu?.availableMappings,
    groups: c.groups.map((g) => g.id),
  }))
  const groups = r.groups.map((g) => (g === undefined ? 'absent' : g.container === undefined ? 'free' : `in ${r.containers.indexOf(g.container)}`))
  const smmus = r.backend.system.smmus().map((s) => ({ name: s.name, banks: s.banksInUse() }))
  const domains = liveDomains(r).map((d) => ({ stage: d.stage, ctx: d.context, streams: [...d.streams] }))
  // The VMM's side: its buffers, where its next mmap lands, and the machine's RAM in use.
  const vmm = { process: r.backend.env.process.state(), ram: r.backend.system.ram.usedBytes }
  return JSON.stringify({ containers, groups, smmus, domains, core: r.backend.system.iommu.liveDomains().length, vmm })
}

function liveDomains(r: Real): IommuDomain[] {
  return r.containers.flatMap((c) => c.iommu?.liveDomains() ?? [])
}

/** Runs a call; when it fails, checks that nothing changed. */
function call<T>(m: Model, r: Real, name: string, fn: () => Result<T>): Result<T> {
  const before = observe(r)
  r.allocations.length = 0
  const res = fn()
  if (res.ok) m.stats.succeeded[name] = (m.stats.succeeded[name] ?? 0) + 1
  if (!res.ok) {
    m.stats.failedCalls++
    const key = `${name} ${res.error.errno}`
    m.stats.errnos[key] = (m.stats.errnos[key] ?? 0) + 1
    assert.equal(observe(r), before, `a call failed with ${res.error.errno} (${res.error.message}) but changed state`)
  }
  return res
}

function expectErrno<T>(res: Result<T>, errno: string, what: string): void {
  assert.equal(res.ok ? 'ok' : res.error.errno, errno, `${what}: expected ${errno}`)
}

// ---------------------------------------------------------------------------------------------
// Invariants (after every step)

function checkInvariants(m: Model, r: Real): void {
  // Bookkeeping: drivers, mappings, group membership.
  m.containers.forEach((rc, i) => {
    const c = r.containers[i] as ContainerModel
    assert.equal(c.iommu !== undefined, rc.driver !== undefined, `container ${i}: driver set`)
    // (deepEqual only to say what differs: the comparison runs after each of some 20,000 steps.)
    const real = c.iommu?.mappings().map((x) => `${x.iova}+${x.size}`) ?? []
    const want = rc.maps.map((x) => `${x.iova}+${x.size}`)
    if (!sameElements(real, want)) assert.deepEqual(real, want, `container ${i}: mappings`)
    const groups = c.groups.map((g) => g.id)
    if (!sameElements(groups, rc.groups)) assert.deepEqual(groups, rc.groups, `container ${i}: groups`)
  })
  for (const g of m.groups) {
    const real = r.groups[g.id]
    if (real === undefined) continue
    const st = real.getStatus()
    assert.ok(st.ok)
    assert.equal(st.value.containerSet, g.container !== undefined, `group ${g.id}: container_set`)
    assert.equal(st.value.viable, g.viable)
  }

  // Contexts: unique per SMMU among live domains; the banks in use are exactly theirs.
  const domains = liveDomains(r)
  assert.equal(r.backend.system.iommu.liveDomains().length, domains.length, 'iommu core holds a domain no container uses (leak)')
  for (const smmu of r.backend.system.smmus()) {
    const mine = domains.filter((d) => d.smmu === smmu)
    const banks: number[] = []
    const asids = new Set<number>()
    const vmids = new Set<number>()
    for (const d of mine) {
      const ctx = d.context
      assert.ok(ctx !== undefined, 'a bound domain has a context')
      if (ctx.kind === 'context-bank') banks.push(ctx.bank)
      if (ctx.asid !== undefined) {
        assert.ok(!asids.has(ctx.asid), `ASID ${ctx.asid} used twice on ${smmu.name}`)
        asids.add(ctx.asid)
      }
      if (ctx.vmid !== undefined) {
        assert.ok(!vmids.has(ctx.vmid), `VMID ${ctx.vmid} used twice on ${smmu.name}`)
        vmids.add(ctx.vmid)
      }
    }
    assert.equal(new Set(banks).size, banks.length, `a context bank used twice on ${smmu.name}`)
    if (smmu.features.arch !== 'smmuv3') assert.deepEqual([...smmu.banksInUse()].sort((a, b) => a - b), banks.sort((a, b) => a - b), `banks in use on ${smmu.name}`)
  }
  // Every domain of a container serves at least one of its groups (detach frees the rest).
  m.containers.forEach((rc, i) => {
    const c = r.containers[i] as ContainerModel
    for (const d of c.iommu?.liveDomains() ?? []) assert.ok(d.streams.size > 0, `container ${i} keeps a domain with no stream attached`)
    if (rc.driver !== undefined) for (const gid of rc.groups) assert.ok(c.iommu?.domainOf(gid) !== undefined, `group ${gid} has no domain`)
  })

  // Translation: every mapping reaches its buffer; unmapped pages fault.
  for (const g of m.groups) {
    if (g.container === undefined) continue
    const rc = m.containers[g.container] as RefContainer
    if (rc.driver === undefined) continue
    const group = r.groups[g.id] as GroupModel
    const stage1 = domainTranslation(r, g) === 'stage 1'
    for (const mp of rc.maps) {
      if (!readable(mp, stage1)) continue
      const off = Math.floor(m.rand() * (mp.size - 8))
      const bytes = randomBytes(m.rand, 8)
      assert.equal(r.backend.system.memory.write(mp.pa + off, bytes), undefined)
      const got = group.dma('read', BigInt(mp.iova + off), 8)
      // (Messages are built only on failure: this runs some 100,000 times per campaign.)
      if (!got.ok || got.value.kind !== 'ok') assert.fail(`group ${g.id}: read of mapped IOVA 0x${(mp.iova + off).toString(16)} faulted: ${JSON.stringify(got)}`)
      if (got.value.data === undefined || !sameElements(got.value.data, bytes)) assert.deepEqual(got.value.data, bytes, `group ${g.id}: IOVA 0x${(mp.iova + off).toString(16)} does not reach its buffer`)
      m.stats.translationProbes++
    }
    for (let k = 0; k < 3; k++) {
      const page = Math.floor(m.rand() * WINDOW_PAGES)
      const iova = WINDOW_BASE + page * PAGE
      if (rc.maps.some((mp) => iova >= mp.iova && iova < mp.iova + mp.size)) continue
      const got = group.dma('read', BigInt(iova + 0x80), 4)
      if (!got.ok || got.value.kind !== 'fault') assert.fail(`group ${g.id}: unmapped IOVA 0x${iova.toString(16)} translated`)
      m.stats.faultProbes++
    }
  }
}

/** The translation the group's domain performs: a stage-1 context, or stage 2 (S2 and nested domains). */
function domainTranslation(r: Real, g: RefGroup): string | undefined {
  const c = r.containers[g.container as number] as ContainerModel
  return c.iommu?.domainOf(g.id)?.context?.translation
}

/**
 * Whether a device may read a mapping: READ, or (stage-1 contexts) WRITE alone, which the
 * stage-1 AP bits can only express as read-write (io-pgtable: AP[2] is "read-only").
 */
function readable(mp: RefMapping, stage1: boolean): boolean {
  return mp.read || (stage1 && mp.write)
}

/** Element-by-element equality of two lists or byte arrays (the cheap check before a deepEqual). */
function sameElements<T>(a: ArrayLike<T>, b: ArrayLike<T>): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  // Four bytes per draw: rand() is a 32-bit value over 2^32.
  const bytes = new Uint8Array(n)
  for (let i = 0; i < n; i += 4) {
    const word = Math.floor(rand() * 4294967296)
    for (let k = 0; k < 4 && i + k < n; k++) bytes[i + k] = (word >>> (8 * k)) & 0xff
  }
  return bytes
}

// ---------------------------------------------------------------------------------------------
// Commands

class OpenContainer implements Cmd {
  check(m: Readonly<Model>): boolean {
    return m.containers.length < MAX_CONTAINERS
  }
  run(m: Model, r: Real): void {
    const c = r.backend.openContainer()
    assert.ok(c.ok)
    r.containers.push(c.value as ContainerModel)
    m.containers.push({ groups: [], maps: [], dmaAvail: dmaLimit(m) })
    count(m, 'open')
    checkInvariants(m, r)
  }
  toString(): string {
    return 'open'
  }
}

/**
 * The container a command acts on: the `index`-th of those with a driver when `live` and there is
 * one (most calls then exercise a working container), else of all of them.
 */
function pickContainer(m: Model, index: number, live: boolean): number {
  const withDriver = m.containers.flatMap((c, i) => (c.driver !== undefined ? [i] : []))
  if (live && withDriver.length > 0) return withDriver[index % withDriver.length] as number
  return index % m.containers.length
}

/** A MAP or UNMAP command's target: the container (reference and model) and its window range. */
function dmaTarget(m: Model, r: Real, cmd: { container: number; live: boolean; page: number; pages: number }): { rc: RefContainer; c: ContainerModel; iova: number; size: number } {
  const ci = pickContainer(m, cmd.container, cmd.live)
  return { rc: m.containers[ci] as RefContainer, c: r.containers[ci] as ContainerModel, iova: WINDOW_BASE + cmd.page * PAGE, size: cmd.pages * PAGE }
}

function dmaLimit(m: Model): number {
  const limit = getProfile(m.profile).vfio.dmaEntryLimit
  if (limit === undefined) return Infinity
  return m.spec.dmaEntryLimit ?? limit
}

class SetContainer implements Cmd {
  constructor(
    readonly group: number,
    readonly container: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return m.containers.length > 0 && m.groups.length > 0
  }
  run(m: Model, r: Real): void {
    const g = m.groups[this.group % m.groups.length] as RefGroup
    const ci = this.container % m.containers.length
    const rc = m.containers[ci] as RefContainer
    const real = r.groups[g.id]
    count(m, 'set_container')
    if (real === undefined) return checkInvariants(m, r)
    const res = call(m, r, 'set_container', () => real.setContainer(r.containers[ci] as ContainerModel))
    if (!g.viable) expectErrno(res, 'EPERM', `set_container of non-viable group ${g.id}`)
    else if (g.container !== undefined) expectErrno(res, 'EINVAL', `set_container of group ${g.id}, already in a container`)
    else if (rc.driver === undefined) assert.ok(res.ok, `set_container of group ${g.id} into a container without a driver`)
    // Otherwise the group is attached to the container's driver at once: hardware decides.
    if (res.ok) {
      g.container = ci
      rc.groups.push(g.id)
    }
    checkInvariants(m, r)
  }
  toString(): string {
    return `set_container(group #${this.group}, container #${this.container})`
  }
}

class UnsetContainer implements Cmd {
  constructor(readonly group: number) {}
  check(m: Readonly<Model>): boolean {
    return m.groups.length > 0
  }
  run(m: Model, r: Real): void {
    const g = m.groups[this.group % m.groups.length] as RefGroup
    const real = r.groups[g.id]
    count(m, 'unset_container')
    if (real === undefined) return checkInvariants(m, r)
    const res = call(m, r, 'unset_container', () => real.unsetContainer())
    if (g.container === undefined) {
      expectErrno(res, 'EINVAL', `unset_container of group ${g.id}, in no container`)
    } else {
      assert.ok(res.ok, `unset_container of group ${g.id}`)
      const rc = m.containers[g.container] as RefContainer
      rc.groups.splice(rc.groups.indexOf(g.id), 1)
      // The last group out takes the driver and every mapping with it.
      if (rc.groups.length === 0) {
        rc.driver = undefined
        rc.maps = []
        rc.dmaAvail = dmaLimit(m)
      }
      g.container = undefined
    }
    checkInvariants(m, r)
  }
  toString(): string {
    return `unset_container(group #${this.group})`
  }
}

type IommuType = 'v2' | 'nesting' | 'bogus'

/**
 * The nesting type's value in this kernel: VFIO_TYPE1_NESTING_IOMMU, or from 6.13 the same value 6
 * under its reserved name (a VMM built against older headers still sends 6).
 */
function nestingType(r: Real): number | undefined {
  return r.backend.extension('TYPE1_NESTING_IOMMU') ?? r.backend.extension('__VFIO_RESERVED_TYPE1_NESTING_IOMMU')
}

class SetIommu implements Cmd {
  constructor(
    /** Aim at a container that has groups and no driver yet, when there is one. */
    readonly ready: boolean,
    readonly container: number,
    readonly type: IommuType,
  ) {}
  check(m: Readonly<Model>): boolean {
    return m.containers.length > 0
  }
  run(m: Model, r: Real): void {
    const ready = m.containers.flatMap((c, i) => (c.groups.length > 0 && c.driver === undefined ? [i] : []))
    const ci = this.ready && ready.length > 0 ? (ready[this.container % ready.length] as number) : this.container % m.containers.length
    const rc = m.containers[ci] as RefContainer
    const c = r.containers[ci] as ContainerModel
    const value = this.type === 'bogus' ? 99 : this.type === 'v2' ? r.backend.extension('TYPE1v2_IOMMU') : nestingType(r)
    assert.ok(value !== undefined)
    count(m, 'set_iommu')
    const res = call(m, r, 'set_iommu', () => c.setIommu(value))
    if (rc.groups.length === 0 || rc.driver !== undefined) expectErrno(res, 'EINVAL', 'set_iommu without a group, or twice')
    else if (this.type === 'bogus') expectErrno(res, 'ENODEV', 'set_iommu of a type no driver has')
    // Otherwise every group is attached now: hardware and profile decide; a failure changed nothing.
    if (res.ok) rc.driver = this.type === 'v2' ? 'v2' : 'nesting'
    checkInvariants(m, r)
  }
  toString(): string {
    return `set_iommu(container #${this.container}, ${this.type})`
  }
}

type VaddrKind = 'buffer' | 'misaligned' | 'unmapped'

class MapDma implements Cmd {
  constructor(
    readonly live: boolean,
    readonly container: number,
    readonly page: number,
    readonly pages: number,
    readonly flags: number,
    readonly vaddr: VaddrKind,
  ) {}
  check(m: Readonly<Model>): boolean {
    return m.containers.length > 0
  }
  run(m: Model, r: Real): void {
    const { rc, c, iova, size } = dmaTarget(m, r, this)
    count(m, 'map')
    if (rc.driver === undefined) m.stats.errnos['map (container without driver)'] = (m.stats.errnos['map (container without driver)'] ?? 0) + 1
    const res = call(m, r, 'map', () => c.mapDma({ iova: BigInt(iova), size: BigInt(size), flags: this.flags, vaddr: { kind: this.vaddr } }))
    expectErrno(res, this.predict(m, rc, iova, size), `map ${this.toString()}`)
    if (res.ok) {
      // The buffer is what the MAP pinned: the one RAM allocation the call made.
      const buffer = r.allocations.find((a) => a.bytes >= size)
      assert.ok(buffer !== undefined, 'a successful MAP of a fresh buffer pins RAM for it')
      const mp: RefMapping = { iova, size, read: (this.flags & FLAG_READ) !== 0, write: (this.flags & FLAG_WRITE) !== 0, pa: buffer.pa }
      rc.maps.push(mp)
      rc.maps.sort((a, b) => a.iova - b.iova)
      rc.dmaAvail--
      if (rc.hugeFailed === true) m.stats.mapsAfterHugeFailure++
    }
    checkInvariants(m, r)
  }
  /** The kernel's order: flags, prot, alignment/size, overlap, dma_avail, (pinning) -> errno. */
  private predict(m: Model, rc: RefContainer, iova: number, size: number): string {
    if (rc.driver === undefined) return 'EINVAL'
    const known = FLAG_READ | FLAG_WRITE | (getProfile(m.profile).vfio.updateVaddr ? MAP_FLAG_VADDR : 0)
    if ((this.flags & ~known) !== 0) return 'EINVAL'
    if ((this.flags & (FLAG_READ | FLAG_WRITE)) === 0) return 'EINVAL'
    if (size === 0 || this.vaddr === 'misaligned') return 'EINVAL'
    if (rc.maps.some((mp) => mp.iova < iova + size && iova < mp.iova + mp.size)) return 'EEXIST'
    if (rc.dmaAvail <= 0) return 'ENOSPC'
    if (this.vaddr === 'unmapped') return 'EFAULT'
    return 'ok'
  }
  toString(): string {
    return `map(container #${this.container}, page ${this.page}, ${this.pages} pages, flags 0x${this.flags.toString(16)}, vaddr ${this.vaddr})`
  }
}

const U64_MAX = (1n << 64n) - 1n

// Kernels whose UNMAP compares with iova + size - 1 (6.18+, commit ef270ec44637; the others wrap
// iova + size) and whose MAP/UNMAP answer a range past 2^64 with EOVERFLOW (6012379ede6a, same
// series) are told by the profile's fields (vfio.unmapEnd, vfio.rangeWrap), never by its name.

/**
 * MAP_DMA of a size near the uapi's limit (__u64), at an iova anywhere in the 64-bit space. The
 * machine's RAM can back none of them, so every one fails; which errno depends on the order of the
 * kernel's checks the reference only partly knows (iova + size wrapping is EINVAL, an overlap with a
 * window mapping EEXIST or EINVAL). What matters is that the failure changed nothing: `call` checks
 * the container's and the VMM's state, and the ordinary MAPs after it must still succeed.
 */
class HugeMap implements Cmd {
  constructor(
    readonly live: boolean,
    readonly container: number,
    readonly iova: bigint,
    readonly size: bigint,
  ) {}
  check(m: Readonly<Model>): boolean {
    return m.containers.length > 0
  }
  run(m: Model, r: Real): void {
    const ci = pickContainer(m, this.container, this.live)
    const rc = m.containers[ci] as RefContainer
    const c = r.containers[ci] as ContainerModel
    count(m, 'huge_map')
    const res = call(m, r, 'huge_map', () => c.mapDma({ iova: this.iova, size: this.size, flags: FLAG_READ | FLAG_WRITE, vaddr: { kind: 'buffer' } }))
    assert.ok(!res.ok, `${this.toString()} succeeded, but no machine has that much RAM`)
    rc.hugeFailed = true
    // 6.18+ checks iova/vaddr + size - 1 with check_add_overflow before alignment: EOVERFLOW.
    const overflowFirst = getProfile(m.profile).vfio.rangeWrap.map === 'EOVERFLOW'
    if (rc.driver === undefined) expectErrno(res, 'EINVAL', this.toString())
    else if (this.iova + this.size - 1n > U64_MAX) expectErrno(res, overflowFirst ? 'EOVERFLOW' : 'EINVAL', this.toString())
    else if ((this.size & 0xfffn) !== 0n && !overflowFirst) expectErrno(res, 'EINVAL', this.toString())
    else assert.ok(['EINVAL', 'EEXIST', 'ENOSPC', 'ENOMEM', 'EFAULT', ...(overflowFirst ? ['EOVERFLOW'] : [])].includes(res.error.errno), `${this.toString()}: ${res.error.errno}`)
    checkInvariants(m, r)
  }
  toString(): string {
    return `huge_map(container #${this.container}, iova 0x${this.iova.toString(16)}, size 0x${this.size.toString(16)})`
  }
}


/**
 * UNMAP_DMA from a window page with a size up to and past __u64's limit: ending below 2^64,
 * exactly at 2^64 (iova + size is 0 in 64 bits), or past it (wrapping to a small end).
 */
class HugeUnmap implements Cmd {
  constructor(
    readonly live: boolean,
    readonly container: number,
    readonly page: number,
    readonly end: 'below' | 'at' | 'past',
    readonly extra: bigint,
  ) {}
  check(m: Readonly<Model>): boolean {
    return m.containers.length > 0
  }
  run(m: Model, r: Real): void {
    const ci = pickContainer(m, this.container, this.live)
    const rc = m.containers[ci] as RefContainer
    const c = r.containers[ci] as ContainerModel
    const iova = BigInt(WINDOW_BASE + this.page * PAGE)
    const top = 1n << 64n
    const size = this.end === 'at' ? top - iova : this.end === 'past' ? top - iova + this.extra : top - iova - this.extra
    count(m, 'huge_unmap')
    const res = call(m, r, 'huge_unmap', () => c.unmapDma({ iova, size, flags: 0 }))
    const end = iova + size
    const wrappedEnd = end & U64_MAX
    const big = (mp: RefMapping) => ({ start: BigInt(mp.iova), end: BigInt(mp.iova + mp.size) })
    let want: string
    let gone: RefMapping[] = []
    if (rc.driver === undefined) want = 'EINVAL'
    else if (end > top && getProfile(m.profile).vfio.rangeWrap.unmap !== 'unchecked') want = getProfile(m.profile).vfio.unmapEnd === 'inclusive' ? 'EOVERFLOW' : 'EINVAL'
    else if (rc.maps.some((mp) => big(mp).start < iova && iova < big(mp).end)) want = 'EINVAL' // v2: starts inside a mapping
    else if (rc.maps.some((mp) => big(mp).start < wrappedEnd && wrappedEnd < big(mp).end)) want = 'EINVAL' // v2: a (wrapped) end inside one
    else {
      want = 'ok'
      // Up to 6.17 an end at or past 2^64 wraps below iova and the search finds nothing.
      if (end < top || getProfile(m.profile).vfio.unmapEnd === 'inclusive') gone = rc.maps.filter((mp) => big(mp).start >= iova)
    }
    expectErrno(res, want, this.toString())
    if (res.ok) {
      assert.equal(res.value.unmapped, BigInt(gone.reduce((n, mp) => n + mp.size, 0)), `${this.toString()}: size written back`)
      rc.maps = rc.maps.filter((mp) => !gone.includes(mp))
      rc.dmaAvail += gone.length
    }
    checkInvariants(m, r)
  }
  toString(): string {
    return `huge_unmap(container #${this.container}, page ${this.page}, end ${this.end} 2^64${this.end === 'at' ? '' : ` by 0x${this.extra.toString(16)}`})`
  }
}

class UnmapDma implements Cmd {
  constructor(
    readonly live: boolean,
    readonly container: number,
    readonly page: number,
    readonly pages: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return m.containers.length > 0
  }
  run(m: Model, r: Real): void {
    const { rc, c, iova, size } = dmaTarget(m, r, this)
    count(m, 'unmap')
    const res = call(m, r, 'unmap', () => c.unmapDma({ iova: BigInt(iova), size: BigInt(size), flags: 0 }))
    const end = iova + size
    let want: string
    if (rc.driver === undefined || size === 0) want = 'EINVAL'
    // v2 (both types here): the range may not start or end inside a mapping.
    else if (rc.maps.some((mp) => (mp.iova < iova && iova < mp.iova + mp.size) || (mp.iova < end && end < mp.iova + mp.size))) want = 'EINVAL'
    else want = 'ok'
    expectErrno(res, want, `unmap ${this.toString()}`)
    if (res.ok) {
      const gone = rc.maps.filter((mp) => mp.iova >= iova && mp.iova + mp.size <= end)
      assert.equal(res.value.unmapped, BigInt(gone.reduce((n, mp) => n + mp.size, 0)), 'UNMAP_DMA writes back the size it removed')
      rc.maps = rc.maps.filter((mp) => !gone.includes(mp))
      rc.dmaAvail += gone.length
    }
    checkInvariants(m, r)
  }
  toString(): string {
    return `unmap(container #${this.container}, page ${this.page}, ${this.pages} pages)`
  }
}

class UnmapAll implements Cmd {
  constructor(
    readonly live: boolean,
    readonly container: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return m.containers.length > 0
  }
  run(m: Model, r: Real): void {
    const ci = pickContainer(m, this.container, this.live)
    const rc = m.containers[ci] as RefContainer
    const c = r.containers[ci] as ContainerModel
    count(m, 'unmap_all')
    const res = call(m, r, 'unmap_all', () => c.unmapDma({ iova: 0n, size: 0n, flags: UNMAP_FLAG_ALL }))
    // VFIO_DMA_UNMAP_FLAG_ALL exists from 5.12: earlier kernels reject the unknown flag.
    expectErrno(res, rc.driver === undefined || (getProfile(m.profile).vfio.unmapFlags & UNMAP_FLAG_ALL) === 0 ? 'EINVAL' : 'ok', 'unmap all')
    if (res.ok) {
      assert.equal(res.value.unmapped, BigInt(rc.maps.reduce((n, mp) => n + mp.size, 0)))
      rc.dmaAvail += rc.maps.length
      rc.maps = []
    }
    checkInvariants(m, r)
  }
  toString(): string {
    return `unmap_all(container #${this.container})`
  }
}

class DeviceDma implements Cmd {
  constructor(
    readonly group: number,
    readonly op: 'read' | 'write',
    /** Aim at a mapping of the group's container (`page` picks which) rather than at a window page. */
    readonly aimed: boolean,
    readonly page: number,
    readonly offset: number,
    readonly length: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return m.groups.length > 0
  }
  run(m: Model, r: Real): void {
    const g = m.groups[this.group % m.groups.length] as RefGroup
    const real = r.groups[g.id]
    count(m, 'dma')
    if (real === undefined) return checkInvariants(m, r)
    const rc = g.container === undefined ? undefined : (m.containers[g.container] as RefContainer)
    const target = this.aimed && rc !== undefined && rc.maps.length > 0 ? (rc.maps[this.page % rc.maps.length] as RefMapping) : undefined
    const iova = target === undefined ? WINDOW_BASE + this.page * PAGE + (this.offset % PAGE) : target.iova + (this.offset % target.size)
    const stage1 = g.container !== undefined && domainTranslation(r, g) === 'stage 1'
    // The pieces of [iova, iova + length) and the mapping (buffer) each falls in.
    const pieces: { at: number; n: number; mp: RefMapping | undefined }[] = []
    for (let at = iova; at < iova + this.length; ) {
      const mp = rc?.driver === undefined ? undefined : rc.maps.find((x) => at >= x.iova && at < x.iova + x.size)
      const pageEnd = (Math.floor(at / PAGE) + 1) * PAGE
      const n = Math.min(iova + this.length, mp === undefined ? pageEnd : mp.iova + mp.size) - at
      pieces.push({ at, n, mp })
      at += n
    }
    const allowed = pieces.every((p) => p.mp !== undefined && (this.op === 'read' ? readable(p.mp, stage1) : p.mp.write))
    const mem = r.backend.system.memory
    const before = pieces.filter((p) => p.mp !== undefined).map((p) => mem.read((p.mp as RefMapping).pa + (p.at - (p.mp as RefMapping).iova), p.n))
    const data = randomBytes(m.rand, this.length)
    if (this.op === 'read' && allowed) {
      for (const p of pieces) {
        const mp = p.mp as RefMapping
        assert.equal(mem.write(mp.pa + (p.at - mp.iova), data.subarray(p.at - iova, p.at - iova + p.n)), undefined)
      }
    }
    const res = real.dma(this.op, BigInt(iova), this.length, this.op === 'write' ? data : undefined)
    assert.ok(res.ok, 'a DMA through a group reports ok or fault, never an errno')
    assert.equal(res.value.kind, allowed ? 'ok' : 'fault', `${this.toString()}: expected ${allowed ? 'ok' : 'fault'} (${res.value.kind === 'fault' ? res.value.detail : ''})`)
    if (allowed) {
      m.stats.dmaOk++
      if (this.op === 'read') {
        const got = res.value.kind === 'ok' ? res.value.data : undefined
        if (got === undefined || !sameElements(got, data)) assert.deepEqual(got, data, 'the device read what the buffer holds')
      } else {
        for (const p of pieces) {
          const landed = mem.read((p.mp as RefMapping).pa + (p.at - (p.mp as RefMapping).iova), p.n)
          const sent = data.subarray(p.at - iova, p.at - iova + p.n)
          if (!(landed instanceof Uint8Array) || !sameElements(landed, sent)) assert.deepEqual(landed, sent, 'the device write landed in the buffer')
        }
      }
    } else {
      m.stats.dmaFault++
      const after = pieces.filter((p) => p.mp !== undefined).map((p) => mem.read((p.mp as RefMapping).pa + (p.at - (p.mp as RefMapping).iova), p.n))
      assert.deepEqual(after, before, 'a faulting DMA moved no byte')
    }
    checkInvariants(m, r)
  }
  toString(): string {
    return `dma(group #${this.group}, ${this.op}, ${this.aimed ? 'mapping' : 'page'} ${this.page} + 0x${this.offset.toString(16)}, ${this.length} bytes)`
  }
}

const pageArb = fc.integer({ min: 0, max: WINDOW_PAGES - 1 })
const idx = fc.nat(7)

const openArb = fc.constant(new OpenContainer())
const setContainerArb = fc.tuple(idx, idx).map(([g, c]) => new SetContainer(g, c))
const unsetContainerArb = idx.map((g) => new UnsetContainer(g))
const setIommuArb = fc.tuple(fc.boolean(), idx, fc.constantFrom<IommuType>('v2', 'v2', 'nesting', 'nesting', 'bogus')).map(([ready, c, t]) => new SetIommu(ready, c, t))
const liveArb = fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) })
const mapArb = fc
  .tuple(
    liveArb,
    idx,
    pageArb,
    fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 1, max: MAX_MAP_PAGES }) }, { weight: 1, arbitrary: fc.constant(0) }),
    fc.oneof(
      { weight: 8, arbitrary: fc.constant(FLAG_READ | FLAG_WRITE) },
      { weight: 4, arbitrary: fc.constantFrom(FLAG_READ, FLAG_WRITE) },
      { weight: 1, arbitrary: fc.constantFrom(0, 0x80, 0x83) },
    ),
    fc.oneof({ weight: 14, arbitrary: fc.constant<VaddrKind>('buffer') }, { weight: 1, arbitrary: fc.constantFrom<VaddrKind>('misaligned', 'unmapped') }),
  )
  .map(([live, c, p, n, f, v]) => new MapDma(live, c, p, n, f, v))
const unmapArb = fc.tuple(liveArb, idx, pageArb, fc.integer({ min: 0, max: 2 * MAX_MAP_PAGES })).map(([live, c, p, n]) => new UnmapDma(live, c, p, n))
/** Sizes up to __u64's limit: the top page-aligned one, big powers of two, random large ones, and unaligned. */
const hugeSizeArb = fc.oneof(
  fc.constantFrom(U64_MAX - 0xfffn, 1n << 63n, 1n << 60n, 1n << 48n, U64_MAX),
  fc.bigInt({ min: 1n << 32n, max: (1n << 52n) - 1n }).map((p) => p << 12n),
)
/** Iovas from 0 to the top of the 64-bit space, including the campaign's window. */
const hugeIovaArb = fc.oneof(fc.constantFrom(0n, BigInt(WINDOW_BASE), 1n << 63n, U64_MAX - 0xfffn), fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }).map((p) => p << 12n))
const hugeMapArb = fc.tuple(liveArb, idx, hugeIovaArb, hugeSizeArb).map(([live, c, iova, size]) => new HugeMap(live, c, iova, size))
const hugeUnmapArb = fc
  .tuple(liveArb, idx, pageArb, fc.constantFrom<'below' | 'at' | 'past'>('below', 'at', 'at', 'past'), fc.integer({ min: 1, max: WINDOW_PAGES + 8 }))
  .map(([live, c, p, end, pages]) => new HugeUnmap(live, c, p, end, BigInt(pages * PAGE)))
const unmapAllArb = fc.tuple(liveArb, idx).map(([live, c]) => new UnmapAll(live, c))
const dmaArb = fc
  .tuple(idx, fc.constantFrom<'read' | 'write'>('read', 'write'), fc.boolean(), pageArb, fc.integer({ min: 0, max: MAX_MAP_PAGES * PAGE - 1 }), fc.integer({ min: 1, max: 2 * PAGE }))
  .map(([g, op, aimed, p, o, n]) => new DeviceDma(g, op, aimed, p, o, n))

/** The command mix (an arbitrary listed n times is drawn n times as often). */
export const commandArbs: fc.Arbitrary<Cmd>[] = [
  openArb,
  ...Array.from({ length: 3 }, () => setContainerArb),
  unsetContainerArb,
  ...Array.from({ length: 2 }, () => setIommuArb),
  ...Array.from({ length: 6 }, () => mapArb),
  hugeMapArb,
  hugeUnmapArb,
  ...Array.from({ length: 2 }, () => unmapArb),
  unmapAllArb,
  ...Array.from({ length: 5 }, () => dmaArb),
]

// ---------------------------------------------------------------------------------------------
// Running

function setup(spec: MachineSpec, stats: CampaignStats, seed: number): { model: Model; real: Real } {
  const backend = createModelBackend({ profile: spec.profile, fixtures: featureSets(spec) })
  const allocations: { pa: number; bytes: number }[] = []
  spyOnAllocations(backend.system.ram, allocations)
  const groupIds = spec.smmus.flatMap((s) => s.groups)
  const groups: (GroupModel | undefined)[] = []
  const refGroups: RefGroup[] = []
  groupIds.forEach((g, id) => {
    const opened = backend.openGroup(id)
    groups.push(opened.ok ? (opened.value as GroupModel) : undefined)
    refGroups.push({ id, viable: g.viable })
  })
  stats.runs++
  const rand = prng(seed)
  // Every run starts with one container open (more may be opened by the commands).
  const first = backend.openContainer()
  assert.ok(first.ok)
  const model: Model = { spec, profile: spec.profile, containers: [], groups: refGroups, stats, rand }
  model.containers.push({ groups: [], maps: [], dmaAvail: dmaLimit(model) })
  const real: Real = { backend, containers: [first.value as ContainerModel], groups, allocations }
  if (spec.prologue !== 'none') {
    // The first group that can join a container; SET_IOMMU of the chosen type, else of TYPE1v2.
    const first = refGroups.findIndex((g) => g.viable && groups[g.id] !== undefined)
    if (first >= 0) {
      new SetContainer(first, 0).run(model, real)
      new SetIommu(false, 0, spec.prologue).run(model, real)
      if (model.containers[0]?.driver === undefined) new SetIommu(false, 0, 'v2').run(model, real)
    }
  }
  return { model, real }
}

/** Records the RAM allocations a call makes (where a MAP's buffer was pinned). */
function spyOnAllocations(ram: TableAllocator, into: { pa: number; bytes: number }[]): void {
  const alloc = ram.alloc.bind(ram)
  ram.alloc = (bytes: number, align?: number) => {
    const r = alloc(bytes, align)
    if (r.ok) into.push({ pa: r.value, bytes })
    return r
  }
}

export interface CampaignOptions {
  /** Stop once at least this many steps ran. */
  readonly steps: number
  readonly seed: number
  /** Commands per run at most. */
  readonly maxCommands?: number
  readonly onProgress?: (stats: CampaignStats) => void
}

/** Runs batches of seeded fast-check runs until `steps` commands have executed; throws on a failure. */
export function runVfioCampaign(opts: CampaignOptions): CampaignStats {
  const stats = newStats()
  let batch = 0
  while (stats.steps < opts.steps) {
    fc.assert(
      fc.property(machineArb, fc.commands(commandArbs, { maxCommands: opts.maxCommands ?? 80, size: 'max' }), fc.nat(), (spec, cmds, seed) => {
        fc.modelRun(() => setup(spec, stats, seed), cmds)
      }),
      { seed: opts.seed + batch, numRuns: 40 },
    )
    batch++
    opts.onProgress?.(stats)
  }
  return stats
}

