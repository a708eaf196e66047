/**
 * A real VMM's capture turned into transcript lines (realkernel/capture/convert.ts), and
 * `smmu-nesting-tck trace`: the committed captures (transcripts/recorded/captures/, raw logs of
 * Debian's QEMU inside a guest, written by the capture library) convert to exactly the lines of
 * their recordings, and those replay; hand-made captures show each rule of the conversion; trace
 * runs a program under the library on this machine.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { main } from '../../cli/main'
import { cdevGroupNames, profileForRelease } from '../../cli/trace'
import { ROOT } from '../../model/root'
import { parseTranscript } from '../../model/transcript'
import { UAPI_6_1, UAPI_6_13 } from '../../model/vfio/uapi'
import { convertCapture, formatConverted, parseCapture } from '../../realkernel/capture/convert'
import { compareWithModel, loadKnownDifferences } from '../../realkernel/compare'
import { parseRunArgs } from '../../realkernel/options'
import { VMM_RUNS, vmmArgs, vmmRecordingName, vmmRunByName, vmmScript, type VmmRun } from '../../realkernel/vmm'
import { describeIoUring, ioUringProblem, ioUringRings } from '../../realkernel/vmm-harness'

const RECORDED = path.join(ROOT, 'transcripts', 'recorded')
const CAPTURES = path.join(RECORDED, 'captures')
const captures = fs.existsSync(CAPTURES) ? fs.readdirSync(CAPTURES).filter((f) => f.endsWith('.capture')).sort() : []

/** The lines between a VMM recording's header and its "After the VMM's exit" part. */
function vmmSection(text: string): string[] {
  const lines = text.split('\n')
  const start = lines.findIndex((l) => l === '') + 1
  const end = lines.findIndex((l) => l.startsWith("# After the VMM's exit"))
  return lines.slice(start, end - 1)
}

function capture(...lines: string[]): string {
  return ['# smmu-nesting-tck capture 1 pid=7 exe=/usr/bin/vmm log_fd=1000', ...lines.map((l, i) => `7 ${i + 1} ${l}`)].join('\n')
}

function io(): { out: string[]; err: string[]; io: { out: (l: string) => void; err: (l: string) => void } } {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { out: (l) => out.push(l), err: (l) => err.push(l) } }
}

