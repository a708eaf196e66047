/**
 * The command-line tool: spawned as a user runs it (bin/smmu-nesting-tck.js), for the exit
 * statuses that matter; and called in-process (main()) for the rest of the usage errors.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { ROOT, runMain } from '../helpers/run-main'

const BIN = path.join(ROOT, 'bin', 'smmu-nesting-tck.js')

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Spawn the CLI from the repository root, as `npx smmu-nesting-tck ...` would. */
function spawnCli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}


const VIRT = ['replay', '--profile', 'linux-6.1', '--fixture', 'qemu-smmuv3-7.2', 'transcripts/qemu-virt-smmuv3-linux-6.1.vfio']
const Q35 = ['replay', '--profile', 'linux-6.1', '--fixture', 'qemu-q35-intel-iommu-7.2', 'transcripts/qemu-q35-intel-iommu-linux-6.1.vfio']
const WRONG = ['replay', '-p', 'linux-6.1', '-f', 'qemu-q35-intel-iommu-7.2', 'test/transcripts/deliberately-wrong.vfio']

function lastLine(s: string): string {
  return s.trimEnd().split('\n').at(-1) ?? ''
}

// Each spawn starts node and loads the model, so only what needs a real process is spawned: the
// exit statuses a shell sees.
describe('smmu-nesting-tck (spawned)', { concurrency: 2 }, () => {
  it('a shipped transcript that agrees line by line: exit 0', async () => {
    const r = await spawnCli(VIRT)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.equal(r.stderr, '')
    assert.match(lastLine(r.stdout), /^\d+ agree, 0 differ$/)
    const verdicts = r.stdout.trimEnd().split('\n').slice(0, -1)
    assert.ok(verdicts.length > 40)
    for (const v of verdicts) assert.match(v, /^transcripts\/qemu-virt-smmuv3-linux-6\.1\.vfio:\d+: agree: .+ = .+$/)
  })

  it('a wrong transcript exits 1 and names the lines that differ or do not parse', async () => {
    const r = await spawnCli(WRONG)
    assert.equal(r.code, 1, r.stdout + r.stderr)
    const lines = r.stdout.trimEnd().split('\n')
    assert.ok(lines.some((l) => l.startsWith('test/transcripts/deliberately-wrong.vfio:10: differ: set_iommu TYPE1_NESTING_IOMMU = ok (model: EINVAL')), r.stdout)
    assert.ok(lines.some((l) => l.startsWith('test/transcripts/deliberately-wrong.vfio:12: error: ')), r.stdout)
    assert.equal(lines.filter((l) => / (differ|error): /.test(l)).length, 2)
    assert.equal(lastLine(r.stdout), '5 agree, 2 differ')
  })

  it('a fixture that does not load exits 2 and prints its errors with file, line and field', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-cli-'))
    const bad = path.join(dir, 'broken.yaml')
    fs.writeFileSync(bad, 'name: broken\ndescription: x\nkind: synthetic\narchitecture: smmuv3\ntranslation: {stage1: true, stage2: false, nested: false}\nasid_bits: 16\nvmid_bits: 8\nias: 44\noas: 44\ngranules: [8K]\nstream_id_bits: 16\n')
    try {
      const r = await spawnCli(['replay', '-p', 'linux-6.1', '-f', bad, 'transcripts/qemu-virt-smmuv3-linux-6.1.vfio'])
      assert.equal(r.code, 2, r.stdout + r.stderr)
      assert.equal(r.stdout, '')
      assert.ok(r.stderr.includes(`${bad}:10:12: granules.0: must be one of "4K", "16K", "64K" [BAD_VALUE]`), r.stderr)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('an unknown profile exits 2 and lists the profiles', async () => {
    const r = await spawnCli(['replay', '--profile', 'linux-9.9', '--fixture', 'qemu-smmuv3-7.2', 'transcripts/qemu-virt-smmuv3-linux-6.1.vfio'])
    assert.equal(r.code, 2)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /unknown behaviour profile "linux-9\.9" \(profiles: rfc-v2, enforcing, merged, linux-6\.1, linux-6\.12, linux-7\.3\)/)
  })
})

describe('smmu-nesting-tck (in process)', () => {
  it('the shipped q35 transcript agrees line by line: exit 0', async () => {
    const r = await runMain(Q35)
    assert.equal(r.code, 0, [...r.out, ...r.err].join('\n'))
    assert.match(r.out.at(-1) ?? '', /^\d+ agree, 0 differ$/)
    assert.ok(r.out.includes('transcripts/qemu-q35-intel-iommu-linux-6.1.vfio:37: agree: set_iommu TYPE1_NESTING_IOMMU = EINVAL'))
  })

  it('--help explains the options, the grammar and the exit status: exit 0', async () => {
    const r = await runMain(['replay', '--help'])
    assert.equal(r.code, 0)
    const help = r.out.join('\n')
    for (const s of ['--profile <name>', '--fixture <name>', '--backend <name>', '--quiet', 'unmap all', 'Exit status: 0', 'qemu-q35-intel-iommu-7.2']) {
      assert.ok(help.includes(s), `help should mention ${s}`)
    }
  })

  it('replays several transcripts, each on a fresh machine, with one summary', async () => {
    const r = await runMain(['replay', '-p', 'linux-6.1', '-f', 'qemu-q35-intel-iommu-7.2', 'transcripts/qemu-q35-intel-iommu-linux-6.1.vfio', 'test/transcripts/deliberately-wrong.vfio'])
    assert.equal(r.code, 1)
    const summary = r.out.at(-1) ?? ''
    const [agree, differ] = (summary.match(/^(\d+) agree, (\d+) differ$/) ?? []).slice(1).map(Number)
    assert.equal(differ, 2)
    assert.equal((agree ?? 0) + (differ ?? 0), r.out.length - 1)
  })

  it('--quiet prints only what differs, and the summary', async () => {
    const r = await runMain([...WRONG, '--quiet'])
    assert.equal(r.code, 1)
    assert.deepEqual(
      r.out.map((l) => l.replace(/:\s.*$/, '')),
      ['test/transcripts/deliberately-wrong.vfio:10', 'test/transcripts/deliberately-wrong.vfio:12', '5 agree, 2 differ'],
    )
  })

  const USAGE: [string, string[], RegExp][] = [
    ['a transcript that cannot be read', ['replay', '-p', 'linux-6.1', '-f', 'qemu-smmuv3-7.2', 'transcripts/no-such.vfio'], /transcripts\/no-such\.vfio:1:1: cannot read transcript: .*\[NOT_FOUND\]/],
    ['a fixture name not in the catalogue', ['replay', '-p', 'linux-6.1', '-f', 'no-such-machine', 'x.vfio'], /fixtures in the catalogue: .*qemu-smmuv3-7\.2/],
    ['an unknown backend', ['replay', '-p', 'linux-6.1', '-f', 'qemu-smmuv3-7.2', '-b', 'kernel', 'x.vfio'], /unknown backend "kernel" \(backends: model\)/],
    ['no --fixture', ['replay', '-p', 'linux-6.1', 'x.vfio'], /required option '-f, --fixture <name>'/],
    ['no transcript', ['replay', '-p', 'linux-6.1', '-f', 'qemu-smmuv3-7.2'], /missing required argument 'transcript'/],
    ['an unknown option', ['replay', '-p', 'linux-6.1', '-f', 'qemu-smmuv3-7.2', '--frobnicate', 'x.vfio'], /unknown option '--frobnicate'/],
    ['no command', [], /Usage: smmu-nesting-tck/],
  ]
  for (const [what, args, message] of USAGE) {
    it(`${what}: exit 2`, async () => {
      const r = await runMain(args)
      assert.equal(r.code, 2)
      assert.match(r.err.join('\n'), message)
    })
  }
})
