/**
 * Replaying the iommufd and device-cdev lines (docs/transcript-iommufd.md): the transcript names
 * objects by its own numbers; this session keeps, per kind and number, the kernel object ID the
 * allocating line got, and passes ID 0 (never an iommufd ID) for a name with no object. /dev/iommu
 * is opened by the first line that needs it, a device's cdev by the first line naming it; a
 * failed open is that line's result.
 */
import { ok, type Result } from '../errno'
import { IOMMU_HW_INFO_FLAG_INPUT_TYPE, IOMMU_HW_INFO_TYPE_ARM_SMMUV3, IOMMU_HW_INFO_TYPE_INTEL_VTD, IOMMU_VEVENTQ_FLAG_LOST_EVENTS, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 } from '../iommufd/uapi'
import { decodeEventRecord, V3_EVENT_ID } from '../smmu/v3/events'
import type { IommufdFile, VeventqFile, VfioBackend, VfioDeviceFile } from '../vfio/backend'
import { mapResult, observed, Unrunnable, type Observed, type ObservedRecord } from './observed'
import { EVENT_FIELD_NAMES } from './parse-iommufd'
import type { Call, DeviceAction, Expected, ObjectAction, ObjectKind, ObjectRef } from './syntax'

/** The user buffer IOMMU_GET_HW_INFO is given (bytes). */
const HW_INFO_BUFFER = 64
/** The buffer a `veventq N read` reads into. */
const VEVENTQ_READ_BYTES = 4096

type IommufdCall = Extract<Call, { op: 'device' | 'object' | 'destroy' | 'guest' }>

/** Event IDs the forwarded records may carry beyond the model's own table (iommufd.h). */
const EXTRA_EVENT_NAMES: Readonly<Record<number, string>> = { 0x06: 'F_STREAM_DISABLED', 0x08: 'C_BAD_SUBSTREAMID' }

export class IommufdSession {
  private file?: IommufdFile
  private readonly devices = new Map<number, VfioDeviceFile>()
  /** `${kind}:${n}` -> kernel object ID. */
  private readonly ids = new Map<string, number>()
  private readonly veventqs = new Map<number, { readonly file: VeventqFile; readonly type: number }>()
  /** The IOAS numbers allocated, in order (a guest line without ioas= needs exactly one). */
  private readonly ioasNames: number[] = []
  /** entry_num the last invalidate wrote back. */
  lastEntryNum: number | undefined

  constructor(private readonly backend: VfioBackend) {}

  /** /dev/iommu once a line opened it. */
  get iommufd(): IommufdFile | undefined {
    return this.file
  }

  run(call: IommufdCall): Result<Observed> {
    switch (call.op) {
      case 'device':
        return this.device(call.device, call.action)
      case 'object':
        return this.object(call.kind, call.n, call.action)
      case 'destroy': {
        const f = this.iommufdFile()
        if (!f.ok) return f
        return mapResult(f.value.destroy(this.idOf(call.target)), () => ({ kind: 'ok' }))
      }
      case 'guest': {
        const f = this.iommufdFile()
        if (!f.ok) return f
        const ioas = this.ioasId(call.ioas)
        const bytes = new Uint8Array(call.words.length * 8)
        const view = new DataView(bytes.buffer)
        call.words.forEach((w, i) => view.setBigUint64(i * 8, w, true))
        if (!f.value.guestWrite(ioas, call.ipa, bytes)) {
          throw new Unrunnable('NO_GUEST_RAM', `IPA 0x${call.ipa.toString(16)} (+${bytes.length}) is not inside one mapping of the IOAS: guest memory is what "ioas N map" lines mapped`)
        }
        return observed({ kind: 'ok' })
      }
    }
  }

  // ---- what a VMM adds (docs/transcript-vmm.md) -----------------------------------------------

  /** `iommufd open`: open("/dev/iommu") now (EBUSY-free: every open is a new iommufd context). */
  openIommufd(): Result<Observed> {
    this.file = undefined
    return mapResult(this.iommufdFile(), () => ({ kind: 'ok' }))
  }

