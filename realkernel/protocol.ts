/**
 * Between transcripts and the guest agent (realkernel/agent/agent.c): a transcript's calls become
 * agent command lines, and the agent's replies become results in transcript syntax.
 *
 * The agent runs a whole batch in order and answers each command with one line
 *   @@ <seq> = <ret> <ERRNO|OK> [key=value ...]     or     @@ <seq> ! <why the agent could not run it>
 * so a transcript is run as a batch: its calls are compiled to commands before the guest boots,
 * and the replies are matched back to transcript lines by sequence number.
 */
import { isErrno } from '../model/errno'
import type { Call, ParsedTranscript, TranscriptLine } from '../model/transcript'
import { extensionValue, type UapiTable } from '../model/vfio/uapi'

/** One transcript line as the agent will run it. */
export interface CompiledLine {
  readonly line: TranscriptLine
  /** The agent command; undefined when the line cannot be run (see `problem`). */
  readonly command?: string
  readonly problem?: string
}

export interface CompiledSession {
  readonly file: string
  /** `session` and `alias` commands the agent runs before the transcript's own. */
  readonly preamble: readonly string[]
  readonly lines: readonly CompiledLine[]
}

function hex(n: bigint | number): string {
  return `0x${n.toString(16)}`
}

/**
 * A transcript's calls as agent commands. Extension names resolve through the kernel's uapi;
 * transcript group numbers stay as they are and `aliases` (group -> PCI device) tell the agent
 * which of this guest's groups they stand for.
 */
