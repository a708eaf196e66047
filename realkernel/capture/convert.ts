/**
 * A capture log (realkernel/capture/capture.c) turned into transcript lines
 * (docs/transcript-vmm.md): every VFIO call the VMM made, in order, as the line the grammar has
 * for it with the result the kernel gave. Container, group and device-open calls are lines the
 * model answers; device-level calls (region and IRQ info, config space, mmaps, interrupts, resets,
 * feature probes) become `device N ...` lines, kept with the kernel's answer and outside the model.
 * A call the grammar has no line for is written as a `# not converted:` comment and counted:
 * nothing is dropped silently. The io_uring polls the VMM keeps on a followed descriptor (capture
 * `uring_*` lines) are comments: they say why a close did not release a file.
 *
 * Group numbers: `/dev/vfio/R` is group `names.get(R)` in the transcript (default R itself), and
 * `device N` is the device group N handed out (VFIO_GROUP_GET_DEVICE_FD).
 */
import { formatCommand, formatVste } from '../../model/transcript/iommufd-fields'
import { extensionName, type UapiTable } from '../../model/vfio/uapi'

/** One line of the capture log, split into its parts. */
export interface CaptureEvent {
  /** 1-based line number in the log. */
  readonly line: number
  readonly pid: number
  readonly seq: number
  /** open, close, ioctl, mmap, pread, pwrite, read, eventfd, exit, uring_init, uring_poll_add/remove/done. */
  readonly call: string
  /** `kind:fd` of the call's descriptor (ioctl, close, mmap, pread, pwrite, read). */
  readonly subject?: { readonly kind: string; readonly fd: number }
  /** The ioctl's name (VFIO_IOMMU_MAP_DMA...), when the library knew it. */
  readonly name?: string
  /** Arguments before `=`, in order. */
  readonly args: ReadonlyMap<string, string>
  /** The return value; undefined for `exit`. */
  readonly ret?: bigint
  readonly errno?: string
  /** What came back, after the return value. */
  readonly out: ReadonlyMap<string, string>
  /** The arguments as written (for device lines, kept verbatim). */
  readonly argText: readonly string[]
  readonly outText: readonly string[]
}

export interface CaptureHeader {
  readonly pid?: number
  readonly exe?: string
}

export interface ParsedCapture {
  readonly header: CaptureHeader
  readonly events: readonly CaptureEvent[]
  /** Lines that are not the library's (what went wrong, by line). */
  readonly problems: readonly string[]
}

/** The calls the library writes down. */
const CAPTURE_CALLS: readonly string[] = ['open', 'close', 'ioctl', 'mmap', 'pread', 'pwrite', 'read', 'eventfd', 'exit', 'uring_init', 'uring_poll_add', 'uring_poll_remove', 'uring_poll_done']

function keyValues(words: readonly string[]): Map<string, string> {
  const m = new Map<string, string>()
  for (const w of words) {
    const eq = w.indexOf('=')
    if (eq > 0) m.set(w.slice(0, eq), w.slice(eq + 1))
  }
  return m
}

/** Reads a capture log. Lines of other processes than the first are kept (pid tells them apart). */
export function parseCapture(text: string): ParsedCapture {
  const events: CaptureEvent[] = []
  const problems: string[] = []
  let header: CaptureHeader = {}
  text.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1
    const line = raw.trim()
    if (line === '') return
    if (line.startsWith('#')) {
      const m = /^# smmu-nesting-tck capture 1 pid=(\d+) exe=(\S*)/.exec(line)
      if (m !== null && header.pid === undefined) header = { pid: Number(m[1]), exe: m[2] as string }
      return
    }
    const words = line.split(/\s+/)
    const [pidText, seqText, call, ...rest] = words
    if (!/^\d+$/.test(pidText ?? '') || !/^\d+$/.test(seqText ?? '') || call === undefined || !CAPTURE_CALLS.includes(call)) {
      problems.push(`line ${lineNo}: not a capture line: ${line.slice(0, 80)}`)
      return
    }
    let subject: CaptureEvent['subject']
    let name: string | undefined
    let k = 0
    const sub = /^([a-z-]+):(-?\d+)$/.exec(rest[0] ?? '')
    if (sub !== null) {
      subject = { kind: sub[1] as string, fd: Number(sub[2]) }
      k = 1
    }
    if (call === 'ioctl' && rest[k] !== undefined && /^[A-Z][A-Z0-9_]+$/.test(rest[k] as string)) name = rest[k++]
    const eq = rest.indexOf('=', k)
    const argText = eq < 0 ? rest.slice(k) : rest.slice(k, eq)
    let ret: bigint | undefined
    let errno: string | undefined
    let outText: string[] = []
    if (eq >= 0) {
      const retText = rest[eq + 1] ?? ''
      if (/^-?\d+$/.test(retText)) ret = BigInt(retText)
      else if (/^0x[0-9a-f]+$/i.test(retText)) ret = BigInt(retText)
      else {
        problems.push(`line ${lineNo}: no return value after "="`)
        return
      }
      let j = eq + 2
      if (/^E[A-Z0-9]+$/.test(rest[j] ?? '')) errno = rest[j++]
      outText = rest.slice(j)
    }
    events.push({
      line: lineNo,
      pid: Number(pidText),
      seq: Number(seqText),
      call,
      ...(subject === undefined ? {} : { subject }),
      ...(name === undefined ? {} : { name }),
      args: keyValues(argText),
      ...(ret === undefined ? {} : { ret }),
      ...(errno === undefined ? {} : { errno }),
      out: keyValues(outText),
      argText,
      outText,
    })
  })
  return { header, events, problems }
}