  /**
   * `iommufd close`, and /dev/iommu at `exit` (after the cdevs): iommufd_fops_release destroys
   * every object of the context; the transcript's names keep their old IDs (ID 0 from now on, as
   * for any name: a new context has none of them).
   */
  closeIommufd(): void {
    this.file = undefined
    this.ids.clear()
    this.veventqs.clear()
    this.ioasNames.length = 0
  }

  /** `iommufd change_process`: IOMMU_IOAS_CHANGE_PROCESS. */
  changeProcess(): Result<Observed> {
    const f = this.iommufdFile()
    if (!f.ok) return f
    return mapResult(f.value.ioasChangeProcess(), () => ({ kind: 'ok' }))
  }

  /** `device N open`: the cdev opened now; a failed open is the line's result. */
  openDeviceLine(n: number): Result<Observed> {
    return mapResult(this.deviceFile(n), () => ({ kind: 'ok' }))
  }

  /** At `exit`: every device cdev closed (each unbound: vfio_iommufd_physical_unbind), then /dev/iommu. */
  closeAll(): void {
    for (const [n, d] of this.devices) {
      d.close()
      this.devices.delete(n)
    }
    this.closeIommufd()
  }

  /** `ioas N iova_ranges num_iovas=K`: IOMMU_IOAS_IOVA_RANGES with room for K ranges. */
  iovaRanges(n: number, maxIovas: number): Result<Observed> {
    const f = this.iommufdFile()
    if (!f.ok) return f
    const out = f.value.ioasIovaRanges(this.ids.get(`ioas:${n}`) ?? 0, maxIovas)
    const ranges = out.ranges.map((r) => ({ start: r.start, end: r.last }))
    // The struct is written back when the walk ran: on success and on EMSGSIZE.
    const wrote = out.result.ok || out.result.error.errno === 'EMSGSIZE'
    return observed({
      kind: 'iova_ranges',
      ...(out.result.ok ? {} : { errno: out.result.error.errno }),
      ...(wrote ? { numIovas: out.numIovas, alignment: out.alignment } : {}),
      ranges,
    })
  }

  // ---- files -----------------------------------------------------------------------------------

  private iommufdFile(): Result<IommufdFile> {
    if (this.file !== undefined) return ok(this.file)
    if (this.backend.openIommufd === undefined) throw new Unrunnable('NO_IOMMUFD', `the ${this.backend.name} backend has no /dev/iommu`)
    const f = this.backend.openIommufd()
    if (f.ok) this.file = f.value
    return f
  }

  /** Device N's cdev (opened on first use). */
  openDevice(n: number): Result<VfioDeviceFile> {
    return this.deviceFile(n)
  }

  private deviceFile(n: number): Result<VfioDeviceFile> {
    const known = this.devices.get(n)
    if (known !== undefined) return ok(known)
    if (this.backend.openDevice === undefined) throw new Unrunnable('NO_IOMMUFD', `the ${this.backend.name} backend has no VFIO device cdevs`)
    const d = this.backend.openDevice(n)
    if (d.ok) this.devices.set(n, d.value)
    return d
  }

  // ---- names -----------------------------------------------------------------------------------

  private idOf(ref: ObjectRef): number {
    return ref.kind === 'id' ? ref.id : (this.ids.get(`${ref.type}:${ref.n}`) ?? 0)
  }

  private name(kind: ObjectKind, n: number, id: number): void {
    this.ids.set(`${kind}:${n}`, id)
    if (kind === 'ioas' && !this.ioasNames.includes(n)) this.ioasNames.push(n)
  }

  /** The IOAS a guest line or an ipa= check means: ioas=N, or the transcript's only IOAS. */
  private ioasId(n: number | undefined): number {
    if (n !== undefined) return this.ids.get(`ioas:${n}`) ?? 0
    if (this.ioasNames.length !== 1) {
      throw new Unrunnable('NO_GUEST_RAM', this.ioasNames.length === 0 ? 'no IOAS is allocated yet: guest memory is an IOAS\'s mappings' : 'several IOASes: say which one with ioas=N')
    }
    return this.ids.get(`ioas:${this.ioasNames[0] as number}`) ?? 0
  }

