/**
 * Hand cases: the walks of the translation features (Trans1-Trans4) with the features' own table
 * addresses and descriptor values, written as raw words. Differences from the features, forced by
 * QEMU's SMMUv3: a 48-bit stage-2 input is above its 44-bit OAS, so the stage-2 cases use S2T0SZ 20
 * (IAS 44: the same level-0 start and the same indices for these addresses); DMAs move 8 aligned
 * bytes (0x4020_1238 where the features use 0x4020_1234); the nested case's CD sits at IPA
 * 0x4001_0000 (PA 0x8001_0000) of the guest's RAM.
 */
import { encodeCd, encodeSte, STE_CONFIG, PRIVCFG } from '../model/smmu/v3'
import { MARKER, type OracleCase, type Step } from './case'
import { tag } from './campaign'

type Words = [number, bigint][]

const S1_TABLES: Words = [
  [0x1_0000_0000, 0x0000_0001_0000_1003n],
  [0x1_0000_1008, 0x0000_0001_0000_2003n],
  [0x1_0000_2008, 0x0000_0001_0000_3003n],
]
const CD_PA = 0x1_0010_0000
/** Trans1: a stage-1 CD over the tables at 0x1_0000_0000 (T0SZ 16, 4K, IPS 44, ASID 1). */
const S1_CD = encodeCd({ t0sz: 16, tg0: 0, ips: 4, asid: 1, ttb0: 0x1_0000_0000 })
const S1_STE = encodeSte({ config: STE_CONFIG.S1_TRANS, s1ContextPtr: CD_PA, s2Vmid: 1, privCfg: PRIVCFG.INCOMING })
const S2_STE = (t0sz: number, sl0: number) =>
  encodeSte({ config: STE_CONFIG.S2_TRANS, s2Vmid: 1, s2T0sz: t0sz, s2Sl0: sl0, s2Tg: 0, s2Ps: 4, s2Ttb: 0x1_0000_0000 })

const words = (base: number, ws: readonly bigint[]): Words => ws.map((w, i) => [base + 8 * i, w] as [number, bigint]).filter(([, w]) => w !== 0n)
const rd = (iova: number): Step => ({ op: 'dma', dir: 'read', iova })
const wr = (iova: number, peek: number): Step => ({ op: 'dma', dir: 'write', iova, peek })

/** Trans3's worked example: the host's stage 2 and the guest's stage 1 of IOVA 0x8040_3010. */
function trans3(overrides: Words): Words {
  const host: Words = [
    [0x1_0000_0000, 0x0000_0001_0000_1003n], // L0[0] -> L1
    [0x1_0000_1008, 0x0000_0001_0000_2003n], // L1[1] -> L2 (IPA 0x4000_0000)
    [0x1_0000_2000, 0x0000_0000_8000_07fdn], // IPA 0x4000_0000 + 2M read-write (MAP_DMA, Linux 6.1)
    [0x1_0000_2008, 0x0000_0000_8020_077dn], // IPA 0x4020_0000 + 2M read-only
    [0x1_0000_2010, 0x0000_0000_8040_07bdn], // IPA 0x4040_0000 + 2M write-only
  ]
  const guest: Words = [
    [0x8000_0010, 0x0000_0000_4000_1003n], // IPA 0x4000_0010
    [0x8000_1010, 0x0000_0000_4000_2003n], // IPA 0x4000_1010
    [0x8000_2018, 0x0000_0000_4010_0f47n], // IPA 0x4000_2018
  ]
  const cd = words(0x8001_0000, encodeCd({ t0sz: 25, tg0: 0, ips: 2, asid: 1, ttb0: 0x4000_0000 }))
  const m = new Map<number, bigint>([...host, ...guest, ...cd, [0x8010_0010, tag(0x8010_0010)]])
  for (const [ipa, v] of overrides) m.set(ipa + 0x4000_0000, v)
  return [...m]
}
const NESTED_STE = encodeSte({
  config: STE_CONFIG.NESTED, s1ContextPtr: 0x4001_0000, s2Vmid: 1, s2T0sz: 20, s2Sl0: 2, s2Tg: 0, s2Ps: 4, s2Ttb: 0x1_0000_0000,
})

