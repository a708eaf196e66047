/**
 * Transcripts of VFIO calls with their observed results: parse, replay against a VfioBackend,
 * print a verdict per line. Depends only on the VfioBackend interface (../vfio/backend.ts), the
 * uapi tables and errno names, so a real-kernel backend replays the same text.
 *
 *   const parsed = parseTranscript(text, 'vmm.vfio')
 *   const report = replayTranscript(parsed, backend)
 *   report.verdicts.map((v) => formatVerdict(v))     // file:line: agree|differ|error: ...
 *
 * A file is replayed as it is read, holding one line at a time (what the CLI does):
 *
 *   const replay = new Replay(file, backend)
 *   for (const item of parseLines(transcriptFile.lines(), file)) print(formatVerdict(replay.verdict(item)))
 */
export * from './syntax'
export { parseLines, parseTranscript } from './parse'
export { openTranscriptFile, textLines, TRANSCRIPT_LINE_MAX_BYTES, TranscriptFile, type SourceLine } from './read'
export { formatSummary, formatVerdict, Replay, replayTranscript, TranscriptSession, type ReplayReport, type Verdict } from './replay'
export type { Observed } from './observed'