  // ---- device lines ----------------------------------------------------------------------------

  private device(n: number, action: DeviceAction): Result<Observed> {
    const dev = this.deviceFile(n)
    if (!dev.ok) return dev
    const d = dev.value
    switch (action.kind) {
      case 'bind': {
        const f = this.iommufdFile()
        if (!f.ok) return f
        const id = d.bindIommufd(f.value)
        if (id.ok) this.name('device', n, id.value)
        return mapResult(id, (v) => ({ kind: 'ok', id: v }))
      }
      case 'attach':
        return mapResult(d.attachPt(this.idOf(action.pt)), () => ({ kind: 'ok' }))
      case 'detach':
        return mapResult(d.detachPt(), () => ({ kind: 'ok' }))
      case 'close': {
        const r = d.close()
        if (r.ok) this.devices.delete(n)
        return mapResult(r, () => ({ kind: 'ok' }))
      }
      case 'hw_info':
        return this.hwInfo(n, action.type, action.dataLen)
      case 'dma':
        return this.dma(d, action)
    }
  }

  private hwInfo(n: number, type: number | undefined, dataLen = HW_INFO_BUFFER): Result<Observed> {
    const f = this.iommufdFile()
    if (!f.ok) return f
    const r = f.value.getHwInfo({ flags: type === undefined ? 0 : IOMMU_HW_INFO_FLAG_INPUT_TYPE, devId: this.ids.get(`device:${n}`) ?? 0, dataLen, inDataType: type ?? 0 })
    return mapResult(r, (info) => {
      const fields = new Map<string, bigint>([
        ['type', BigInt(info.type)],
        ['data_len', BigInt(info.dataLen)],
        ['caps', BigInt(info.capabilities)],
        ['max_pasid_log2', BigInt(info.maxPasidLog2)],
      ])
      // A field counts only when the caller's buffer held it (a short data_len: docs/transcript-vmm.md).
      const data = new Uint8Array(64)
      data.set(info.data.subarray(0, Math.min(info.data.byteLength, 64)))
      const view = new DataView(data.buffer)
      if (info.data.byteLength < (info.type === IOMMU_HW_INFO_TYPE_ARM_SMMUV3 ? 40 : 24)) {
        // The driver data did not fit whole: only the lengths and type are compared.
      } else if (info.type === IOMMU_HW_INFO_TYPE_ARM_SMMUV3) {
        fields.set('flags', BigInt(view.getUint32(0, true)))
        for (let i = 0; i < 6; i++) fields.set(`idr${i}`, BigInt(view.getUint32(8 + 4 * i, true)))
        fields.set('iidr', BigInt(view.getUint32(32, true)))
        fields.set('aidr', BigInt(view.getUint32(36, true)))
      } else if (info.type === IOMMU_HW_INFO_TYPE_INTEL_VTD) {
        fields.set('flags', BigInt(view.getUint32(0, true)))
        fields.set('cap_reg', view.getBigUint64(8, true))
        fields.set('ecap_reg', view.getBigUint64(16, true))
      }
      return { kind: 'hwinfo', fields }
    })
  }

