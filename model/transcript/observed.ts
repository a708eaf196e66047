/**
 * What a replayed call produced, before it is compared with the line's expectation; and the
 * error a line that cannot run throws. Shared by the VFIO replay (replay.ts) and its iommufd part
 * (replay-iommufd.ts).
 */
import type { Errno, Result } from '../errno'
import type { DmaOutcome, GroupStatus, IommuInfo, IovaRange } from '../vfio/backend'
import type { TranscriptErrorCode } from './syntax'

/** One vEVENTQ record as read: its name and every field. */
export interface ObservedRecord {
  readonly name: string
  readonly fields: ReadonlyMap<string, bigint>
}

export type Observed =
  /** Success; `id` an object ID the call made, `entryNum` what an invalidate wrote back. */
  | { readonly kind: 'ok'; readonly id?: number; readonly entryNum?: number }
  | { readonly kind: 'number'; readonly value: bigint }
  | { readonly kind: 'status'; readonly status: GroupStatus }
  | { readonly kind: 'info'; readonly info: IommuInfo }
  | { readonly kind: 'unmapped'; readonly size: bigint }
  /** `misplaced`: with ipa=, the access went through but the bytes are not there. */
  | { readonly kind: 'dma'; readonly outcome: DmaOutcome; readonly misplaced?: boolean; readonly note?: string }
  | { readonly kind: 'hwinfo'; readonly fields: ReadonlyMap<string, bigint> }
  | { readonly kind: 'records'; readonly records: readonly ObservedRecord[] }
  /**
   * IOMMU_IOAS_IOVA_RANGES: the ioctl's errno (EMSGSIZE too: the count is written back all the
   * same) and what it wrote back; `numIovas`/`alignment` undefined when it failed before writing.
   */
  | { readonly kind: 'iova_ranges'; readonly errno?: Errno; readonly numIovas?: number; readonly alignment?: bigint; readonly ranges: readonly IovaRange[] }

/** A line the session cannot run. */
export class Unrunnable {
  constructor(
    readonly code: TranscriptErrorCode,
    readonly message: string,
  ) {}
}

export function observed(o: Observed): Result<Observed> {
  return { ok: true, value: o }
}

export function mapResult<T>(r: Result<T>, f: (v: T) => Observed): Result<Observed> {
  return r.ok ? observed(f(r.value)) : r
}
