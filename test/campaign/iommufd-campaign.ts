/**
 * Campaigns over the iommufd model (model/iommufd, driven through the VFIO cdev and /dev/iommu
 * as a VMM drives them), on QEMU 10's SMMUv3 with CANWBS (the whole nested path) and without.
 *
 * Lifetimes: random sequences of allocate (IOAS, paging and nest-parent HWPTs, vIOMMU, vDEVICE,
 * nested HWPTs with random vSTEs, vEVENTQ), attach / detach, invalidate, destroy of any ID, map /
 * unmap, device close and reopen, DMA. After every call:
 *   - a failed call changed nothing observable: the objects (IDs, types, users), tombstones, the
 *     IOAS mappings, the device's attachment and STE, the VMM's buffers; the one exception is the
 *     kernel's own (iopt_unmap_iova_range): a failed IOAS_UNMAP may have removed whole mappings
 *     inside its range, and nothing else;
 *   - no object is gone while another holds it, and each object's users count is exactly one
 *     (the table) plus its holders (recomputed from the objects);
 *   - IDs are unique, and a new object took the lowest free ID.
 *
 * Isolation: a guest that controls its vSTE, its CD and its stage-1 tables (random words written
 * anywhere in guest RAM, over a well-formed setup) never makes the device reach memory outside
 * what the host's stage 2 maps: every translation ends in a fault or at a PA inside the VMM's
 * guest-RAM buffer; the physical STE's stage-2 words are always the nest parent's.
 */
import assert from 'node:assert/strict'
import { createModelBackend, loadFixture, type ModelBackend } from '../../model'
import type { IommufdCtx } from '../../model/iommufd/context'
import { HwptNested, HwptPaging, type IommufdObject } from '../../model/iommufd/objects'
import { makeS2DomainSte } from '../../model/iommufd/drivers/arm-smmu-v3'
import { steFields } from '../../model/smmu/v3/structures'
import type { IommufdFile, VeventqFile, VfioDeviceFile } from '../../model/vfio/backend'
import { ModelIommufdFile } from '../../model/vfio/model-iommufd'
import { prng } from '../../lib/prng'

const RAM_IPA = 0x4000_0000n
const RAM_SIZE = 0x20_0000n
const SID = 8

function le(words: readonly bigint[]): Uint8Array {
  const b = new Uint8Array(words.length * 8)
  const v = new DataView(b.buffer)
  words.forEach((w, i) => v.setBigUint64(i * 8, BigInt.asUintN(64, w), true))
  return b
}

interface Machine {
  readonly backend: ModelBackend
  readonly file: IommufdFile
  readonly ctx: IommufdCtx
  device: VfioDeviceFile
}

function boot(fixture: string): Machine {
  const backend = createModelBackend({ profile: 'linux-7.3', fixtures: [loadFixture(fixture)] })
  const f = backend.openIommufd()
  const d = backend.openDevice(1)
  if (!f.ok || !d.ok) throw new Error('cannot open /dev/iommu or the device')
  if (!(f.value instanceof ModelIommufdFile)) throw new Error('not the model')
  return { backend, file: f.value, ctx: f.value.ctx, device: d.value }
}

/** What a VMM could observe, and what the model holds, as one comparable string. */
function snapshot(m: Machine): string {
  const objs = m.ctx.objects.live().map((o) => `${o.id}:${o.type}:${o.users}${describeRefs(o)}`)
  const ste = m.backend.system.smmus()[0]?.readSte(SID)?.map((w) => w.toString(16)).join(',') ?? ''
  // The VMM's buffers as the process sees them; where their pages sit in RAM is left out: a pin
  // that a failed call undid leaves the pages faulted in, in the model as in a real process.
  const vmm = m.backend.env.process.state().replace(/@[0-9a-f]+/g, '')
  return `${objs.join(' ')} | T${m.ctx.objects.tombstones().join(',')} | ${ste} | ${vmm}`
}

function describeRefs(o: IommufdObject): string {
  switch (o.type) {
    case 'ioas':
      return `[${o.iopt.mappings().map((a) => `${a.iova.toString(16)}+${a.size.toString(16)}`).join(',')}]`
    case 'device':
      return `>${o.attached?.id ?? '-'}`
    default:
      return ''
  }
}

