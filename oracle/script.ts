/**
 * The agent's script: a stream of little-endian 64-bit words that QEMU's `-device loader` puts at
 * SCRIPT_BASE. Operations (the numbers are the agent's enum, oracle/agent/agent.c):
 *   OP_CASE id              undo the previous case's writes, print "C id"
 *   OP_W64 addr value       store a word (undone at the next OP_CASE)
 *   OP_STE w0..w7           write edu's STE, CMD_CFGI_STE + CMD_SYNC
 *   OP_CMD w0 w1            one command + CMD_SYNC
 *   OP_DMA_RD iova len      edu reads memory; prints its events, then "R <word>"
 *   OP_DMA_WR iova len      edu writes memory; prints its events
 *   OP_PEEK addr            prints "P <word>"
 *   OP_END
 */
import { DMA_LEN, type Command, type OracleCase } from './case'

export const SCRIPT_MAGIC = 0x3143_524f_554d_4d53n // "SMMUORC1"
export const OP = { END: 0, CASE: 1, W64: 2, STE: 3, CMD: 4, DMA_RD: 5, DMA_WR: 6, PEEK: 7 } as const

/** Command encodings (IHI 0070 4.x opcodes; fields as Linux's CMDQ_*). */
export function encodeCommand(cmd: Command): [bigint, bigint] {
  switch (cmd.op) {
    case 'CFGI_STE':
      return [0x03n | (BigInt(cmd.sid) << 32n), 1n]
    case 'CFGI_ALL':
      return [0x04n, 31n]
    case 'CFGI_CD':
      return [0x05n | (BigInt(cmd.ssid) << 12n) | (BigInt(cmd.sid) << 32n), 1n]
    case 'CFGI_CD_ALL':
      return [0x06n | (BigInt(cmd.sid) << 32n), 0n]
    case 'TLBI_NH_ASID':
      return [0x11n | (BigInt(cmd.vmid) << 32n) | (BigInt(cmd.asid) << 48n), 0n]
    case 'TLBI_NH_VA':
      return [0x12n | (BigInt(cmd.vmid) << 32n) | (BigInt(cmd.asid) << 48n), BigInt(cmd.addr) & ~0xfffn]
    case 'TLBI_S12_VMALL':
      return [0x28n | (BigInt(cmd.vmid) << 32n), 0n]
    case 'TLBI_S2_IPA':
      return [0x2an | (BigInt(cmd.vmid) << 32n), BigInt(cmd.addr) & ~0xfffn]
    case 'TLBI_NSNH_ALL':
      return [0x30n, 0n]
    case 'SYNC':
      return [0x46n, 0n]
  }
}

export function buildScript(cases: readonly OracleCase[]): Buffer {
  const words: bigint[] = [SCRIPT_MAGIC]
  for (const c of cases) {
    words.push(BigInt(OP.CASE), BigInt(c.id))
    for (const [addr, value] of c.memory) words.push(BigInt(OP.W64), BigInt(addr), value)
    // Each case starts with an empty TLB, as the model's does.
    words.push(BigInt(OP.CMD), ...encodeCommand({ op: 'TLBI_NSNH_ALL' }))
    words.push(BigInt(OP.STE), ...c.ste)
    for (const s of c.steps) {
      if (s.op === 'patch') words.push(BigInt(OP.W64), BigInt(s.addr), s.value)
      else if (s.op === 'cmd') words.push(BigInt(OP.CMD), ...encodeCommand(s.cmd))
      else {
        words.push(BigInt(s.dir === 'read' ? OP.DMA_RD : OP.DMA_WR), BigInt.asUintN(64, BigInt(s.iova)), BigInt(DMA_LEN))
        if (s.dir === 'write' && s.peek !== undefined) words.push(BigInt(OP.PEEK), BigInt(s.peek))
      }
    }
  }
  words.push(BigInt(OP.END))
  const buf = Buffer.alloc(words.length * 8)
  words.forEach((w, i) => buf.writeBigUInt64LE(BigInt.asUintN(64, w), i * 8))
  return buf
}
