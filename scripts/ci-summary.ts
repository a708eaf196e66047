// Prints "N passed, N failed" from the reports `npm test` leaves: reports/features-summary.json
// (scenarios, all profiles) and reports/unit.tap (node:test). A missing report (a stage that did
// not run, e.g. type-check failed first) counts as one failure. Exit code 1 when anything failed.
import * as fs from 'node:fs'

let passed = 0
let failed = 0
try {
  const f = JSON.parse(fs.readFileSync('reports/features-summary.json', 'utf8'))
  passed += f.passed
  failed += f.failed + (f.success ? 0 : f.failed === 0 ? 1 : 0)
} catch {
  failed += 1
}
try {
  const tap = fs.readFileSync('reports/unit.tap', 'utf8')
  const count = (key: string): number => Number(tap.match(new RegExp(`^# ${key} (\\d+)$`, 'm'))?.[1] ?? NaN)
  const p = count('pass')
  const f = count('fail')
  if (Number.isNaN(p) || Number.isNaN(f)) failed += 1
  else {
    passed += p
    failed += f + suiteFailures(tap)
  }
} catch {
  failed += 1
}
console.log(`${passed} passed, ${failed} failed`)

/**
 * Suites that failed outside any test (their body threw while the tests were being defined, or a
 * hook failed): node:test marks them `not ok` but counts no test in `# fail`. One failure each.
 */
function suiteFailures(tap: string): number {
  let n = 0
  const lines = tap.split('\n')
  lines.forEach((line, i) => {
    if (!/^\s*not ok \d+ /.test(line)) return
    const end = lines.findIndex((l, j) => j > i && /^\s*\.\.\.$/.test(l))
    const block = lines.slice(i + 1, end < 0 ? undefined : end).join('\n')
    if (/type: 'suite'/.test(block) && !/failureType: 'subtestsFailed'/.test(block)) n++
  })
  return n
}
process.exit(failed === 0 ? 0 : 1)