/** users = 1 + holders; nothing held is gone. */
function checkReferences(ctx: IommufdCtx): void {
  const live = ctx.objects.live()
  const byId = new Set(live)
  const holders = new Map<IommufdObject, number>()
  const hold = (holder: IommufdObject, held: IommufdObject): void => {
    assert.ok(byId.has(held), `${holder.type} ${holder.id} holds ${held.type} ${held.id}, which is gone`)
    holders.set(held, (holders.get(held) ?? 0) + 1)
  }
  for (const o of live) {
    if (o.type === 'hwpt_paging') hold(o, o.ioas)
    if (o.type === 'hwpt_nested') hold(o, o.viommu ?? o.parent)
    if (o.type === 'viommu') hold(o, o.hwpt)
    if (o.type === 'vdevice') hold(o, o.viommu)
    if (o.type === 'veventq') hold(o, o.viommu)
    if (o.type === 'device' && o.attached !== undefined) hold(o, o.attached)
  }
  for (const o of live) {
    // VFIO holds a bound device; an open fd holds its vEVENTQ.
    const outside = (o.type === 'device' ? 1 : 0) + (o.type === 'veventq' && o.fdOpen ? 1 : 0)
    assert.equal(o.users, 1 + outside + (holders.get(o) ?? 0), `${o.type} ${o.id}: users ${o.users}, holders ${holders.get(o) ?? 0}`)
  }
  const ids = live.map((o) => o.id)
  assert.equal(new Set(ids).size, ids.length, 'two objects share an ID')
}

export interface IommufdCampaignStats {
  steps: number
  failed: number
  byCall: Record<string, { ok: number; failed: number }>
  partialUnmaps: number
  maxObjects: number
}

