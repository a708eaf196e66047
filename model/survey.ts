/**
 * What the model does on a piece of hardware under one kernel ("explain"), and the checks the
 * catalogue features (features/fixtures/) run over every fixture.
 *
 * Unlike the rest of model/hw, this module runs the model (a System, a VFIO backend), so it sits
 * on top of the other layers, like model/system.ts does; it is not re-exported from ./index.ts
 * (import it as model/survey). Nothing here decides an outcome: every observation is what the
 * model did. The checks compare those observations with rule tables written in the features.
 */
import type { Result } from './errno'
import { driverFamily, IOMMU_DRIVERS, iommuDriver, type Profile, type ProfileName } from './profiles'
import type { BankRange, CbarType, DomainStage, HwTranslation, RequestedStage, SmmuContext } from './smmu'
import { createSystem, type System } from './system'
import { ContainerModel, createModelBackend } from './vfio'
import { SMMU_ARCHS, STAGE_SUPPORT, stageSupport, type FeatureSet, type SmmuArch, type StageSupport, type VfioGroupSpec } from './hw/features'
import { decodeIdRegisters, DECODABLE_FIELDS, fieldValue, sameDecodedValue, SMMU_V3_IDR, type DecodableField, type DecodedValue } from './hw/registers'
import { nestingRequestOn, type NestingOutcome } from './transcript/nesting-request'

export const REQUESTS: readonly RequestedStage[] = ['S1', 'NESTED']
const DOMAIN_STAGES: readonly DomainStage[] = ['S1', 'S2', 'NESTED']

/** The stream every probe uses: stream 0 exists behind every SMMU (2^stream_id_bits >= 1). */
const PROBE_STREAM = 0

/** What a context holds, flattened for reports. */
export interface ContextReport {
  readonly kind: SmmuContext['kind']
  readonly translation: HwTranslation
  readonly bank?: number
  readonly cbar?: CbarType
  readonly asid?: number
  readonly vmid?: number
  readonly domainId?: number
}

/** One fresh domain of the SMMU's driver, asked for `request`, attached to stream 0 of a fresh SMMU. */
export interface RequestReport {
  readonly request: RequestedStage
  /** NESTED only: set_attr(NESTING) or iommu_enable_nesting(), whichever this kernel has. */
  readonly nestingRequest?: Result<void>
  /** NESTED only: this kernel has no call that asks a domain to nest (6.13+); nothing was asked. */
  readonly noNestingApi?: true
  /** The first attach (made even when the nesting request failed, as the RFC's type1 does). */
  readonly attach: Result<void>
  /** The domain's stage after the attach (fixed up even when the attach failed). */
  readonly stage: DomainStage
  readonly context?: ContextReport
}

/** VFIO on a machine with just this IOMMU and one group. */
export interface VfioReport {
  /** VFIO_TYPE1_NESTING_IOMMU in this kernel's uapi. */
  readonly nestingType: number
  readonly group: number
  /** CHECK_EXTENSION(nesting type) on a fresh container (no group yet). */
  readonly checkBefore: number
  /** VFIO_SET_IOMMU(nesting type) after the group joined the container. */
  readonly setIommu: Result<void>
  /** CHECK_EXTENSION(nesting type) afterwards. */
  readonly checkAfter: number
  /** The stage of the group's domain, when SET_IOMMU succeeded. */
  readonly domainStage?: DomainStage
}

export interface Explanation {
  readonly fixture: FeatureSet
  readonly profile: Profile
  readonly support: StageSupport
  /** Whether this kernel has a driver for the hardware (ENODEV when it does not). */
  readonly probe: Result<void>
  /** Present when the probe succeeded. */
  readonly requests?: Readonly<Record<RequestedStage, RequestReport>>
  /**
   * SMMUv1/v2: the banks a domain of each stage may take (first > last: none), for the stages the
   * hardware has (S2 needs stage 2, NESTED both stages).
   */
  readonly bankRanges?: Readonly<Partial<Record<DomainStage, BankRange>>>
  readonly vfio?: VfioReport
  /**
   * The nesting request through iommufd (bind, IOAS, NEST_PARENT, vIOMMU, vDEVICE, nested HWPT,
   * attach: model/transcript/nesting-request.ts) for the probe group's device.
   */
  readonly iommufd?: NestingOutcome
}

