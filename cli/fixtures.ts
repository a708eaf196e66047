/**
 * `smmu-nesting-tck fixtures validate [FILES...]` and `smmu-nesting-tck fixtures list`.
 *
 * validate: every problem of every file on stderr as `file:line:column: field: reason [CODE]`,
 * a line per file and a summary on stdout. Exit status 0 when every file is valid, 1 when one is
 * not, 2 for a usage error.
 * list: a table of the catalogue on stdout (or JSON with --json); fixtures that do not load are
 * reported on stderr and make the exit status 1.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Command, Option } from 'commander'
import { describeStages, FIXTURES_DIR, formatFixtureError, listFixtureNames, loadFixtureFile, type FeatureSet, type FixtureError } from '../model/hw'
import { hex32, type IdRegisterName } from '../model/hw/registers'
import type { Io } from './replay'

export const FIXTURES_EXIT = { VALID: 0, INVALID: 1, USAGE: 2 } as const

const CODES_HELP = `
Error codes: YAML_SYNTAX (malformed YAML), NOT_A_MAPPING, UNKNOWN_KEY, MISSING_FIELD, WRONG_TYPE,
BAD_VALUE (not an allowed value), OUT_OF_RANGE, NAME_MISMATCH (name differs from the file name),
INCONSISTENT (fields that contradict each other or the architecture), REGISTER_MISMATCH (a
declared field disagrees with what id_registers decode to), NOT_FOUND (unreadable file).`

/** `smmu-nesting-tck fixtures ...`; `done` receives the exit status. */
export function addFixturesCommand(program: Command, io: Io, done: (status: number) => void): void {
  const fixtures = program
    .command('fixtures')
    .summary('validate and list hardware fixtures')
    .description('Hardware fixtures: YAML files describing an SMMU (fixtures/ is the catalogue; docs/fixtures.md says how to add one).')

  fixtures
    .command('validate')
    .summary('check fixture files against the schema and the architecture')
    .description(
      'Check fixture files: YAML syntax, the JSON schema (fixtures/schema/fixture.schema.json: unknown keys, types, ranges), ' +
        'then the rules the schema cannot state (consistent stages and banks, ID registers agreeing with declared fields). ' +
        'With no FILES, the whole catalogue. A folder stands for the .yaml files in it.',
    )
    .argument('[files...]', 'fixture files or folders (default: the catalogue)')
    .addHelpText(
      'after',
      `
Output: every problem on stderr as "file:line:column: field: reason [CODE]"; one line per file
("file: ok" or "file: N problems") and a summary on stdout.
${CODES_HELP}

Exit status: ${FIXTURES_EXIT.VALID} every file is valid, ${FIXTURES_EXIT.INVALID} a file is not, ${FIXTURES_EXIT.USAGE} usage error.

Examples:
  smmu-nesting-tck fixtures validate
  smmu-nesting-tck fixtures validate my-soc-smmu.yaml`,
    )
    .action((files: string[]) => done(validate(files, io)))

  fixtures
    .command('list')
    .summary('a table of the catalogue')
    .description('List the fixtures in the catalogue: name, architecture, stages, context banks, IAS/OAS, ID registers given, source.')
    .addOption(new Option('--dir <folder>', 'another folder of fixtures').default(FIXTURES_DIR, 'fixtures/'))
    .option('--json', 'print every fixture\'s feature set as JSON instead')
    .addHelpText('after', `\nExit status: ${FIXTURES_EXIT.VALID} listed, ${FIXTURES_EXIT.INVALID} a fixture in the folder does not load (its problems on stderr), ${FIXTURES_EXIT.USAGE} usage error.`)
    .action((opts: { dir: string; json?: boolean }) => done(list(opts.dir, opts.json === true, io)))
}

/** Files to check: the arguments (folders expanded), or the catalogue. */
function filesToValidate(args: readonly string[]): string[] | { error: string } {
  if (args.length === 0) return listFixtureNames().map((n) => displayPath(path.join(FIXTURES_DIR, `${n}.yaml`)))
  const files: string[] = []
  for (const a of args) {
    let isDir = false
    try {
      isDir = fs.statSync(a).isDirectory()
    } catch {
      isDir = false // a missing file is reported by the loader as NOT_FOUND
    }
    if (isDir) {
      const inside = listFixtureNames(a).map((n) => path.join(a, `${n}.yaml`))
      if (inside.length === 0) return { error: `no .yaml files in ${a}` }
      files.push(...inside)
    } else {
      files.push(a)
    }
  }
  return files
}

export function validate(args: readonly string[], io: Io): number {
  const files = filesToValidate(args)
  if (!Array.isArray(files)) {
    io.err(`smmu-nesting-tck: ${files.error}`)
    return FIXTURES_EXIT.USAGE
  }
  let invalid = 0
  for (const file of files) {
    const { errors } = loadFixtureFile(file)
    for (const e of errors) io.err(formatFixtureError(e))
    if (errors.length > 0) invalid++
    io.out(`${file}: ${errors.length === 0 ? 'ok' : `${errors.length} problem${errors.length === 1 ? '' : 's'}`}`)
  }
  const noun = files.length === 1 ? 'fixture' : 'fixtures'
  io.out(invalid === 0 ? `${files.length} ${noun}, all valid` : `${files.length} ${noun}, ${invalid} invalid`)
  return invalid === 0 ? FIXTURES_EXIT.VALID : FIXTURES_EXIT.INVALID
}

export function list(dir: string, json: boolean, io: Io): number {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    io.err(`smmu-nesting-tck: ${dir} is not a folder`)
    return FIXTURES_EXIT.USAGE
  }
  const loaded = listFixtureNames(dir).map((n) => loadFixtureFile(displayPath(path.join(dir, `${n}.yaml`))))
  const fixtures = loaded.flatMap((r) => (r.fixture === undefined ? [] : [r.fixture]))
  const errors: FixtureError[] = loaded.flatMap((r) => r.errors)
  if (json) io.out(JSON.stringify(fixtures, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), 2))
  else for (const line of table(fixtures)) io.out(line)
  for (const e of errors) io.err(formatFixtureError(e))
  return errors.length === 0 ? FIXTURES_EXIT.VALID : FIXTURES_EXIT.INVALID
}

const SOURCE_WIDTH = 60

function table(fixtures: readonly FeatureSet[]): string[] {
  const head = ['name', 'architecture', 'stages', 'banks', 'IAS/OAS', 'ID registers', 'source']
  const rows = fixtures.map((f) => [f.name, f.arch, describeStages(f.translation), banks(f), `${f.ias}/${f.oas}`, registers(f), source(f)])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), `${fixtures.length} fixtures`]
}

function banks(f: FeatureSet): string {
  if (f.arch === 'smmuv3') return '- (STEs)'
  if (f.arch === 'intel-vtd') return '-'
  return f.s2OnlyContextBanks === 0 ? String(f.contextBanks) : `${f.contextBanks} (${f.s2OnlyContextBanks} S2-only)`
}

function registers(f: FeatureSet): string {
  const given = Object.entries(f.idRegisters ?? {}) as [IdRegisterName, number][]
  return given.length === 0 ? '-' : given.map(([r, v]) => `${r.toUpperCase()}=${hex32(v)}`).join(' ')
}

function source(f: FeatureSet): string {
  if (f.kind === 'synthetic' || f.source === undefined) return 'synthetic'
  const s = f.source.replace(/\s+/g, ' ')
  return s.length <= SOURCE_WIDTH ? s : `${s.slice(0, SOURCE_WIDTH - 3)}...`
}

/** A path relative to the working folder when it lies inside it (shorter messages). */
function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p)
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : rel
}