/** The lifetimes campaign: `steps` random calls over a few machines. */
export function runIommufdLifetimeCampaign(opts: { readonly steps: number; readonly seed: number }): IommufdCampaignStats {
  const rnd = prng(opts.seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const int = (n: number): number => Math.floor(rnd() * n)
  const stats: IommufdCampaignStats = { steps: 0, failed: 0, byCall: {}, partialUnmaps: 0, maxObjects: 0 }
  const fixtures = ['qemu-smmuv3-10.0-acpi-canwbs', 'qemu-smmuv3-10.0', 'synthetic-smmuv3-fwb']
  while (stats.steps < opts.steps) {
    const m = boot(pick(fixtures))
    const ids = (): number[] => [0, ...m.ctx.objects.live().map((o) => o.id), ...m.ctx.objects.tombstones(), 99]
    /** Mostly a live object of the wanted kind, sometimes any ID (wrong kinds, tombstones, none). */
    const idOf = (...types: IommufdObject['type'][]): number => {
      const fit = m.ctx.objects.live().filter((o) => types.includes(o.type))
      return fit.length > 0 && rnd() < 0.85 ? (pick(fit) as IommufdObject).id : pick(ids())
    }
    m.device.bindIommufd(m.file)
    const queues: VeventqFile[] = []
    for (let i = 0; i < 300 && stats.steps < opts.steps; i++, stats.steps++) {
      const before = snapshot(m)
      const liveBefore = new Set(m.ctx.objects.live().map((o) => o.id))
      const lowestFree = ((): number => {
        const taken = new Set([...liveBefore, ...m.ctx.objects.tombstones()])
        let n = 1
        while (taken.has(n)) n++
        return n
      })()
      const id = (): number => pick(ids())
      const call = pick(['ioas', 'map', 'map', 'unmap', 'hwpt', 'parent', 'parent', 'nested', 'nested', 'viommu', 'viommu', 'vdevice', 'veventq', 'qclose', 'invalidate', 'destroy', 'attach', 'attach', 'detach', 'bind', 'close', 'dma'])
      let ok: boolean
      let unmapRange: [bigint, bigint] | undefined
      switch (call) {
        case 'ioas':
          ok = m.file.ioasAlloc().ok
          break
        case 'map':
          ok = m.file.ioasMap({ ioasId: idOf('ioas'), flags: pick([1, 3, 5, 7, 0, 8]), iova: RAM_IPA + BigInt(int(16)) * 0x1000n, length: BigInt(1 + int(4)) * 0x1000n, vaddr: { kind: pick(['buffer', 'buffer', 'misaligned', 'unmapped'] as const) } }).ok
          break
        case 'unmap': {
          const iova = RAM_IPA + BigInt(int(16)) * 0x1000n
          const len = BigInt(1 + int(6)) * 0x1000n
          unmapRange = [iova, iova + len - 1n]
          ok = m.file.ioasUnmap(idOf('ioas'), iova, len).ok
          break
        }
        case 'hwpt':
          ok = m.file.hwptAlloc({ flags: pick([0, 0, 2, 4, 8]), devId: idOf('device'), ptId: idOf('ioas', 'hwpt_paging'), dataType: 0 }).ok
          break
        case 'parent':
          ok = m.file.hwptAlloc({ flags: 1, devId: idOf('device'), ptId: idOf('ioas'), dataType: 0 }).ok
          break
        case 'nested': {
          const cfg = pick([0n, 4n, 5n, 5n, 5n, 6n, 7n])
          const w0 = pick([1n, 1n, 1n, 0n]) | (cfg << 1n) | (RAM_IPA + 0x1000n)
          const w1 = pick([0n, 0n, 0n, 0n, 1n << 19n, 1n << 28n, 2n << 28n])
          ok = m.file.hwptAlloc({ flags: pick([0, 0, 8]), devId: idOf('device'), ptId: idOf('viommu'), dataType: pick([2, 2, 2, 1]), data: le([w0, w1]) }).ok
          break
        }
        case 'viommu':
          ok = m.file.viommuAlloc({ flags: 0, type: pick([1, 1, 0, 2]), devId: idOf('device'), hwptId: idOf('hwpt_paging') }).ok
          break
        case 'vdevice':
          ok = m.file.vdeviceAlloc(idOf('viommu'), idOf('device'), BigInt(pick([8, 9, 0x42]))).ok
          break
        case 'veventq': {
          const q = m.file.veventqAlloc({ flags: 0, viommuId: idOf('viommu'), type: pick([1, 1, 0]), depth: pick([0, 1, 4]) })
          if (q.ok) queues.push(q.value)
          ok = q.ok
          break
        }
        case 'qclose':
          // close() of a queue's fd (closed already: EBADF, which changes nothing)
          ok = queues.length > 0 && pick(queues).close().ok
          break
        case 'invalidate': {
          const cmds = Array.from({ length: int(4) }, () => pick([[0x12n | (1n << 48n), 0x100000n], [0x5n | (8n << 32n), 0n], [0x3n | (8n << 32n), 0n], [0x30n, 0n], [0x5n | (9n << 32n), 0n]]))
          const out = m.file.hwptInvalidate({ hwptId: idOf('viommu', 'hwpt_nested'), dataType: pick([1, 1, 0]), entryLen: 16, entryNum: cmds.length, data: le(cmds.flat()) })
          ok = out.result.ok
          assert.ok(out.entryNum <= cmds.length)
          break
        }
        case 'destroy':
          ok = m.file.destroy(rnd() < 0.7 ? idOf('ioas', 'hwpt_paging', 'hwpt_nested', 'viommu', 'vdevice', 'veventq') : id()).ok
          break
        case 'attach':
          ok = m.device.attachPt(idOf('ioas', 'hwpt_paging', 'hwpt_nested')).ok
          break
        case 'detach':
          ok = m.device.detachPt().ok
          break
        case 'bind':
          ok = m.device.bindIommufd(m.file).ok
          break
        case 'close': {
          if (rnd() < 0.7) {
            ok = m.device.bindIommufd(m.file).ok
            break
          }
          ok = m.device.close().ok
          const d = m.backend.openDevice(1)
          if (!d.ok) throw new Error('reopen failed')
          m.device = d.value
          break
        }
        default: {
          const r = m.device.dma(pick(['read', 'write'] as const), BigInt(pick([0x100000, 0x40000000, 0x40001000, 0x200000])), 16)
          ok = r.ok
        }
      }
      const bucket = (stats.byCall[call] ??= { ok: 0, failed: 0 })
      if (ok) bucket.ok++
      else {
        bucket.failed++
        stats.failed++
        const after = snapshot(m)
        if (call === 'unmap' && after !== before) {
          // iopt_unmap_iova_range: whole mappings inside the range may be gone; nothing else.
          stats.partialUnmaps++
          assert.equal(stripMappings(after), stripMappings(before), `a failed unmap changed more than mappings`)
          assert.ok(unmapRange !== undefined)
        } else if (call !== 'close' && call !== 'dma') {
          assert.equal(after, before, `a failed ${call} changed the state`)
        }
      }
      const newIds = m.ctx.objects.live().map((o) => o.id).filter((x) => !liveBefore.has(x))
      if (ok && newIds.length > 0 && call !== 'attach') assert.ok(newIds.includes(lowestFree), `${call} took ID ${newIds.join(',')}, the lowest free was ${lowestFree}`)
      checkReferences(m.ctx)
      stats.maxObjects = Math.max(stats.maxObjects, m.ctx.objects.live().length)
    }
  }
  return stats
}

function stripMappings(s: string): string {
  return s.replace(/\[[^\]]*\]/g, '[]').replace(/ \| next=.*$/, '')
}

