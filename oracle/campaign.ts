/**
 * Case generation: a seeded random differential campaign. Tables are laid out with the model's
 * builder (createPgtable: Linux io-pgtable's layout), the STE and CD with the v3 encoders; fault
 * cases then change one descriptor or field by hand (raw descriptor values).
 *
 * Address plan (all inside guest RAM, see case.ts):
 *   stage-2 tables      PA  [S2_POOL, +32 MiB)
 *   stage-1 tables, CD  PA  [S1_POOL, +32 MiB); as IPAs (nested) at a random S1_WINDOW the stage 2
 *                       maps onto that pool
 *   DMA targets         PA  [DATA_BASE, DATA_END)
 */
import { MAX_IAS, createPgtable, type Granule, type IoPgtable } from '../model/pgtable'
import { createMemory, createTableAllocator, type PhysMemory } from '../model/memory'
import { STE_CONFIG, PRIVCFG, encodeCd, encodeSte, tg0Granule, addressSizeEncoding, type CdFields, type SteFields } from '../model/smmu/v3'
import { prng } from '../lib/prng'
import { caseMemory, read64, write64, MARKER, type OracleCase, type Step } from './case'

const S2_POOL = 0x4800_0000
const S1_POOL = 0x4a00_0000
const POOL_SIZE = 0x200_0000
const DATA_BASE = 0x5000_0000
/** A PA above guest RAM (-m 4G ends at 0x1_4000_0000): no memory behind it. */
const UNBACKED = 0x8_0000_0000
/** Random targets stay below 3 GiB; the hand cases' tables use 0x1_0000_0000 and up. */
const DATA_END = 0xc000_0000
const RW = { read: true, write: true } as const
const GRANULES: readonly Granule[] = [4096, 16384, 65536]
const IPS_BITS = [32, 36, 40, 42, 44, 48]

class Pick {
  constructor(readonly r: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1))
  }
  of<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]
  }
  chance(p: number): boolean {
    return this.r() < p
  }
  /** A multiple of `align` in [lo, hi). */
  aligned(lo: number, hi: number, align: number): number {
    const first = Math.ceil(lo / align)
    const last = Math.floor((hi - 1) / align)
    if (last < first) throw new Error('no aligned value in range')
    return (first + Math.floor(this.r() * (last - first + 1))) * align
  }
}

type Kind = 's1' | 's2' | 'nested'
export type Mutation =
  | 'none'
  | 'leaf-invalid'
  | 'table-invalid'
  | 'l3-reserved'
  | 'af0'
  | 'perm'
  | 'ap-unpriv'
  | 'aptable-ro'
  | 'oa-beyond'
  | 's1-table-outside-s2'
  | 'cd-outside-s2'
  | 'ttb-outside-s2'
  | 'iova-beyond-t0sz'
  | 's2-input-beyond-ias'
  | 'ipa-beyond-s2t0sz'
  | 'bad-t0sz'
  | 'bad-s2t0sz'
  | 'no-record'
  | 'ste-abort'
  | 'ste-bypass'
  | 'tlb-stale'
  | 'tlb-tlbi'
  | 'table-unbacked'
  | 'cd-unbacked'

const MUTATIONS: readonly Mutation[] = [
  'none', 'none', 'none', 'leaf-invalid', 'table-invalid', 'l3-reserved', 'af0', 'perm', 'perm', 'ap-unpriv', 'aptable-ro',
  'oa-beyond', 's1-table-outside-s2', 'cd-outside-s2', 'ttb-outside-s2', 'iova-beyond-t0sz', 's2-input-beyond-ias',
  'ipa-beyond-s2t0sz', 'bad-t0sz', 'bad-s2t0sz', 'no-record', 'ste-abort', 'ste-bypass', 'tlb-stale', 'tlb-tlbi',
  'table-unbacked', 'cd-unbacked',
]

/** A separate memory for building stage-1 tables in IPA space (copied to PA afterwards). */
function scratchMemory(): PhysMemory {
  const m = createMemory({ oas: 48 })
  if (!m.ok) throw new Error(m.error.message)
  return m.value
}

function table(mem: PhysMemory, base: number, stage: 1 | 2, granule: Granule, ias: number, oas: number): IoPgtable {
  const alloc = createTableAllocator(mem, { base, size: POOL_SIZE })
  if (!alloc.ok) throw new Error(alloc.error.message)
  const t = createPgtable(mem, alloc.value, { stage, granule, ias, oas })
  if (!t.ok) throw new Error(t.error.message)
  return t.value
}

