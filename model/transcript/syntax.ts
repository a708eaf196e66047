/**
 * What a transcript line says, once parsed: a VFIO call and the result that was observed.
 *
 * A transcript is text a person writes (or a VMM's trace is turned into); the grammar is in
 * docs/transcripts.md and ./parse.ts. Extension names stay names here: which
 * value a name has depends on the kernel, so ./replay.ts resolves them through the backend.
 */
import type { Errno } from '../errno'
import type { DmaMapRequest, DmaUnmapRequest, IovaRange, MigrationCap } from '../vfio/backend'
import type { VmmCall, VmmGroupAction } from './vmm-syntax'

export type { DeviceIoAction, VmmCall, VmmGroupAction } from './vmm-syntax'
export { isVmmCall } from './vmm-syntax'

/** An extension or IOMMU type as written: a uapi name (any spelling) or a raw number. */
export type ExtensionRef = { readonly kind: 'name'; readonly name: string } | { readonly kind: 'number'; readonly value: number }

export type GroupAction = 'status' | 'set_container' | 'unset_container' | VmmGroupAction

export type Call =
  /** open("/dev/vfio/vfio"). */
  | { readonly op: 'open' }
  | { readonly op: 'api_version' }
  | { readonly op: 'check_extension'; readonly extension: ExtensionRef }
  /** A group ioctl; the group is opened (open("/dev/vfio/N")) the first time a line names it. */
  | { readonly op: 'group'; readonly group: number; readonly action: GroupAction }
  | { readonly op: 'set_iommu'; readonly type: ExtensionRef }
  /** VFIO_IOMMU_GET_INFO; `argsz`: the caller's buffer size (docs/transcript-vmm.md), else a buffer that holds everything. */
  | { readonly op: 'get_info'; readonly argsz?: number }
  | { readonly op: 'map'; readonly request: DmaMapRequest }
  | { readonly op: 'unmap'; readonly request: DmaUnmapRequest }
  /** The device of a group does DMA through the IOMMU; `group` absent: the one group in use. */
  | { readonly op: 'dma'; readonly direction: 'read' | 'write'; readonly iova: bigint; readonly size: number; readonly group?: number }
  // ---- iommufd and the VFIO device cdev (docs/transcript-iommufd.md) ----
  /** `device N ...`: group N's device through its cdev. */
  | { readonly op: 'device'; readonly device: number; readonly action: DeviceAction }
  /** `ioas|hwpt|viommu|vdevice|veventq N ...`: an iommufd object named by the transcript's number. */
  | { readonly op: 'object'; readonly kind: ObjectKind; readonly n: number; readonly action: ObjectAction }
  /** IOMMU_DESTROY. */
  | { readonly op: 'destroy'; readonly target: ObjectRef }
  /** The VMM writes 64-bit words into its guest's memory (an IOAS's buffers) at `ipa`. */
  | { readonly op: 'guest'; readonly form: GuestForm; readonly ipa: bigint; readonly words: readonly bigint[]; readonly ioas?: number }
  // ---- what a real VMM adds (docs/transcript-vmm.md) ----
  | VmmCall

export type CallOp = Call['op']

/** The iommufd object kinds a transcript names (`device` is the VFIO device's object). */
export const OBJECT_KINDS = ['device', 'ioas', 'hwpt', 'viommu', 'vdevice', 'veventq'] as const
export type ObjectKind = (typeof OBJECT_KINDS)[number]

/** An argument naming an object: by the transcript's number, or a raw kernel object ID. */
export type ObjectRef = { readonly kind: 'name'; readonly type: ObjectKind; readonly n: number } | { readonly kind: 'id'; readonly id: number }

export type DeviceAction =
  | { readonly kind: 'bind' }
  | { readonly kind: 'attach'; readonly pt: ObjectRef }
  | { readonly kind: 'detach' }
  | { readonly kind: 'close' }
  /** IOMMU_GET_HW_INFO; `type` given: flags INPUT_TYPE; `dataLen`: the user buffer's length (default 64). */
  | { readonly kind: 'hw_info'; readonly type?: number; readonly dataLen?: number }
  | { readonly kind: 'dma'; readonly direction: 'read' | 'write'; readonly iova: bigint; readonly size: number; readonly ipa?: bigint; readonly ioas?: number }

/** IOMMU_HWPT_INVALIDATE entries as written: the data type and entry length, and the entries' bytes. */
export interface InvalidateEntries {
  readonly dataType: number
  readonly entryLen: number
  /** One per cmd= / vtd= word. */
  readonly entries: readonly Uint8Array[]
}

export type ObjectAction =
  | { readonly kind: 'alloc_ioas' }
  | { readonly kind: 'map'; readonly request: DmaMapRequest }
  | { readonly kind: 'unmap'; readonly iova: bigint; readonly size: bigint }
  | {
      readonly kind: 'alloc_hwpt'
      readonly device: ObjectRef
      readonly pt: ObjectRef
      readonly flags: number
      readonly dataType: number
      /** The driver data (data_len bytes; absent: none). */
      readonly data?: Uint8Array
    }
  | { readonly kind: 'alloc_viommu'; readonly device: ObjectRef; readonly hwpt: ObjectRef; readonly type: number; readonly flags: number }
  | { readonly kind: 'alloc_vdevice'; readonly viommu: ObjectRef; readonly device: ObjectRef; readonly virtId: bigint }
  | { readonly kind: 'alloc_veventq'; readonly viommu: ObjectRef; readonly type: number; readonly depth: number; readonly flags: number }
  | { readonly kind: 'invalidate'; readonly entries: InvalidateEntries }
  | { readonly kind: 'read' }
  /** `veventq N close`: close() of the queue's fd. */
  | { readonly kind: 'close' }

