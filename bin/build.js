#!/usr/bin/env node
// Compile once: every TypeScript file of the checkout (`**/*.ts` outside node_modules, dist,
// reports and dot-directories: the same set tsconfig.json's `include` names) runs as the
// JavaScript file at the same path under dist/. `npm ci` builds it (the `prepare` script); every
// entry point (bin/smmu-nesting-tck.js, bin/run.js, cucumber.js, npm test) calls ensureBuilt()
// first, which re-transpiles exactly the sources newer than their JavaScript and deletes
// JavaScript whose source is gone, so nothing ever runs JavaScript older than its TypeScript.
// When nothing changed this is one directory walk and two stats per file (a few ms); typescript
// itself is loaded only when something needs transpiling.
//
// Transpiling is per file, without type information (what ts-node --transpile-only did at every
// start); type-checking stays `npm run typecheck`'s job.
//
//   node bin/build.js            bring dist/ up to date (what `npm ci` runs)
//   node bin/build.js --check    exit 1 if dist/ is out of date, without changing it
'use strict'
const fs = require('node:fs')
const path = require('node:path')

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

/** What is out of date: sources to transpile, and built files whose source is gone. */
function plan() {
  const sources = sourceFiles()
  const stale = sources.filter((ts) => mtime(path.join(DIST, jsOf(ts))) < mtime(path.join(ROOT, ts)))
  const wanted = new Set(sources.map(jsOf))
  const orphans = builtFiles().filter((js) => !wanted.has(js))
  return { sources, stale, orphans }
}

/** The compiler options tsconfig.json gives, for transpiling one file at a time. */
function compilerOptions(ts) {
  const file = path.join(ROOT, 'tsconfig.json')
  const read = ts.readConfigFile(file, ts.sys.readFile)
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'))
  const parsed = ts.convertCompilerOptionsFromJson(read.config.compilerOptions, ROOT, file)
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n'))
  return { ...parsed.options, noEmit: false, incremental: false, tsBuildInfoFile: undefined, sourceMap: true, inlineSourceMap: false, inlineSources: false }
}

/** Writes `text` to `file` so that a concurrent reader sees the old file or the new one, whole. */
function writeAtomically(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, text)
  fs.renameSync(tmp, file)
}

/**
 * Brings dist/ up to date with the sources; returns how many files it transpiled and removed.
 * `log` (default: stderr) hears one line when anything had to be done.
 */
function ensureBuilt(log = (line) => process.stderr.write(`${line}\n`)) {
  const { stale, orphans } = plan()
  for (const js of orphans) fs.rmSync(path.join(DIST, js), { force: true })
  if (stale.length > 0) {
    const started = Date.now()
    const ts = require('typescript')
    const options = compilerOptions(ts)
    for (const rel of stale) {
      const text = fs.readFileSync(path.join(ROOT, rel), 'utf8')
      const js = path.join(DIST, jsOf(rel))
      const out = ts.transpileModule(text, { compilerOptions: options, fileName: path.join(ROOT, rel), reportDiagnostics: false })
      // An inline source map naming the .ts file, so stack traces show TypeScript lines.
      const map = { ...JSON.parse(out.sourceMapText), file: path.basename(js), sources: [path.relative(path.dirname(js), path.join(ROOT, rel))] }
      const code = out.outputText.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n')
      writeAtomically(js, `${code}//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`)
    }
    log(`build: transpiled ${stale.length} TypeScript file(s) to dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
  return { transpiled: stale.length, removed: orphans.length }
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