  /**
   * The device's DMA; with ipa=, guest RAM at that IPA is filled first with bytes the transfer
   * does not carry (a write) or with the bytes a read should bring back, and checked after.
   */
  private dma(d: VfioDeviceFile, a: Extract<DeviceAction, { kind: 'dma' }>): Result<Observed> {
    const data = pattern(a.size)
    let ioas = 0
    if (a.ipa !== undefined) {
      const f = this.iommufdFile()
      if (!f.ok) return f
      ioas = this.ioasId(a.ioas)
      const fill = a.direction === 'write' ? data.map((b) => b ^ 0xff) : data
      if (!f.value.guestWrite(ioas, a.ipa, fill)) throw new Unrunnable('NO_GUEST_RAM', `ipa=0x${a.ipa.toString(16)} (+${a.size}) is not inside one mapping of the IOAS`)
    }
    const r = d.dma(a.direction, a.iova, a.size, a.direction === 'write' ? data : undefined)
    // Refused with no event: the device's DMA completes as far as anyone can see, and the bytes
    // are not where ipa= says (docs/transcript-iommufd.md 3.6): ok without ipa=, else misplaced.
    if (r.ok && r.value.kind === 'fault' && r.value.silent === true) return observed({ kind: 'dma', outcome: { kind: 'ok' }, misplaced: a.ipa !== undefined, note: r.value.detail })
    if (!r.ok || r.value.kind !== 'ok' || a.ipa === undefined) return mapResult(r, (outcome) => ({ kind: 'dma', outcome }))
    const outcome = r.value
    let moved: Uint8Array | undefined
    if (a.direction === 'write') moved = (this.file as IommufdFile).guestRead(ioas, a.ipa, a.size)
    else moved = outcome.data
    const same = moved !== undefined && moved.length === data.length && moved.every((b, i) => b === data[i])
    return observed({ kind: 'dma', outcome, misplaced: !same })
  }

  // ---- object lines ----------------------------------------------------------------------------

  private object(kind: ObjectKind, n: number, action: ObjectAction): Result<Observed> {
    const f = this.iommufdFile()
    if (!f.ok) return f
    const file = f.value
    const made = (r: Result<number>): Result<Observed> => {
      if (r.ok) this.name(kind, n, r.value)
      return mapResult(r, (id) => ({ kind: 'ok', id }))
    }
    const self = this.ids.get(`${kind}:${n}`) ?? 0
    switch (action.kind) {
      case 'alloc_ioas':
        return made(file.ioasAlloc())
      case 'map': {
        const req = action.request
        return mapResult(file.ioasMap({ ioasId: self, flags: req.flags, iova: req.iova, length: req.size, vaddr: req.vaddr }), () => ({ kind: 'ok' }))
      }
      case 'unmap':
        return mapResult(file.ioasUnmap(self, action.iova, action.size), (size) => ({ kind: 'unmapped', size }))
      case 'alloc_hwpt':
        return made(file.hwptAlloc({ flags: action.flags, devId: this.idOf(action.device), ptId: this.idOf(action.pt), dataType: action.dataType, ...(action.data === undefined ? {} : { data: action.data }) }))
      case 'alloc_viommu':
        return made(file.viommuAlloc({ flags: action.flags, type: action.type, devId: this.idOf(action.device), hwptId: this.idOf(action.hwpt) }))
      case 'alloc_vdevice':
        return made(file.vdeviceAlloc(this.idOf(action.viommu), this.idOf(action.device), action.virtId))
      case 'alloc_veventq': {
        const q = file.veventqAlloc({ flags: action.flags, viommuId: this.idOf(action.viommu), type: action.type, depth: action.depth })
        if (!q.ok) return q
        this.veventqs.set(n, { file: q.value, type: action.type })
        return made(ok(q.value.id))
      }
      case 'invalidate': {
        const e = action.entries
        const bytes = new Uint8Array(e.entries.length * e.entryLen)
        e.entries.forEach((entry, i) => bytes.set(entry.subarray(0, e.entryLen), i * e.entryLen))
        const out = file.hwptInvalidate({ hwptId: self, dataType: e.dataType, entryLen: e.entryLen, entryNum: e.entries.length, data: bytes })
        this.lastEntryNum = out.entryNum
        return mapResult(out.result, () => ({ kind: 'ok' }))
      }
      case 'read': {
        const q = this.veventqs.get(n)
        if (q === undefined) throw new Unrunnable('NO_VEVENTQ', `veventq ${n} was not allocated by this transcript`)
        return mapResult(q.file.read(VEVENTQ_READ_BYTES), (bytes) => ({ kind: 'records', records: decodeRecords(bytes, q.type) }))
      }
      case 'close': {
        const q = this.veventqs.get(n)
        if (q === undefined) throw new Unrunnable('NO_VEVENTQ', `veventq ${n} was not allocated by this transcript`)
        return mapResult(q.file.close(), () => ({ kind: 'ok' }))
      }
    }
  }
}

