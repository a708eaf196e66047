/** Wall time of the project's own test commands, measured by spawning them. */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { ROOT } from '../model/root'

export interface SuiteTime {
  readonly command: string
  readonly seconds: number
  readonly exitCode: number | null
}

/** Runs `npm run <script>` (or `npm test`) in the project, output discarded; its wall time. */
export function timeNpm(args: readonly string[]): SuiteTime {
  const t0 = process.hrtime.bigint()
  const r = spawnSync('npm', [...args], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, FORCE_COLOR: '0' } })
  return { command: `npm ${args.join(' ')}`, seconds: Number(process.hrtime.bigint() - t0) / 1e9, exitCode: r.status }
}

/** The phases of the last `npm test`, from the reports/test-times.json bin/test.js writes. */
export function testPhaseTimes(): SuiteTime[] {
  try {
    const t = JSON.parse(fs.readFileSync(path.join(ROOT, 'reports', 'test-times.json'), 'utf8')) as { phases: Record<string, { seconds: number; exitCode: number }> }
    return Object.entries(t.phases).map(([name, p]) => ({ command: `npm run ${name}`, seconds: p.seconds, exitCode: p.exitCode }))
  } catch {
    return []
  }
}

export interface MachineInfo {
  readonly cpu: string
  readonly nproc: number
  readonly node: string
  readonly memoryBytes: number
}

export function machineInfo(): MachineInfo {
  let cpu = os.cpus()[0]?.model ?? 'unknown'
  try {
    const line = fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'))
    if (line !== undefined) cpu = line.slice(line.indexOf(':') + 1).trim()
  } catch {
    // not Linux: os.cpus() it is
  }
  return { cpu, nproc: os.availableParallelism(), node: process.version, memoryBytes: os.totalmem() }
}
