/**
 * What a transcript line says, once parsed: a VFIO call and the result that was observed.
 *
 * A transcript is text a person writes (or a VMM's trace is turned into); the grammar is in
 * docs/transcripts.md and ./parse.ts. Extension names stay names here: which
 * value a name has depends on the kernel, so ./replay.ts resolves them through the backend.
 */
import type { Errno } from '../errno'
import type { DmaMapRequest, DmaUnmapRequest, IovaRange } from '../vfio/backend'

/** An extension or IOMMU type as written: a uapi name (any spelling) or a raw number. */
export type ExtensionRef = { readonly kind: 'name'; readonly name: string } | { readonly kind: 'number'; readonly value: number }

export type GroupAction = 'status' | 'set_container' | 'unset_container'

export type Call =
  /** open("/dev/vfio/vfio"). */
  | { readonly op: 'open' }
  | { readonly op: 'api_version' }
  | { readonly op: 'check_extension'; readonly extension: ExtensionRef }
  /** A group ioctl; the group is opened (open("/dev/vfio/N")) the first time a line names it. */
  | { readonly op: 'group'; readonly group: number; readonly action: GroupAction }
  | { readonly op: 'set_iommu'; readonly type: ExtensionRef }
  | { readonly op: 'get_info' }
  | { readonly op: 'map'; readonly request: DmaMapRequest }
  | { readonly op: 'unmap'; readonly request: DmaUnmapRequest }
  /** The device of a group does DMA through the IOMMU; `group` absent: the one group in use. */
  | { readonly op: 'dma'; readonly direction: 'read' | 'write'; readonly iova: bigint; readonly size: number; readonly group?: number }

export type CallOp = Call['op']

/** The result a line expects. */
export type Expected =
  | { readonly kind: 'ok' }
  | { readonly kind: 'errno'; readonly errno: Errno }
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
    }
  /** unmap: success, with the size the kernel wrote back. */
  | { readonly kind: 'unmapped'; readonly size: bigint }
  /** dma: the IOMMU refused the access. */
  | { readonly kind: 'fault' }

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