/** A DMA's bytes: a fixed pattern, different in each byte of a line. */
function pattern(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 37 + 11) & 0xff)
}

/** read()'s bytes as records: {flags, sequence} headers, each followed by its data. */
function decodeRecords(bytes: Uint8Array, type: number): ObservedRecord[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out: ObservedRecord[] = []
  let at = 0
  while (at + 8 <= bytes.length) {
    const flags = view.getUint32(at, true)
    const seq = BigInt(view.getUint32(at + 4, true))
    at += 8
    if ((flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS) !== 0) {
      out.push({ name: 'LOST_EVENTS', fields: new Map([['seq', seq]]) })
      continue
    }
    if (type !== IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 || at + 32 > bytes.length) throw new Error(`cannot decode a vEVENTQ record of type ${type}`)
    const words = [0, 1, 2, 3].map((i) => view.getBigUint64(at + 8 * i, true))
    at += 32
    const rec: Readonly<Record<string, boolean | number | bigint>> = decodeEventRecord(words)
    const fields = new Map<string, bigint>([['seq', seq]])
    for (const [name, key] of Object.entries(EVENT_FIELD_NAMES)) {
      const v = rec[key]
      if (v !== undefined) fields.set(name, typeof v === 'boolean' ? (v ? 1n : 0n) : BigInt(v))
    }
    words.forEach((w, i) => fields.set(`w${i}`, w))
    const id = Number(rec.eventId)
    const name = (Object.keys(V3_EVENT_ID) as (keyof typeof V3_EVENT_ID)[]).find((k) => V3_EVENT_ID[k] === id) ?? EXTRA_EVENT_NAMES[id] ?? `EVT_0x${id.toString(16)}`
    out.push({ name, fields })
  }
  return out
}

/** hwinfo and records expectations: only the keys written are compared. */
export function iommufdAgrees(expected: Expected, o: Observed): boolean {
  switch (expected.kind) {
    case 'misplaced':
      return o.kind === 'dma' && o.outcome.kind === 'ok' && o.misplaced === true
    case 'hwinfo':
      return o.kind === 'hwinfo' && [...expected.fields].every(([k, v]) => o.fields.get(k) === v)
    case 'records':
      if (o.kind !== 'records' || o.records.length !== expected.records.length) return false
      return expected.records.every((r, i) => {
        const got = o.records[i] as ObservedRecord
        return got.name === r.name && [...r.fields].every(([k, v]) => got.fields.get(k) === v)
      })
    default:
      return false
  }
}

/** The backend's hwinfo or records in the transcript's words (the keys the line wrote, or a summary). */
export function describeIommufd(o: Observed, expected: Expected): string {
  if (o.kind === 'hwinfo') {
    const keys = expected.kind === 'hwinfo' ? [...expected.fields.keys()] : [...o.fields.keys()]
    return `ok ${keys.map((k) => `${k}=${k === 'type' ? (o.fields.get(k) ?? 0n).toString() : `0x${(o.fields.get(k) ?? 0n).toString(16)}`}`).join(' ')}`
  }
  if (o.kind === 'records') {
    if (o.records.length === 0) return 'empty'
    return o.records
      .map((r, i) => {
        const want = expected.kind === 'records' ? expected.records[i] : undefined
        const keys = want === undefined || want.name !== r.name ? ['seq', ...(r.name === 'LOST_EVENTS' ? [] : ['sid'])] : [...want.fields.keys()]
        return [r.name, ...keys.map((k) => `${k}=0x${(r.fields.get(k) ?? 0n).toString(16)}`)].join(' ')
      })
      .join(' ')
  }
  return o.kind
}
