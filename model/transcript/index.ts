/**
 * Transcripts of VFIO calls with their observed results: parse, replay against a VfioBackend,
 * print a verdict per line. Depends only on the VfioBackend interface (../vfio/backend.ts), the
 * uapi tables and errno names, so a real-kernel backend replays the same text.
 *
 *   const parsed = parseTranscript(text, 'vmm.vfio')
 *   const report = replayTranscript(parsed, backend)
 *   report.verdicts.map((v) => formatVerdict(v))     // file:line: agree|differ|error: ...
 */
export * from './syntax'
export { parseTranscript } from './parse'
export { formatSummary, formatVerdict, replayTranscript, TranscriptSession, type ReplayReport, type Verdict } from './replay'
export type { Observed } from './observed'