const explained = new WeakMap<FeatureSet, Map<ProfileName, Explanation>>()

/** Run the model on `hw` under `profile` (memoised per feature set and profile). */
export function explainFixture(hw: FeatureSet, profile: Profile): Explanation {
  let perProfile = explained.get(hw)
  if (perProfile === undefined) {
    perProfile = new Map()
    explained.set(hw, perProfile)
  }
  const cached = perProfile.get(profile.name)
  if (cached !== undefined) return cached
  const e = computeExplanation(hw, profile)
  perProfile.set(profile.name, e)
  return e
}

function computeExplanation(hw: FeatureSet, profile: Profile): Explanation {
  const support = stageSupport(hw)
  // One machine; each request gets its own, fresh SMMU instance built from the same fixture.
  const system = createSystem(profile)
  const probe = system.addSmmu('smmu0', hw)
  if (!probe.ok) return { fixture: hw, profile, support, probe }
  const smmu = probe.value
  const bankRanges = smmu.bankRange('S1') === undefined ? undefined : rangesOf(smmu, hw)
  return {
    fixture: hw,
    profile,
    support,
    probe: { ok: true, value: undefined },
    requests: { S1: attachOnFreshSmmu(system, hw, 'S1'), NESTED: attachOnFreshSmmu(system, hw, 'NESTED') },
    ...(bankRanges === undefined ? {} : { bankRanges }),
    ...vfioOf(hw, profile),
    iommufd: iommufdOf(hw, profile),
  }
}

function rangesOf(smmu: { bankRange(stage: DomainStage): BankRange | undefined }, hw: FeatureSet): Partial<Record<DomainStage, BankRange>> {
  const t = hw.translation
  const possible = DOMAIN_STAGES.filter((s) => (s === 'S1' ? t.stage1 : s === 'S2' ? t.stage2 : t.stage1 && t.stage2))
  return Object.fromEntries(possible.map((s) => [s, smmu.bankRange(s) as BankRange]))
}

function attachOnFreshSmmu(system: System, hw: FeatureSet, request: RequestedStage): RequestReport {
  const added = system.addSmmu(`smmu-${request}`, hw)
  if (!added.ok) throw new Error(`${hw.name} probed once but not twice: ${added.error.errno}`)
  // Allocated the way this kernel's VFIO type1 allocates (for the bus, or for the device).
  const allocated = system.profile.vfio.domainAlloc === 'device' ? system.iommu.allocDomainFor(added.value) : { ok: true as const, value: system.iommu.allocDomain(driverFamily(hw.arch)) }
  if (!allocated.ok) return { request, attach: allocated, stage: 'S1' }
  const domain = allocated.value
  const noNestingApi = request === 'NESTED' && system.profile.iommu.nestingApi === 'none'
  const nestingRequest = request === 'NESTED' && !noNestingApi ? domain.requestNesting() : undefined
  const attach = domain.attach(added.value, PROBE_STREAM)
  const context = domain.context === undefined ? undefined : contextReport(domain.context)
  return {
    request,
    ...(nestingRequest === undefined ? {} : { nestingRequest }),
    ...(noNestingApi ? { noNestingApi } : {}),
    attach,
    stage: domain.stage,
    ...(context === undefined ? {} : { context }),
  }
}

function contextReport(ctx: SmmuContext): ContextReport {
  const ids = { ...(ctx.asid === undefined ? {} : { asid: ctx.asid }), ...(ctx.vmid === undefined ? {} : { vmid: ctx.vmid }) }
  if (ctx.kind === 'context-bank') return { kind: ctx.kind, translation: ctx.translation, bank: ctx.bank, cbar: ctx.cbar, ...ids }
  if (ctx.kind === 'vtd-context') return { kind: ctx.kind, translation: ctx.translation, domainId: ctx.domainId }
  return { kind: ctx.kind, translation: ctx.translation, ...ids }
}

