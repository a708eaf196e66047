/**
 * `smmu-nesting-tck explain --fixture F [--profile P]`: what the model does on that hardware under
 * each kernel. Everything printed is an observation of the model (model/hw/survey.ts runs it):
 * the stage a stage-1 and a nested request get, whether the nesting request and the attach
 * succeed, the context each gets, the context-bank ranges, and what VFIO says (CHECK_EXTENSION
 * and SET_IOMMU of the nesting type).
 *
 * Exit status: 0 explained, 2 usage error (unknown profile, a fixture that does not load).
 */
import { Command, Option } from 'commander'
import type { Result } from '../model/errno'
import { describeStages, formatFixtureError, listFixtureNames, loadFixtureFile, resolveFixturePath, type FeatureSet } from '../model/hw'
import { hex32, type IdRegisterName } from '../model/hw/registers'
import { explainFixture, REQUESTS, type ContextReport, type Explanation, type RequestReport } from '../model/survey'
import { getProfile, isProfileName, PROFILE_NAMES, unknownProfileMessage, type Profile } from '../model/profiles'
import type { BankRange } from '../model/smmu'
import { extensionValue } from '../model/uapi/vfio'
import { notInCatalogue, type Io } from './replay'

export const EXPLAIN_EXIT = { OK: 0, USAGE: 2 } as const

export function addExplainCommand(program: Command, io: Io, done: (status: number) => void): void {
  program
    .command('explain')
    .summary('what the model does on one fixture, per behaviour profile')
    .description(
      'Run the model on one hardware fixture under each behaviour profile (a kernel) and report what happens: ' +
        'which stage a stage-1 and a nested request get, whether the nesting request and the attach succeed, ' +
        'the context each domain takes, the context-bank ranges, and what VFIO answers to CHECK_EXTENSION and ' +
        'SET_IOMMU with the nesting type. This is a report of the model, not an expectation.',
    )
    .addOption(new Option('-f, --fixture <name>', 'a catalogue name (see below) or a path to a YAML file').makeOptionMandatory())
    .addOption(new Option('-p, --profile <name>', `one behaviour profile (default: all): ${PROFILE_NAMES.join(', ')}`))
    .option('--json', 'print the observations as JSON')
    .addHelpText(
      'after',
      () => `
Example:
  smmu-nesting-tck explain --fixture qemu-smmuv3-7.2 --profile linux-6.1

Exit status: ${EXPLAIN_EXIT.OK} explained, ${EXPLAIN_EXIT.USAGE} usage error (unknown profile, a fixture that does not load).

Fixtures in the catalogue: ${listFixtureNames().join(', ')}`,
    )
    .action((opts: { fixture: string; profile?: string; json?: boolean }) => done(runExplain(opts, io)))
}

export function runExplain(opts: { fixture: string; profile?: string; json?: boolean }, io: Io): number {
  if (opts.profile !== undefined && !isProfileName(opts.profile)) {
    io.err(`smmu-nesting-tck: ${unknownProfileMessage(opts.profile)}`)
    return EXPLAIN_EXIT.USAGE
  }
  const { fixture, errors } = loadFixtureFile(resolveFixturePath(opts.fixture))
  if (fixture === undefined) {
    io.err('smmu-nesting-tck: the fixture does not load:')
    for (const e of errors) io.err(`  ${formatFixtureError(e)}`)
    if (errors.some((e) => e.code === 'NOT_FOUND')) io.err(notInCatalogue([opts.fixture]))
    return EXPLAIN_EXIT.USAGE
  }
  const profiles = (opts.profile === undefined ? [...PROFILE_NAMES] : [opts.profile]).map((p) => getProfile(p))
  const explanations = profiles.map((p) => explainFixture(fixture, p))
  if (opts.json === true) io.out(JSON.stringify(explanations.map(toJson), null, 2))
  else for (const line of [...describeFixture(fixture), ...explanations.flatMap(describe)]) io.out(line)
  return EXPLAIN_EXIT.OK
}

// ---- text ----

function describeFixture(hw: FeatureSet): string[] {
  const ids = hw.arch === 'smmuv3' ? `, ${hw.asidBits}-bit ASIDs, ${hw.vmidBits}-bit VMIDs` : ''
  const banks = hw.arch === 'smmuv1' || hw.arch === 'smmuv2' ? `, ${hw.contextBanks} context banks (${hw.s2OnlyContextBanks} stage-2-only)` : ''
  const lines = [
    `${hw.name}: ${hw.description}`,
    `  ${hw.arch}, ${describeStages(hw.translation)}${banks}${ids}, IAS ${hw.ias}, OAS ${hw.oas}, granules ${hw.granules.join('/')}, ${hw.streamIdBits} stream ID bits${hw.coherentWalk ? ', coherent walk' : ''}`,
  ]
  const regs = Object.entries(hw.idRegisters ?? {}) as [IdRegisterName, number][]
  if (regs.length > 0) lines.push(`  ID registers: ${regs.map(([r, v]) => `${r.toUpperCase()} ${hex32(v)}`).join(', ')}${hw.decodedFields?.length ? ` (decoded: ${hw.decodedFields.join(', ')})` : ''}`)
  return lines
}

const LABEL = 22

function row(label: string, text: string): string {
  return `  ${label.padEnd(LABEL)}${text}`
}

