/**
 * The model's /dev/iommu file for userspace (IommufdFile): an IommufdCtx plus the VMM's side
 * (the buffers it makes for IOMMU_IOAS_MAP, its reads and writes of guest memory).
 */
import { fail, ok, type Result } from '../errno'
import type { HwInfoOut, HwInfoRequest, HwptAllocRequest, IommufdCtx, InvalidateOutcome, InvalidateRequest, IovaRangesOutcome, VeventqAllocRequest, ViommuAllocRequest } from '../iommufd/context'
import type { Ioas, Veventq } from '../iommufd/objects'
import type { IoasMapUserRequest, IommufdFile, VeventqFile } from './backend'
import type { ProcessMemory } from './process'

export class ModelIommufdFile implements IommufdFile {
  constructor(
    readonly ctx: IommufdCtx,
    private readonly process: ProcessMemory,
  ) {}

  destroy(id: number): Result<void> {
    return this.ctx.destroy(id)
  }

  ioasAlloc(): Result<number> {
    return this.ctx.ioasAlloc()
  }

  /** The VMM mmaps the buffer, calls IOMMU_IOAS_MAP, and munmaps it again if the call failed. */
  ioasMap(req: IoasMapUserRequest): Result<void> {
    const buffer = this.process.resolve(req.vaddr, req.length)
    const r = this.ctx.ioasMap({ ioasId: req.ioasId, flags: req.flags, iova: req.iova, length: req.length, vaddr: buffer.vaddr })
    if (!r.ok) this.process.discard(buffer)
    return r
  }

  ioasUnmap(ioasId: number, iova: bigint, length: bigint): Result<bigint> {
    return this.ctx.ioasUnmap(ioasId, iova, length)
  }

  ioasChangeProcess(): Result<void> {
    return this.ctx.ioasChangeProcess()
  }

  ioasIovaRanges(ioasId: number, maxIovas: number): IovaRangesOutcome {
    return this.ctx.ioasIovaRanges(ioasId, maxIovas)
  }

  hwptAlloc(req: HwptAllocRequest): Result<number> {
    return this.ctx.hwptAlloc(req)
  }

  viommuAlloc(req: ViommuAllocRequest): Result<number> {
    return this.ctx.viommuAlloc(req)
  }

  vdeviceAlloc(viommuId: number, devId: number, virtId: bigint): Result<number> {
    return this.ctx.vdeviceAlloc(viommuId, devId, virtId)
  }

  hwptInvalidate(req: InvalidateRequest): InvalidateOutcome {
    return this.ctx.hwptInvalidate(req)
  }

  getHwInfo(req: HwInfoRequest): Result<HwInfoOut> {
    return this.ctx.getHwInfo(req)
  }

  veventqAlloc(req: VeventqAllocRequest): Result<VeventqFile> {
    const q = this.ctx.veventqAlloc(req)
    if (!q.ok) return q
    return ok(new ModelVeventqFile(this.ctx, q.value))
  }

  guestWrite(ioasId: number, ipa: bigint, bytes: Uint8Array): boolean {
    const at = this.userAddress(ioasId, ipa, bytes.length)
    return at !== undefined && this.process.write(at, bytes).ok
  }

  guestRead(ioasId: number, ipa: bigint, length: number): Uint8Array | undefined {
    const at = this.userAddress(ioasId, ipa, length)
    if (at === undefined) return undefined
    const r = this.process.read(at, length)
    return r.ok ? r.value : undefined
  }

  /** The user VA behind IOAS address [ipa, ipa + length), when one mapping holds it all. */
  private userAddress(ioasId: number, ipa: bigint, length: number): bigint | undefined {
    const obj = this.ctx.objects.get(ioasId, 'ioas')
    if (!obj.ok) return undefined
    const area = (obj.value as Ioas).iopt.areaAt(ipa)
    if (area === undefined || ipa + BigInt(length) > area.iova + area.size) return undefined
    return area.vaddr + (ipa - area.iova)
  }
}

class ModelVeventqFile implements VeventqFile {
  constructor(
    private readonly ctx: IommufdCtx,
    private readonly q: Veventq,
  ) {}

  get id(): number {
    return this.q.id
  }

  read(count: number): Result<Uint8Array> {
    if (!this.q.fdOpen) return fail('EBADF', `vEVENTQ ${this.q.id}'s fd is closed`)
    return this.ctx.veventqRead(this.q, count)
  }

  readable(): boolean {
    return this.q.fdOpen && this.q.deliver.length > 0
  }

  close(): Result<void> {
    if (!this.q.fdOpen) return fail('EBADF', `vEVENTQ ${this.q.id}'s fd is closed`)
    this.ctx.veventqClose(this.q)
    return ok(undefined)
  }
}