/** The fixture's first viable group, or group 0 at stream 0 when it describes none. */
function probeGroup(hw: FeatureSet): { machine: FeatureSet; group: number } {
  const own = hw.vfio.groups.find((g) => g.viable)
  if (own !== undefined) return { machine: hw, group: own.id }
  const group: VfioGroupSpec = { id: 0, streams: [PROBE_STREAM], viable: true }
  return { machine: { ...hw, vfio: { ...hw.vfio, groups: [...hw.vfio.groups, group] } }, group: group.id }
}

function vfioOf(hw: FeatureSet, profile: Profile): { vfio?: VfioReport } {
  const { machine, group: groupId } = probeGroup(hw)
  const backend = createModelBackend({ profile, fixtures: [machine] })
  // The value a VMM built against any kernel's headers sends (6 survives as a reserved name in 6.13+).
  const nestingType = backend.extension('TYPE1_NESTING_IOMMU')
  const container = backend.openContainer()
  const group = backend.openGroup(groupId)
  if (nestingType === undefined || !container.ok || !group.ok) return {}
  const checkBefore = valueOr(container.value.checkExtension(nestingType), -1)
  const joined = group.value.setContainer(container.value)
  if (!joined.ok) throw new Error(`${hw.name}: group ${groupId} cannot join a container: ${joined.error.errno}`)
  const setIommu = container.value.setIommu(nestingType)
  const checkAfter = valueOr(container.value.checkExtension(nestingType), -1)
  const domainStage = container.value instanceof ContainerModel ? container.value.iommu?.domainOf(groupId)?.stage : undefined
  return { vfio: { nestingType, group: groupId, checkBefore, setIommu, checkAfter, ...(domainStage === undefined ? {} : { domainStage }) } }
}

function iommufdOf(hw: FeatureSet, profile: Profile): NestingOutcome {
  const { machine, group } = probeGroup(hw)
  return nestingRequestOn(createModelBackend({ profile, fixtures: [machine] }), group)
}

function valueOr<T>(r: Result<T>, fallback: T): T {
  return r.ok ? r.value : fallback
}

// ---------------------------------------------------------------------------------------------
// Catalogue checks: a rule (a table the feature states) against what the model did, per fixture.

export type Verdict = 'passed' | 'failed' | 'not applicable'

export interface FixtureCheck {
  readonly fixture: string
  readonly support: StageSupport
  readonly verdict: Verdict
  readonly expected: string
  readonly actual: string
}

export interface CatalogueCheck {
  readonly rule: string
  readonly profile: ProfileName
  readonly results: readonly FixtureCheck[]
}

/** One row of a rule table, as cucumber's `DataTable.hashes()` gives it. */
export type RuleRow = Readonly<Record<string, string>>

export function failures(check: CatalogueCheck): FixtureCheck[] {
  return check.results.filter((r) => r.verdict === 'failed')
}

/** The check as a fixed-width table, one fixture per line. */
export function formatCatalogueCheck(check: CatalogueCheck): string {
  const head = ['fixture', 'support', 'expected', 'actual', 'verdict']
  const rows = check.results.map((r) => [r.fixture, r.support, r.expected, r.actual, r.verdict])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()
  const counts = (['passed', 'failed', 'not applicable'] as const).map((v) => `${check.results.filter((r) => r.verdict === v).length} ${v}`)
  return [`[${check.profile}] ${check.rule}`, line(head), ...rows.map(line), counts.join(', ')].join('\n')
}

/** A rule table's answer for a fixture: by stage support, or by stage support and driver. */
interface RuleTable {
  get(e: Explanation): string | undefined
}

/**
 * Read a rule table keyed by stage support; every key must be a stage support. An optional
 * "driver" column (arm-smmu, arm-smmu-v3, intel-iommu) narrows a row to that driver's fixtures; a
 * row naming the driver wins over one that does not.
 */
