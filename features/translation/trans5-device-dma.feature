Feature: Trans5 - Device DMA end to end
  What a VMM sets up with VFIO is what its device's DMA can reach, and nothing else: MAP_DMA
  writes the domain's page tables, the device's transactions are translated through them (and,
  nested, through the guest's stage 1 first), and the bytes land in the VMM's buffer. UNMAP_DMA
  removes the translation and invalidates the IOTLB (arm_smmu_tlb_inv_range), so even a
  translation the SMMU had cached stops working; freeing the domain flushes its context
  (free_io_pgtable_ops -> tlb_flush_all).

  The VMM's buffers come from the machine's RAM at PA 0x8000_0000, first fit, each buffer
  physically contiguous: a first buffer smaller than 2M starts at 0x8000_0000; buffers of 2M or
  more are 2M-aligned.

  Rule: A TYPE1v2 container: the device's IOVA goes through the domain's stage 1

    Background:
      Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
      And group 0 is in the container
      And the container is set to VFIO_TYPE1v2_IOMMU

    Scenario: [1] MAP_DMA, then the device's write lands in the VMM's buffer; after UNMAP_DMA it faults, cached or not
      IOVA 0x10_2010 is offset 0x2010 into the mapping, so PA 0x8000_2010. The first DMA leaves
      one IOTLB entry; UNMAP_DMA clears the level-3 entries and invalidates them, so the read
      after it walks and finds an invalid level-3 entry.
      When the VMM maps iova 0x10_0000 size 0x4000 read-write
      And the device at stream 0x10 writes "de ad be ef" at IOVA 0x10_2010
      Then the DMA should have reached PA 0x8000_2010
      And physical memory at PA 0x8000_2010 should hold "de ad be ef"
      And the SMMU's IOTLB should hold 1 entry
      When the VMM unmaps iova 0x10_0000 size 0x4000
      Then the operation should succeed, unmapping 0x4000 bytes
      And the SMMU's IOTLB should hold 0 entries
      When the device at stream 0x10 reads 4 bytes at IOVA 0x10_2010
      Then the DMA should take a translation fault at stage 1, level 3

    Scenario: [2] A read-only mapping: the device reads the buffer; its write faults and changes nothing
      When the VMM maps iova 0x20_0000 size 0x1000 read-only
      And the device at stream 0x10 writes "ff ff ff ff" at IOVA 0x20_0000
      Then the DMA should take a permission fault at stage 1, level 3
      And physical memory at PA 0x8000_0000 should hold "00 00 00 00"
      When the device at stream 0x10 reads 4 bytes at IOVA 0x20_0000
      Then the DMA should have read "00 00 00 00"

  Rule: A nesting container with a guest's stage 1 over the host's stage 2

    Background: Trans3's layout with two pages swapped
      The guest's tables are Trans3's layout (TTB IPA 0x4000_0000, T0SZ 25, so levels 1 to 3) with
      L1[0] -> IPA 0x4000_1000, L2[0] -> IPA 0x4000_2000 and two pages swapped: L3[1] (IOVA 0x1000)
      -> IPA 0x4010_1000, L3[2] (IOVA 0x2000) -> IPA 0x4010_0000.

      Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
      And group 0 is in the container
      And the container is set to VFIO_TYPE1_NESTING_IOMMU
      And the VMM has mapped iova 0x4000_0000 size 0x20_0000 read-write
      And the guest of stream 0x10 has written 0x0000_0000_4000_1003 at IPA 0x4000_0000
      And the guest of stream 0x10 has written 0x0000_0000_4000_2003 at IPA 0x4000_1000
      And the guest of stream 0x10 has written 0x0000_0000_4010_1F47 at IPA 0x4000_2008
      And the guest of stream 0x10 has written 0x0000_0000_4010_0F47 at IPA 0x4000_2010
      And the guest of stream 0x10 has installed stage 1 with TTB 0x4000_0000, T0SZ 25, granule 4K, IPS 40 bits, ASID 1

    @until-linux-6.12
    Scenario: [3] The guest's stage 1 scatters one DMA over two pages of its RAM: IOVA -> IPA -> PA per page
      8 bytes at IOVA 0x1ffc: the first 4 in IOVA page 0x1000 -> IPA 0x4010_1ffc -> PA 0x8010_1ffc,
      the last 4 in IOVA page 0x2000 -> IPA 0x4010_0000 -> PA 0x8010_0000.
      When the device at stream 0x10 writes "01 02 03 04 05 06 07 08" at IOVA 0x1ffc
      Then the DMA should have reached PA 0x8010_1ffc
      And physical memory at PA 0x8010_1ffc should hold "01 02 03 04"
      And physical memory at PA 0x8010_0000 should hold "05 06 07 08"
      And the guest of stream 0x10 should read "05 06 07 08" at IPA 0x4010_0000
      When the device at stream 0x10 reads 8 bytes at IOVA 0x1ffc
      Then the DMA should have read "01 02 03 04 05 06 07 08"

    Scenario Outline: [4] <case> outside what the host mapped: stage-2 translation fault at level 2, <where>
      IPA 0x5000_0000 is not in the host's stage 2 (L2 index 0x80 is empty). A table there is
      still read through stage 2 first: the fetch of its entry for IOVA 0x1ffc (L3 index 1, at IPA
      0x5000_0008) is what faults. A page there faults on the final IPA 0x5000_0ffc.
      When the guest of stream 0x10 writes <descriptor> at IPA <entry>
      And the device at stream 0x10 writes "aa bb cc dd" at IOVA 0x1ffc
      Then the DMA should take a translation fault at stage 2, level 2
      And the fault should be:
        | S1 table walk | <on table walk> |
        | IPA           | <ipa>           |
        | IOVA          | 0x1ffc          |
      And physical memory at PA 0x8010_1ffc should hold "00 00 00 00"

      @until-linux-6.12
      Examples:
        | case                        | where                     | entry       | descriptor            | on table walk | ipa         |
        | a guest L3 table (from L2[0]) | on the stage-1 table walk | 0x4000_1000 | 0x0000_0000_5000_0003 | yes           | 0x5000_0008 |
        | a guest page (L3[1])        | on the final IPA          | 0x4000_2008 | 0x0000_0000_5000_0F47 | no            | 0x5000_0ffc |

    @until-linux-6.12
    Scenario: [5] UNMAP_DMA of the guest's RAM while its translation is cached: the next DMA faults at stage 2
      The cached entry is a combined one (IOVA 0x1000 -> IPA 0x4010_1000 -> PA 0x8010_1000);
      UNMAP_DMA invalidates the stage-2 range by IPA, which reaches it. The next walk's first
      stage-1 fetch (the L1 entry at IPA 0x4000_0000) finds the stage-2 block gone.
      When the device at stream 0x10 reads 4 bytes at IOVA 0x1000
      Then the DMA should have reached PA 0x8010_1000
      And the SMMU's IOTLB should hold 1 entry
      When the VMM unmaps iova 0x4000_0000 size 0x20_0000
      Then the operation should succeed, unmapping 0x200000 bytes
      And the SMMU's IOTLB should hold 0 entries
      When the device at stream 0x10 reads 4 bytes at IOVA 0x1000
      Then the DMA should take a translation fault at stage 2, level 2
      And the fault should be:
        | S1 table walk | yes         |
        | IPA           | 0x4000_0000 |

    @until-linux-6.12
    Scenario: [6] The group leaves the container: its domain is freed, the IOTLB flushed, the device's DMA aborts
      When the device at stream 0x10 reads 4 bytes at IOVA 0x1000
      Then the SMMU's IOTLB should hold 1 entry
      When group 0 is removed from the container
      Then the SMMU's IOTLB should hold 0 entries
      When the device at stream 0x10 reads 4 bytes at IOVA 0x1000
      Then the DMA should fault

  Rule: QEMU's SMMUv3 (stage 1 only) under Linux 6.1: the nesting container silently gets stage 1

    @linux-6.1
    Scenario: [7] On qemu-smmuv3-7.2 the device's DMA goes through a stage-1 table, and a guest cannot nest in it
      Group 1 is edu at stream 0x8. Without stage 2 a NESTED request becomes stage 1 and
      SET_IOMMU(nesting) still succeeds; there is no stage-2 context for a guest's stage 1.
      Given the machine of fixture "qemu-smmuv3-7.2"
      And group 1 is in the container
      And the container is set to VFIO_TYPE1_NESTING_IOMMU
      When the VMM maps iova 0x10_0000 size 0x1000 read-write
      And the device at stream 0x8 writes "5a 5a 5a 5a" at IOVA 0x10_0010
      Then the DMA should have reached PA 0x8000_0010
      And the domain of group 1 should have stage S1
      When the guest of stream 0x8 installs stage 1 with TTB 0x4000_0000, T0SZ 25, granule 4K, IPS 40 bits, ASID 1
      Then the operation should fail with EINVAL
