/**
 * `npm run bench:transcript [-- --lines N] [-- --json]`: how long the CLI takes to replay a long
 * recording, and the most memory it holds while doing it. It writes a transcript of N lines
 * (default 1,000,000, about 40 MB) of the kind a VMM produces over a long session - MAP_DMA, the
 * device's DMA writes and reads, UNMAP_DMA, now and then GET_INFO and CHECK_EXTENSION - into a
 * temporary file, replays it with `smmu-nesting-tck replay --quiet` in this process (linux-6.1 on
 * qemu-smmuv3-7.2), and prints the wall time, the CPU time and the peak RSS. Every line must agree.
 *
 * The transcript is read as a stream (model/transcript/read.ts), so the peak RSS should not grow
 * with N: compare `--lines 100000` with the default.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { main } from '../cli/main'

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name)
  return i < 0 ? fallback : Number(process.argv[i + 1])
}

const LINES = option('--lines', 1_000_000)
const json = process.argv.includes('--json')

/** A VMM's session: set up once, then map, DMA and unmap pages at moving IOVAs. */
function writeTranscript(file: string, lines: number): number {
  const fd = fs.openSync(file, 'w')
  const header = ['open = ok', 'check_extension TYPE1v2_IOMMU = 1', 'group 1 set_container = ok', 'set_iommu TYPE1v2_IOMMU = ok']
  const batch: string[] = [...header]
  let written = header.length
  let bytes = 0
  const flush = (): void => {
    const text = `${batch.join('\n')}\n`
    bytes += Buffer.byteLength(text)
    fs.writeSync(fd, text)
    batch.length = 0
  }
  for (let i = 0; written < lines; i++) {
    const iova = `0x${(0x100000 + (i % 4096) * 0x1000).toString(16)}`
    const cycle = [
      `map iova=${iova} size=0x1000 rw = ok`,
      `dma write iova=${iova} size=0x40 = ok`,
      `dma read iova=${iova} size=0x40 = ok`,
      `unmap iova=${iova} size=0x1000 = ok unmapped=0x1000`,
      i % 16 === 0 ? 'get_info = pgsizes=0x40201000' : 'check_extension TYPE1v2_IOMMU = 1',
    ]
    for (const l of cycle) {
      if (written === lines) break
      batch.push(l)
      written++
    }
    if (batch.length >= 10_000) flush()
  }
  flush()
  fs.closeSync(fd)
  return bytes
}

async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-transcript-bench-'))
  try {
    const file = path.join(dir, 'session.vfio')
    const bytes = writeTranscript(file, LINES)
    const out: string[] = []
    const err: string[] = []
    const cpu0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    const code = await main(['replay', '--quiet', '--profile', 'linux-6.1', '--fixture', 'qemu-smmuv3-7.2', file], { out: (l) => out.push(l), err: (l) => err.push(l) })
    const wall = Number(process.hrtime.bigint() - t0) / 1e9
    const cpu = process.cpuUsage(cpu0)
    const peakRssMiB = process.resourceUsage().maxRSS / 1024
    if (code !== 0) throw new Error(`the replay exited ${code}: ${[...out.slice(0, 5), ...err].join('\n')}`)
    const result = { lines: LINES, bytes, summary: out.at(-1), wall_s: wall, cpu_s: (cpu.user + cpu.system) / 1e6, peak_rss_mib: peakRssMiB, node: process.version }
    if (json) {
      console.log(JSON.stringify(result))
    } else {
      console.log(`transcript: ${LINES.toLocaleString('en')} lines, ${(bytes / 1e6).toFixed(1)} MB (${path.basename(file)}, removed afterwards)`)
      console.log(`replay --quiet, linux-6.1 on qemu-smmuv3-7.2: ${result.summary}`)
      console.log(`wall ${wall.toFixed(2)} s, CPU ${result.cpu_s.toFixed(2)} s, peak RSS ${peakRssMiB.toFixed(0)} MiB (${process.version})`)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

void run()
