/**
 * Running the agent under QEMU 10: build the agent (aarch64-linux-gnu-gcc), write the script, boot
 * `-M virt,iommu=smmuv3` with edu, read the UART, and turn it into one DmaObservation per DMA step.
 * `-icount shift=4,sleep=off` lets QEMU skip the virtual time edu's DMA timer waits for, while the
 * agent sleeps in WFI (see the bare-metal reference): thousands of DMAs a second on one core.
 */
import { execFileSync, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { ROOT } from '../model/root'
import { SCRIPT_BASE, type DmaObservation, type OracleCase } from './case'
import { buildScript } from './script'

const REPO = ROOT
const AGENT_DIR = path.join(REPO, 'oracle', 'agent')

export interface QemuRun {
  readonly version: string
  readonly idRegisters: string
  /** Observations per case id, one per DMA step. */
  readonly observations: Map<number, DmaObservation[]>
  readonly seconds: number
}

export function cacheDir(): string {
  return path.join(process.env.TCK_CACHE ?? path.join(REPO, '.cache'), 'oracle')
}

/** QEMU 10's directory (scripts/fetch-qemu10.sh installs it and gcc-aarch64-linux-gnu when missing). */
export function fetchQemu10(log: (s: string) => void): string {
  log('fetching QEMU 10 (scripts/fetch-qemu10.sh)')
  const out = execFileSync('bash', [path.join(REPO, 'scripts', 'fetch-qemu10.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = out.trim().split('\n')
  return lines[lines.length - 1]
}

export function buildAgent(): string {
  const out = path.join(cacheDir(), 'agent.elf')
  fs.mkdirSync(cacheDir(), { recursive: true })
  const sources = ['entry.S', 'agent.c', 'agent.ld'].map((f) => path.join(AGENT_DIR, f))
  const fresh = fs.existsSync(out) && sources.every((s) => fs.statSync(s).mtimeMs < fs.statSync(out).mtimeMs)
  if (!fresh) {
    execFileSync('aarch64-linux-gnu-gcc', [
      '-ffreestanding', '-nostdlib', '-nostartfiles', '-O2', '-mstrict-align', '-mgeneral-regs-only', '-fno-pic', '-no-pie',
      '-static', '-Wall', '-Wextra', '-Werror', '-Wl,--no-warn-rwx-segments', '-T', sources[2], sources[0], sources[1], '-o', out,
    ], { stdio: 'inherit' })
  }
  return out
}

export async function runQemu(qemuDir: string, cases: readonly OracleCase[], timeoutMs: number): Promise<QemuRun> {
  const agent = buildAgent()
  const scriptPath = path.join(cacheDir(), 'script.bin')
  fs.writeFileSync(scriptPath, buildScript(cases))
  const qemu = path.join(qemuDir, 'qemu-system-aarch64')
  const version = execFileSync(qemu, ['--version'], { encoding: 'utf8' }).split('\n')[0]
  const args = [
    '-M', 'virt,iommu=smmuv3,gic-version=2', '-cpu', 'cortex-a57', '-m', '4G', '-nographic', '-nodefaults', '-serial', 'stdio',
    '-icount', 'shift=4,sleep=off', '-device', 'edu,dma_mask=0xffffffffffffffff', '-kernel', agent,
    '-device', `loader,file=${scriptPath},addr=0x${SCRIPT_BASE.toString(16)},force-raw=on`,
  ]
  const started = Date.now()
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`QEMU did not finish in ${timeoutMs / 1000} s; last output: ${out.slice(-400)}`))
    }, timeoutMs)
    child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')))
    child.stderr.on('data', (d: Buffer) => (err += d.toString('latin1')))
    child.on('close', (code) => {
      clearTimeout(timer)
      if (!out.includes('\nD')) reject(new Error(`QEMU exited (${code}) before the script ended: ${err.slice(-400)} ${out.slice(-400)}`))
      else resolve(out)
    })
  })
  const parsed = parseAgentOutput(output, cases)
  return { version, idRegisters: parsed.id, observations: parsed.observations, seconds: (Date.now() - started) / 1000 }
}

/** Splits the agent's UART output into per-DMA observations, following each case's steps. */
export function parseAgentOutput(text: string, cases: readonly OracleCase[]): { id: string; observations: Map<number, DmaObservation[]> } {
  const lines = text.split(/\r?\n/).filter((l) => /^[ICERNPGDX]( |$)/.test(l))
  const byCase = new Map<number, string[]>()
  let current: string[] | undefined
  let id = ''
  for (const l of lines) {
    if (l.startsWith('I ')) id = l.slice(2)
    else if (l.startsWith('C ')) byCase.set(Number(BigInt('0x' + l.slice(2).trim())), (current = []))
    else if (l.startsWith('X')) throw new Error(`agent: ${l}`)
    else current?.push(l)
  }
  const observations = new Map<number, DmaObservation[]>()
  for (const c of cases) {
    const ls = byCase.get(c.id)
    if (ls === undefined) throw new Error(`no output for case ${c.id}`)
    const obs: DmaObservation[] = []
    let i = 0
    for (const s of c.steps) {
      if (s.op !== 'dma') continue
      const events: [bigint, bigint, bigint, bigint][] = []
      while (i < ls.length && ls[i].startsWith('E ')) {
        const w = ls[i++].slice(2).trim().split(/\s+/).map((x) => BigInt('0x' + x))
        events.push([w[0], w[1], w[2], w[3]])
      }
      while (i < ls.length && ls[i].startsWith('G ')) i++
      if (!ls[i]?.startsWith('N ')) throw new Error(`case ${c.id}: expected "N" but read ${ls[i]}`)
      const count = Number(BigInt('0x' + ls[i++].slice(2).trim()))
      let data: bigint | undefined
      let peek: bigint | undefined
      if (s.dir === 'read') {
        if (!ls[i]?.startsWith('R ')) throw new Error(`case ${c.id}: expected "R" but read ${ls[i]}`)
        data = BigInt('0x' + ls[i++].slice(2).trim().split(/\s+/)[0])
      } else if (s.peek !== undefined) {
        if (!ls[i]?.startsWith('P ')) throw new Error(`case ${c.id}: expected "P" but read ${ls[i]}`)
        peek = BigInt('0x' + ls[i++].slice(2).trim())
      }
      obs.push({ data, peek, events, count })
    }
    observations.set(c.id, obs)
  }
  return { id, observations }
}