function bySupport(rows: readonly RuleRow[], valueColumn: string, allowed?: readonly string[]): RuleTable {
  const table = new Map<string, string>()
  for (const row of rows) {
    const key = row['stage support']
    const value = row[valueColumn]
    const driver = row.driver ?? ''
    if (key === undefined || value === undefined) throw new Error(`a rule table needs the columns "stage support" and "${valueColumn}"`)
    if (!(STAGE_SUPPORT as readonly string[]).includes(key)) throw new Error(`"${key}" is not a stage support (${STAGE_SUPPORT.join(', ')})`)
    if (driver !== '' && !(IOMMU_DRIVERS as readonly string[]).includes(driver)) throw new Error(`"${driver}" is not a driver (${IOMMU_DRIVERS.join(', ')})`)
    if (allowed !== undefined && !allowed.includes(value)) throw new Error(`"${value}" is not one of ${allowed.join(', ')}`)
    table.set(`${key}|${driver}`, value)
  }
  return { get: (e) => table.get(`${e.support}|${iommuDriver(e.fixture.arch)}`) ?? table.get(`${e.support}|`) }
}

interface Probe {
  readonly expected: string
  readonly actual: string
}

/** Apply `probe` to every fixture the kernel drives; the others are not applicable. */
function overCatalogue(
  fixtures: readonly FeatureSet[],
  profile: Profile,
  rule: string,
  probe: (e: Explanation & { requests: Readonly<Record<RequestedStage, RequestReport>> }) => Probe | undefined,
): CatalogueCheck {
  const results = fixtures.map((hw): FixtureCheck => {
    const e = explainFixture(hw, profile)
    const base = { fixture: hw.name, support: e.support }
    if (e.requests === undefined) return { ...base, verdict: 'not applicable', expected: '-', actual: `no driver (${errnoOf(e.probe)})` }
    const p = probe(e as Explanation & { requests: Readonly<Record<RequestedStage, RequestReport>> })
    if (p === undefined) return { ...base, verdict: 'not applicable', expected: '-', actual: '-' }
    return { ...base, verdict: p.expected === p.actual ? 'passed' : 'failed', ...p }
  })
  return { rule, profile: profile.name, results }
}

function errnoOf(r: Result<unknown>): string {
  return r.ok ? 'ok' : r.error.errno
}

/** "every fixture: a <request> request gets the stage the table gives for its stage support". */
export function checkStageRule(fixtures: readonly FeatureSet[], profile: Profile, request: RequestedStage, rows: readonly RuleRow[]): CatalogueCheck {
  const table = bySupport(rows, 'stage', DOMAIN_STAGES)
  return overCatalogue(fixtures, profile, `a ${request === 'S1' ? 'stage 1' : 'nested'} request gets the stage its stage support gives`, (e) => ({
    expected: table.get(e) ?? `(no row for ${e.support})`,
    actual: e.requests[request].stage,
  }))
}

/** "a kernel probes the architectures it has a driver for": the table says yes or no per architecture. */
export function checkDriverRule(fixtures: readonly FeatureSet[], profile: Profile, rows: readonly RuleRow[]): CatalogueCheck {
  const table = new Map<string, string>()
  for (const row of rows) {
    const arch = row.architecture
    const probed = row.probed
    if (arch === undefined || probed === undefined) throw new Error('the driver table needs the columns "architecture" and "probed"')
    if (!(SMMU_ARCHS as readonly string[]).includes(arch)) throw new Error(`"${arch}" is not an architecture (${SMMU_ARCHS.join(', ')})`)
    if (probed !== 'yes' && probed !== 'no') throw new Error(`"probed" is yes or no, not "${probed}"`)
    table.set(arch, probed)
  }
  const results = fixtures.map((hw): FixtureCheck => {
    const e = explainFixture(hw, profile)
    const expected = table.get(hw.arch as SmmuArch) ?? `(no row for ${hw.arch})`
    const actual = e.probe.ok ? 'yes' : 'no'
    return { fixture: hw.name, support: e.support, verdict: expected === actual ? 'passed' : 'failed', expected, actual }
  })
  return { rule: 'the kernel probes the architectures it has a driver for', profile: profile.name, results }
}

