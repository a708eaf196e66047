Feature: Trans2 - Stage 2 translation
  A stage-2 context takes the device's address as an IPA and translates it to a PA. Its tables
  differ from stage 1 in the leaf attributes (no nG, no AP; S2AP and MemAttr instead) and in the
  start level: the stage-2 start table may be up to 16 tables concatenated, indexed by the extra
  high IPA bits. Linux (older io-pgtable rule) concatenates when a walk would otherwise start at
  level 0 with at most 16 entries. A domain translates at stage 2 when it is NESTED (an S2_TRANS
  bank, or on SMMUv3 an STE with stage 2 only, until a guest stage 1 is nested in it: Trans3) or
  when the SMMU has no stage 1.

  Background: How the expected descriptors are worked out
    S2AP is read 0x40 / write 0x80; MemAttr in bits [5:2] is Normal write-back 0b1111 = 0x3C with
    CACHE, Normal non-cacheable 0b0101 = 0x14 without; SH inner 0x300 with CACHE, else outer 0x200.

        READ|WRITE|CACHE: AF 0x400 | SH inner 0x300 | S2AP 0xC0 | 0x3C = 0x7FC -> page 0x7FF, block 0x7FD
        READ|WRITE:       AF 0x400 | SH outer 0x200 | S2AP 0xC0 | 0x14 = 0x6D4 -> page 0x6D7, block 0x6D5
        READ:             0x400 | 0x200 | 0x40 | 0x14 = 0x654 -> page 0x657
        WRITE:            0x400 | 0x200 | 0x80 | 0x14 = 0x694 -> page 0x697

    Tables come from the pool at PA 0x1_0000_0000 as in Trans1.

  Scenario Outline: [1] A 4K stage-2 page for a <requested> domain on <fixture>: IPA 0x4020_1000 -> PA 0x8000_5000
    IPA 48 bits, 4K granule: start level 0 with 512 entries (no concatenation). Indices as in
    Trans1 [1]: L0 0, L1 1, L2 1, L3 1; the page 0x8000_5000 | 0x7FF = 0x0000_0000_8000_57FF.
    With stage 1 absent or bypassed, the device's address is the IPA.
    Given an SMMU from fixture "<fixture>"
    And a <requested> domain is attached to stream 0x10
    And the domain has mapped IOVA 0x4020_1000 to PA 0x8000_5000 size 0x1000 with READ|WRITE|CACHE
    Then the domain should translate at stage 2
    And the walk of IOVA 0x4020_1234 on stream 0x10 should read:
      | walk | level | address       | descriptor            |
      | S2   | 0     | 0x1_0000_0000 | 0x0000_0001_0000_1003 |
      | S2   | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
      | S2   | 2     | 0x1_0000_2008 | 0x0000_0001_0000_3003 |
      | S2   | 3     | 0x1_0000_3008 | 0x0000_0000_8000_57FF |
    When the device at stream 0x10 writes "01 23 45 67" at IOVA 0x4020_1234
    Then physical memory at PA 0x8000_5234 should hold "01 23 45 67"

    Examples:
      | requested | fixture           |
      | stage 1   | synthetic-s2-only |

    @until-linux-6.12
    Examples: a nested domain (until 6.12)
      | requested | fixture           |
      | nested    | synthetic-nested  |

  Scenario Outline: [2] S2AP: a <prot> page is <descriptor>; the device's read should <read>, its write should <write>
    Given an SMMU from fixture "synthetic-nested"
    And a nested domain is attached to stream 0x10
    And the domain has mapped IOVA 0x4020_1000 to PA 0x8000_5000 size 0x1000 with <prot>
    Then the descriptor at PA 0x1_0000_3008 should be <descriptor>
    When the device at stream 0x10 reads 8 bytes at IOVA 0x4020_1000
    Then the DMA should <read>
    When the device at stream 0x10 writes 8 bytes at IOVA 0x4020_1000
    Then the DMA should <write>

    @until-linux-6.12
    Examples:
      | prot               | descriptor            | read    | write   |
      | READ\|WRITE\|CACHE | 0x0000_0000_8000_57FF | succeed | succeed |
      | READ\|WRITE         | 0x0000_0000_8000_56D7 | succeed | succeed |
      | READ               | 0x0000_0000_8000_5657 | succeed | fault   |
      | WRITE              | 0x0000_0000_8000_5697 | fault   | succeed |

  @until-linux-6.12
  Scenario: [3] A write to a read-only stage-2 page is a stage-2 permission fault at level 3
    Given an SMMU from fixture "synthetic-nested"
    And a nested domain is attached to stream 0x10
    And the domain has mapped IOVA 0x4020_1000 to PA 0x8000_5000 size 0x1000 with READ
    When the device at stream 0x10 writes 8 bytes at IOVA 0x4020_1008
    Then the DMA should take a permission fault at stage 2, level 3
    And the fault should be:
      | IPA           | 0x4020_1008 |
      | S1 table walk | no          |

  @until-linux-6.12
  Scenario: [4] Concatenated start tables: a 40-bit IPA on MMU-400 starts at level 1 with two tables
    IAS 40, 4K: 28 bits above the page offset need 4 levels, the level-0 table would have
    2^(28 - 27) = 2 entries (<= 16), so the walk starts at level 1 with 2^(1 + 9) = 1024 entries:
    two 4 KiB tables side by side (8 KiB at 0x1_0000_0000). IPA 0x80_4020_1000 has bit 39 set:
    its level-1 index is IPA[39:30] = 0x201 = 513, the descriptor at 0x1_0000_0000 + 8 * 513 =
    0x1_0000_1008, the second table's entry 1. The next tables follow the 8 KiB start table:
    level 2 at 0x1_0000_2000 (index IPA[29:21] = 1), level 3 at 0x1_0000_3000 (index 1).
    Given an SMMU from fixture "mmu-400"
    And a nested domain is attached to stream 0x10
    And the domain has mapped IOVA 0x80_4020_1000 to PA 0x8000_5000 size 0x1000 with READ|WRITE|CACHE
    Then the walk of IOVA 0x80_4020_1234 on stream 0x10 should read:
      | walk | level | address       | descriptor            |
      | S2   | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
      | S2   | 2     | 0x1_0000_2008 | 0x0000_0001_0000_3003 |
      | S2   | 3     | 0x1_0000_3008 | 0x0000_0000_8000_57FF |
    And IOVA 0x80_4020_1234 on stream 0x10 should translate to PA 0x8000_5234
    And IOVA 0x100_0000_0000 on stream 0x10 should take a translation fault at stage 2, level 0

  Scenario Outline: [5] An IPA beyond the input size on <fixture>: <kind> fault at stage <stage>
    SMMUv2: an IPA at or above 2^(64 - T0SZ) is a stage-2 level-0 Translation fault. SMMUv3 with
    stage 1 bypassed (an STE with stage 2 only) checks the input against its IAS first and
    reports a stage-1 Address size fault (QEMU smmu_ptw); synthetic-smmuv3-nested has IAS 44.
    Given an SMMU from fixture "<fixture>"
    And a nested domain is attached to stream 0x10
    Then IOVA <ipa> on stream 0x10 should take a <kind> fault at stage <stage>, level 0

    @until-linux-6.12
    Examples: SMMUv2, 48-bit IPA
      | fixture          | ipa                | kind        | stage |
      | synthetic-nested | 0x1_0000_0000_0000 | translation | 2     |

    @since-linux-6.1 @until-linux-6.12
    Examples: SMMUv3, IAS 44
      | fixture                 | ipa                | kind         | stage |
      | synthetic-smmuv3-nested | 0x1000_0000_0000   | address size | 1     |
      | synthetic-smmuv3-nested | 0xfff_ffff_f000    | translation  | 2     |

  @until-linux-6.12
  Scenario: [6] A 2M stage-2 block: the IPA keeps its low 21 bits
    IPA 0x4000_0000: L0 0, L1 1, L2 0 -> the block 0x8000_0000 | 0x6D5 at 0x1_0000_2000.
    Given an SMMU from fixture "synthetic-nested"
    And a nested domain is attached to stream 0x10
    And the domain has mapped IOVA 0x4000_0000 to PA 0x8000_0000 size 0x20_0000 with READ|WRITE
    Then the descriptor at PA 0x1_0000_2000 should be 0x0000_0000_8000_06D5
    And IOVA 0x401f_fff8 on stream 0x10 should translate to PA 0x801f_fff8