/** Which guest line wrote the words (for messages). */
export type GuestForm = 'write64' | 'cd' | 'table' | 'page' | 'block'

/** One vEVENTQ record as a result writes it: its name and the fields to compare. */
export interface ExpectedRecord {
  /** An IHI 0070 event name, `EVT_0x..`, or LOST_EVENTS. */
  readonly name: string
  readonly fields: ReadonlyMap<string, bigint>
}

/** The result a line expects. */
export type Expected =
  /** `ok`, with the object ID (`id=`) or the entry_num written back (`entry_num=`) when written. */
  | { readonly kind: 'ok'; readonly id?: number; readonly entryNum?: number }
  | { readonly kind: 'errno'; readonly errno: Errno; readonly entryNum?: number }
  /** api_version, check_extension. */
  | { readonly kind: 'number'; readonly value: bigint }
  /** group N status: the flags that are set (compared as a set). */
  | { readonly kind: 'status'; readonly viable: boolean; readonly containerSet: boolean }
  /** get_info: only the keys written are compared; `none` means the capability is absent. */
  | {
      readonly kind: 'info'
      readonly pgsizes?: bigint
      readonly dmaAvail?: number | 'none'
      readonly ranges?: readonly IovaRange[] | 'none'
      /** The argsz the kernel wrote back (docs/transcript-vmm.md). */
      readonly argsz?: number
      readonly flags?: number
      /** The capability chain as copied to the caller, in order; `none`: no chain was copied. */
      readonly caps?: readonly string[] | 'none'
      readonly migration?: MigrationCap | 'none'
    }
  /** unmap: success, with the size the kernel wrote back. */
  | { readonly kind: 'unmapped'; readonly size: bigint }
  /** dma: the IOMMU refused the access. */
  | { readonly kind: 'fault' }
  /** dma with ipa=: the access went through, but the bytes are not at that IPA. */
  | { readonly kind: 'misplaced' }
  /** hw_info: only the keys written are compared. */
  | { readonly kind: 'hwinfo'; readonly fields: ReadonlyMap<string, bigint> }
  /** veventq read: the records in order (`empty`: none). */
  | { readonly kind: 'records'; readonly records: readonly ExpectedRecord[] }
  /**
   * A device-level call's answer (docs/transcript-vmm.md), kept as the kernel gave it: the words
   * after `=`. Outside the model: replayed lines with it are counted, not compared.
   */
  | { readonly kind: 'raw'; readonly text: string }
  /**
   * ioas N iova_ranges (docs/transcript-vmm.md): `ok` or an errno (EMSGSIZE: more ranges than
   * room), with what the kernel wrote back; only the keys written are compared.
   */
  | {
      readonly kind: 'iova_ranges'
      readonly errno?: Errno
      readonly numIovas?: number
      readonly alignment?: bigint
      readonly ranges?: readonly IovaRange[] | 'none'
    }

export type ExpectedKind = Expected['kind']

export interface TranscriptLine {
  /** 1-based. */
  readonly line: number
  /** The call as written, comment removed and blanks collapsed: what verdicts print. */
  readonly callText: string
  /** The expected result as written, likewise. */
  readonly expectedText: string
  readonly call: Call
  readonly expected: Expected
}

/** Why a line cannot be replayed. Parse-time codes first, then the ones replay finds. */
export type TranscriptErrorCode =
  | 'SYNTAX'
  | 'UNKNOWN_CALL'
  | 'BAD_ARGUMENT'
  | 'MISSING_ARGUMENT'
  | 'DUPLICATE_ARGUMENT'
  | 'BAD_NUMBER'
  | 'BAD_RESULT'
  | 'UNKNOWN_ERRNO'
  | 'UNKNOWN_EXTENSION'
  /** No line carries a call: an empty file, or only comments and blank lines. */
  | 'EMPTY'
  /** The kernel being replayed has no extension of that name (e.g. UNMAP_ALL before 5.12). */
  | 'NO_SUCH_EXTENSION'
  /** A container call before any `open` succeeded. */
  | 'NO_CONTAINER'
  /** `dma` without `group=N` when no group, or several groups, are in use. */
  | 'NO_GROUP'
  /** The backend threw instead of answering: a bug in it, reported against the line. */
  | 'BACKEND_EXCEPTION'
  /** An iommufd or device-cdev line on a backend without them. */
  | 'NO_IOMMUFD'
  /** `device N` names no device of the machine (no group N). */
  | 'NO_DEVICE'
  /** A guest line (or dma ipa=) outside the IOAS's mapped buffers, or no IOAS to name. */
  | 'NO_GUEST_RAM'
  /** `veventq N read` of a vEVENTQ the transcript did not allocate. */
  | 'NO_VEVENTQ'
  /** From the reading layer (./read.ts): a line over the length limit, or not UTF-8. */
  | 'TOO_LARGE'
  | 'ENCODING'

export interface TranscriptError {
  readonly code: TranscriptErrorCode
  readonly file: string
  /** 1-based. */
  readonly line: number
  /** 1-based; the start of the offending word. */
  readonly column: number
  readonly message: string
}

export interface ParsedTranscript {
  readonly file: string
  /** Lines that carry a call, in file order. */
  readonly lines: readonly TranscriptLine[]
  /** Lines that do not parse; they are reported, and not replayed. */
  readonly errors: readonly TranscriptError[]
}