/**
 * "the first domain of a <request> request takes bank <first bank>" on every SMMUv1/v2 fixture:
 * the table gives, per stage support, `0` or `NUMS2CB` (the fixture's stage-2-only bank count);
 * a first bank at or past NUMCB means the attach fails with ENOSPC.
 */
export function checkFirstBankRule(fixtures: readonly FeatureSet[], profile: Profile, request: RequestedStage, rows: readonly RuleRow[]): CatalogueCheck {
  const table = bySupport(rows, 'first bank', ['0', 'NUMS2CB'])
  return overCatalogue(fixtures, profile, `the first ${request === 'S1' ? 'stage 1' : 'nested'} domain takes the first bank its stage support gives`, (e) => {
    if (e.bankRanges === undefined) return undefined
    const rule = table.get(e)
    const hw = e.fixture
    const first = rule === 'NUMS2CB' ? hw.s2OnlyContextBanks : 0
    const expected = rule === undefined ? `(no row for ${e.support})` : first >= hw.contextBanks ? 'ENOSPC' : `bank ${first}`
    const r = e.requests[request]
    const actual = r.attach.ok ? `bank ${r.context?.bank ?? '?'}` : r.attach.error.errno
    return { expected, actual }
  })
}

/**
 * VFIO with a nesting container on every fixture: CHECK_EXTENSION(nesting) before a group,
 * SET_IOMMU(nesting) once the group is in the container, CHECK_EXTENSION(nesting) after, per stage
 * support. Columns: stage support, CHECK_EXTENSION before, SET_IOMMU, CHECK_EXTENSION after.
 */
export function checkVfioNestingRule(fixtures: readonly FeatureSet[], profile: Profile, rows: readonly RuleRow[]): CatalogueCheck {
  const columns = ['CHECK_EXTENSION before', 'SET_IOMMU', 'CHECK_EXTENSION after'] as const
  const tables = columns.map((c) => bySupport(rows, c))
  return overCatalogue(fixtures, profile, 'SET_IOMMU(nesting) and CHECK_EXTENSION(nesting) give what the stage support says', (e) => {
    const v = e.vfio
    if (v === undefined) return undefined
    const cells = tables.map((t) => t.get(e))
    return {
      expected: cells.every((c) => c !== undefined) ? cells.join(' / ') : `(no row for ${e.support})`,
      actual: [String(v.checkBefore), v.setIommu.ok ? 'ok' : v.setIommu.error.errno, String(v.checkAfter)].join(' / '),
    }
  })
}

/** Every fixture that gives ID registers: they decode to the features it has. */
export function checkRegisterRule(fixtures: readonly FeatureSet[], profile: Profile): CatalogueCheck {
  const results = fixtures.map((hw): FixtureCheck => {
    const support = stageSupport(hw)
    if (hw.idRegisters === undefined || hw.arch === 'intel-vtd') return { fixture: hw.name, support, verdict: 'not applicable', expected: '-', actual: 'no registers' }
    const decoded = decodeIdRegisters(hw.arch, hw.idRegisters, hw.compatible).fields
    const fields = DECODABLE_FIELDS.filter((f) => decoded[f] !== undefined)
    const differing = fields.filter((f) => !sameDecodedValue(featureValue(hw, f), (decoded[f] as { value: DecodedValue }).value))
    const expected = `${fields.length} fields agree`
    const actual = differing.length === 0 ? expected : `differ: ${differing.join(', ')}`
    return { fixture: hw.name, support, verdict: actual === expected ? 'passed' : 'failed', expected, actual }
  })
  return { rule: 'the ID registers, when given, decode to the fixture\'s features', profile: profile.name, results }
}