// ---------------------------------------------------------------------------------------------

/** A transcript line made from a capture event (or a comment standing for one). */
export interface ConvertedLine {
  /** `<call> = <result>`, or undefined for a comment-only line. */
  readonly call?: string
  readonly result?: string
  readonly comment?: string
  /** compared: the model answers it; outside: a device-level line; note: a comment. */
  readonly role: 'compared' | 'outside' | 'note'
  /** The capture's line number. */
  readonly from?: number
}

export interface Conversion {
  readonly lines: readonly ConvertedLine[]
  readonly counts: {
    /**
     * Transcript lines made from the capture: compared + outside + notConverted (eventfds and the
     * KVM calls that tie VFIO to KVM are comments, not counted).
     */
    readonly calls: number
    readonly compared: number
    readonly outside: number
    readonly notConverted: number
    readonly eventfds: number
    /** Events of other processes (a VMM's helpers), not converted. */
    readonly otherProcesses: number
  }
  /** Real group number -> transcript group number, for each group the VMM opened. */
  readonly groups: ReadonlyMap<number, number>
  /** Transcript device number -> the name the VMM asked for (VFIO_GROUP_GET_DEVICE_FD). */
  readonly devices: ReadonlyMap<number, string>
}

export interface ConvertOptions {
  /** The kernel's uapi: extension numbers are written by their names in it. */
  readonly uapi: UapiTable
  /** Real group number -> transcript group number (default: the same number). */
  readonly groupNames?: ReadonlyMap<number, number>
  /**
   * A VFIO cdev (`vfio0` of /dev/vfio/devices/vfio0) -> the transcript's device number (its
   * group's). Without an entry, device `vfioX` is named X + 1.
   */
  readonly cdevNames?: ReadonlyMap<string, number>
}

const DEVICE_IOCTLS: Readonly<Record<string, string>> = {
  VFIO_DEVICE_GET_INFO: 'info',
  VFIO_DEVICE_GET_REGION_INFO: 'region_info',
  VFIO_DEVICE_GET_IRQ_INFO: 'irq_info',
  VFIO_DEVICE_SET_IRQS: 'set_irqs',
  VFIO_DEVICE_RESET: 'reset',
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: 'hot_reset_info',
  VFIO_DEVICE_PCI_HOT_RESET: 'hot_reset',
  VFIO_DEVICE_FEATURE: 'feature',
  VFIO_DEVICE_IOEVENTFD: 'ioeventfd',
}

const PERMS: Readonly<Record<number, string>> = { 1: 'r', 2: 'w', 3: 'rw' }

/** 0x.. for a decimal or hex text. */
function hexOf(text: string | undefined): string {
  if (text === undefined || text === '') return '?'
  return `0x${BigInt(text).toString(16)}`
}

/** A group's status flags in transcript words. */
function statusWords(flags: number): string {
  const names = [flags & 1 ? 'viable' : '', flags & 2 ? 'container_set' : ''].filter((f) => f !== '')
  return names.length === 0 ? 'none' : names.join(',')
}

interface Region {
  readonly index: number
  readonly offset: bigint
  readonly size: bigint
}

