#!/usr/bin/env node
// Compile once: every TypeScript file of the checkout (`**/*.ts` outside node_modules, dist,
// reports and dot-directories: the same set tsconfig.json's `include` names) runs as the
// JavaScript file at the same path under dist/. `npm ci` builds it (the `prepare` script); every
// entry point (bin/smmu-nesting-tck.js, bin/run.js, cucumber.js, npm test) calls ensureBuilt()
// first, which re-emits exactly the sources newer than their JavaScript (or than a constant their
// JavaScript inlined, below) and deletes JavaScript whose source is gone, so nothing ever runs
// JavaScript older than its TypeScript. When nothing changed this is one directory walk, two
// stats per file and a hash of the build's own three files (a few ms); typescript itself is
// loaded only when something needs emitting.
//
// Each file is emitted on its own, without type information (transpileModule, what ts-node
// --transpile-only did; type-checking stays `npm run typecheck`'s job), with one transform,
// bin/inline-constants.js: a `const` whose value is a number or bigint known at compile time is
// replaced by its value wherever it is read, so the model reads its constants where they are
// defined at no cost (why, with the measurements, is in that file). To know what a name refers
// to, the transform asks a TypeScript program over the files to emit and the sources they import
// (only those: other modules resolve to nothing). dist/.constants.json records which sources each
// file read constants from, so changing a constant re-emits the files that read it, and which
// build wrote dist/, so a change to this file, its transform or tsconfig.json re-emits everything.
//
//   node bin/build.js            bring dist/ up to date (what `npm ci` runs)
//   node bin/build.js --check    exit 1 if dist/ is out of date, without changing it
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { createInliner, replacingTransformer } = require('./inline-constants')

const ROOT = path.resolve(__dirname, '..')
const DIST = path.join(ROOT, 'dist')
/** Top-level directories that hold no sources of ours (dot-directories are skipped too). */
const SKIP = new Set(['node_modules', 'dist', 'reports'])

/** Relative paths (with '/') of every .ts source, .d.ts excepted. */
function sourceFiles() {
  const out = []
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue
      const child = rel === '' ? e.name : `${rel}/${e.name}`
      if (e.isDirectory()) {
        if (!(rel === '' && SKIP.has(e.name))) walk(child)
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        out.push(child)
      }
    }
  }
  walk('')
  return out.sort()
}

