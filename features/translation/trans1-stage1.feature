Feature: Trans1 - Stage 1 translation
  A stage-1 context translates a device's IOVA to an output address by reading VMSAv8-64
  long descriptors from memory. The tables are the domain's io-pgtable: 4 KiB granule, 48-bit
  IOVA (Linux VA_BITS), so the walk starts at level 0 and every level indexes 9 bits:
    L0 = IOVA[47:39], L1 = IOVA[38:30], L2 = IOVA[29:21], L3 = IOVA[20:12]; descriptor = table + 8 * index.
  The architecture is the same under every profile; only the page sizes a domain may use differ
  (3.x arm-smmu: 4K|64K|2M; io-pgtable from 4.x: 4K|2M|1G), which decides between one 1G block
  and 512 2M blocks.

  Background: How the expected descriptors are worked out
    A table descriptor is the next table's PA | 0b11. A leaf's attributes for IOMMU prot flags
    (arm_lpae_prot_to_pte): nG 0x800 always, AF 0x400 always, SH inner 0x300 with CACHE else outer
    0x200, AP[1] (unprivileged access) 0x40 unless PRIV, AP[2] (read-only) 0x80 for READ without
    WRITE, AttrIndx 1 (0x4) for CACHE else 0, PXN|UXN (bits 53, 54: 0x0060_0000_0000_0000) for
    NOEXEC; bits [1:0] are 0b11 for a level-3 page, 0b01 for a block.

        READ|WRITE|CACHE|NOEXEC: 0x800|0x400|0x300|0x40|0x4 = 0xF44 -> page 0xF47, block 0xF45, + XN
        READ|WRITE:              0x800|0x400|0x200|0x40     = 0xE40 -> page 0xE43, block 0xE41
        READ:                    0x800|0x400|0x200|0x80|0x40 = 0xEC0 -> page 0xEC3

    Where the tables are: the simulated machine hands out page-table pages from a pool at PA
    0x1_0000_0000, first fit, one 4 KiB page per table in the order the builder needs them, so the
    first domain's level-0 table is at 0x1_0000_0000 and the tables a first map creates follow at
    0x1_0000_1000, 0x1_0000_2000, ... The PAs mapped below are chosen by the scenario (iommu_map
    takes any PA), so every value is worked out here by hand.

  Scenario Outline: [1] A 4K page: IOVA 0x4020_1000 -> PA 0x8000_5000 on <fixture>
    IOVA 0x4020_1000 = bit 30 + bit 21 + bit 12: L0 index 0, L1 index 1, L2 index 1, L3 index 1.
    L0 at 0x1_0000_0000 + 0 -> table 0x1_0000_1000; L1 at 0x1_0000_1008 -> table 0x1_0000_2000;
    L2 at 0x1_0000_2008 -> table 0x1_0000_3000; L3 at 0x1_0000_3008 holds the page:
    0x8000_5000 | 0xF47 | XN = 0x0060_0000_8000_5F47. IOVA 0x4020_1234 -> 0x8000_5000 + 0x234.
    Given an SMMU from fixture "<fixture>"
    And a stage 1 domain is attached to stream 0x10
    And the domain has mapped IOVA 0x4020_1000 to PA 0x8000_5000 size 0x1000 with READ|WRITE|CACHE|NOEXEC
    Then the walk of IOVA 0x4020_1234 on stream 0x10 should read:
      | walk | level | address       | descriptor            |
      | S1   | 0     | 0x1_0000_0000 | 0x0000_0001_0000_1003 |
      | S1   | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
      | S1   | 2     | 0x1_0000_2008 | 0x0000_0001_0000_3003 |
      | S1   | 3     | 0x1_0000_3008 | 0x0060_0000_8000_5F47 |
    When the device at stream 0x10 writes "de ad be ef" at IOVA 0x4020_1234
    Then the DMA should have reached PA 0x8000_5234
    And physical memory at PA 0x8000_5234 should hold "de ad be ef"
    When the device at stream 0x10 reads 4 bytes at IOVA 0x4020_1234
    Then the DMA should have read "de ad be ef"

    Examples: SMMUv2, stage-1 bank
      | fixture          |
      | synthetic-nested |

    @since-linux-6.1
    Examples: SMMUv3, stage-1 context descriptor (the same descriptors)
      | fixture         |
      | qemu-smmuv3-7.2 |

  Scenario: [2] A 2M block: the kernel selftest's IOVA 1G -> PA 1G
    arm_lpae_run_tests maps 1G -> 1G with a 2M block: L0 index 0, L1 index 1, L2 index 0, so the
    block is the first entry of the level-2 table at 0x1_0000_2000:
    0x4000_0000 | 0xF45 | XN = 0x0060_0000_4000_0F45. An IOVA inside it keeps its low 21 bits.
    Given an SMMU from fixture "synthetic-nested"
    And a stage 1 domain is attached to stream 0x10
    And the domain has mapped IOVA 0x4000_0000 to PA 0x4000_0000 size 0x20_0000 with READ|WRITE|CACHE|NOEXEC
    Then the walk of IOVA 0x4012_3456 on stream 0x10 should read:
      | walk | level | address       | descriptor            |
      | S1   | 0     | 0x1_0000_0000 | 0x0000_0001_0000_1003 |
      | S1   | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
      | S1   | 2     | 0x1_0000_2000 | 0x0060_0000_4000_0F45 |
    And IOVA 0x4012_3456 on stream 0x10 should translate to PA 0x4012_3456
    And IOVA 0x401f_ffff on stream 0x10 should translate to PA 0x401f_ffff
    And IOVA 0x4020_0000 on stream 0x10 should take a translation fault at stage 1, level 2

  Scenario Outline: [3] 1G at IOVA 0x4000_0000: <how>
    The level-1 entry for IOVA 0x4000_0000 (index 1) is at 0x1_0000_1008. With 1G in the page
    sizes it is a block: 0xC000_0000 | 0xE41 = 0x0000_0000_C000_0E41, and no level-2 table exists.
    Without it, iommu_map writes 512 2M blocks: the level-1 entry points at a level-2 table at
    0x1_0000_2000 whose last entry (0x1_0000_2000 + 8 * 511 = 0x1_0000_2ff8) maps
    0xC000_0000 + 511 * 2M = 0xFFE0_0000: 0x0000_0000_FFE0_0E41. Either way the same IOVA reaches
    the same PA.
    # history: a 1G mapping at IOVA 0x4000_0000 is written as => <how>
    Given an SMMU from fixture "synthetic-nested"
    And a stage 1 domain is attached to stream 0x10
    And the domain has mapped IOVA 0x4000_0000 to PA 0xC000_0000 size 0x4000_0000 with READ|WRITE
    Then the descriptor at PA 0x1_0000_1008 should be <level 1 entry>
    And the descriptor at PA 0x1_0000_2ff8 should be <last level 2 entry>
    And IOVA 0x7fff_f123 on stream 0x10 should translate to PA 0xffff_f123

    @rfc-v2 @enforcing @merged
    Examples: 3.x arm-smmu page sizes 4K|64K|2M
      | how                | level 1 entry         | last level 2 entry    |
      | 512 2M blocks      | 0x0000_0001_0000_2003 | 0x0000_0000_FFE0_0E41 |

    @since-linux-6.1
    Examples: io-pgtable page sizes 4K|2M|1G
      | how                | level 1 entry         | last level 2 entry    |
      | one 1G block       | 0x0000_0000_C000_0E41 | 0x0                   |

  Scenario: [4] A read-only page: the device may read it, a write is a stage-1 permission fault at level 3
    IOVA 0x10_0000: L0, L1, L2 index 0, L3 index 0x100 -> 0x1_0000_3000 + 0x800. READ without WRITE
    sets AP[2]: 0x9000_0000 | 0xEC3 = 0x0000_0000_9000_0EC3.
    Given an SMMU from fixture "synthetic-nested"
    And a stage 1 domain is attached to stream 0x10
    And the domain has mapped IOVA 0x10_0000 to PA 0x9000_0000 size 0x1000 with READ
    Then the descriptor at PA 0x1_0000_3800 should be 0x0000_0000_9000_0EC3
    When the device at stream 0x10 reads 16 bytes at IOVA 0x10_0000
    Then the DMA should succeed
    When the device at stream 0x10 writes 16 bytes at IOVA 0x10_0000
    Then the DMA should take a permission fault at stage 1, level 3

  Scenario: [5] Unmap clears the leaf and invalidates the IOTLB: the next DMA faults at level 3
    The first DMA fills the IOTLB with the page. iommu_unmap clears the level-3 entry (the tables
    stay) and the driver invalidates the range by ASID and VA (arm_smmu_tlb_inv_range_s1), so the
    next DMA walks again and finds an invalid level-3 entry.
    Given an SMMU from fixture "synthetic-nested"
    And a stage 1 domain is attached to stream 0x10
    And the domain has mapped IOVA 0x4020_1000 to PA 0x8000_5000 size 0x1000 with READ|WRITE
    When the device at stream 0x10 reads 8 bytes at IOVA 0x4020_1000
    Then the DMA should succeed
    And the SMMU's IOTLB should hold 1 entry
    When the domain unmaps IOVA 0x4020_1000 size 0x1000
    Then the SMMU's IOTLB should hold 0 entries
    And the descriptor at PA 0x1_0000_3008 should be 0x0
    When the device at stream 0x10 reads 8 bytes at IOVA 0x4020_1000
    Then the DMA should take a translation fault at stage 1, level 3

  Scenario Outline: [6] An IOVA <where>: translation fault at stage 1, level <level>
    The table holds one page at IOVA 0x4020_1000. An IOVA at or above 2^48 is outside the
    TTBR0 range (T0SZ = 16), reported as a level-0 Translation fault.
    Given an SMMU from fixture "synthetic-nested"
    And a stage 1 domain is attached to stream 0x10
    And the domain has mapped IOVA 0x4020_1000 to PA 0x8000_5000 size 0x1000 with READ|WRITE
    Then IOVA <iova> on stream 0x10 should take a translation fault at stage 1, level <level>

    Examples:
      | where                                   | iova                | level |
      | beyond the 48-bit input range           | 0x1_0000_0000_0000  | 0     |
      | under an empty L0 entry (index 1)       | 0x80_0000_0000      | 0     |
      | under an empty L1 entry (index 2)       | 0x8000_0000         | 1     |
      | under an empty L2 entry (index 2)       | 0x4040_0000         | 2     |
      | in the same L3 table, next page         | 0x4020_2000         | 3     |