describe('a real VMM\'s committed captures', () => {
  it('there is a capture of Debian\'s QEMU 7.2, 10 and 11 on Linux 7.3, of 7.2 on 6.1, and of 10 and 11 with iommufd', () => {
    for (const name of ['qemu7.2', 'qemu10', 'qemu11']) assert.ok(captures.includes(`vmm-${name}-legacy-virt-linux-7.3.capture`), `${name} on 7.3`)
    assert.ok(captures.includes('vmm-qemu7.2-legacy-virt-linux-6.1.capture'))
    for (const name of ['qemu10', 'qemu11']) assert.ok(captures.includes(`vmm-${name}-iommufd-virt10-linux-7.3.capture`), `${name} with iommufd`)
  })

  for (const file of captures) {
    const replays = file.includes('-io-uring-') ? 'differ from the model only where realkernel/known-differences.json says why' : 'replay with every compared line agreeing'
    it(`${file} converts to the lines of its recording, which ${replays}`, () => {
      const recordingFile = path.join(RECORDED, file.replace(/\.capture$/, '.vfio'))
      const recording = fs.readFileSync(recordingFile, 'utf8')
      // The recording's header names the group's number in that guest.
      const real = /^# {3}Groups: {2}group 1 = \S+ \(edu\) = \/dev\/vfio\/(\d+) in this guest/m.exec(recording)
      assert.ok(real !== null, 'the header names the real group')
      const profile = /^# {3}Profile: (\S+)/m.exec(recording)?.[1] as string
      const uapi = profile === 'linux-7.3' ? UAPI_6_13 : UAPI_6_1
      const parsed = parseCapture(fs.readFileSync(path.join(CAPTURES, file), 'utf8'))
      assert.deepEqual(parsed.problems, [])
      const conversion = convertCapture(parsed, { uapi, groupNames: new Map([[Number(real[1]), 1]]) })
      assert.deepEqual(formatConverted(conversion.lines), vmmSection(recording))
      const c = conversion.counts
      assert.match(recording, new RegExp(`Capture: ${c.calls} VFIO calls: ${c.compared} for the model, ${c.outside} device-level \\(outside the model\\), 0 not converted`))
      // What a VMM does that no hand-written transcript did.
      assert.equal(c.notConverted, 0)
      assert.ok(c.outside > 30, 'the device-level calls are kept')
      const body = vmmSection(recording).join('\n')
      if (file.includes('-accel-')) {
        // A real VMM's nested life cycle (QEMU 11's accelerated SMMUv3, a Linux guest behind it).
        for (const line of [
          /^hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT += ok id=\d+$/m,
          /^viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3 += ok id=\d+$/m,
          // QEMU's pre-built domains: an abort vSTE (V, Config 0) and a bypass one (Config 0b100).
          /^hwpt 2 alloc device=1 pt=viommu:1 vste="v" += ok/m,
          /^hwpt 3 alloc device=1 pt=viommu:1 vste="v cfg=bypass" += ok/m,
          // The device sits in a root port's slot: bus 1, so its vSID (the vDEVICE's virt_id) is 0x100.
          /^vdevice 1 alloc viommu=1 device=1 virt_id=0x100 += ok/m,
          /^veventq 1 alloc viommu=1 type=ARM_SMMUV3 depth=\d+ += ok/m,
          // The guest's CFGI_CD (opcode 0x05) for its vSID, Leaf set.
          /^viommu 1 invalidate cmd="CFGI_CD sid=0x100 leaf" += ok entry_num=1$/m,
          // The guest's stage-1 STE: V, Config 0b101, its CD at an IPA.
          /^hwpt 4 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x[0-9a-f]+[ "]/m,
          /^ioas 1 map iova=0x10000000 size=0x100000 rw vaddr=pfnmap += EFAULT/m,
        ])
          assert.match(body, line)
        // io_uring as the run set it, checked by the harness and said in the header.
        const ioUringOn = file.includes('-accel-io-uring-')
        assert.match(recording, ioUringOn ? /^# {12}io_uring on, as the VMM ships \(kernel\.io_uring_disabled=0; the VMM set up [1-9]\d* ring\(s\)/m : /^# {12}io_uring off in the guest running it \(kernel\.io_uring_disabled=2; the VMM's io_uring_queue_init: EPERM/m)
        // The guest's STE from stage 1 to bypass and back (its group's type to identity and to
        // DMA): QEMU attaches the bypass HWPT and frees the stage-1 one (smmuv3_accel_install_ste),
        // then makes a new one; the slot powered off, the blocked STE frees it again.
        const life = body
          .split('\n')
          .filter((l) => /^(hwpt [45] alloc|device 1 attach pt=hwpt:|destroy|veventq 1 close|device 1 (detach|close)|iommufd close)/.test(l))
          .map((l) => {
            const [call, result] = l.split(/ +# /)[0]?.split(/ += /) ?? []
            return `${call?.replace(/vste="[^"]*"/, 'vste=S1')} = ${result?.replace(/ id=\d+$/, '')}`
          })
        // With io_uring on, the vEVENTQ's file outlives QEMU's close (KD12-KD15): its destroy, and
        // the vIOMMU's, the nest parent's and the IOAS's behind it, are EBUSY.
        const busy = ioUringOn ? 'EBUSY' : 'ok'
        assert.deepEqual(
          life.slice(life.findIndex((l) => l.startsWith('hwpt 4 alloc'))),
          [
            'hwpt 4 alloc device=1 pt=viommu:1 vste=S1 = ok',
            'device 1 attach pt=hwpt:4 = ok',
            // identity: the bypass STE
            'device 1 attach pt=hwpt:3 = ok',
            'destroy hwpt 4 = ok',
            'device 1 attach pt=hwpt:3 = ok',
            // DMA again: a new stage-1 STE
            'device 1 attach pt=hwpt:3 = ok',
            'hwpt 5 alloc device=1 pt=viommu:1 vste=S1 = ok',
            'device 1 attach pt=hwpt:5 = ok',
            // the slot powered off: the release domain's STE, then QEMU's unplug
            'device 1 attach pt=hwpt:3 = ok',
            'destroy hwpt 5 = ok',
            'device 1 attach pt=hwpt:3 = ok',
            // smmuv3_accel_unset_iommu_device: back on the nest parent, the vDEVICE, then (the last
            // device gone) smmuv3_accel_free_viommu: the vEVENTQ, bypass, abort, the vIOMMU
            'device 1 attach pt=hwpt:1 = ok',
            'destroy vdevice 1 = ok',
            'veventq 1 close = ok',
            `destroy veventq 1 = ${busy}`,
            'destroy hwpt 3 = ok',
            'destroy hwpt 2 = ok',
            `destroy viommu 1 = ${busy}`,
            // iommufd_cdev_detach: detach, the nest parent, (the listener's unmaps,) the IOAS, and
            // the files: /dev/iommu (the backend's last user) and the device
            'device 1 detach = ok',
            `destroy hwpt 1 = ${busy}`,
            `destroy ioas 1 = ${busy}`,
            'iommufd close = ok',
            'device 1 close = ok',
          ],
        )
        const lines = vmmSection(recording)
        const at = (re: RegExp): number => lines.findIndex((l) => re.test(l))
        if (ioUringOn) {
          // The transcript says why: QEMU's event loop polls the vEVENTQ's fd with io_uring; the
          // close comes while that poll is outstanding, the POLL_REMOVE only after the destroy.
          const add = at(/^# io_uring \(capture line (\d+)\): POLL_ADD on veventq 1 \(fd \d+\) submitted/)
          const pollLine = /capture line (\d+)/.exec(lines[add] ?? '')?.[1]
          const close = at(new RegExp(`^veventq 1 close += ok {3}# fd \\d+; io_uring's POLL_ADD on this fd \\(capture line ${pollLine}\\) has not completed: it holds the file, which outlives this close$`))
          const destroy = at(/^destroy veventq 1 += EBUSY$/)
          const remove = at(new RegExp(`^# io_uring \\(capture line \\d+\\): POLL_REMOVE of the POLL_ADD on veventq 1 \\(fd \\d+\\) \\(capture line ${pollLine}\\) submitted$`))
          const done = at(new RegExp(`^# io_uring \\(capture line \\d+\\): the POLL_ADD on veventq 1 \\(fd \\d+\\) \\(capture line ${pollLine}\\) completed: ECANCELED`))
          assert.ok(add >= 0 && add < close && close < destroy && destroy < remove && remove < done, `POLL_ADD ${add} < close ${close} < destroy ${destroy} < POLL_REMOVE ${remove} < ECANCELED ${done}`)
          // Listed with the kernel's rule: exactly these four lines, and the header names them.
          const rows = compareWithModel(recording, path.basename(recordingFile), loadKnownDifferences()).rows
          assert.deepEqual(
            rows.filter((r) => r.verdict !== 'agree' && r.verdict !== 'outside').map((r) => `${r.verdict} ${r.known?.id} ${r.call} = ${r.kernel} (model: ${r.model})`),
            ['known KD12 destroy veventq 1 = EBUSY (model: ok)', 'known KD13 destroy viommu 1 = EBUSY (model: ok)', 'known KD14 destroy hwpt 1 = EBUSY (model: ok)', 'known KD15 destroy ioas 1 = EBUSY (model: ok)'],
          )
          assert.match(recording, /^# {3}Known: {3}KD12, KD13, KD14, KD15 \(realkernel\/known-differences\.json\)/m)
        } else {
          // With io_uring off no poll holds the queue's file: its close releases it, and every
          // compared line agrees.
          assert.equal(at(/^# io_uring \(capture line \d+\): POLL_ADD/), -1)
          assert.ok(lines.filter((l) => /^# io_uring \(capture line \d+\): io_uring_queue_init entries=\d+ = EPERM$/.test(l)).length > 0, 'QEMU tried io_uring and was refused')
          const rows = compareWithModel(recording, file, []).rows
          assert.deepEqual(rows.filter((r) => r.verdict !== 'agree' && r.verdict !== 'outside'), [])
        }
        return
      }
      if (file.includes('-iommufd-')) {
        assert.match(body, /^ioas 1 iova_ranges num_iovas=0 += EMSGSIZE num_iovas=2$/m, 'the probe with no room')
        assert.match(body, /^ioas 1 iova_ranges num_iovas=2 += ok num_iovas=2 alignment=0x1000 ranges=0x0-0x7ffffff,0x8100000-0xffffffffffff$/m, 'the second call with room for the count')
        assert.match(body, /^device 1 hw_info data_len=\d+ += ok type=2 data_len=40/m, 'hw_info with the VMM\'s buffer')
        assert.match(body, /^exit += ok {3}# the process exits; the kernel closes iommufd fd \d+, device 1 \(fd \d+\)$/m)
      } else {
        assert.match(body, /^get_info argsz=0x18 += argsz=0x7[48] flags=0x3 pgsizes=0x40201000 caps=none$/m, 'the bare-struct probe')
        assert.match(body, /^get_info argsz=0x7[48] += argsz=0x7[48] flags=0x3 .*caps=migration,dma_avail,iova_range/m, 'the second call with the size asked for')
        assert.match(body, /^exit += ok {3}# the process exits; the kernel closes group 1 \(fd \d+\), the container \(fd \d+\), device 1 \(fd \d+\)$/m)
      }
      assert.equal(body.match(/^(ioas 1 )?map iova=0x4[02]000000 size=0x2000000 rw /gm)?.length, 2, 'two regions of guest RAM mapped')
      const rows = compareWithModel(recording, file, []).rows
      assert.deepEqual(rows.filter((r) => r.verdict !== 'agree' && r.verdict !== 'outside'), [])
      assert.equal(rows.filter((r) => r.verdict === 'outside').length, c.outside)
    })
  }
})

describe('capture -> transcript lines', () => {
  it('reads the library\'s lines: pid, sequence, descriptor, name, arguments, result, errno', () => {
    const p = parseCapture(capture('ioctl container:8 VFIO_IOMMU_GET_INFO argsz=0x18 = 0 argsz=0x78 flags=0x3', 'open path=/dev/vfio/9 flags=0x80002 = -1 ENOENT', 'garbage line'))
    assert.deepEqual(p.header, { pid: 7, exe: '/usr/bin/vmm' })
    const [info, open] = p.events
    assert.equal(info?.call, 'ioctl')
    assert.deepEqual(info?.subject, { kind: 'container', fd: 8 })
    assert.equal(info?.name, 'VFIO_IOMMU_GET_INFO')
    assert.equal(info?.args.get('argsz'), '0x18')
    assert.equal(info?.ret, 0n)
    assert.equal(info?.out.get('argsz'), '0x78')
    assert.equal(open?.errno, 'ENOENT')
    assert.equal(open?.ret, -1n)
    assert.deepEqual(p.problems, ['line 4: not a capture line: 7 3 garbage line'])
  })

  it('writes each VFIO call as its line, names extensions by the kernel\'s uapi, and device calls as device lines', () => {
    const text = capture(
      'open path=/dev/vfio/12 flags=0x80002 = 3 kind=group',
      'open path=/dev/vfio/vfio flags=0x80002 = 4 kind=container',
      'ioctl container:4 VFIO_CHECK_EXTENSION ext=6 = 0',
      'ioctl group:3 VFIO_GROUP_SET_CONTAINER fd=container:4 = 0',
      'ioctl container:4 VFIO_SET_IOMMU type=3 = 0',
      'ioctl container:4 VFIO_IOMMU_MAP_DMA argsz=0x20 flags=0x1 vaddr=0x7f0000001000 iova=0x100000 size=0x1000 = 0',
      'ioctl container:4 VFIO_IOMMU_MAP_DMA argsz=0x20 flags=0x3 vaddr=0x7f0000002001 iova=0x200000 size=0x1000 = -1 EINVAL',
      'ioctl group:3 VFIO_GROUP_GET_DEVICE_FD name=0000:00:01.0 = 5',
      'ioctl device:5 VFIO_DEVICE_GET_REGION_INFO argsz=0x20 index=7 = 0 argsz=0x20 flags=0x3 cap_offset=0x0 size=0x100 offset=0x70000000000',
      'pread device:5 offset=0x70000000004 size=0x2 = 2 data=0600',
      'pwrite device:5 offset=0x70000000004 size=0x2 data=0700 = 2',
      'ioctl device:5 VFIO_DEVICE_FEATURE argsz=0x28 flags=0x1000b feature=DMA_BUF op=get in=00 = 9',
      'ioctl container:4 VFIO_IOMMU_UNMAP_DMA argsz=0x18 flags=0x2 iova=0x0 size=0x0 = 0 size=0x1000',
      'close device:5 = 0',
      'close group:3 = 0',
      'exit open=container:4',
    )
    const conversion = convertCapture(parseCapture(text), { uapi: UAPI_6_13, groupNames: new Map([[12, 1]]) })
    assert.deepEqual(formatConverted(conversion.lines, 1), [
      'group 1 open = ok   # open("/dev/vfio/12")',
      'open = ok   # open("/dev/vfio/vfio")',
      'check_extension __VFIO_RESERVED_TYPE1_NESTING_IOMMU = 0',
      'group 1 set_container = ok',
      'set_iommu TYPE1v2_IOMMU = ok',
      'map iova=0x100000 size=0x1000 r = ok   # vaddr 0x7f0000001000',
      'map iova=0x200000 size=0x1000 rw vaddr=misaligned = EINVAL   # vaddr 0x7f0000002001',
      'group 1 get_device = ok   # 0000:00:01.0',
      'device 1 region_info argsz=0x20 index=7 = argsz=0x20 flags=0x3 cap_offset=0x0 size=0x100 offset=0x70000000000',
      'device 1 read region=7 offset=0x4 size=0x2 = 2 data=0600',
      'device 1 write region=7 offset=0x4 size=0x2 data=0700 = 2',
      'device 1 feature argsz=0x28 flags=0x1000b feature=DMA_BUF op=get in=00 = ret=9',
      'unmap all = ok unmapped=0x1000',
      'device 1 close = ok',
      'group 1 close = ok',
      'exit = ok   # the process exits; the kernel closes the container (fd 4)',
    ])
    assert.deepEqual(conversion.counts, { calls: 16, compared: 12, outside: 4, notConverted: 0, eventfds: 0, otherProcesses: 0 })
    assert.deepEqual([...conversion.groups], [[12, 1]])
    assert.deepEqual([...conversion.devices], [[1, '0000:00:01.0']])
    // Every line is one the parser accepts.
    assert.deepEqual(parseTranscript(formatConverted(conversion.lines).join('\n'), 'c.vfio').errors, [])
  })

  it('says what it cannot write, and counts it: a second container, an iommufd as a container, an unknown ioctl', () => {
    const text = capture(
      'open path=/dev/vfio/vfio flags=0x2 = 4 kind=container',
      'open path=/dev/vfio/vfio flags=0x2 = 5 kind=container',
      'open path=/dev/vfio/3 flags=0x2 = 6 kind=group',
      'open path=/dev/iommu flags=0x2 = 7 kind=iommufd',
      'ioctl group:6 VFIO_GROUP_SET_CONTAINER fd=iommufd:7 = 0',
      'ioctl container:4 cmd=0x3b7f arg=0x0 = -1 ENOTTY',
      'eventfd initval=0 flags=0x80800 = 8',
    )
    const conversion = convertCapture(parseCapture(text), { uapi: UAPI_6_13 })
    const notes = conversion.lines.filter((l) => l.role === 'note').map((l) => l.comment)
    assert.equal(notes.length, 3)
    assert.match(notes[0] as string, /^not converted \(capture line 3\): a second container/)
    assert.match(notes[1] as string, /VFIO_GROUP_SET_CONTAINER with iommufd:7/)
    assert.match(notes[2] as string, /cmd=0x3b7f arg=0x0 on the container/)
    assert.deepEqual(conversion.counts, { calls: 6, compared: 3, outside: 0, notConverted: 3, eventfds: 1, otherProcesses: 0 })
  })

  it('keeps only the first process: a helper the VMM started writes with its own pid', () => {
    const text = `${capture('open path=/dev/vfio/vfio flags=0x2 = 4 kind=container')}\n8 1 open path=/dev/vfio/vfio flags=0x2 = 3 kind=container\n`
    const conversion = convertCapture(parseCapture(text), { uapi: UAPI_6_13 })
    assert.equal(conversion.counts.otherProcesses, 1)
    assert.equal(conversion.counts.compared, 1)
  })
})

describe('capture -> transcript lines: iommufd', () => {
  it('names objects by kind as the VMM made them, writes the IOVA_RANGES probe and keeps the IDs the kernel gave', () => {
    const text = capture(
      'open path=/dev/iommu flags=0x80002 = 5 kind=iommufd',
      'open path=/dev/char/511:0 flags=0x80002 = 6 kind=device resolved=/dev/vfio/devices/vfio0',
      'ioctl device:6 VFIO_DEVICE_BIND_IOMMUFD argsz=0x18 flags=0x0 iommufd=iommufd:5 = 0 out_devid=1',
      'ioctl iommufd:5 IOMMU_IOAS_ALLOC size=12 flags=0x0 = 0 out_ioas_id=2',
      // QEMU 10's SMMUv3 ID registers (fixtures/qemu-smmuv3-10.0.yaml): IDR0 0x0d44101b, IDR1 0x02730010, IDR3 0x1414, IDR5 0x74; AIDR 1 (SMMUv3.1).
      'ioctl iommufd:5 IOMMU_GET_HW_INFO size=40 flags=0x0 dev_id=1 data_len=40 = 0 data_len=40 out_data_type=2 out_max_pasid_log2=0 data=00000000000000001b10440d100073020000000014140000000000007400000000000000' + '01000000',
      'ioctl iommufd:5 IOMMU_HWPT_ALLOC size=48 flags=0x0 dev_id=1 pt_id=2 data_type=0 data_len=0 fault_id=0 = 0 out_hwpt_id=3',
      'ioctl device:6 VFIO_DEVICE_ATTACH_IOMMUFD_PT argsz=0x10 flags=0x0 pt_id=3 pasid=0 = 0 pt_id=3',
      'ioctl iommufd:5 IOMMU_IOAS_IOVA_RANGES size=32 ioas_id=2 num_iovas=0 = -1 EMSGSIZE num_iovas=2',
      'ioctl iommufd:5 IOMMU_IOAS_IOVA_RANGES size=32 ioas_id=2 num_iovas=2 = 0 num_iovas=2 out_iova_alignment=0x1000 ranges=0x0-0x7ffffff,0x8100000-0xffffffffffff',
      'ioctl iommufd:5 IOMMU_IOAS_MAP size=40 flags=0x7 ioas_id=2 user_va=0xffff00000000 length=0x4000000 iova=0x40000000 = 0 iova=0x40000000',
      'ioctl iommufd:5 IOMMU_OPTION size=24 option_id=1 op=0 object_id=2 val64=0x1 = 0 val64=0x1',
      'ioctl iommufd:5 IOMMU_DESTROY size=8 id=3 = -1 EBUSY',
      'exit open=iommufd:5,device:6',
    )
    const conversion = convertCapture(parseCapture(text), { uapi: UAPI_6_13, cdevNames: new Map([['vfio0', 1]]) })
    assert.deepEqual(formatConverted(conversion.lines, 1), [
      'iommufd open = ok   # open("/dev/iommu")',
      'device 1 open = ok   # open("/dev/char/511:0") = /dev/vfio/devices/vfio0',
      'device 1 bind = ok id=1',
      'ioas 1 alloc = ok id=2',
      'device 1 hw_info data_len=40 = ok type=2 data_len=40 flags=0x0 idr0=0xd44101b idr1=0x2730010 idr2=0x0 idr3=0x1414 idr4=0x0 idr5=0x74 iidr=0x0 aidr=0x1',
      'hwpt 1 alloc device=1 pt=ioas:1 = ok id=3',
      'device 1 attach pt=hwpt:1 = ok',
      'ioas 1 iova_ranges num_iovas=0 = EMSGSIZE num_iovas=2',
      'ioas 1 iova_ranges num_iovas=2 = ok num_iovas=2 alignment=0x1000 ranges=0x0-0x7ffffff,0x8100000-0xffffffffffff',
      'ioas 1 map iova=0x40000000 size=0x4000000 rw = ok   # user_va 0xffff00000000',
      '# not converted (capture line 12): IOMMU_OPTION on /dev/iommu (size=24 option_id=1 op=0 object_id=2 val64=0x1)',
      'destroy hwpt 1 = EBUSY',
      'exit = ok   # the process exits; the kernel closes iommufd fd 5, device 1 (fd 6)',
    ])
    assert.deepEqual(parseTranscript(formatConverted(conversion.lines).join('\n'), 'i.vfio').errors, [])
    // The same lines replayed on QEMU 10's SMMUv3 under 7.3: the model gives the same IDs and answers.
    const r = compareWithModel(`#   Profile: linux-7.3          Fixture: qemu-smmuv3-10.0\n${formatConverted(conversion.lines).join('\n')}\n`, 'i.vfio', [])
    assert.deepEqual(r.rows.filter((x) => x.verdict !== 'agree').map((x) => `${x.line} ${x.call} kernel: ${x.kernel} model: ${x.model}`), [])
  })
})

/** A VMM's first iommufd calls of a nested setup: /dev/iommu, the cdev, bind, an IOAS, a nest parent on it. */
const NEST_PARENT = [
  'open path=/dev/iommu flags=0x80002 = 5 kind=iommufd',
  'open path=/dev/vfio/devices/vfio0 flags=0x80002 = 6 kind=device',
  'ioctl device:6 VFIO_DEVICE_BIND_IOMMUFD argsz=0x18 flags=0x0 iommufd=iommufd:5 = 0 out_devid=1',
  'ioctl iommufd:5 IOMMU_IOAS_ALLOC size=12 flags=0x0 = 0 out_ioas_id=2',
  'ioctl iommufd:5 IOMMU_HWPT_ALLOC size=48 flags=0x1 dev_id=1 pt_id=2 data_type=0 data_len=0 fault_id=0 = 0 out_hwpt_id=3',
]

/** The converted lines replayed under linux-7.3 on `fixture`: each line the model answers otherwise. */
function disagreements(conversion: ReturnType<typeof convertCapture>, fixture: string): string[] {
  const r = compareWithModel(`#   Profile: linux-7.3          Fixture: ${fixture}\n${formatConverted(conversion.lines).join('\n')}\n`, 'n.vfio', [])
  return r.rows.filter((x) => x.verdict !== 'agree').map((x) => `${x.line} ${x.call} kernel: ${x.kernel} model: ${x.model}`)
}

describe('capture -> transcript lines: the nested objects of an accelerated vSMMU', () => {
  it('writes the vIOMMU, the vSTE HWPTs by field names, the vDEVICE, the vEVENTQ and each invalidation\'s commands', () => {
    const text = capture(
      ...NEST_PARENT,
      'ioctl iommufd:5 IOMMU_VIOMMU_ALLOC size=40 flags=0x0 type=1 dev_id=1 hwpt_id=3 data_len=0 = 0 out_viommu_id=4',
      // abort and bypass vSTEs: V | Config (IHI 0070 5.2: STE.Config 0b000 abort, 0b100 bypass)
      'ioctl iommufd:5 IOMMU_HWPT_ALLOC size=48 flags=0x0 dev_id=1 pt_id=4 data_type=2 data_len=16 data=01000000000000000000000000000000 fault_id=0 = 0 out_hwpt_id=5',
      'ioctl iommufd:5 IOMMU_HWPT_ALLOC size=48 flags=0x0 dev_id=1 pt_id=4 data_type=2 data_len=16 data=09000000000000000000000000000000 fault_id=0 = 0 out_hwpt_id=6',
      'ioctl device:6 VFIO_DEVICE_ATTACH_IOMMUFD_PT argsz=0x10 flags=0x0 pt_id=6 pasid=0 = 0 pt_id=6',
      'ioctl iommufd:5 IOMMU_VDEVICE_ALLOC size=24 viommu_id=4 dev_id=1 virt_id=0x8 = 0 out_vdevice_id=7',
      'ioctl iommufd:5 IOMMU_VEVENTQ_ALLOC size=32 flags=0x0 viommu_id=4 type=1 veventq_depth=64 = 0 out_veventq_id=8 out_veventq_fd=9',
      // CFGI_CD (0x05) for vSID 8, leaf
      'ioctl iommufd:5 IOMMU_HWPT_INVALIDATE size=32 hwpt_id=4 data_type=1 entry_len=16 entry_num=1 data=05000000080000000100000000000000 = 0 entry_num=1',
      'read veventq:9 size=0x1000 = 0',
      'ioctl iommufd:5 IOMMU_DESTROY size=8 id=5 = 0',
      'exit open=iommufd:5,device:6,veventq:9',
    )
    const conversion = convertCapture(parseCapture(text), { uapi: UAPI_6_13, cdevNames: new Map([['vfio0', 1]]) })
    assert.deepEqual(formatConverted(conversion.lines, 1), [
      'iommufd open = ok   # open("/dev/iommu")',
      'device 1 open = ok   # open("/dev/vfio/devices/vfio0")',
      'device 1 bind = ok id=1',
      'ioas 1 alloc = ok id=2',
      'hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT = ok id=3',
      'viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3 = ok id=4',
      'hwpt 2 alloc device=1 pt=viommu:1 vste="v" = ok id=5',
      'hwpt 3 alloc device=1 pt=viommu:1 vste="v cfg=bypass" = ok id=6',
      'device 1 attach pt=hwpt:3 = ok',
      'vdevice 1 alloc viommu=1 device=1 virt_id=0x8 = ok id=7',
      'veventq 1 alloc viommu=1 type=ARM_SMMUV3 depth=64 = ok id=8',
      'viommu 1 invalidate cmd="CFGI_CD sid=0x8 leaf" = ok entry_num=1',
      'veventq 1 read = empty',
      'destroy hwpt 2 = ok',
      'exit = ok   # the process exits; the kernel closes iommufd fd 5, device 1 (fd 6), veventq fd 9',
    ])
    assert.equal(conversion.counts.notConverted, 0)
    assert.deepEqual(parseTranscript(formatConverted(conversion.lines).join('\n'), 'n.vfio').errors, [])
    // On QEMU 10's SMMUv3 with the CANWBS IORT, under 7.3, the model answers every line alike.
    assert.deepEqual(disagreements(conversion, 'qemu-smmuv3-10.0-acpi-canwbs'), [])
  })
})

describe('capture -> transcript lines: a vIOMMU taken down as QEMU 11 does at unplug', () => {
  it('writes the vEVENTQ\'s close before its destroy, each destroy by the name the object was made with, the detach and the closes', () => {
    const text = capture(
      ...NEST_PARENT,
      'ioctl device:6 VFIO_DEVICE_ATTACH_IOMMUFD_PT argsz=0x10 flags=0x0 pt_id=3 pasid=0 = 0 pt_id=3',
      'ioctl iommufd:5 IOMMU_VIOMMU_ALLOC size=40 flags=0x0 type=1 dev_id=1 hwpt_id=3 data_len=0 = 0 out_viommu_id=4',
      'ioctl iommufd:5 IOMMU_VEVENTQ_ALLOC size=32 flags=0x0 viommu_id=4 type=1 veventq_depth=64 = 0 out_veventq_id=5 out_veventq_fd=9',
      'ioctl iommufd:5 IOMMU_VDEVICE_ALLOC size=24 viommu_id=4 dev_id=1 virt_id=0x100 = 0 out_vdevice_id=6',
      'ioctl iommufd:5 IOMMU_DESTROY size=8 id=6 = 0',
      'ioctl iommufd:5 IOMMU_DESTROY size=8 id=5 = -1 EBUSY',
      'close veventq:9 = 0',
      'ioctl iommufd:5 IOMMU_DESTROY size=8 id=5 = 0',
      'ioctl iommufd:5 IOMMU_DESTROY size=8 id=4 = 0',
      'ioctl device:6 VFIO_DEVICE_DETACH_IOMMUFD_PT argsz=0x8 flags=0x0 = 0',
      'ioctl iommufd:5 IOMMU_DESTROY size=8 id=3 = 0',
      'ioctl iommufd:5 IOMMU_DESTROY size=8 id=2 = 0',
      'close device:6 = 0',
      'close iommufd:5 = 0',
      'exit open=none',
    )
    const conversion = convertCapture(parseCapture(text), { uapi: UAPI_6_13, cdevNames: new Map([['vfio0', 1]]) })
    assert.deepEqual(formatConverted(conversion.lines, 1).slice(8), [
      'vdevice 1 alloc viommu=1 device=1 virt_id=0x100 = ok id=6',
      'destroy vdevice 1 = ok',
      'destroy veventq 1 = EBUSY',
      'veventq 1 close = ok',
      'destroy veventq 1 = ok',
      'destroy viommu 1 = ok',
      'device 1 detach = ok',
      'destroy hwpt 1 = ok',
      'destroy ioas 1 = ok',
      'device 1 close = ok',
      'iommufd close = ok',
      'exit = ok   # the process exits with nothing of VFIO open',
    ])
    assert.equal(conversion.counts.notConverted, 0)
    assert.deepEqual(disagreements(conversion, 'qemu-smmuv3-10.0-acpi-canwbs'), [])
  })
})

describe('capture -> transcript lines: the vEVENTQ polled by io_uring', () => {
  it('writes the polls as comments, and says at the close that a poll still holds the file', () => {
    const text = capture(
      'uring_init entries=128 flags=0x0 = 0 ring_fd=4',
      ...NEST_PARENT,
      'ioctl device:6 VFIO_DEVICE_ATTACH_IOMMUFD_PT argsz=0x10 flags=0x0 pt_id=3 pasid=0 = 0 pt_id=3',
      'ioctl iommufd:5 IOMMU_VIOMMU_ALLOC size=40 flags=0x0 type=1 dev_id=1 hwpt_id=3 data_len=0 = 0 out_viommu_id=4',
      'ioctl iommufd:5 IOMMU_VEVENTQ_ALLOC size=32 flags=0x0 viommu_id=4 type=1 veventq_depth=64 = 0 out_veventq_id=5 out_veventq_fd=9',
      'uring_poll_add veventq:9 ring=4 events=0x19 user_data=0xffff0000e680',
      // smmuv3_accel_free_veventq: the handler removed (the POLL_REMOVE only queued), close, destroy
      'close veventq:9 = 0 pending_polls=1',
      'ioctl iommufd:5 IOMMU_DESTROY size=8 id=5 = -1 EBUSY',
      'ioctl iommufd:5 IOMMU_DESTROY size=8 id=4 = -1 EBUSY',
      // the event loop's next submit
      'uring_poll_remove veventq:9 ring=4 user_data=0xffff0000e680',
      'uring_poll_done veventq:9 ring=4 user_data=0xffff0000e680 = -1 ECANCELED',
      'ioctl device:6 VFIO_DEVICE_DETACH_IOMMUFD_PT argsz=0x8 flags=0x0 = 0',
      'ioctl iommufd:5 IOMMU_DESTROY size=8 id=3 = -1 EBUSY',
      'ioctl iommufd:5 IOMMU_DESTROY size=8 id=2 = -1 EBUSY',
      'close iommufd:5 = 0',
      'close device:6 = 0',
      'exit open=none',
    )
    const parsed = parseCapture(text)
    assert.deepEqual(parsed.problems, [])
    const conversion = convertCapture(parsed, { uapi: UAPI_6_13, cdevNames: new Map([['vfio0', 1]]) })
    const lines = formatConverted(conversion.lines, 1)
    assert.equal(lines[0], '# io_uring (capture line 2): io_uring_queue_init entries=128 = ring fd 4')
    assert.deepEqual(lines.slice(8), [
      'veventq 1 alloc viommu=1 type=ARM_SMMUV3 depth=64 = ok id=5',
      '# io_uring (capture line 11): POLL_ADD on veventq 1 (fd 9) submitted (ring fd 4): until it completes, the request holds a reference to the file',
      "veventq 1 close = ok   # fd 9; io_uring's POLL_ADD on this fd (capture line 11) has not completed: it holds the file, which outlives this close",
      'destroy veventq 1 = EBUSY',
      'destroy viommu 1 = EBUSY',
      '# io_uring (capture line 15): POLL_REMOVE of the POLL_ADD on veventq 1 (fd 9) (capture line 11) submitted',
      '# io_uring (capture line 16): the POLL_ADD on veventq 1 (fd 9) (capture line 11) completed: ECANCELED; its reference to the file is dropped',
      'device 1 detach = ok',
      'destroy hwpt 1 = EBUSY',
      'destroy ioas 1 = EBUSY',
      'iommufd close = ok',
      'device 1 close = ok',
      'exit = ok   # the process exits with nothing of VFIO open',
    ])
    // Comments are not calls: the counts are the VFIO and iommufd calls' alone.
    assert.deepEqual(conversion.counts, { calls: 17, compared: 17, outside: 0, notConverted: 0, eventfds: 0, otherProcesses: 0 })
    // The grammar says when a descriptor is closed, not when its file's last reference goes: the
    // model releases the queue at the close, and these four lines differ (KD12-KD15).
    assert.deepEqual(disagreements(conversion, 'qemu-smmuv3-10.0-acpi-canwbs'), [
      '13 destroy veventq 1 kernel: EBUSY model: ok',
      '14 destroy viommu 1 kernel: EBUSY model: ok',
      '18 destroy hwpt 1 kernel: EBUSY model: ok',
      '19 destroy ioas 1 kernel: EBUSY model: ok',
    ])
  })

  it('says when it cannot tell, and names the polls still pending at exit', () => {
    const text = capture(
      'uring_init entries=128 flags=0x0 = -1 EPERM',
      ...NEST_PARENT,
      'ioctl iommufd:5 IOMMU_VIOMMU_ALLOC size=40 flags=0x0 type=1 dev_id=1 hwpt_id=3 data_len=0 = 0 out_viommu_id=4',
      'ioctl iommufd:5 IOMMU_VEVENTQ_ALLOC size=32 flags=0x0 viommu_id=4 type=1 veventq_depth=64 = 0 out_veventq_id=5 out_veventq_fd=9',
      'uring_poll_add veventq:9 ring=4 events=0x19 user_data=0x10',
      'close veventq:9 = 0 pending_polls=unknown',
      'ioctl iommufd:5 IOMMU_VEVENTQ_ALLOC size=32 flags=0x0 viommu_id=4 type=1 veventq_depth=64 = -1 EEXIST',
      'uring_poll_add iommufd:5 ring=4 events=0x1 user_data=0x20',
      'uring_poll_done iommufd:5 ring=4 user_data=0x20 = 1',
      'exit open=iommufd:5,device:6 pending_polls=1',
    )
    const lines = formatConverted(convertCapture(parseCapture(text), { uapi: UAPI_6_13, cdevNames: new Map([['vfio0', 1]]) }).lines, 1)
    assert.equal(lines[0], '# io_uring (capture line 2): io_uring_queue_init entries=128 = EPERM')
    assert.deepEqual(lines.slice(8), [
      '# io_uring (capture line 10): POLL_ADD on veventq 1 (fd 9) submitted (ring fd 4): until it completes, the request holds a reference to the file',
      "veventq 1 close = ok   # fd 9; io_uring polls of this fd (capture line 10) may not have completed (completions were overwritten before the capture saw them)",
      'veventq 2 alloc viommu=1 type=ARM_SMMUV3 depth=64 = EEXIST',
      '# io_uring (capture line 13): POLL_ADD on iommufd fd 5 submitted (ring fd 4): until it completes, the request holds a reference to the file',
      '# io_uring (capture line 14): the POLL_ADD on iommufd fd 5 (capture line 13) completed: ready (events 0x1); its reference to the file is dropped',
      'exit = ok   # the process exits; the kernel closes iommufd fd 5, device 1 (fd 6); io_uring polls not completed: 1 (the kernel cancels them as the process exits, and their files go)',
    ])
  })
})

describe('npm run real-kernel -- --vmm', () => {
  it('runs QEMU 11\'s accelerated SMMUv3 with io_uring off and, as QEMU ships, on; the guest\'s script sets it and says it', () => {
    const off = vmmRunByName('qemu11-accel')
    const on = vmmRunByName('qemu11-accel-io-uring')
    assert.deepEqual([off?.ioUring, on?.ioUring], ['off', 'on'])
    assert.deepEqual(vmmArgs(on as VmmRun), vmmArgs(off as VmmRun), 'everything else the same')
    assert.match(vmmScript(off as VmmRun), /^echo 2 > \/proc\/sys\/kernel\/io_uring_disabled\necho "@@ fact io_uring_disabled \$\(cat \/proc\/sys\/kernel\/io_uring_disabled\)"$/m)
    assert.match(vmmScript(on as VmmRun), /^echo 0 > \/proc\/sys\/kernel\/io_uring_disabled$/m)
    assert.doesNotMatch(vmmScript(vmmRunByName('qemu11-iommufd') as VmmRun), /io_uring_disabled/)
    assert.equal(vmmRecordingName(on as VmmRun, 'linux-7.3'), 'vmm-qemu11-accel-io-uring-virt10-acpi-el2-linux-7.3.vfio')
    assert.equal(vmmRecordingName(off as VmmRun, 'linux-7.3'), 'vmm-qemu11-accel-virt10-acpi-el2-linux-7.3.vfio')
    assert.equal(vmmRecordingName(vmmRunByName('qemu7.2') as VmmRun, 'linux-6.1'), 'vmm-qemu7.2-legacy-virt-linux-6.1.vfio')
  })

  it('checks that io_uring is what the run asked for: the guest\'s sysctl and the VMM\'s io_uring_queue_init', () => {
    const rings = (...inits: string[]): ReturnType<typeof ioUringRings> => ioUringRings(parseCapture(capture(...inits.map((r) => `uring_init entries=128 flags=0x0 = ${r}`))))
    assert.deepEqual(rings('0 ring_fd=4', '-1 EPERM'), { setUp: 1, refused: ['EPERM'], polls: 0 })
    // off: io_uring_allowed refuses every ring when the sysctl is 2
    assert.equal(ioUringProblem('off', '2', rings('-1 EPERM', '-1 EPERM')), undefined)
    assert.equal(ioUringProblem('off', '0', rings()), 'io_uring was not turned off in the guest (kernel.io_uring_disabled: 0)')
    assert.equal(ioUringProblem('off', undefined, rings()), 'io_uring was not turned off in the guest (kernel.io_uring_disabled: no such sysctl)')
    assert.equal(ioUringProblem('off', '2', rings('0 ring_fd=4')), 'io_uring was off (kernel.io_uring_disabled: 2), yet the capture shows 1 ring(s) set up')
    // on: the sysctl 0, and the VMM set up a ring (QEMU falls back to ppoll without a word)
    assert.equal(ioUringProblem('on', '0', rings('0 ring_fd=4', '0 ring_fd=7')), undefined)
    assert.equal(ioUringProblem('on', '2', rings()), 'io_uring was not on in the guest (kernel.io_uring_disabled: 2)')
    assert.equal(ioUringProblem('on', '0', rings('-1 EPERM')), 'io_uring was on (kernel.io_uring_disabled: 0), yet the VMM set up no ring (io_uring_queue_init: EPERM)')
    assert.equal(ioUringProblem('on', '0', rings()), 'io_uring was on (kernel.io_uring_disabled: 0), yet the VMM set up no ring (io_uring_queue_init: never called)')
    assert.equal(describeIoUring('on', rings('0 ring_fd=4', '0 ring_fd=7')), 'io_uring on, as the VMM ships (kernel.io_uring_disabled=0; the VMM set up 2 ring(s), 0 poll(s) of followed descriptors)')
    assert.equal(describeIoUring('off', rings('-1 EPERM')), "io_uring off in the guest running it (kernel.io_uring_disabled=2; the VMM's io_uring_queue_init: EPERM)")
  })

  it('reads --vmm NAME and --vmm all, and refuses an unknown run and --vmm with --machine', () => {
    const one = parseRunArgs(['--vmm', 'qemu7.2', '--kernel', '6.1'])
    assert.ok(!('error' in one))
    assert.deepEqual(one.vmms.map((r) => r.name), ['qemu7.2'])
    assert.deepEqual(one.kernels.map((k) => k.name), ['6.1'])
    const all = parseRunArgs(['--vmm', 'all'])
    assert.ok(!('error' in all))
    assert.deepEqual(all.vmms, VMM_RUNS)
    const bad = parseRunArgs(['--vmm', 'qemu9'])
    assert.ok('error' in bad && /unknown VMM run qemu9/.test(bad.error))
    const both = parseRunArgs(['--vmm', 'qemu10', '--machine', 'virt'])
    assert.ok('error' in both && /--vmm or --machine/.test(both.error))
  })
})

describe('smmu-nesting-tck trace', () => {
  it('names extensions after the running kernel\'s release', () => {
    assert.equal(profileForRelease('6.1.0-57-arm64'), 'linux-6.1')
    assert.equal(profileForRelease('6.11.2'), 'linux-6.1')
    assert.equal(profileForRelease('6.12.95+deb12-arm64'), 'linux-6.12')
    assert.equal(profileForRelease('7.3.4+deb13-arm64'), 'linux-7.3')
  })

  it('names each VFIO cdev after its device\'s IOMMU group, as sysfs links them', () => {
    const sys = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-sysfs-'))
    for (const [cdev, group] of [['vfio0', 12], ['vfio1', 3]] as const) {
      const dev = path.join(sys, 'devices', cdev)
      fs.mkdirSync(path.join(sys, 'kernel', 'iommu_groups', String(group)), { recursive: true })
      fs.mkdirSync(dev, { recursive: true })
      fs.symlinkSync(path.join(sys, 'kernel', 'iommu_groups', String(group)), path.join(dev, 'iommu_group'))
      fs.mkdirSync(path.join(sys, 'class', 'vfio-dev', cdev), { recursive: true })
      fs.symlinkSync(dev, path.join(sys, 'class', 'vfio-dev', cdev, 'device'))
    }
    assert.deepEqual([...cdevGroupNames(new Map([[12, 1]]), sys)].sort(), [['vfio0', 1], ['vfio1', 3]])
    fs.rmSync(sys, { recursive: true })
  })

  it('--convert writes a transcript that replay accepts, from a committed capture', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-trace-'))
    const out = path.join(dir, 'q.vfio')
    const t = io()
    const status = await main(['trace', '--convert', path.join(CAPTURES, 'vmm-qemu7.2-legacy-virt-linux-7.3.capture'), '-o', out, '--profile', 'linux-7.3', '--group', '1=1'], t.io)
    assert.equal(status, 0, t.err.join('\n'))
    const counts = /^smmu-nesting-tck: wrote .*q\.vfio: \d+ VFIO calls \((\d+) for the model, (\d+) device-level, 0 not converted\)/.exec(t.out[0] as string)
    assert.ok(counts !== null, t.out.join('\n'))
    const r = io()
    const replayed = await main(['replay', '--profile', 'linux-7.3', '--fixture', 'qemu-smmuv3-7.2', '--quiet', out], r.io)
    assert.equal(replayed, 0, r.out.join('\n'))
    assert.deepEqual(r.out, [`${counts[1]} agree, 0 differ, ${counts[2]} outside the model`])
    fs.rmSync(dir, { recursive: true })
  })

  it('runs a program under the capture library (built with cc) and converts what it opened', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tck-trace-'))
    const out = path.join(dir, 'n.vfio')
    const t = io()
    // node's fs.openSync is open(2) through libc: the library sees it (this machine has no group 7).
    const status = await main(['trace', '-o', out, '--profile', 'linux-7.3', '--', process.execPath, '-e', "try { require('fs').openSync('/dev/vfio/7', 'r+') } catch {}"], t.io)
    assert.equal(status, 0, t.err.join('\n'))
    const text = fs.readFileSync(out, 'utf8')
    assert.match(text, /^group 7 open += ENOENT {3}# open\("\/dev\/vfio\/7"\)$/m)
    assert.match(text, /^exit += ok {3}# the process exits with nothing of VFIO open$/m)
    const r = io()
    assert.equal(await main(['replay', '--profile', 'linux-7.3', '--fixture', 'qemu-smmuv3-7.2', out], r.io), 0, r.out.join('\n'))
    assert.deepEqual(r.out.slice(-1), ['2 agree, 0 differ'])
    fs.rmSync(dir, { recursive: true })
  })

  it('refuses a missing command line and an unknown profile', async () => {
    const a = io()
    assert.equal(await main(['trace', '-o', '/nonexistent/x.vfio'], a.io), 2)
    assert.match(a.err.join('\n'), /needs the VMM's command line after "--"/)
    const b = io()
    assert.equal(await main(['trace', '--profile', 'linux-9', '--', 'true'], b.io), 2)
    assert.match(b.err.join('\n'), /linux-9/)
  })
})