export interface IsolationIommufdStats {
  scenes: number
  dmas: number
  translated: number
  faulted: number
}

/**
 * The isolation campaign: per scene a well-formed nested setup on the CANWBS machine, then the
 * guest scribbles: random vSTEs (re-allocated and re-attached), random CD fields and random words
 * anywhere in its RAM (its tables, its CD, its data), and random DMAs. Every access must fault or
 * land inside the VMM's guest-RAM buffer; the physical STE's stage-2 words stay the parent's.
 */
export function runIommufdIsolationCampaign(opts: { readonly scenes: number; readonly seed: number }): IsolationIommufdStats {
  const rnd = prng(opts.seed)
  const int = (n: number): number => Math.floor(rnd() * n)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const stats: IsolationIommufdStats = { scenes: 0, dmas: 0, translated: 0, faulted: 0 }
  for (let scene = 0; scene < opts.scenes; scene++) {
    stats.scenes++
    const m = boot('qemu-smmuv3-10.0-acpi-canwbs')
    const f = m.file
    const must = (r: { ok: boolean }, what: string): void => assert.ok(r.ok, what)
    must(m.device.bindIommufd(f), 'bind')
    must(f.ioasAlloc(), 'ioas')
    must(f.ioasMap({ ioasId: 2, flags: 7, iova: RAM_IPA, length: RAM_SIZE, vaddr: { kind: 'buffer' } }), 'map')
    must(f.hwptAlloc({ flags: 1, devId: 1, ptId: 2, dataType: 0 }), 'parent')
    must(f.viommuAlloc({ flags: 0, type: 1, devId: 1, hwptId: 3 }), 'viommu')
    must(f.vdeviceAlloc(4, 1, 8n), 'vdevice')
    const smmu = m.backend.system.smmus()[0]
    if (smmu === undefined) throw new Error('no SMMU')
    const parent = m.ctx.objects.live().find((o): o is HwptPaging => o.type === 'hwpt_paging')
    if (parent === undefined) throw new Error('no parent')
    // A well-formed stage 1 first: CD at +0x1000, tables at +0x2000.., VA 0x100000 -> +0x5000.
    const cd0 = 25n | (1n << 30n) | (1n << 31n) | (4n << 32n) | (1n << 41n) | (1n << 45n) | (1n << 46n) | (1n << 48n)
    f.guestWrite(2, RAM_IPA + 0x1000n, le([cd0, RAM_IPA + 0x2000n]))
    f.guestWrite(2, RAM_IPA + 0x2000n, le([RAM_IPA + 0x3003n]))
    f.guestWrite(2, RAM_IPA + 0x3000n, le([RAM_IPA + 0x4003n]))
    f.guestWrite(2, RAM_IPA + 0x4800n, le([RAM_IPA + 0x5f43n]))
    const buffer = pinnedRange(m)
    for (let round = 0; round < 6; round++) {
      // A vSTE: translating at the CD more often than not, otherwise anything the guest likes.
      const good = rnd() < 0.6
      const cfg = pick([5n, 5n, 4n, 0n, 6n, 7n])
      const ctxptr = pick([RAM_IPA + 0x1000n, RAM_IPA + BigInt(int(0x200)) * 0x1000n, BigInt(int(1 << 20)) << 12n])
      const w0 = good ? 1n | (5n << 1n) | (RAM_IPA + 0x1000n) : pick([1n, 1n, 1n, 0n]) | (cfg << 1n) | (ctxptr & ((1n << 52n) - 64n)) | (pick([0n, 0n, 1n]) << 59n)
      const w1 = good ? 0n : pick([0n, 0n, BigInt(int(256)), 1n << 27n, 1n << 28n, BigInt(int(0x7fffffff))])
      const id = f.hwptAlloc({ flags: 0, devId: 1, ptId: 4, dataType: 2, data: le([w0, w1]) })
      if (id.ok) m.device.attachPt(id.value)
      // Scribbles: the CD's fields, the tables, the data.
      for (let k = 0; k < (rnd() < 0.5 ? 0 : 1 + int(3)); k++) {
        const at = RAM_IPA + BigInt(int(0x200)) * 8n * BigInt(1 + int(64))
        const word = pick([BigInt(int(2 ** 31)) * BigInt(int(2 ** 21)), RAM_IPA + BigInt(int(0x200)) * 0x1000n + 3n, BigInt(int(2 ** 31)) * 0x1000n + 3n, 0n, (BigInt(int(1 << 20)) << 12n) | 0xf43n])
        f.guestWrite(2, at - (at % 8n), le([word]))
      }
      if (rnd() < 0.3) f.guestWrite(2, RAM_IPA + 0x1000n, le([cd0 ^ (1n << BigInt(int(64))), RAM_IPA + BigInt(int(0x200)) * 0x1000n]))
      f.hwptInvalidate({ hwptId: 4, dataType: 1, entryLen: 16, entryNum: 2, data: le([0x5n | (8n << 32n), 0n, 0x30n, 0n]) })
      // The stage-2 words of the physical STE are the parent's, whatever the vSTE said.
      const ste = smmu.readSte(SID) as bigint[]
      const config = steFields(ste).config
      if (config === 0b110 || config === 0b111) {
        const s2 = makeS2DomainSte(parent.domain, false)
        assert.equal(ste[2], s2[2], 'STE word 2 is not the parent\'s')
        assert.equal(ste[3], s2[3], 'STE word 3 is not the parent\'s')
      }
      for (let d = 0; d < 8; d++) {
        const iova = pick([0x100000, 0x100000 + 16 * int(256), 0x100000 + 16 * int(256), int(2 ** 30), int(2 ** 39), 0x4000_0000 + int(0x200000)])
        const t = smmu.translate(SID, iova, { kind: pick(['read', 'write'] as const) })
        stats.dmas++
        if (t.kind === 'ok') {
          stats.translated++
          assert.ok(t.oa >= buffer[0] && t.oa < buffer[1], `IOVA 0x${iova.toString(16)} reached PA 0x${t.oa.toString(16)}, outside guest RAM [0x${buffer[0].toString(16)}, 0x${buffer[1].toString(16)})`)
        } else stats.faulted++
      }
      m.backend.iommufd.serviceEvents({ smmu, streams: [SID] } as never)
    }
  }
  return stats
}

/** The PA range of the VMM's guest-RAM buffer (the IOAS's one mapping, pinned by the parent). */
function pinnedRange(m: Machine): [number, number] {
  const ioas = m.ctx.objects.live().find((o) => o.type === 'ioas')
  const parent = m.ctx.objects.live().find((o): o is HwptPaging => o.type === 'hwpt_paging')
  if (ioas === undefined || ioas.type !== 'ioas' || parent === undefined) throw new Error('no IOAS')
  const pa = parent.domain.iovaToPhys(RAM_IPA)
  if (pa === undefined) throw new Error('guest RAM is not mapped')
  return [pa, pa + Number(RAM_SIZE)]
}

export { HwptNested }