export function handCases(): OracleCase[] {
  const cases: Omit<OracleCase, 'id'>[] = [
    {
      name: 'Trans1 [1] stage-1 4K walk: IOVA 0x4020_1238 -> PA 0x8000_5238',
      ste: S1_STE,
      memory: [...S1_TABLES, [0x1_0000_3008, 0x0060_0000_8000_5f47n], ...words(CD_PA, S1_CD), [0x8000_5238, MARKER]],
      steps: [wr(0x4020_1238, 0x8000_5238), rd(0x4020_1238)],
    },
    {
      name: 'Trans1 [4] read-only page 0x9000_0EC3: read succeeds, write is a stage-1 permission fault',
      ste: S1_STE,
      memory: [
        [0x1_0000_0000, 0x0000_0001_0000_1003n], [0x1_0000_1000, 0x0000_0001_0000_2003n], [0x1_0000_2000, 0x0000_0001_0000_3003n],
        [0x1_0000_3800, 0x0000_0000_9000_0ec3n], ...words(CD_PA, S1_CD), [0x9000_0000, tag(0x9000_0000)],
      ],
      steps: [rd(0x10_0000), wr(0x10_0000, 0x9000_0000)],
    },
    {
      name: 'Trans2 [1] stage-2 4K walk: IPA 0x4020_1238 -> PA 0x8000_5238',
      ste: S2_STE(20, 2),
      memory: [...S1_TABLES, [0x1_0000_3008, 0x0000_0000_8000_57ffn], [0x8000_5238, MARKER]],
      steps: [wr(0x4020_1238, 0x8000_5238), rd(0x4020_1238)],
    },
    ...(
      [
        ['READ|WRITE|CACHE', 0x0000_0000_8000_57ffn],
        ['READ|WRITE', 0x0000_0000_8000_56d7n],
        ['READ', 0x0000_0000_8000_5657n],
        ['WRITE', 0x0000_0000_8000_5697n],
      ] as const
    ).map(([prot, leaf]) => ({
      name: `Trans2 [2] S2AP: a ${prot} page ${leaf.toString(16)}`,
      ste: S2_STE(20, 2),
      memory: [...S1_TABLES, [0x1_0000_3008, leaf], [0x8000_5000, tag(0x8000_5000)]] as Words,
      steps: [rd(0x4020_1000), wr(0x4020_1000, 0x8000_5000)],
    })),
    {
      name: 'Trans2 [4] concatenated start tables: IAS 40, level 1 with two tables, IPA 0x80_4020_1000',
      ste: S2_STE(24, 1),
      memory: [
        [0x1_0000_1008, 0x0000_0001_0000_2003n], [0x1_0000_2008, 0x0000_0001_0000_3003n], [0x1_0000_3008, 0x0000_0000_8000_57ffn],
        [0x8000_5000, tag(0x8000_5000)],
      ],
      steps: [rd(0x80_4020_1000)],
    },
    {
      name: 'Trans3 [2] nested: IOVA 0x8040_3010 -> IPA 0x4010_0010 -> PA 0x8010_0010',
      ste: NESTED_STE,
      memory: trans3([]),
      steps: [rd(0x8040_3010), wr(0x8040_3010, 0x8010_0010), rd(0x8040_3010)],
    },
    ...(
      [
        ['stage-1 translation', 0x4000_2018, 0x0n, 'read'],
        ['stage-1 address size', 0x4000_2018, 0x0000_0100_0000_0f47n, 'read'],
        ['stage-1 access flag', 0x4000_2018, 0x0000_0000_4010_0b47n, 'read'],
        ['stage-1 permission', 0x4000_2018, 0x0000_0000_4010_0fc7n, 'write'],
        ['stage 2 on the final IPA', 0x4000_2018, 0x0000_0000_5000_0f47n, 'read'],
        ['stage 2 on a stage-1 table walk', 0x4000_1010, 0x0000_0000_5000_0003n, 'read'],
        ['stage-2 permission on the final IPA', 0x4000_2018, 0x0000_0000_4020_0f47n, 'write'],
        ['stage-2 permission on a table fetch', 0x4000_1010, 0x0000_0000_4040_0003n, 'read'],
      ] as const
    ).map(([what, entry, desc, op]) => ({
      name: `Trans4 [4] ${what}: IPA 0x${entry.toString(16)} := 0x${desc.toString(16)}, ${op}`,
      ste: NESTED_STE,
      memory: trans3([[entry, desc]]).filter(([, v]) => v !== 0n),
      steps: [op === 'read' ? rd(0x8040_3010) : wr(0x8040_3010, 0x8010_0010)],
    })),
  ]
  return cases.map((c, i) => ({ ...c, id: i + 1 }))
}