export function compileSession(transcript: ParsedTranscript, uapi: UapiTable, aliases: Readonly<Record<number, string>>): CompiledSession {
  const name = transcript.file.replace(/^.*\//, '')
  const preamble = [`session ${name}`, ...Object.entries(aliases).map(([g, dev]) => `alias ${g} ${dev}`)]
  const lines = transcript.lines.map((line): CompiledLine => {
    const compiled = compileCall(line.call, uapi)
    return typeof compiled === 'string' ? { line, command: compiled } : { line, problem: compiled.problem }
  })
  return { file: transcript.file, preamble, lines }
}

function compileCall(call: Call, uapi: UapiTable): string | { problem: string } {
  const ext = (ref: { kind: 'name'; name: string } | { kind: 'number'; value: number }): number | undefined =>
    ref.kind === 'number' ? ref.value : extensionValue(uapi, ref.name)
  switch (call.op) {
    case 'open':
    case 'api_version':
    case 'get_info':
      return call.op
    case 'check_extension':
    case 'set_iommu': {
      const ref = call.op === 'check_extension' ? call.extension : call.type
      const value = ext(ref)
      if (value === undefined) return { problem: `this kernel has no extension named ${ref.kind === 'name' ? ref.name : ''}` }
      return `${call.op} ${value}`
    }
    case 'group':
      if (call.action !== 'status' && call.action !== 'set_container' && call.action !== 'unset_container') return { problem: `group ${call.action} is a VMM's line (docs/transcript-vmm.md): the agent opens groups when first named and never closes them` }
      return `group ${call.group} ${call.action}`
    case 'map':
      return `map ${hex(call.request.iova)} ${hex(call.request.size)} ${hex(call.request.flags)} ${call.request.vaddr.kind}`
    case 'unmap':
      return `unmap ${hex(call.request.iova)} ${hex(call.request.size)} ${hex(call.request.flags)}`
    case 'dma':
      // Without group=N the device is the one group opened so far, as in the replay; only the
      // agent knows which opens succeeded, so it picks ("-").
      return `dma ${call.direction} ${hex(call.iova)} ${hex(call.size)} ${call.group ?? '-'}`
    case 'close':
    case 'exit':
    case 'device_io':
    case 'iommufd_open':
    case 'iommufd_close':
    case 'device_open':
    case 'ioas_iova_ranges':
      return { problem: `${call.op} is a VMM's line (docs/transcript-vmm.md), recorded from a capture, not run by the agent` }
    case 'device':
    case 'object':
    case 'destroy':
    case 'guest':
      // The agent's iommufd commands are issue 23's (docs/transcript-iommufd.md says what each line does).
      return { problem: 'the guest agent does not run iommufd lines yet' }
  }
}

// ---------------------------------------------------------------------------------------------
// Replies

export interface AgentReply {
  readonly seq: number
  /** `=`: the kernel answered; `!`: the agent could not run the command. */
  readonly kind: '=' | '!'
  readonly ret: bigint
  /** Errno name when ret < 0 (the agent prints E<n> for ones it has no name for). */
  readonly errno?: string
  readonly details: ReadonlyMap<string, string>
  readonly text: string
}

/** `@@ <seq> = ...` / `@@ <seq> ! ...` lines of the guest's console, by sequence number. */
export function parseReplies(output: string): Map<number, AgentReply> {
  const replies = new Map<number, AgentReply>()
  for (const raw of output.split(/\r?\n/)) {
    const m = /@@ (\d+) ([=!]) (.*)$/.exec(raw)
    if (m === null) continue
    const seq = Number(m[1])
    const rest = (m[3] ?? '').trim()
    if (m[2] === '!') {
      replies.set(seq, { seq, kind: '!', ret: -1n, details: new Map(), text: rest })
      continue
    }
    const [ret = '', status = '', ...kv] = rest.split(/\s+/)
    if (!/^-?\d+$/.test(ret)) continue
    const details = new Map<string, string>()
    for (const pair of kv) {
      const eq = pair.indexOf('=')
      if (eq > 0) details.set(pair.slice(0, eq), pair.slice(eq + 1))
    }
    replies.set(seq, { seq, kind: '=', ret: BigInt(ret), ...(status === 'OK' ? {} : { errno: status }), details, text: rest })
  }
  return replies
}

/** `@@ fact <key> <value>` lines: what the guest says about itself (kernel release, devices...). */
export function parseFacts(output: string): Map<string, string[]> {
  const facts = new Map<string, string[]>()
  for (const raw of output.split(/\r?\n/)) {
    const m = /@@ fact (\S+) ?(.*)$/.exec(raw)
    if (m === null) continue
    const key = m[1] as string
    facts.set(key, [...(facts.get(key) ?? []), (m[2] ?? '').trim()])
  }
  return facts
}

/** What the kernel did, in transcript result syntax; or why it cannot be written so. */
export type KernelResult = { readonly ok: true; readonly text: string; readonly note?: string } | { readonly ok: false; readonly problem: string }

/** The reply to `call` in the words a transcript uses for that call's results. */
export function resultText(call: Call, reply: AgentReply | undefined): KernelResult {
  if (reply === undefined) return { ok: false, problem: 'the agent printed no reply (the guest stopped before it)' }
  if (reply.kind === '!') return { ok: false, problem: `the agent could not run it: ${reply.text}` }
  if (reply.ret < 0n) {
    const errno = reply.errno ?? ''
    return isErrno(errno) ? { ok: true, text: errno } : { ok: false, problem: `the kernel answered ${errno}, which transcripts have no name for` }
  }
  const d = reply.details
  switch (call.op) {
    case 'open':
    case 'set_iommu':
    case 'map':
      return { ok: true, text: 'ok' }
    case 'api_version':
    case 'check_extension':
      return { ok: true, text: reply.ret.toString() }
    case 'group': {
      if (call.action !== 'status') return { ok: true, text: 'ok' }
      const flags = Number(d.get('flags') ?? 'NaN')
      if (Number.isNaN(flags)) return { ok: false, problem: `no flags in "${reply.text}"` }
      const names = [flags & 1 ? 'viable' : '', flags & 2 ? 'container_set' : ''].filter((f) => f !== '')
      return { ok: true, text: names.length === 0 ? 'none' : names.join(',') }
    }
    case 'close':
    case 'exit':
    case 'device_io':
    case 'iommufd_open':
    case 'iommufd_close':
    case 'device_open':
    case 'ioas_iova_ranges':
      return { ok: false, problem: `${call.op} is a VMM's line: the agent does not run it` }
    case 'get_info': {
      const pgsizes = d.get('pgsizes')
      if (pgsizes === undefined) return { ok: false, problem: `no pgsizes in "${reply.text}"` }
      return { ok: true, text: `pgsizes=${pgsizes} dma_avail=${d.get('dma_avail') ?? 'none'} ranges=${d.get('ranges') ?? 'none'}` }
    }
    case 'unmap': {
      const size = d.get('unmapped')
      return size === undefined ? { ok: false, problem: `no unmapped size in "${reply.text}"` } : { ok: true, text: `ok unmapped=${size}` }
    }
    case 'dma': {
      const faults = Number(d.get('fault') ?? 'NaN')
      const landed = d.get('landed')
      if (Number.isNaN(faults) || faults < 0) return { ok: false, problem: 'the guest kernel log could not be read for IOMMU fault reports' }
      if (faults > 0) return { ok: true, text: 'fault', note: `${faults} IOMMU fault report(s) logged` }
      if (landed === 'no') return { ok: false, problem: 'edu wrote nothing and no IOMMU fault was logged' }
      return { ok: true, text: 'ok' }
    }
    case 'device':
    case 'object':
    case 'destroy':
    case 'guest':
      return { ok: false, problem: 'the guest agent does not run iommufd lines yet' }
  }
}