function describe(e: Explanation): string[] {
  const p = e.profile
  const lines = ['', `${p.name}: ${p.title}`]
  if (e.requests === undefined) {
    lines.push(row('driver', `none: this kernel has no ${e.fixture.arch} driver (probe: ${errno(e.probe)}); nothing else applies`))
    return lines
  }
  lines.push(row('driver', `${driverName(e.fixture)} probes it (stage support ${e.support})`))
  for (const r of REQUESTS) lines.push(row(r === 'S1' ? 'stage 1 request' : 'nested request', describeRequest(r === 'S1' ? e.requests.S1 : e.requests.NESTED, p)))
  lines.push(row('context banks', describeBanks(e)))
  if (e.vfio !== undefined) {
    const v = e.vfio
    const reserved = extensionValue(p.vfio.uapi, '__VFIO_RESERVED_TYPE1_NESTING_IOMMU') === v.nestingType
    const type = reserved ? `type ${v.nestingType} (__VFIO_RESERVED_TYPE1_NESTING_IOMMU, formerly VFIO_TYPE1_NESTING_IOMMU)` : `VFIO_TYPE1_NESTING_IOMMU (${v.nestingType})`
    lines.push(row('CHECK_EXTENSION', `${type}: ${v.checkBefore} on a new container, ${v.checkAfter} after SET_IOMMU`))
    const stage = v.domainStage === undefined ? '' : `; group ${v.group}'s domain has stage ${v.domainStage}`
    lines.push(row('SET_IOMMU', `${type} with group ${v.group} in the container: ${v.setIommu.ok ? 'ok' : errno(v.setIommu)}${stage}`))
  }
  if (e.iommufd !== undefined) {
    const why = e.iommufd.why === undefined ? '' : ` (${e.iommufd.why})`
    lines.push(row('nesting via iommufd', `bind, NEST_PARENT, vIOMMU, vDEVICE, nested HWPT, attach: ${e.iommufd.outcome}${why}`))
  }
  return lines
}

function describeRequest(r: RequestReport, p: Profile): string {
  const parts: string[] = []
  if (r.noNestingApi === true) parts.push('no call asks a domain to nest in this kernel (iommu_enable_nesting() was removed in 6.13)')
  if (r.nestingRequest !== undefined) {
    const call = p.iommu.nestingApi === 'domain-attr' ? 'set_attr(NESTING, 1)' : 'iommu_enable_nesting()'
    parts.push(`${call}: ${r.nestingRequest.ok ? 'ok' : errno(r.nestingRequest)}`)
  }
  parts.push(`attach: ${r.attach.ok ? 'ok' : errno(r.attach)}`)
  parts.push(`stage ${r.stage}${r.request === 'NESTED' && r.stage !== 'NESTED' ? ' (not nested)' : ''}`)
  parts.push(r.context === undefined ? 'no context' : describeContext(r.context))
  return parts.join('; ')
}

function describeContext(c: ContextReport): string {
  const ids = [c.asid === undefined ? '' : `ASID ${c.asid}`, c.vmid === undefined ? '' : `VMID ${c.vmid}`].filter((s) => s !== '').join(', ')
  const where =
    c.kind === 'context-bank' ? `context bank ${c.bank} (${c.cbar})` : c.kind === 'stream-table' ? 'stream table entry' : `VT-d context, domain ID ${c.domainId}`
  return `${where}, translates at ${c.translation}${ids === '' ? '' : `, ${ids}`}`
}

function describeBanks(e: Explanation): string {
  if (e.bankRanges === undefined) return e.fixture.arch === 'smmuv3' ? 'none (SMMUv3: stream table entries; ASIDs and VMIDs)' : 'none'
  const r = e.bankRanges
  const parts: [string, BankRange | undefined][] = [['stage 1', r.S1], ['stage 2', r.S2], ['nested', r.NESTED]]
  return parts.flatMap(([what, b]) => (b === undefined ? [] : [`${what} ${range(b)}`])).join('; ')
}

function range(r: BankRange): string {
  if (r.first > r.last) return 'none'
  return r.first === r.last ? `bank ${r.first}` : `banks ${r.first}-${r.last}`
}

function driverName(hw: FeatureSet): string {
  return hw.arch === 'smmuv3' ? 'arm-smmu-v3' : hw.arch === 'intel-vtd' ? 'intel-iommu' : 'arm-smmu'
}

function errno(r: Result<unknown>): string {
  return r.ok ? 'ok' : r.error.errno
}

// ---- JSON ----

function toJson(e: Explanation): unknown {
  const result = (r: Result<unknown>): string => errno(r)
  return {
    fixture: e.fixture.name,
    profile: e.profile.name,
    support: e.support,
    probe: result(e.probe),
    ...(e.requests === undefined
      ? {}
      : {
          requests: Object.fromEntries(
            REQUESTS.map((k) => {
              const r = e.requests?.[k] as RequestReport
              return [k, { ...(r.nestingRequest === undefined ? {} : { nestingRequest: result(r.nestingRequest) }), attach: result(r.attach), stage: r.stage, ...(r.context === undefined ? {} : { context: r.context }) }]
            }),
          ),
        }),
    ...(e.bankRanges === undefined ? {} : { bankRanges: e.bankRanges }),
    ...(e.vfio === undefined ? {} : { vfio: { ...e.vfio, setIommu: result(e.vfio.setIommu) } }),
    ...(e.iommufd === undefined ? {} : { iommufd: e.iommufd.outcome }),
  }
}