/** Relative paths (with '/') of every .js file under dist/. */
function builtFiles() {
  const out = []
  const walk = (rel) => {
    let entries
    try {
      entries = fs.readdirSync(path.join(DIST, rel), { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`
      if (e.isDirectory()) walk(child)
      else if (e.name.endsWith('.js')) out.push(child)
    }
  }
  walk('')
  return out
}

const jsOf = (ts) => ts.slice(0, -'.ts'.length) + '.js'
const mtime = (file) => {
  try {
    return fs.statSync(file).mtimeMs
  } catch {
    return -1
  }
}

/**
 * dist/.constants.json: which build wrote dist/ (`builder`, a hash of this file, its transform
 * and tsconfig.json: when one changes, everything is emitted again) and, for each source, the
 * sources whose constants its JavaScript read (`constants`).
 */
const RECORD = path.join(DIST, '.constants.json')

function builderHash() {
  const hash = require('node:crypto').createHash('sha256')
  for (const file of [path.join(__dirname, 'build.js'), path.join(__dirname, 'inline-constants.js'), path.join(ROOT, 'tsconfig.json')]) hash.update(fs.readFileSync(file))
  return hash.digest('hex').slice(0, 16)
}

/** The record's constant sources, or undefined when another build (or none) wrote dist/. */
function readRecord(builder) {
  try {
    const parsed = JSON.parse(fs.readFileSync(RECORD, 'utf8'))
    return parsed?.builder === builder && typeof parsed.constants === 'object' && parsed.constants !== null ? parsed.constants : undefined
  } catch {
    return undefined
  }
}

/**
 * What is out of date: sources to emit (all of them if another build wrote dist/; else those newer
 * than their JavaScript, or than a source it read a constant from, or reading one that is gone),
 * and built files whose source is gone.
 */
function plan() {
  const sources = sourceFiles()
  const builder = builderHash()
  const record = readRecord(builder)
  const times = new Map()
  const time = (rel) => {
    if (!times.has(rel)) times.set(rel, mtime(path.join(ROOT, rel)))
    return times.get(rel)
  }
  const stale = sources.filter((ts) => {
    if (record === undefined) return true
    const built = mtime(path.join(DIST, jsOf(ts)))
    if (built < time(ts)) return true
    return (record[ts] ?? []).some((dep) => time(dep) < 0 || built < time(dep))
  })
  const wanted = new Set(sources.map(jsOf))
  const orphans = builtFiles().filter((js) => !wanted.has(js))
  return { sources, stale, orphans, builder, record: record ?? {} }
}

/** The compiler options tsconfig.json gives, for emitting one file at a time. */
function compilerOptions(ts) {
  const file = path.join(ROOT, 'tsconfig.json')
  const read = ts.readConfigFile(file, ts.sys.readFile)
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'))
  const parsed = ts.convertCompilerOptionsFromJson(read.config.compilerOptions, ROOT, file)
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n'))
  return { ...parsed.options, noEmit: false, incremental: false, tsBuildInfoFile: undefined, sourceMap: true, inlineSourceMap: false, inlineSources: false }
}

/**
 * The program the inliner resolves names in: `files` and the sources they import, nothing else
 * (relative imports resolve to our .ts files, every other module to nothing; no lib or @types
 * declarations: the values of constants need none of them).
 */
function sourceProgram(ts, files, options) {
  const programOptions = { ...options, noLib: true, types: [], noEmit: true, sourceMap: false }
  const host = ts.createCompilerHost(programOptions)
  const resolveOne = (name, containing) => {
    if (!name.startsWith('./') && !name.startsWith('../')) return undefined
    const base = path.resolve(path.dirname(containing), name)
    for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) {
      if (fs.existsSync(candidate)) return { resolvedFileName: candidate, extension: ts.Extension.Ts, isExternalLibraryImport: false }
    }
    return undefined
  }
  host.resolveModuleNameLiterals = (literals, containing) => literals.map((lit) => ({ resolvedModule: resolveOne(lit.text, containing) }))
  return ts.createProgram({ rootNames: files, options: programOptions, host })
}

/**
 * Emits `rels` (source paths relative to ROOT) to dist/, one file at a time (transpileModule, no
 * type information) with the inliner's replacements, each JavaScript file with an inline source
 * map naming its .ts file (so stack traces show TypeScript lines). Returns each one's constant
 * sources (relative paths).
 */
function emit(ts, rels) {
  const options = compilerOptions(ts)
  const files = rels.map((rel) => path.join(ROOT, rel))
  const program = sourceProgram(ts, files, options)
  const inliner = createInliner(ts, program)
  const constants = {}
  for (const [i, rel] of rels.entries()) {
    const sourceFile = program.getSourceFile(files[i])
    if (sourceFile === undefined) throw new Error(`build: ${rel} is not in the program`)
    const replacements = inliner.replacementsIn(sourceFile)
    const js = path.join(DIST, jsOf(rel))
    const out = ts.transpileModule(sourceFile.text, { compilerOptions: options, fileName: files[i], reportDiagnostics: false, transformers: { before: [replacingTransformer(ts, replacements)] } })
    const map = { ...JSON.parse(out.sourceMapText), file: path.basename(js), sources: [path.relative(path.dirname(js), files[i])] }
    const code = out.outputText.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n')
    writeAtomically(js, `${code}//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`)
    constants[rel] = inliner.sourcesOf(sourceFile.fileName).map((file) => path.relative(ROOT, file).split(path.sep).join('/'))
  }
  return constants
}

/** Writes `text` to `file` so that a concurrent reader sees the old file or the new one, whole. */
function writeAtomically(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, text)
  fs.renameSync(tmp, file)
}

/**
 * Brings dist/ up to date with the sources; returns how many files it emitted and removed.
 * `log` (default: stderr) hears one line when anything had to be done.
 */
function ensureBuilt(log = (line) => process.stderr.write(`${line}\n`)) {
  const { sources, stale, orphans, builder, record } = plan()
  for (const js of orphans) fs.rmSync(path.join(DIST, js), { force: true })
  if (stale.length > 0) {
    const started = Date.now()
    const emitted = emit(require('typescript'), stale)
    const known = new Set(sources)
    const constants = Object.fromEntries(Object.entries({ ...record, ...emitted }).filter(([rel, deps]) => known.has(rel) && deps.length > 0).sort())
    writeAtomically(RECORD, `${JSON.stringify({ builder, constants }, null, 1)}\n`)
    log(`build: emitted ${stale.length} TypeScript file(s) to dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
  return { emitted: stale.length, removed: orphans.length }
}

module.exports = { ensureBuilt, sourceFiles, plan, ROOT, DIST }

if (require.main === module) {
  if (process.argv.includes('--check')) {
    const { stale, orphans } = plan()
    for (const f of stale) console.log(`stale: ${f}`)
    for (const f of orphans) console.log(`orphan: dist/${f}`)
    process.exitCode = stale.length + orphans.length > 0 ? 1 : 0
  } else {
    ensureBuilt()
  }
}
