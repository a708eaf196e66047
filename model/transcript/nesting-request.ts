/**
 * The nesting request through iommufd: what a VMM does to nest a guest's stage 1 for one device
 * (QEMU's iommufd backend with an SMMUv3 vIOMMU does these calls in this order), written as
 * transcript lines (docs/transcript-iommufd.md), and where it stops. Features/iommufd Iommufd1,
 * Nest1 and Fix1 ask it on every machine; `explain` and the kernel-history page report it.
 */
import { parseTranscript } from './parse'
import { TranscriptSession } from './replay'
import type { VfioBackend } from '../vfio/backend'

export interface NestingRequestStep {
  /** The step's name in an outcome ("nest parent: EOPNOTSUPP"). */
  readonly step: string
  /** Its call, for device `d`. */
  readonly call: (d: number) => string
}

export const NESTING_REQUEST: readonly NestingRequestStep[] = [
  { step: 'bind', call: (d) => `device ${d} bind` },
  { step: 'IOAS', call: () => 'ioas 1 alloc' },
  { step: 'guest RAM', call: () => 'ioas 1 map iova=0x40000000 size=0x200000 rw' },
  { step: 'nest parent', call: (d) => `hwpt 1 alloc device=${d} pt=ioas:1 flags=NEST_PARENT` },
  { step: 'vIOMMU', call: (d) => `viommu 1 alloc device=${d} hwpt=1 type=ARM_SMMUV3` },
  { step: 'vDEVICE', call: (d) => `vdevice 1 alloc viommu=1 device=${d} virt_id=0x8` },
  { step: 'nested HWPT', call: (d) => `hwpt 2 alloc device=${d} pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x40001000"` },
  { step: 'attach', call: (d) => `device ${d} attach pt=hwpt:2` },
]

/** How the request ended: "attached", or "<step>: <errno>" at the first call that failed. */
export interface NestingOutcome {
  readonly outcome: string
  /** The failed call's message, when one failed. */
  readonly why?: string
}

/** Run the request for device `device` on `session`, stopping at the first failed call. */
export function runNestingRequest(session: TranscriptSession, device: number, onCall?: (callText: string, produced: ReturnType<TranscriptSession['runCall']>) => void): NestingOutcome {
  for (const s of NESTING_REQUEST) {
    const text = s.call(device)
    // Any errno is a result every call can have: it only makes the line parse.
    const line = parseTranscript(`${text} = EPERM`, 'nesting-request').lines[0]
    if (line === undefined) throw new Error(`the nesting request's call does not parse: ${text}`)
    const produced = session.runCall(line.call)
    onCall?.(text, produced)
    if (!produced.result.ok) return { outcome: `${s.step}: ${produced.result.error.errno}`, why: produced.result.error.message }
  }
  return { outcome: 'attached' }
}

/** The request on a fresh session of `backend`. */
export function nestingRequestOn(backend: VfioBackend, device: number): NestingOutcome {
  return runNestingRequest(new TranscriptSession(backend, 'nesting-request'), device)
}