export function convertCapture(capture: ParsedCapture, opts: ConvertOptions): Conversion {
  const lines: ConvertedLine[] = []
  const counts = { calls: 0, compared: 0, outside: 0, notConverted: 0, eventfds: 0, otherProcesses: 0 }
  const groupOf = new Map<number, number>() // fd -> transcript group
  const deviceOf = new Map<number, number>() // fd -> transcript device
  const regions = new Map<number, Region[]>() // transcript device -> regions it reported
  const groups = new Map<number, number>()
  const devices = new Map<number, string>()
  let container: number | undefined
  let iommufd: number | undefined
  /** Kernel object ID -> the transcript's name of it (`ioas:1`, `hwpt:2`, `device:1`...), per kind counter. */
  const objects = new Map<number, string>()
  const counters = new Map<string, number>()
  const nameNew = (kind: string, id: number): number => {
    const n = (counters.get(kind) ?? 0) + 1
    counters.set(kind, n)
    objects.set(id, `${kind}:${n}`)
    return n
  }
  const ref = (id: number): string => objects.get(id) ?? `id:${id}`
  /** A vEVENTQ's fd -> its transcript number. */
  const veventqs = new Map<number, number>()
  /** The device regions the VMM mmapped (device MMIO: VM_PFNMAP in the kernel), [start, end). */
  const deviceMmaps: { start: bigint; end: bigint }[] = []
  /** ` vaddr=pfnmap` when a MAP's user address lies in a device mmap (peer-to-peer to a BAR). */
  const vaddrWord = (va: bigint): string => (deviceMmaps.some((m) => va >= m.start && va < m.end) ? ' vaddr=pfnmap' : (va & 0xfffn) !== 0n ? ' vaddr=misaligned' : '')
  const pid = capture.header.pid ?? capture.events[0]?.pid
  /** io_uring polls of followed descriptors (`ring:user_data`) -> what they polled and where the capture says so. */
  const polls = new Map<string, { name: string; fd: number; line: number; done: boolean }>()
  const pollKey = (e: CaptureEvent): string => `${e.args.get('ring') ?? '?'}:${e.args.get('user_data') ?? '?'}`
  const note = (e: CaptureEvent, text: string): void => {
    lines.push({ comment: text, role: 'note', from: e.line })
  }
  /**
   * A close's comment when io_uring polls of the descriptor had not completed (the library's
   * `pending_polls=`): each such request holds a reference to the file (io_uring/io_uring.c
   * io_assign_file, dropped by io_put_file when it completes), so this close does not release it.
   */
  const pendingNote = (e: CaptureEvent, fd: number | undefined): string | undefined => {
    const mine = [...polls.values()].filter((p) => p.fd === fd && !p.done)
    // Polls outlive the descriptor: they no longer stand for the number, which may be reused.
    for (const p of mine) p.fd = -1
    const pending = e.out.get('pending_polls')
    if (pending === undefined) return undefined
    const open = mine.map((p) => `capture line ${p.line}`)
    const which = open.length === 0 ? '' : ` (${open.join(', ')})`
    return pending === 'unknown'
      ? `io_uring polls of this fd${which} may not have completed (completions were overwritten before the capture saw them)`
      : `io_uring's POLL_ADD on this fd${which} has not completed: it holds the file, which outlives this close`
  }

  const compared = (e: CaptureEvent, call: string, result: string, comment?: string): void => {
    counts.compared++
    lines.push({ call, result, role: 'compared', from: e.line, ...(comment === undefined ? {} : { comment }) })
  }
  const outside = (e: CaptureEvent, call: string, result: string): void => {
    counts.outside++
    lines.push({ call, result, role: 'outside', from: e.line })
  }
  const notConverted = (e: CaptureEvent, why: string): void => {
    counts.notConverted++
    lines.push({ comment: `not converted (capture line ${e.line}): ${why}`, role: 'note', from: e.line })
  }
  const failed = (e: CaptureEvent): string | undefined => (e.ret !== undefined && e.ret < 0n ? (e.errno ?? 'EIO') : undefined)
  const transcriptGroup = (real: number): number => opts.groupNames?.get(real) ?? real

  for (const e of capture.events) {
    if (e.pid !== pid) {
      counts.otherProcesses++
      continue
    }
    if (e.call === 'eventfd') {
      counts.eventfds++
      continue
    }
    const err = failed(e)
    const fd = e.subject?.fd
    switch (e.call) {
      case 'open': {
        const path = e.args.get('path') ?? ''
        const kind = e.out.get('kind')
        const target = e.out.get('resolved') ?? path
        const groupMatch = /^\/dev\/vfio\/(\d+)$/.exec(target)
        if (target === '/dev/vfio/vfio') {
          if (err === undefined && container !== undefined) {
            notConverted(e, 'a second container: a transcript has one')
            break
          }
          if (err === undefined) container = Number(e.ret)
          compared(e, 'open', err ?? 'ok', `open("${path}")`)
        } else if (groupMatch !== null) {
          const real = Number(groupMatch[1])
          const n = transcriptGroup(real)
          if (err === undefined) {
            groupOf.set(Number(e.ret), n)
            groups.set(real, n)
          }
          compared(e, `group ${n} open`, err ?? 'ok', `open("${path}")`)
        } else if (target === '/dev/iommu') {
          if (err === undefined && iommufd !== undefined) {
            notConverted(e, 'a second /dev/iommu: a transcript has one')
            break
          }
          if (err === undefined) iommufd = Number(e.ret)
          compared(e, 'iommufd open', err ?? 'ok', `open("${path}")`)
        } else if (/^\/dev\/vfio\/devices\/vfio\d+$/.test(target)) {
          const cdev = target.slice('/dev/vfio/devices/'.length)
          const n = opts.cdevNames?.get(cdev) ?? Number(cdev.slice(4)) + 1
          if (err === undefined) {
            deviceOf.set(Number(e.ret), n)
            devices.set(n, cdev)
          }
          compared(e, `device ${n} open`, err ?? 'ok', `open("${path}")${target === path ? '' : ` = ${target}`}`)
        } else if (kind === 'kvm' || path === '/dev/kvm') {
          lines.push({ comment: `KVM (capture line ${e.line}): open("${path}") = ${err ?? e.ret}`, role: 'note', from: e.line })
        } else {
          notConverted(e, `open("${path}")${err === undefined ? ` = ${kind ?? '?'}` : ` = ${err}`}: iommufd and VFIO cdev lines are docs/transcript-iommufd.md's`)
        }
        break
      }
      case 'close': {
        const held = pendingNote(e, fd)
        if (fd === container) {
          container = undefined
          compared(e, 'close', err ?? 'ok', held === undefined ? 'the container fd' : `the container fd; ${held}`)
        } else if (fd !== undefined && groupOf.has(fd)) {
          compared(e, `group ${groupOf.get(fd)} close`, err ?? 'ok', held)
          groupOf.delete(fd)
        } else if (fd !== undefined && deviceOf.has(fd)) {
          compared(e, `device ${deviceOf.get(fd)} close`, err ?? 'ok', held)
          deviceOf.delete(fd)
        } else if (fd !== undefined && fd === iommufd) {
          iommufd = undefined
          compared(e, 'iommufd close', err ?? 'ok', held)
        } else if (fd !== undefined && veventqs.has(fd)) {
          // The queue's fd holds the queue: its IOMMU_DESTROY is EBUSY until this close (and
          // until every other reference to the file is gone: `held`).
          compared(e, `veventq ${veventqs.get(fd)} close`, err ?? 'ok', held === undefined ? undefined : `fd ${fd}; ${held}`)
          veventqs.delete(fd)
        } else if (e.subject?.kind === 'kvm' || e.subject?.kind === 'kvm-vm' || e.subject?.kind === 'kvm-vfio') {
          lines.push({ comment: `KVM (capture line ${e.line}): close of ${e.subject.kind} fd ${fd}`, role: 'note', from: e.line })
        } else notConverted(e, `close of ${e.subject?.kind ?? '?'} fd ${fd}`)
        break
      }
      case 'ioctl':
        convertIoctl(e)
        break
      case 'pread':
      case 'pwrite':
      case 'mmap': {
        const device = fd === undefined ? undefined : deviceOf.get(fd)
        if (device === undefined) {
          notConverted(e, `${e.call} on ${e.subject?.kind ?? '?'} fd ${fd}`)
          break
        }
        const where = regionWords(device, BigInt(e.args.get('offset') ?? '0'))
        if (e.call === 'mmap') {
          if (err === undefined && e.ret !== undefined) deviceMmaps.push({ start: e.ret, end: e.ret + BigInt(e.args.get('length') ?? '0') })
          outside(e, `device ${device} mmap ${where} size=${hexOf(e.args.get('length'))} prot=${e.args.get('prot') ?? '?'}`, err ?? 'ok')
        } else if (e.call === 'pread') {
          outside(e, `device ${device} read ${where} size=${hexOf(e.args.get('size'))}`, err ?? [String(e.ret), ...e.outText].join(' '))
        } else {
          const data = e.args.get('data') ?? ''
          outside(e, `device ${device} write ${where} size=${hexOf(e.args.get('size'))}${data === '' ? '' : ` data=${data}`}`, err ?? String(e.ret))
        }
        break
      }
      case 'read': {
        const q = fd === undefined ? undefined : veventqs.get(fd)
        if (q === undefined) {
          notConverted(e, `read of ${e.subject?.kind ?? '?'} fd ${fd}`)
          break
        }
        compared(e, `veventq ${q} read`, err ?? (e.ret === 0n ? 'empty' : veventqRecords(e.out.get('data') ?? '')))
        break
      }
      case 'exit': {
        const open = (e.argText.find((w) => w.startsWith('open=')) ?? 'open=none').slice('open='.length)
        const names = open === 'none' ? [] : open.split(',').map((kf) => describeFd(kf))
        const pending = e.args.get('pending_polls')
        const polled = pending === undefined ? '' : `; io_uring polls not completed: ${pending} (the kernel cancels them as the process exits, and their files go)`
        lines.push({ call: 'exit', result: 'ok', role: 'compared', from: e.line, comment: `${names.length === 0 ? 'the process exits with nothing of VFIO open' : `the process exits; the kernel closes ${names.join(', ')}`}${polled}` })
        counts.compared++
        break
      }
      case 'uring_init':
        note(e, `io_uring (capture line ${e.line}): io_uring_queue_init entries=${e.args.get('entries') ?? '?'} = ${err ?? `ring fd ${e.out.get('ring_fd') ?? '?'}`}`)
        break
      case 'uring_poll_add': {
        const q = fd === undefined ? undefined : veventqs.get(fd)
        const name = q === undefined ? `${e.subject?.kind ?? '?'} fd ${fd}` : `veventq ${q} (fd ${fd})`
        polls.set(pollKey(e), { name, fd: fd ?? -1, line: e.line, done: false })
        note(e, `io_uring (capture line ${e.line}): POLL_ADD on ${name} submitted (ring fd ${e.args.get('ring') ?? '?'}): until it completes, the request holds a reference to the file`)
        break
      }
      case 'uring_poll_remove': {
        const p = polls.get(pollKey(e))
        note(e, `io_uring (capture line ${e.line}): POLL_REMOVE of the POLL_ADD on ${p === undefined ? `${e.subject?.kind ?? '?'} fd ${fd}` : `${p.name} (capture line ${p.line})`} submitted`)
        break
      }
      case 'uring_poll_done': {
        const p = polls.get(pollKey(e))
        if (p !== undefined) p.done = true
        const how = err !== undefined ? err : `ready (events ${hexOf(String(e.ret ?? 0n))})`
        note(e, `io_uring (capture line ${e.line}): the POLL_ADD on ${p === undefined ? `${e.subject?.kind ?? '?'} fd ${fd}` : `${p.name} (capture line ${p.line})`} completed: ${how}; its reference to the file is dropped`)
        break
      }
      default:
        notConverted(e, `${e.call}`)
    }
  }
  counts.calls = counts.compared + counts.outside + counts.notConverted
  return { lines, counts, groups, devices }

  function describeFd(kf: string): string {
    const [kind, fdText] = kf.split(':')
    const n = Number(fdText)
    if (kind === 'container') return `the container (fd ${n})`
    if (kind === 'group') return `group ${groupOf.get(n) ?? '?'} (fd ${n})`
    if (kind === 'device') return `device ${deviceOf.get(n) ?? '?'} (fd ${n})`
    return `${kind} fd ${n}`
  }

  /** `region=7 offset=0x30`, from the regions the device reported; else the raw file offset. */
  function regionWords(device: number, fileOffset: bigint): string {
    const r = (regions.get(device) ?? []).find((x) => fileOffset >= x.offset && (fileOffset < x.offset + x.size || (x.size === 0n && fileOffset === x.offset)))
    return r === undefined ? `file_offset=0x${fileOffset.toString(16)}` : `region=${r.index} offset=0x${(fileOffset - r.offset).toString(16)}`
  }

  /** An ioctl on /dev/iommu, as docs/transcript-iommufd.md's lines (and docs/transcript-vmm.md's). */
  function convertIommufd(e: CaptureEvent): void {
    const err = failed(e)
    const a = e.args
    const o = e.out
    const num = (k: string): number => Number(a.get(k) ?? '0')
    switch (e.name) {
      case 'IOMMU_IOAS_ALLOC': {
        if (num('flags') !== 0) break
        const id = Number(o.get('out_ioas_id'))
        const n = err === undefined ? nameNew('ioas', id) : (counters.get('ioas') ?? 0) + 1
        compared(e, `ioas ${n} alloc`, err ?? `ok id=${id}`)
        return
      }
      case 'IOMMU_IOAS_IOVA_RANGES': {
        const n = objects.get(num('ioas_id'))
        if (n === undefined || !n.startsWith('ioas:')) break
        const parts = [err ?? 'ok']
        if (o.has('num_iovas')) parts.push(`num_iovas=${o.get('num_iovas')}`)
        if (o.has('out_iova_alignment')) parts.push(`alignment=${hexOf(o.get('out_iova_alignment'))}`)
        if (o.has('ranges')) parts.push(`ranges=${o.get('ranges')}`)
        compared(e, `ioas ${n.slice(5)} iova_ranges num_iovas=${num('num_iovas')}`, parts.join(' '))
        return
      }
      case 'IOMMU_IOAS_MAP': {
        const n = objects.get(num('ioas_id'))
        const flags = num('flags')
        if (n === undefined || !n.startsWith('ioas:') || (flags & 1) === 0) break
        const perm = { 2: 'w', 4: 'r', 6: 'rw' }[flags & 6]
        const va = BigInt(a.get('user_va') ?? '0')
        compared(e, `ioas ${n.slice(5)} map iova=${hexOf(a.get('iova'))} size=${hexOf(a.get('length'))} ${perm === undefined ? `flags=0x${flags.toString(16)}` : perm}${vaddrWord(va)}`, err ?? 'ok', `user_va ${a.get('user_va')}`)
        return
      }
      case 'IOMMU_IOAS_UNMAP': {
        const n = objects.get(num('ioas_id'))
        if (n === undefined || !n.startsWith('ioas:')) break
        const all = BigInt(a.get('iova') ?? '0') === 0n && BigInt(a.get('length') ?? '0') === (1n << 64n) - 1n
        compared(e, `ioas ${n.slice(5)} unmap ${all ? 'all' : `iova=${hexOf(a.get('iova'))} size=${hexOf(a.get('length'))}`}`, err ?? `ok unmapped=${hexOf(o.get('length'))}`)
        return
      }
      case 'IOMMU_HWPT_ALLOC': {
        const dev = ref(num('dev_id'))
        const pt = ref(num('pt_id'))
        const dataType = num('data_type')
        // A nested HWPT of an SMMUv3: its vSTE (two little-endian words) by field names.
        const vste = dataType === 2 && num('data_len') === 16 ? ` vste="${formatVste(words64(a.get('data') ?? ''))}"` : ''
        if ((dataType !== 0 && vste === '') || !dev.startsWith('device:')) break
        const flags = num('flags')
        const names = [flags & 1 ? 'NEST_PARENT' : '', flags & 2 ? 'DIRTY_TRACKING' : ''].filter((x) => x !== '')
        const flagsWord = flags === 0 ? '' : ` flags=${(flags & ~3) === 0 ? names.join('|') : `0x${flags.toString(16)}`}`
        const id = Number(o.get('out_hwpt_id'))
        const n = err === undefined ? nameNew('hwpt', id) : (counters.get('hwpt') ?? 0) + 1
        compared(e, `hwpt ${n} alloc device=${dev.slice(7)} pt=${pt}${flagsWord}${vste}`, err ?? `ok id=${id}`)
        return
      }
      case 'IOMMU_VIOMMU_ALLOC': {
        const dev = ref(num('dev_id'))
        const hwpt = ref(num('hwpt_id'))
        if (!dev.startsWith('device:') || !hwpt.startsWith('hwpt:') || num('flags') !== 0 || num('data_len') !== 0) break
        const id = Number(o.get('out_viommu_id'))
        const n = err === undefined ? nameNew('viommu', id) : (counters.get('viommu') ?? 0) + 1
        compared(e, `viommu ${n} alloc device=${dev.slice(7)} hwpt=${hwpt.slice(5)} type=${num('type') === 1 ? 'ARM_SMMUV3' : num('type')}`, err ?? `ok id=${id}`)
        return
      }
      case 'IOMMU_VDEVICE_ALLOC': {
        const viommu = ref(num('viommu_id'))
        const dev = ref(num('dev_id'))
        if (!viommu.startsWith('viommu:') || !dev.startsWith('device:')) break
        const id = Number(o.get('out_vdevice_id'))
        const n = err === undefined ? nameNew('vdevice', id) : (counters.get('vdevice') ?? 0) + 1
        compared(e, `vdevice ${n} alloc viommu=${viommu.slice(7)} device=${dev.slice(7)} virt_id=${hexOf(a.get('virt_id'))}`, err ?? `ok id=${id}`)
        return
      }
      case 'IOMMU_VEVENTQ_ALLOC': {
        const viommu = ref(num('viommu_id'))
        if (!viommu.startsWith('viommu:') || num('flags') !== 0) break
        const id = Number(o.get('out_veventq_id'))
        const n = err === undefined ? nameNew('veventq', id) : (counters.get('veventq') ?? 0) + 1
        if (err === undefined) veventqs.set(Number(o.get('out_veventq_fd')), n)
        compared(e, `veventq ${n} alloc viommu=${viommu.slice(7)} type=${num('type') === 1 ? 'ARM_SMMUV3' : num('type')} depth=${num('veventq_depth')}`, err ?? `ok id=${id}`)
        return
      }
      case 'IOMMU_HWPT_INVALIDATE': {
        const target = ref(num('hwpt_id'))
        const entryLen = num('entry_len')
        if ((!target.startsWith('viommu:') && !target.startsWith('hwpt:')) || num('data_type') !== 1 || entryLen !== 16) break
        const words = words64(a.get('data') ?? '')
        const cmds: string[] = []
        for (let i = 0; i + 1 < words.length; i += 2) cmds.push(`cmd="${formatCommand(words.slice(i, i + 2))}"`)
        compared(e, [`${target.replace(':', ' ')} invalidate`, ...cmds].join(' '), `${err ?? 'ok'} entry_num=${o.get('entry_num') ?? '?'}`)
        return
      }
      case 'IOMMU_GET_HW_INFO': {
        const dev = ref(num('dev_id'))
        if (!dev.startsWith('device:')) break
        const type = a.has('in_data_type') ? ` type=${a.get('in_data_type')}` : ''
        const parts = err === undefined ? ['ok', `type=${o.get('out_data_type')}`, `data_len=${o.get('data_len')}`, ...hwInfoFields(o.get('data') ?? '', Number(o.get('out_data_type')))] : [err]
        if (err === undefined && o.has('out_capabilities')) parts.push(`caps=${o.get('out_capabilities')}`)
        compared(e, `device ${dev.slice(7)} hw_info${type} data_len=${num('data_len')}`, parts.join(' '))
        return
      }
      case 'IOMMU_IOAS_CHANGE_PROCESS':
        compared(e, 'iommufd change_process', err ?? 'ok')
        return
      case 'IOMMU_DESTROY': {
        const id = num('id')
        const name = objects.get(id)
        compared(e, name === undefined ? `destroy id=${id}` : `destroy ${name.replace(':', ' ')}`, err ?? 'ok')
        return
      }
    }
    notConverted(e, `${e.name ?? e.argText.join(' ')} on /dev/iommu (${[...e.argText].join(' ')})`)
  }

  function convertIoctl(e: CaptureEvent): void {
    const err = failed(e)
    const fd = e.subject?.fd as number
    const kind = e.subject?.kind
    const name = e.name
    if (kind === 'container') {
      if (fd !== container) {
        notConverted(e, `${name ?? 'an ioctl'} on a second container`)
        return
      }
      switch (name) {
        case 'VFIO_GET_API_VERSION':
          compared(e, 'api_version', err ?? String(e.ret))
          return
        case 'VFIO_CHECK_EXTENSION': {
          const ext = Number(e.args.get('ext'))
          compared(e, `check_extension ${extensionName(opts.uapi, ext) ?? ext}`, err ?? String(e.ret))
          return
        }
        case 'VFIO_SET_IOMMU': {
          const type = Number(e.args.get('type'))
          compared(e, `set_iommu ${extensionName(opts.uapi, type) ?? type}`, err ?? 'ok')
          return
        }
        case 'VFIO_IOMMU_GET_INFO':
          compared(e, `get_info argsz=${hexOf(e.args.get('argsz'))}`, err ?? infoResult(e))
          return
        case 'VFIO_IOMMU_MAP_DMA': {
          const flags = Number(e.args.get('flags'))
          const vaddr = BigInt(e.args.get('vaddr') ?? '0')
          const perm = PERMS[flags] ?? `flags=0x${flags.toString(16)}`
          compared(e, `map iova=${hexOf(e.args.get('iova'))} size=${hexOf(e.args.get('size'))} ${perm}${vaddrWord(vaddr)}`, err ?? 'ok', `vaddr 0x${vaddr.toString(16)}`)
          return
        }
        case 'VFIO_IOMMU_UNMAP_DMA': {
          const flags = Number(e.args.get('flags'))
          const iova = hexOf(e.args.get('iova'))
          const size = hexOf(e.args.get('size'))
          const call = flags === 2 && iova === '0x0' && size === '0x0' ? 'unmap all' : `unmap iova=${iova} size=${size}${flags === 0 ? '' : ` flags=0x${flags.toString(16)}`}`
          compared(e, call, err ?? `ok unmapped=${hexOf(e.out.get('size'))}`)
          return
        }
      }
      notConverted(e, `${name ?? e.argText.join(' ')} on the container`)
      return
    }
    if (kind === 'group') {
      const n = groupOf.get(fd)
      if (n === undefined) {
        notConverted(e, `${name ?? 'an ioctl'} on a group fd opened before the capture`)
        return
      }
      switch (name) {
        case 'VFIO_GROUP_GET_STATUS':
          compared(e, `group ${n} status`, err ?? statusWords(Number(e.out.get('flags'))))
          return
        case 'VFIO_GROUP_SET_CONTAINER': {
          const target = e.args.get('fd') ?? ''
          if (!target.startsWith('container:')) {
            notConverted(e, `VFIO_GROUP_SET_CONTAINER with ${target} (an iommufd as the container: docs/transcript-iommufd.md)`)
            return
          }
          compared(e, `group ${n} set_container`, err ?? 'ok')
          return
        }
        case 'VFIO_GROUP_UNSET_CONTAINER':
          compared(e, `group ${n} unset_container`, err ?? 'ok')
          return
        case 'VFIO_GROUP_GET_DEVICE_FD': {
          const devName = e.args.get('name') ?? '?'
          if (err === undefined) {
            if ([...deviceOf.values()].includes(n)) {
              notConverted(e, `a second device of group ${n} (${devName}): a transcript names one device a group`)
              return
            }
            deviceOf.set(Number(e.ret), n)
            devices.set(n, devName)
          }
          compared(e, `group ${n} get_device`, err ?? 'ok', devName)
          return
        }
      }
      notConverted(e, `${name ?? e.argText.join(' ')} on group ${n}`)
      return
    }
    if (kind === 'device' && name !== undefined && ['VFIO_DEVICE_BIND_IOMMUFD', 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', 'VFIO_DEVICE_DETACH_IOMMUFD_PT'].includes(name)) {
      const n = deviceOf.get(fd)
      if (n === undefined) {
        notConverted(e, `${name} on a device fd opened before the capture`)
        return
      }
      if (name === 'VFIO_DEVICE_BIND_IOMMUFD') {
        const id = Number(e.out.get('out_devid'))
        if (err === undefined) objects.set(id, `device:${n}`)
        compared(e, `device ${n} bind`, err ?? `ok id=${id}`)
      } else if (name === 'VFIO_DEVICE_ATTACH_IOMMUFD_PT') {
        compared(e, `device ${n} attach pt=${ref(Number(e.args.get('pt_id')))}`, err ?? 'ok', e.out.get('pt_id') !== e.args.get('pt_id') ? `pt_id written back: ${e.out.get('pt_id')}` : undefined)
      } else compared(e, `device ${n} detach`, err ?? 'ok')
      return
    }
    if (kind === 'device') {
      const n = deviceOf.get(fd)
      const action = name === undefined ? undefined : DEVICE_IOCTLS[name]
      if (n === undefined || action === undefined) {
        notConverted(e, `${name ?? e.argText.join(' ')} on ${n === undefined ? 'a device fd no group handed out (a cdev: docs/transcript-iommufd.md)' : `device ${n}`}`)
        return
      }
      if (action === 'region_info' && err === undefined) {
        const list = regions.get(n) ?? []
        list.push({ index: Number(e.args.get('index')), offset: BigInt(e.out.get('offset') ?? '0'), size: BigInt(e.out.get('size') ?? '0') })
        regions.set(n, list)
      }
      // The return value when it says more than success (DMA_BUF's GET returns a new fd), then what came back.
      const answer = [...(e.ret !== undefined && e.ret !== 0n ? [`ret=${e.ret}`] : []), ...e.outText]
      outside(e, [`device ${n} ${action}`, ...e.argText].join(' '), err ?? (answer.length === 0 ? '0' : answer.join(' ')))
      return
    }
    if (kind === 'iommufd') {
      convertIommufd(e)
      return
    }
    if (kind === 'kvm' || kind === 'kvm-vm' || kind === 'kvm-vfio') {
      lines.push({ comment: `KVM (capture line ${e.line}): ${name ?? ''} ${e.argText.join(' ')} = ${e.ret}${err === undefined ? '' : ` ${err}`}`.replace(/\s+/g, ' '), role: 'note', from: e.line })
      return
    }
    notConverted(e, `${name ?? e.argText.join(' ')} on ${kind ?? '?'} fd ${fd}: iommufd lines are docs/transcript-iommufd.md's`)
  }
}

/** Little-endian u64 words of hex bytes. */
function words64(hex: string): bigint[] {
  const bytes = Buffer.from(hex, 'hex')
  const out: bigint[] = []
  for (let i = 0; i + 8 <= bytes.length; i += 8) out.push(bytes.readBigUInt64LE(i))
  return out
}

/** IHI 0070 event names, as docs/transcript-iommufd.md 3.5 writes them. */
const EVENT_NAMES: Readonly<Record<number, string>> = { 0x04: 'C_BAD_STE', 0x06: 'F_STREAM_DISABLED', 0x08: 'C_BAD_SUBSTREAMID', 0x0a: 'C_BAD_CD', 0x10: 'F_TRANSLATION', 0x11: 'F_ADDR_SIZE', 0x12: 'F_ACCESS', 0x13: 'F_PERMISSION' }

/** A vEVENTQ read's bytes as records: header {u32 flags, u32 sequence}, then (no LOST_EVENTS) 32 bytes of event. */
function veventqRecords(hex: string): string {
  const bytes = Buffer.from(hex, 'hex')
  const records: string[] = []
  for (let off = 0; off + 8 <= bytes.length; ) {
    const flags = bytes.readUInt32LE(off)
    const seq = bytes.readUInt32LE(off + 4)
    off += 8
    if ((flags & 1) !== 0 || off + 32 > bytes.length) {
      records.push(`LOST_EVENTS seq=${seq}`)
      continue
    }
    const w = [0, 1, 2, 3].map((i) => bytes.readBigUInt64LE(off + 8 * i))
    const id = Number((w[0] as bigint) & 0xffn)
    records.push(`${EVENT_NAMES[id] ?? `EVT_0x${id.toString(16)}`} seq=${seq} ${w.map((x, i) => `w${i}=0x${x.toString(16)}`).join(' ')}`)
    off += 32
  }
  return records.join(' ')
}

/** hw_info's driver fields from the data the kernel copied (SMMUv3: struct iommu_hw_info_arm_smmuv3). */
function hwInfoFields(hex: string, type: number): string[] {
  const bytes = Buffer.from(hex, 'hex')
  const u32 = (off: number): string => `0x${bytes.readUInt32LE(off).toString(16)}`
  if (type === 2 && bytes.length >= 40) return [`flags=${u32(0)}`, ...[0, 1, 2, 3, 4, 5].map((i) => `idr${i}=${u32(8 + 4 * i)}`), `iidr=${u32(32)}`, `aidr=${u32(36)}`]
  return []
}

/** get_info's result words from what the capture decoded. */
function infoResult(e: CaptureEvent): string {
  const o = e.out
  const parts = [`argsz=${hexOf(o.get('argsz'))}`, `flags=${o.get('flags') ?? '?'}`]
  if (o.has('pgsizes')) parts.push(`pgsizes=${o.get('pgsizes')}`)
  const caps = o.get('caps') ?? 'none'
  parts.push(`caps=${caps}`)
  if (caps !== 'none') {
    parts.push(`migration=${o.get('cap.migration') ?? 'none'}`)
    parts.push(`dma_avail=${o.get('cap.dma_avail') ?? 'none'}`)
    parts.push(`ranges=${o.get('cap.iova_range') ?? 'none'}`)
  }
  return parts.join(' ')
}

/** Transcript text: each line `<call padded> = <result>   # comment`. */
export function formatConverted(lines: readonly ConvertedLine[], width = 45): string[] {
  return lines.map((l) => {
    if (l.call === undefined) return `# ${l.comment ?? ''}`
    const body = `${l.call.padEnd(width)} = ${l.result ?? ''}`
    return l.comment === undefined ? body : `${body}   # ${l.comment}`
  })
}