/** The feature set's value of a fixture field (YAML path). */
function featureValue(hw: FeatureSet, field: DecodableField): DecodedValue {
  const values: Record<DecodableField, DecodedValue> = {
    'translation.stage1': hw.translation.stage1,
    'translation.stage2': hw.translation.stage2,
    'translation.nested': hw.translation.nested,
    context_banks: hw.contextBanks,
    s2_only_context_banks: hw.s2OnlyContextBanks,
    asid_bits: hw.asidBits,
    vmid_bits: hw.vmidBits,
    ias: hw.ias,
    oas: hw.oas,
    granules: hw.granules,
    stream_id_bits: hw.streamIdBits,
    coherent_walk: hw.coherentWalk,
    s2fwb: hw.s2fwb,
    ats: hw.ats,
  }
  return values[field]
}

/**
 * The checks a nesting request through iommufd meets, in the order its calls meet them, as facts
 * of the fixture (the rule table in the feature gives each one's outcome). Sources: iommufd
 * device.c iommufd_device_bind (IOMMU_CAP_CACHE_COHERENCY: arm-smmu and arm-smmu-v3 say the
 * coherent walk, intel-iommu always yes); arm-smmu-v3.c arm_smmu_domain_alloc_paging_flags
 * (NEST_PARENT needs FEAT_NESTING = S1P and S2P; arm-smmu v1/v2 and a VT-d without ECAP.NEST
 * refuse it), arm_smmu_device_iidr_probe (Arm MMU-600 before r2: erratum 1209401; Arm MMU-700 r0
 * or p0: errata 2268618, 2812531, as 7.3.4 has it); arm-smmu-v3-iommufd.c arm_smmu_get_viommu_size
 * (S2FWB or the IORT's CANWBS).
 */
export const IOMMUFD_NESTING_CHECKS: Readonly<Record<string, (hw: FeatureSet) => boolean>> = {
  'coherent (IOMMU_CAP_CACHE_COHERENCY)': (hw) => hw.arch === 'intel-vtd' || hw.coherentWalk,
  'SMMUv3 with S1P and S2P': (hw) => hw.arch === 'smmuv3' && hw.translation.stage1 && hw.translation.stage2,
  'no nesting erratum': (hw) => !hasNestingErratum(hw),
  'S2FWB or IORT CANWBS': (hw) => hw.s2fwb || hw.firmware.iortCanwbs,
}

const IIDR_ARM = 0x43b
const MMU_600 = 0x483
const MMU_700 = 0x487

function hasNestingErratum(hw: FeatureSet): boolean {
  const regs = hw.idRegisters
  if (hw.arch !== 'smmuv3' || regs?.iidr === undefined || fieldValue(regs, SMMU_V3_IDR.IIDR_IMPLEMENTER) !== IIDR_ARM) return false
  const product = fieldValue(regs, SMMU_V3_IDR.IIDR_PRODUCTID)
  const variant = fieldValue(regs, SMMU_V3_IDR.IIDR_VARIANT) ?? 0
  const revision = fieldValue(regs, SMMU_V3_IDR.IIDR_REVISION) ?? 0
  return (product === MMU_600 && variant < 2) || (product === MMU_700 && (variant < 1 || revision < 1))
}

/**
 * "every fixture: the nesting request through iommufd ends with the outcome of the first check the
 * fixture fails, or `attached`". Columns: check (one of IOMMUFD_NESTING_CHECKS, in the order the
 * calls meet them), outcome; any other column (a source) is for the reader.
 */
export function checkIommufdNestingRule(fixtures: readonly FeatureSet[], profile: Profile, rows: readonly RuleRow[]): CatalogueCheck {
  const checks = rows.map((row) => {
    const name = row.check
    const outcome = row.outcome
    if (name === undefined || outcome === undefined) throw new Error('the iommufd nesting table needs the columns "check" and "outcome"')
    const holds = IOMMUFD_NESTING_CHECKS[name]
    if (holds === undefined) throw new Error(`"${name}" is not a check (${Object.keys(IOMMUFD_NESTING_CHECKS).join('; ')})`)
    return { holds, outcome }
  })
  return overCatalogue(fixtures, profile, 'a nesting request through iommufd ends at the first check the fixture fails', (e) => {
    if (e.iommufd === undefined) return undefined
    return { expected: checks.find((c) => !c.holds(e.fixture))?.outcome ?? 'attached', actual: e.iommufd.outcome }
  })
}
