/**
 * `npm run real-kernel`'s accelerator choice (--accel auto|kvm|tcg) and its KVM fallback, with a
 * fake host (is there a /dev/kvm that opens?) and a stub QEMU: a shell script that behaves like a
 * guest under KVM that hangs after the firmware, or one whose QEMU cannot start KVM, and like a
 * guest that runs the agent to its end under TCG. No real QEMU, no /dev/kvm needed.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { bootGuest, chooseAccel, progressOf, runGuest, type AccelChoice, type AccelHost, type BootPlan } from '../../realkernel/guest'
import { machineByName, type Machine } from '../../realkernel/machines'

const q35 = machineByName('q35') as Machine
const virt = machineByName('virt') as Machine
const kvmOpens: AccelHost = { arch: 'x64', kvmProblem: () => undefined }
const noKvm: AccelHost = { arch: 'x64', kvmProblem: () => '/dev/kvm: ENOENT' }

describe('real-kernel: which accelerator', () => {
  it('auto: KVM for the host-architecture guest when /dev/kvm opens, to be proved by the boot', () => {
    const c = chooseAccel(q35, 'auto', kvmOpens) as AccelChoice
    assert.equal(c.accel, 'kvm')
    assert.equal(c.fallbackToTcg, true)
  })
  it('auto: TCG without /dev/kvm, saying why', () => {
    const c = chooseAccel(q35, 'auto', noKvm) as AccelChoice
    assert.deepEqual([c.accel, c.fallbackToTcg], ['tcg', false])
    assert.match(c.why, /ENOENT/)
  })
  it('auto and kvm: TCG for a guest of another architecture', () => {
    for (const mode of ['auto', 'kvm'] as const) {
      const c = chooseAccel(virt, mode, kvmOpens) as AccelChoice
      assert.equal(c.accel, 'tcg')
      assert.match(c.why, /arm64 guest on this x64 host/)
    }
  })
  it('--accel kvm: KVM without a fallback, or an error when /dev/kvm does not open', () => {
    assert.deepEqual(chooseAccel(q35, 'kvm', kvmOpens), { accel: 'kvm', why: '--accel kvm', fallbackToTcg: false })
    assert.match(chooseAccel(q35, 'kvm', noKvm) as string, /--accel kvm: \/dev\/kvm: ENOENT/)
  })
  it('--accel tcg: TCG whatever the host has', () => {
    assert.equal((chooseAccel(q35, 'tcg', kvmOpens) as AccelChoice).accel, 'tcg')
  })
})

describe('real-kernel: how far a guest got, from its console', () => {
  it('reads firmware, kernel, /init, agent, calls and end', () => {
    assert.deepEqual(progressOf(''), { stage: 'qemu', calls: 0 })
    assert.deepEqual(progressOf('SeaBIOS (version 1.16)\n'), { stage: 'firmware', calls: 0 })
    assert.deepEqual(progressOf('SeaBIOS\nProbing EDD (edd=off to disable)... ok\n'), { stage: 'kernel', calls: 0 })
    assert.deepEqual(progressOf('@@ fact release 6.1.0\n'), { stage: 'init', calls: 0 })
    assert.deepEqual(progressOf('@@ fact release 6.1.0\n@@ agent start\n@@ 1 = 0 OK\n@@ 2 ! no\n'), { stage: 'agent', calls: 2 })
    assert.deepEqual(progressOf('@@ agent start\n@@ 1 = 0 OK\n@@ agent exit 0\n'), { stage: 'end', calls: 1 })
  })
})

// The cases wait on real deadlines of a second or two each; they share nothing (each has its own
// stub and console log), so they wait side by side.
describe('real-kernel: auto mode falls back to TCG when KVM makes no progress (stub QEMU)', { concurrency: true }, () => {
  let dir = ''
  const stub = (name: string, kvm: string, tcg: string): string => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, `#!/bin/sh\ncase " $* " in\n  *" -accel kvm "*) ${kvm} ;;\n  *) ${tcg} ;;\nesac\n`, { mode: 0o755 })
    return file
  }
  const finishes = `printf '@@ fact release 6.1.0-test\\n@@ agent start\\n@@ 1 = 0 OK\\n@@ agent exit 0\\n'; exit 0`
  // Like the report of issue 17: SeaBIOS, the kernel's "Probing EDD", then nothing.
  const hangs = `printf 'SeaBIOS (version 1.16.2)\\nProbing EDD (edd=off to disable)... ok\\n'; exec sleep 60`
  const plan = (qemu: string): BootPlan => ({ machine: q35, qemu, accel: 'kvm', kernel: 'vmlinuz', initrd: 'initrd', append: '' })
  const opts = (log: string): { timeoutSeconds: number; logFile: string; kvmProofSeconds: number } => ({ timeoutSeconds: 20, logFile: path.join(dir, `${log}.log`), kvmProofSeconds: 1 })

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-accel-'))
  })
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('a guest stuck after the firmware under KVM is restarted under TCG at the deadline, with one line saying why', async () => {
    const said: string[] = []
    const started = Date.now()
    const r = await runGuest(plan(stub('qemu-hangs', hangs, finishes)), chooseAccel(q35, 'auto', kvmOpens) as AccelChoice, opts('hangs'), (l) => said.push(l))
    assert.equal(r.failure, undefined)
    assert.equal(r.accel, 'tcg')
    assert.equal(r.stage, 'end')
    assert.equal(said.length, 1)
    assert.match(said[0] as string, /no progress under KVM: not at \/init after 1 s \(got as far as: kernel booting\).*restarting under TCG/)
    assert.ok(Date.now() - started < 10_000, 'it did not wait for the full timeout')
  })

  it('a QEMU that cannot start KVM is restarted under TCG at once', async () => {
    const said: string[] = []
    const failsKvm = `echo 'Could not access KVM kernel module: No such file or directory' >&2; echo 'qemu-system-x86_64: failed to initialize kvm: No such file or directory' >&2; exit 1`
    const r = await runGuest(plan(stub('qemu-no-kvm', failsKvm, finishes)), chooseAccel(q35, 'auto', kvmOpens) as AccelChoice, opts('no-kvm'), (l) => said.push(l))
    assert.deepEqual([r.failure, r.accel], [undefined, 'tcg'])
    assert.match(said[0] as string, /QEMU stopped under KVM before \/init \(Could not access KVM kernel module.*restarting under TCG/)
  })

  it('a guest that works under KVM stays under KVM', async () => {
    const said: string[] = []
    const r = await runGuest(plan(stub('qemu-kvm-ok', finishes, 'exit 3')), chooseAccel(q35, 'auto', kvmOpens) as AccelChoice, opts('kvm-ok'), (l) => said.push(l))
    assert.deepEqual([r.failure, r.accel, said], [undefined, 'kvm', []])
  })

  it('--accel kvm does not fall back: the guest runs into its timeout, and the message says where it stopped and what to try', async () => {
    const r = await runGuest(plan(stub('qemu-hangs-2', hangs, finishes)), chooseAccel(q35, 'kvm', kvmOpens) as AccelChoice, { ...opts('hangs-2'), timeoutSeconds: 1 }, () => assert.fail('no fallback'))
    assert.equal(r.accel, 'kvm')
    assert.match(r.failure ?? '', /did not finish within 1 s under KVM; it got as far as: kernel booting; try --accel tcg/)
  })

  it('a TCG timeout names the stage reached, the calls answered and a larger --timeout', async () => {
    const stuck = `printf '@@ fact release 6.1.0\\n@@ agent start\\n@@ 1 = 0 OK\\n'; exec sleep 60`
    const r = await bootGuest({ ...plan(stub('qemu-stuck-agent', 'exit 3', stuck)), accel: 'tcg' }, { timeoutSeconds: 1, logFile: path.join(dir, 'c.log') })
    assert.match(r.failure ?? '', /within 1 s under TCG; it got as far as: agent \(1 calls answered\); try --timeout 2/)
  })
})