/** Every non-zero word of `src` in [base, base + size), moved by `delta`. */
function nonZeroWords(src: PhysMemory, base: number, size: number, delta = 0): [number, bigint][] {
  const out: [number, bigint][] = []
  for (const [pageBase, bytes] of src.snapshot()) {
    if (pageBase < base || pageBase >= base + size) continue
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    for (let off = 0; off < bytes.byteLength; off += 8) {
      const v = view.getBigUint64(off, true)
      if (v !== 0n) out.push([pageBase + off + delta, v])
    }
  }
  return out
}

/** The descriptor addresses a walk of `addr` visits in `t` (start level first), read from `mem`. */
function walkPath(mem: PhysMemory, t: IoPgtable, addr: number): { pa: number; level: number; value: bigint }[] {
  const g = t.geometry
  const path: { pa: number; level: number; value: bigint }[] = []
  let base = t.pgd
  for (let level = g.startLevel; level <= 3; level++) {
    const bits = level === g.startLevel ? g.startIndexMask : g.indexMask
    const index = Math.floor(addr / g.blockSize[level]) & bits
    const pa = base + index * 8
    const value = read64(mem, pa) ?? 0n
    path.push({ pa, level, value })
    if ((value & 3n) !== 3n || level === 3) break
    base = Number(value & 0x0000_ffff_ffff_f000n) - (Number(value & 0x0000_ffff_ffff_f000n) % g.granule)
  }
  return path
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

interface Built {
  name: string
  ste: Partial<SteFields>
  cd?: Partial<CdFields>
  cdPa?: number
  memory: [number, bigint][]
  steps: Step[]
}

/** One random case (`id` seeds nothing: the generator's state does). */
export function randomCase(p: Pick, id: number): OracleCase {
  for (;;) {
    try {
      const b = tryRandom(p)
      const memory = [...b.memory]
      if (b.cd !== undefined && b.cdPa !== undefined) encodeCd(b.cd).forEach((w, i) => w !== 0n && memory.push([b.cdPa! + 8 * i, w]))
      return { id, name: b.name, ste: encodeSte(b.ste), memory: dedupe(memory), steps: b.steps }
    } catch (e) {
      if (!(e instanceof Retry)) throw e
    }
  }
}

class Retry extends Error {}

function dedupe(ws: [number, bigint][]): [number, bigint][] {
  const m = new Map<number, bigint>()
  for (const [a, v] of ws) m.set(a, v)
  return [...m].filter(([, v]) => v !== 0n)
}

function tryRandom(p: Pick): Built {
  const kind: Kind = p.of(['s1', 's2', 'nested', 'nested'] as const)
  const mutation = p.of(MUTATIONS)
  const dir: 'read' | 'write' = p.chance(0.5) ? 'read' : 'write'
  const pa = new PhysHolder()
  const memory: [number, bigint][] = []
  // ---- stage 2 -------------------------------------------------------------------------------
  let s2: IoPgtable | undefined
  let ips2 = 44
  let ias2 = 44
  if (kind !== 's1') {
    const g2 = p.of(GRANULES)
    ips2 = p.of([40, 42, 44])
    ias2 = p.of([32, 36, 40, 42, 44].filter((b) => b <= ips2))
    s2 = table(pa.mem, S2_POOL, 2, g2, ias2, ips2)
  }
  // ---- stage 1 -------------------------------------------------------------------------------
  let s1: IoPgtable | undefined
  let s1mem: PhysMemory | undefined
  let s1Window = S1_POOL
  let ips1 = 44
  let ias1 = 48
  const g1 = p.of(GRANULES)
  if (kind !== 's2') {
    ias1 = p.int(25, MAX_IAS)
    ips1 = p.of(IPS_BITS)
    if (kind === 'nested') {
      // The stage-1 pool as IPAs: anywhere the stage 2 can map it, aligned for 2M/32M/512M blocks.
      s1Window = p.aligned(0, Math.min(2 ** ias2, 2 ** Math.min(ips1, 44)) - POOL_SIZE, POOL_SIZE)
      ips1 = Math.max(ips1, 32)
    }
    s1mem = kind === 'nested' ? scratchMemory() : pa.mem
    s1 = table(s1mem, s1Window, 1, g1, ias1, Math.min(ips1, 48))
  }
  // ---- the DMA target: PA, IPA, IOVA with consistent offsets ---------------------------------
  const target = p.aligned(DATA_BASE, DATA_END - 8, 8)
  const l2 = s2 === undefined ? 0 : pickLeaf(p, s2, target)
  const l1 = s1 === undefined ? 0 : pickLeaf(p, s1, target)
  const big = Math.max(l1, l2, 4096)
  let ipa = target
  if (s2 !== undefined) {
    const ipaLimit = Math.min(2 ** ias2, s1 === undefined ? 2 ** 44 : 2 ** Math.min(ips1, 44))
    ipa = p.aligned(0, ipaLimit - big, big) + (target % big)
    if (s1 !== undefined && ipa + big > s1Window && ipa < s1Window + POOL_SIZE) throw new Retry()
    must(s2.map(ipa - (ipa % l2), target - (target % l2), l2, RW))
    if (s1 !== undefined) must(s2.mapRange(s1Window, S1_POOL, POOL_SIZE, { read: true, write: false }))
  }
  let iova = ipa
  if (s1 !== undefined) {
    iova = p.aligned(0, 2 ** ias1 - l1, l1) + (ipa % l1)
    must(s1.map(iova - (iova % l1), ipa - (ipa % l1), l1, RW))
  }
  // ---- STE and CD ----------------------------------------------------------------------------
  const vmid = p.int(1, 0xffff)
  const asid = p.int(0, 0xffff)
  const privCfg = p.chance(0.5) ? PRIVCFG.PRIVILEGED : PRIVCFG.INCOMING
  const ste: Mutable<Partial<SteFields>> & { config: number } = {
    config: kind === 's1' ? STE_CONFIG.S1_TRANS : kind === 's2' ? STE_CONFIG.S2_TRANS : STE_CONFIG.NESTED,
    s2Vmid: vmid,
    privCfg,
  }
  if (s2 !== undefined) {
    const r = s2.s2Context.regs
    Object.assign(ste, { s2T0sz: r.t0sz, s2Sl0: r.sl0, s2Tg: tg0Enc(r.granule), s2Ps: addressSizeEncoding(ips2), s2Ttb: r.vttbr, s2R: true })
  }
  let cd: Mutable<Partial<CdFields>> | undefined
  const cdIpa = s1Window + POOL_SIZE - 4096
  if (s1 !== undefined) {
    const r = s1.s1Context.regs
    cd = { t0sz: r.t0sz, tg0: tg0Enc(r.granule), ips: addressSizeEncoding(ips1), asid, ttb0: r.ttbr, r: true }
    ste.s1ContextPtr = cdIpa
  }
  const steps: Step[] = [{ op: 'dma', dir, iova, peek: target }]
  memory.push([target, dir === 'read' ? tag(target) : MARKER])
  let name = `${kind} ${dir} S1 ${s1 ? `${g1 / 1024}K ias ${ias1} ips ${ips1} leaf ${l1}` : '-'} S2 ${s2 ? `${s2.geometry.granule / 1024}K ias ${ias2} ps ${ips2} leaf ${l2}` : '-'}`
  // ---- the mutation --------------------------------------------------------------------------
  const stage1Path = () => (s1 === undefined || s1mem === undefined ? [] : walkPath(s1mem, s1, iova))
  const stage2Path = () => (s2 === undefined ? [] : walkPath(pa.mem, s2, ipa))
  const mutateIn = (stage: 1 | 2, pick: (path: { pa: number; level: number; value: bigint }[]) => { pa: number; value: bigint } | undefined) => {
    const path = stage === 1 ? stage1Path() : stage2Path()
    const m = pick(path)
    if (m === undefined) throw new Retry()
    write64(stage === 1 ? s1mem! : pa.mem, m.pa, m.value)
  }
  const anyStage = (): 1 | 2 => (s1 === undefined ? 2 : s2 === undefined ? 1 : p.chance(0.5) ? 1 : 2)
  const leafOf = (path: { pa: number; level: number; value: bigint }[]) => path[path.length - 1]
  switch (mutation) {
    case 'none':
      break
    case 'leaf-invalid':
      mutateIn(anyStage(), (path) => ({ pa: leafOf(path).pa, value: leafOf(path).value & ~1n }))
      break
    case 'table-invalid':
      mutateIn(anyStage(), (path) => {
        const tables = path.slice(0, -1)
        if (tables.length === 0) return undefined
        const t = p.of(tables)
        return { pa: t.pa, value: p.chance(0.5) ? 0n : t.value & ~1n }
      })
      break
    case 'l3-reserved':
      mutateIn(anyStage(), (path) => (leafOf(path).level === 3 ? { pa: leafOf(path).pa, value: leafOf(path).value & ~2n } : undefined))
      break
    case 'af0':
      mutateIn(anyStage(), (path) => ({ pa: leafOf(path).pa, value: leafOf(path).value & ~(1n << 10n) }))
      break
    case 'perm': {
      const stage = anyStage()
      // stage 1: AP[2] (read-only) denies writes; stage 2: S2AP without the access's bit.
      const bitToClear = stage === 1 ? undefined : dir === 'read' ? 6n : 7n
      mutateIn(stage, (path) => {
        const l = leafOf(path)
        return { pa: l.pa, value: bitToClear === undefined ? l.value | (1n << 7n) : l.value & ~(1n << bitToClear) }
      })
      break
    }
    case 'ap-unpriv':
      if (s1 === undefined) throw new Retry()
      // AP[1] = 0: privileged access only; the transaction's privilege decides.
      mutateIn(1, (path) => ({ pa: leafOf(path).pa, value: leafOf(path).value & ~(1n << 6n) }))
      break
    case 'aptable-ro':
      if (s1 === undefined) throw new Retry()
      mutateIn(1, (path) => {
        const tables = path.slice(0, -1)
        if (tables.length === 0) return undefined
        const t = p.of(tables)
        return { pa: t.pa, value: t.value | (1n << 62n) }
      })
      break
    case 'oa-beyond': {
      const stage = anyStage()
      const limit = stage === 1 ? Math.min(ips1, 44) : Math.min(ips2, 44)
      if (limit >= 48) throw new Retry()
      mutateIn(stage, (path) => ({ pa: leafOf(path).pa, value: leafOf(path).value | (1n << BigInt(limit)) }))
      break
    }
    case 's1-table-outside-s2':
      if (kind !== 'nested') throw new Retry()
      mutateIn(1, (path) => {
        const tables = path.slice(0, -1)
        if (tables.length === 0) return undefined
        const t = p.of(tables)
        // Move the next-level table's IPA out of the stage-1 window: stage 2 maps nothing there.
        const outside = s1Window >= POOL_SIZE * 2 ? BigInt(s1Window - POOL_SIZE) : BigInt(s1Window + POOL_SIZE * 2)
        return { pa: t.pa, value: (t.value & ~0x0000_ffff_ffff_f000n) | (outside & 0x0000_ffff_ffff_f000n) }
      })
      break
    case 'cd-outside-s2':
      if (kind !== 'nested') throw new Retry()
      ste.s1ContextPtr = s1Window >= POOL_SIZE * 2 ? s1Window - POOL_SIZE : s1Window + POOL_SIZE * 2
      break
    case 'ttb-outside-s2':
      if (kind !== 'nested' || cd === undefined) throw new Retry()
      cd.ttb0 = s1Window >= POOL_SIZE * 2 ? s1Window - POOL_SIZE : s1Window + POOL_SIZE * 2
      break
    case 'iova-beyond-t0sz':
      if (s1 === undefined || ias1 >= 48) throw new Retry()
      steps[0] = { ...steps[0], iova: iova + 2 ** ias1 } as Step
      break
    case 's2-input-beyond-ias':
      if (kind !== 's2') throw new Retry()
      steps[0] = { ...steps[0], iova: iova + 2 ** 44 } as Step
      break
    case 'ipa-beyond-s2t0sz':
      if (kind !== 's2' || ias2 >= 44) throw new Retry()
      steps[0] = { ...steps[0], iova: iova + 2 ** ias2 } as Step
      break
    case 'bad-t0sz':
      if (cd === undefined) throw new Retry()
      cd.t0sz = p.of([15, 40, 12, 45])
      break
    case 'bad-s2t0sz':
      if (s2 === undefined) throw new Retry()
      ste.s2T0sz = p.of([64 - Math.min(ips2, 44) - 1, 40, 41])
      break
    case 'no-record': {
      const stage = anyStage()
      if (stage === 1 && cd !== undefined) cd.r = false
      else ste.s2R = false
      mutateIn(stage, (path) => ({ pa: leafOf(path).pa, value: leafOf(path).value & ~1n }))
      break
    }
    case 'table-unbacked': {
      // A next-level table at a PA with no RAM behind it: the fetch aborts (F_WALK_EABT).
      const stage: 1 | 2 = kind === 's1' ? 1 : kind === 's2' ? 2 : 2
      mutateIn(stage, (path) => {
        const tables = path.slice(0, -1)
        if (tables.length === 0) return undefined
        const t = p.of(tables)
        return { pa: t.pa, value: (t.value & ~0x0000_ffff_ffff_f000n) | BigInt(UNBACKED) }
      })
      break
    }
    case 'cd-unbacked':
      if (kind !== 's1') throw new Retry()
      ste.s1ContextPtr = UNBACKED
      break
    case 'ste-abort':
      ste.config = STE_CONFIG.ABORT
      break
    case 'ste-bypass':
      ste.config = STE_CONFIG.BYPASS
      steps[0] = { ...steps[0], iova: target } as Step
      break
    case 'tlb-stale':
    case 'tlb-tlbi': {
      // Fill the TLB with a read, change the leaf to point elsewhere, read again.
      const stage = anyStage()
      const path = stage === 1 ? stage1Path() : stage2Path()
      const leaf = leafOf(path)
      const size = stage === 1 ? l1 : l2
      const other = size >= 2 ** 30 ? (target < 0x8000_0000 ? 0x8000_0000 : 0x4000_0000) : size * 2 + (Number(leaf.value & 0x0000_ffff_ffff_f000n) - (Number(leaf.value & 0x0000_ffff_ffff_f000n) % size))
      const otherTarget = stage === 1 && s2 !== undefined ? undefined : other + (target % size)
      if (otherTarget === undefined || otherTarget < DATA_BASE || otherTarget + 8 > DATA_END) throw new Retry()
      memory.push([otherTarget, tag(otherTarget)])
      memory[memory.length - 2] = [target, tag(target)]
      const newLeaf = (leaf.value & ~0x0000_ffff_ffff_f000n) | BigInt(other)
      const leafPa = stage === 1 && kind === 'nested' ? leaf.pa - s1Window + S1_POOL : leaf.pa
      steps[0] = { op: 'dma', dir: 'read', iova }
      steps.push({ op: 'patch', addr: leafPa, value: newLeaf })
      if (mutation === 'tlb-tlbi') {
        const cmd = p.of([
          { op: 'TLBI_NSNH_ALL' } as const,
          s1 !== undefined ? ({ op: 'TLBI_NH_ASID', asid, vmid } as const) : ({ op: 'TLBI_S12_VMALL', vmid } as const),
          { op: 'TLBI_S12_VMALL', vmid } as const,
        ])
        steps.push({ op: 'cmd', cmd })
      }
      steps.push({ op: 'dma', dir: 'read', iova })
      break
    }
  }
  name += ` ${mutation}`
  // ---- memory image --------------------------------------------------------------------------
  memory.push(...nonZeroWords(pa.mem, S2_POOL, POOL_SIZE))
  if (s1mem !== undefined) memory.push(...nonZeroWords(s1mem, s1Window, POOL_SIZE, S1_POOL - s1Window))
  return { name, ste, cd, cdPa: cd === undefined ? undefined : S1_POOL + POOL_SIZE - 4096, memory, steps }
}

class PhysHolder {
  readonly mem = caseMemory()
}

function tg0Enc(g: Granule): number {
  for (const e of [0, 1, 2]) if (tg0Granule(e) === g) return e
  throw new Error(`granule ${g}`)
}

/** A leaf size of `t` whose aligned block around `target` stays inside RAM when used as output. */
function pickLeaf(p: Pick, t: IoPgtable, target: number): number {
  const ok = t.pgsizes.filter((s) => s <= 2 ** 30 && target - (target % s) >= 0x4000_0000)
  return p.of(ok)
}

function must(r: { ok: boolean; error?: { message: string } }): void {
  if (!r.ok) throw new Retry(r.error?.message)
}

/** A recognisable word for a DMA read to find at `pa`. */
export function tag(pa: number): bigint {
  return 0x7a00_0000_0000_0000n | BigInt(pa)
}

export function randomCases(seed: number, count: number, firstId: number): OracleCase[] {
  const p = new Pick(prng(seed))
  return Array.from({ length: count }, (_, i) => randomCase(p, firstId + i))
}

