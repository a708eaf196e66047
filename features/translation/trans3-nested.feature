Feature: Trans3 - Nested translation
  A VMM gives a guest a device: VFIO_TYPE1_NESTING_IOMMU makes the domain NESTED and MAP_DMA
  writes the host's stage 2 (IPA -> PA). The guest, driving a virtual SMMU, builds its own
  stage-1 tables (IOVA -> IPA) in its memory and asks for them to be nested: the host pairs the
  guest's stage 1 with the domain's stage-2 context (on SMMUv1/v2 a stage-1 bank of CBAR type
  S1_TRANS_S2_TRANS tagged with the stage-2 bank's VMID, as the out-of-tree vSMMU did; on SMMUv3
  an STE with both stages whose S1ContextPtr is the IPA of the guest's context descriptor, which
  holds its TTB, T0SZ and ASID: with stage 2 on, IHI 0070 5.2 makes that pointer an IPA).
  Every stage-1 table address is an IPA: the SMMU translates it through stage 2 before it reads
  the descriptor, then translates the final IPA through stage 2 as well.

  Rule: A guest behind VFIO on an SMMUv2 with nesting (synthetic-nested)

    Background: The worked example (used by Trans3, Trans4 and Trans5)
      Host: the guest's RAM is IPA 0x4000_0000 + 2M, MAP_DMA'd read-write from the VMM's first
      buffer; the machine's RAM starts at PA 0x8000_0000 and a buffer of 2M or more is 2M-aligned,
      so IPA 0x4000_0000 + x is PA 0x8000_0000 + x. In the host's stage 2 (L0 at 0x1_0000_0000)
      that is one 2M block: L0 index 0 -> L1 table at 0x1_0000_1000, index 1 -> L2 table at
      0x1_0000_2000, index 0 holds the block.

      Guest: TTB = IPA 0x4000_0000, T0SZ 25 (39-bit IOVA), 4K granule, so the walk starts at level
      4 - ceil((39 - 12) / 9) = 1. IOVA 0x8040_3010 = 0x8000_0000 + 0x40_0000 + 0x3000 + 0x10:
      L1 index IOVA[38:30] = 2, L2 index IOVA[29:21] = 2, L3 index IOVA[20:12] = 3. The guest writes
        IPA 0x4000_0010 (L1 table + 8 * 2): 0x0000_0000_4000_1003  (table at IPA 0x4000_1000)
        IPA 0x4000_1010 (L2 table + 8 * 2): 0x0000_0000_4000_2003  (table at IPA 0x4000_2000)
        IPA 0x4000_2018 (L3 table + 8 * 3): 0x0000_0000_4010_0F47  (page IPA 0x4010_0000,
          nG | AF | inner shareable | AP[1] | AttrIndx 1 | page = 0xF47)
      so IOVA 0x8040_3010 -> IPA 0x4010_0010 -> PA 0x8010_0010 (offset 0x10_0010 in the buffer).

      Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
      And group 0 is in the container
      And the container is set to VFIO_TYPE1_NESTING_IOMMU
      And the VMM has mapped iova 0x4000_0000 size 0x20_0000 read-write
      And the guest of stream 0x10 has written 0x0000_0000_4000_1003 at IPA 0x4000_0010
      And the guest of stream 0x10 has written 0x0000_0000_4000_2003 at IPA 0x4000_1010
      And the guest of stream 0x10 has written 0x0000_0000_4010_0F47 at IPA 0x4000_2018

    Scenario Outline: [1] MAP_DMA wrote one stage-2 block, <block>; the guest's writes landed in the VMM's buffer
      The block maps PA 0x8000_0000 read-write: AF | SH | S2AP RW | MemAttr | block. 3.x VFIO
      asks for IOMMU_CACHE only when the SMMU walks coherently (synthetic-nested does not): outer
      shareable, Normal non-cacheable, 0x6D5. Linux 6.1 VFIO always passes IOMMU_CACHE: inner
      shareable, Normal write-back, 0x7FD. The guest's L3 entry (IPA 0x4000_2018) is at PA 0x8000_2018.
      # history: MAP_DMA's stage-2 block descriptor for the guest's RAM => <block>
      Then the descriptor at PA 0x1_0000_2000 should be <block>
      And the descriptor at PA 0x8000_2018 should be 0x0000_0000_4010_0F47
      And the guest of stream 0x10 should read 0x0000_0000_4000_2003 at IPA 0x4000_1010

      @rfc-v2 @enforcing @merged
      Examples:
        | block                 |
        | 0x0000_0000_8000_06D5 |

      @since-linux-6.1 @until-linux-6.12
      Examples:
        | block                 |
        | 0x0000_0000_8000_07FD |

    @until-linux-6.12
    Scenario: [2] IOVA -> guest IPA -> PA: the device's bytes land in the VMM's buffer at offset 0x10_0010
      Before the guest's stage 1 is installed the context translates at stage 2 only: the device's
      address is an IPA, and IPA 0x8040_3010 is not mapped (L1 index 2 is empty).
      Then IOVA 0x8040_3010 on stream 0x10 should take a translation fault at stage 2, level 1
      When the guest of stream 0x10 installs stage 1 with TTB 0x4000_0000, T0SZ 25, granule 4K, IPS 40 bits, ASID 1
      Then the operation should succeed
      When the device at stream 0x10 writes "ca fe f0 0d" at IOVA 0x8040_3010
      Then the DMA should have reached PA 0x8010_0010
      And physical memory at PA 0x8010_0010 should hold "ca fe f0 0d"
      And the guest of stream 0x10 should read "ca fe f0 0d" at IPA 0x4010_0010

    Scenario Outline: [3] The whole nested walk of IOVA 0x8040_3010: 15 descriptor fetches
      Each of the 3 stage-1 descriptor addresses is an IPA that needs a 3-step stage-2 walk (L0,
      L1, then the L2 block) before the fetch, and the final IPA one more: 3 * (3 + 1) + 3 = 15.
      The stage-1 descriptors are read at the PAs their IPAs map to: IPA 0x4000_0010 ->
      PA 0x8000_0010, 0x4000_1010 -> 0x8000_1010, 0x4000_2018 -> 0x8000_2018.
      Given the guest of stream 0x10 has installed stage 1 with TTB 0x4000_0000, T0SZ 25, granule 4K, IPS 40 bits, ASID 1
      Then the walk of IOVA 0x8040_3010 on stream 0x10 should read:
        | walk            | level | address       | descriptor            |
        | S2 for S1 table | 0     | 0x1_0000_0000 | 0x0000_0001_0000_1003 |
        | S2 for S1 table | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
        | S2 for S1 table | 2     | 0x1_0000_2000 | <block>               |
        | S1              | 1     | 0x8000_0010   | 0x0000_0000_4000_1003 |
        | S2 for S1 table | 0     | 0x1_0000_0000 | 0x0000_0001_0000_1003 |
        | S2 for S1 table | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
        | S2 for S1 table | 2     | 0x1_0000_2000 | <block>               |
        | S1              | 2     | 0x8000_1010   | 0x0000_0000_4000_2003 |
        | S2 for S1 table | 0     | 0x1_0000_0000 | 0x0000_0001_0000_1003 |
        | S2 for S1 table | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
        | S2 for S1 table | 2     | 0x1_0000_2000 | <block>               |
        | S1              | 3     | 0x8000_2018   | 0x0000_0000_4010_0F47 |
        | S2              | 0     | 0x1_0000_0000 | 0x0000_0001_0000_1003 |
        | S2              | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
        | S2              | 2     | 0x1_0000_2000 | <block>               |
      And IOVA 0x8040_3010 on stream 0x10 should translate to PA 0x8010_0010

      @rfc-v2 @enforcing @merged
      Examples:
        | block                 |
        | 0x0000_0000_8000_06D5 |

      @since-linux-6.1 @until-linux-6.12
      Examples:
        | block                 |
        | 0x0000_0000_8000_07FD |

    Scenario Outline: [4] The guest's stage 1 gets its own bank: bank 2, S1_TRANS_S2_TRANS, over stage-2 bank 0 (VMID <vmid>)
      The NESTED domain holds bank 0 (S2_TRANS, from bank 0 up). A stage-1 bank is searched from
      NUMS2CB = 2 up, so the guest's stage 1 takes bank 2, tagged with bank 0's VMID: 3.x gives
      every bank VMID = bank + 1 = 1; from 4.x a NESTED bank's VMID is its index, 0.
      # history: VMID of the nested stream's stage-2 bank => <vmid>
      Given the guest of stream 0x10 has installed stage 1 with TTB 0x4000_0000, T0SZ 25, granule 4K, IPS 40 bits, ASID 1
      Then the guest stage 1 of stream 0x10 should be:
        | context      | bank 2            |
        | CBAR         | S1_TRANS_S2_TRANS |
        | stage-2 bank | 0                 |
        | VMID         | <vmid>            |
        | ASID         | 1                 |
        | start level  | 1                 |

      @rfc-v2 @enforcing @merged
      Examples:
        | vmid |
        | 1    |

      @since-linux-6.1 @until-linux-6.12
      Examples:
        | vmid |
        | 0    |

    @until-linux-6.12
    Scenario: [5] The guest's memory is what the host mapped: an IPA outside it is EFAULT
      IPA 0x5000_0000 is outside IPA 0x4000_0000 + 2M: the host's stage 2 has nothing there.
      When the guest of stream 0x10 writes 0x0000_0000_4000_1003 at IPA 0x5000_0000
      Then the operation should fail with EFAULT
      When the guest of stream 0x10 writes 0x0000_0000_4000_1003 at IPA 0x401f_fff8
      Then the operation should succeed

    @until-linux-6.12
    Scenario: [6] Removing the guest's stage 1: the stream translates at stage 2 only again
      Given the guest of stream 0x10 has installed stage 1 with TTB 0x4000_0000, T0SZ 25, granule 4K, IPS 40 bits, ASID 1
      When the device at stream 0x10 reads 4 bytes at IOVA 0x8040_3010
      Then the DMA should have reached PA 0x8010_0010
      When the guest stage 1 of stream 0x10 is removed
      Then the operation should succeed
      And IOVA 0x4010_0010 on stream 0x10 should translate to PA 0x8010_0010
      And IOVA 0x8040_3010 on stream 0x10 should take a translation fault at stage 2, level 1

    Scenario Outline: [7] Stale IOTLB: after rewriting its L3 entry the guest's DMA follows the old page until <tlbi> is invalidated
      The first DMA caches IOVA 0x8040_3000 -> PA 0x8010_0000, tagged (VMID of bank 0, ASID 1).
      The guest then points its L3 entry at IPA 0x4010_1000 (0x0000_0000_4010_1F47). The SMMU
      does not watch memory: until the guest invalidates that entry (by ASID and VA, or the whole
      ASID) the DMA still goes to the old page. An invalidation of another ASID or another page
      leaves it there.
      Given the guest of stream 0x10 has installed stage 1 with TTB 0x4000_0000, T0SZ 25, granule 4K, IPS 40 bits, ASID 1
      When the device at stream 0x10 writes "11 22 33 44" at IOVA 0x8040_3000
      Then the DMA should have reached PA 0x8010_0000
      When the guest of stream 0x10 writes 0x0000_0000_4010_1F47 at IPA 0x4000_2018
      And the device at stream 0x10 writes "55 66 77 88" at IOVA 0x8040_3000
      Then the DMA should have reached PA 0x8010_0000
      When the guest of stream 0x10 invalidates <tlbi>
      And the device at stream 0x10 writes "99 aa bb cc" at IOVA 0x8040_3000
      Then the DMA should have reached PA <pa>

      @until-linux-6.12
      Examples:
        | tlbi                       | pa          |
        | ASID 1 at IOVA 0x8040_3000 | 0x8010_1000 |
        | ASID 1                     | 0x8010_1000 |
        | ASID 2                     | 0x8010_0000 |
        | ASID 1 at IOVA 0x8040_4000 | 0x8010_0000 |

  Rule: A guest behind VFIO on an SMMUv3 with both stages (synthetic-smmuv3-nested, Linux 6.1)

    Background: The same worked example, through an STE with both stages
      Given an SMMU from fixture "synthetic-smmuv3-nested" with VFIO group 0 at stream 0x10
      And group 0 is in the container
      And the container is set to VFIO_TYPE1_NESTING_IOMMU
      And the VMM has mapped iova 0x4000_0000 size 0x20_0000 read-write
      And the guest of stream 0x10 has written 0x0000_0000_4000_1003 at IPA 0x4000_0010
      And the guest of stream 0x10 has written 0x0000_0000_4000_2003 at IPA 0x4000_1010
      And the guest of stream 0x10 has written 0x0000_0000_4010_0F47 at IPA 0x4000_2018

    @linux-6.1
    Scenario: [8] The same guest tables through an STE with both stages; the NESTED domain's VMID is 1
      IAS 44: the host's stage 2 starts at level 0 with 2^(44 - 39) = 32 entries, and the
      indices of IPA 0x4000_0000 are those of the 48-bit case. No bank: the guest writes its
      context descriptor (ASID 1) in its own RAM, at IPA 0x4000_3000 after its three tables, and
      the STE's S1ContextPtr is that IPA beside the stage-2 fields (VMID 1, the first VMID); the
      SMMU reads the CD at the PA stage 2 gives (IHI 0070 5.2, 3.3.2), so the walk is unchanged.
      Given the guest of stream 0x10 has installed stage 1 with TTB 0x4000_0000, T0SZ 25, granule 4K, IPS 40 bits, ASID 1, its CD at IPA 0x4000_3000
      Then the guest stage 1 of stream 0x10 should be:
        | context | STE with S1 and S2 |
        | VMID    | 1                  |
        | ASID    | 1                  |
      And the stage-1 descriptors of the walk of IOVA 0x8040_3010 on stream 0x10 should be:
        | walk | level | address     | descriptor            |
        | S1   | 1     | 0x8000_0010 | 0x0000_0000_4000_1003 |
        | S1   | 2     | 0x8000_1010 | 0x0000_0000_4000_2003 |
        | S1   | 3     | 0x8000_2018 | 0x0000_0000_4010_0F47 |
      When the device at stream 0x10 writes "ca fe f0 0d" at IOVA 0x8040_3010
      Then physical memory at PA 0x8010_0010 should hold "ca fe f0 0d"

  Rule: Only a NESTED domain's context can take a guest's stage 1

    Scenario Outline: [9] A <requested> domain on <fixture> (<why>): nesting a guest stage 1 fails with <errno>
      Errors, in order: EINVAL when the stream's context is not a NESTED domain's; EOPNOTSUPP when
      the SMMU cannot nest (no IDR0.NTS; on SMMUv3 not both S1P and S2P); ENOSPC when no
      stage-1 bank is free (banks below NUMS2CB are stage-2 only).
      Given an SMMU from fixture "<fixture>"
      And a <requested> domain is attached to stream 0x10
      When the guest of stream 0x10 installs stage 1 with TTB 0x4000_0000, T0SZ 25, granule 4K, IPS 40 bits, ASID 1
      Then the operation should fail with <errno>

      Examples: every kernel (a stage-1 domain)
        | requested | fixture                     | why                                      | errno  |
        | stage 1   | synthetic-nested            | a stage-1 domain                         | EINVAL |

      @until-linux-6.12
      Examples: every kernel until 6.12 (a nested request)
        | requested | fixture                     | why                                      | errno  |
        | nested    | synthetic-s1-only           | NESTED falls back to stage 1             | EINVAL |
        | nested    | synthetic-one-bank          | its one bank holds the stage 2           | ENOSPC |
        | nested    | synthetic-all-banks-s2-only | both banks are stage-2 only              | ENOSPC |

      @rfc-v2 @enforcing
      Examples: the RFC turns NESTED into S2 without nesting hardware
        | requested | fixture         | why                         | errno  |
        | nested    | synthetic-s1-s2 | NESTED becomes S2           | EINVAL |

      @since-merged @until-linux-6.12
      Examples: merged kernels keep NESTED on an S2 bank without nesting hardware
        | requested | fixture         | why                         | errno      |
        | nested    | synthetic-s1-s2 | NESTED but no NTS           | EOPNOTSUPP |

      @since-linux-6.1 @until-linux-6.12
      Examples: SMMUv3
        | requested | fixture         | why                                     | errno  |
        | nested    | qemu-smmuv3-7.2 | stage 1 only: NESTED falls back to S1   | EINVAL |
