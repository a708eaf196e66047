Feature: Vfio5 - VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA
  type1 checks a MAP in this order (vfio_dma_do_map): flags; READ or WRITE given; size non-zero and
  size, iova and vaddr aligned to the smallest IOMMU page; no wrap; no overlap (EEXIST); a free
  mapping slot (ENOSPC, 5.1+); inside one valid IOVA range (EINVAL, 5.4+); then it pins the pages
  (EFAULT for an unmapped vaddr) and writes the IOMMU page tables. A failed MAP leaves nothing.
  UNMAP: aligned, non-zero, no wrap; a v2 container (TYPE1v2, and the nesting type, which implies
  v2) refuses to split a mapping (EINVAL); a v1 container stops at a mapping that starts before the
  range and removes whole mappings that start inside it. The size written back is the sum of the
  mappings removed. The device's DMA goes through the IOMMU page tables that MAP wrote.

  Machine: SMMU "synthetic-nested" with group 0 at stream 0x10; 4 KiB is the smallest page.

  Background:
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10

  Scenario: [1] A mapping is translated for the device; after UNMAP its DMA faults
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    When the VMM maps iova 0x100000 size 0x4000 read-write
    Then the operation should succeed
    When the device of group 0 writes 64 bytes at IOVA 0x101000
    Then the DMA should succeed
    When the VMM unmaps iova 0x100000 size 0x4000
    Then the operation should succeed, unmapping 0x4000 bytes
    When the device of group 0 reads 64 bytes at IOVA 0x101000
    Then the DMA should fault

  Scenario: [2] A read-only mapping: the device may read, not write
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    And the VMM has mapped iova 0x200000 size 0x1000 read-only
    When the device of group 0 reads 16 bytes at IOVA 0x200000
    Then the DMA should succeed
    When the device of group 0 writes 16 bytes at IOVA 0x200000
    Then the DMA should fault

  @until-linux-6.12
  Scenario: [3] A nesting container's mappings go into the stage-2 tables and translate
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1_NESTING_IOMMU
    When the VMM maps iova 0x40000000 size 0x200000 read-write
    Then the operation should succeed
    And the domain of group 0 should have stage NESTED
    When the device of group 0 writes 4096 bytes at IOVA 0x401ff000
    Then the DMA should succeed

  Scenario Outline: [4] MAP_DMA refuses <case>: <errno>
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    When the VMM maps iova <iova> size <size> with flags <flags>
    Then the operation should fail with <errno>

    Examples:
      | case                          | iova               | size   | flags             | errno     |
      | size 0                        | 0x100000           | 0      | READ\|WRITE       | EINVAL    |
      | an iova not 4K aligned        | 0x100800           | 0x1000 | READ\|WRITE       | EINVAL    |
      | a size not 4K aligned         | 0x100000           | 0x1800 | READ\|WRITE       | EINVAL    |
      | neither READ nor WRITE        | 0x100000           | 0x1000 | none              | EINVAL    |
      | an unknown flag               | 0x100000           | 0x1000 | READ\|WRITE\|0x80 | EINVAL    |

    @until-linux-6.12
    Examples: a wrapping range, until 6.12
      | case                          | iova               | size   | flags             | errno     |
      | an iova range that wraps      | 0xfffffffffffff000 | 0x2000 | READ\|WRITE       | EINVAL    |

    # 7.3 answers a wrapping range with EOVERFLOW (transcripts/recorded/*-type1-container-rules-linux-7.3.vfio).
    @since-linux-7.3
    Examples: a wrapping range, 7.3
      | case                          | iova               | size   | flags             | errno     |
      | an iova range that wraps      | 0xfffffffffffff000 | 0x2000 | READ\|WRITE       | EOVERFLOW |

  Scenario: [5] A vaddr not aligned to the smallest page: EINVAL
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    When the VMM maps iova 0x800000 size 0x1000 read-write from a misaligned vaddr
    Then the operation should fail with EINVAL

  Scenario: [6] A vaddr with nothing mapped: pinning fails, EFAULT
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    When the VMM maps iova 0x800000 size 0x1000 read-write from an unmapped vaddr
    Then the operation should fail with EFAULT
    When the device of group 0 reads 16 bytes at IOVA 0x800000
    Then the DMA should fault

  Scenario: [7] Overlapping an existing mapping: EEXIST, and the existing mapping is untouched
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    And the VMM has mapped iova 0x100000 size 0x4000 read-write
    When the VMM maps iova 0x103000 size 0x2000 read-write
    Then the operation should fail with EEXIST
    When the device of group 0 writes 16 bytes at IOVA 0x103000
    Then the DMA should succeed
    When the device of group 0 reads 16 bytes at IOVA 0x104000
    Then the DMA should fault

  Scenario Outline: [8] v2 UNMAP that would split a mapping: EINVAL (<case>)
    Given group 0 is in the container
    And the container is set to <type>
    And the VMM has mapped iova 0x100000 size 0x4000 read-write
    When the VMM unmaps iova <iova> size <size>
    Then the operation should fail with EINVAL
    When the device of group 0 reads 16 bytes at IOVA 0x100000
    Then the DMA should succeed

    Examples:
      | case                                 | type                     | iova     | size   |
      | starts inside the mapping            | VFIO_TYPE1v2_IOMMU       | 0x101000 | 0x1000 |
      | ends inside the mapping              | VFIO_TYPE1v2_IOMMU       | 0x0ff000 | 0x2000 |

    @until-linux-6.12
    Examples: a nesting container (until 6.12)
      | case                                 | type                     | iova     | size   |
      | nesting implies v2                   | VFIO_TYPE1_NESTING_IOMMU | 0x101000 | 0x3000 |

  Scenario: [9] UNMAP of a range with nothing in it succeeds and reports 0 bytes
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    When the VMM unmaps iova 0x900000 size 0x1000
    Then the operation should succeed, unmapping 0x0 bytes

  Scenario: [10] UNMAP covering several whole mappings reports their total size
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    And the VMM has mapped iova 0x100000 size 0x4000 read-write
    And the VMM has mapped iova 0x200000 size 0x1000 read-only
    When the VMM unmaps iova 0x0 size 0x1000000
    Then the operation should succeed, unmapping 0x5000 bytes

  Scenario: [11] v1 (TYPE1): UNMAP starting inside a mapping stops there and unmaps nothing
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1_IOMMU
    And the VMM has mapped iova 0x100000 size 0x4000 read-write
    When the VMM unmaps iova 0x101000 size 0x1000
    Then the operation should succeed, unmapping 0x0 bytes
    When the device of group 0 reads 16 bytes at IOVA 0x101000
    Then the DMA should succeed

  Scenario: [12] v1 (TYPE1): UNMAP that covers a mapping's start removes the whole mapping
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1_IOMMU
    And the VMM has mapped iova 0x100000 size 0x4000 read-write
    When the VMM unmaps iova 0x100000 size 0x1000
    Then the operation should succeed, unmapping 0x4000 bytes
    When the device of group 0 reads 16 bytes at IOVA 0x103000
    Then the DMA should fault

  @rfc-v2 @enforcing @merged
  Scenario: [13] 3.x GET_INFO: the driver's page sizes (4K | 64K | 2M), no capability chain
    # history: GET_INFO iova_pgsizes on arm-smmu => 0x211000 (4K | 64K | 2M); no capability chain
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    Then GET_INFO should report page sizes 0x211000
    And GET_INFO should report no capabilities

  @since-linux-6.1
  Scenario: [14] 6.1 GET_INFO: io-pgtable page sizes, mappings left, IOVA ranges without reserved regions
    The stage-1 domain's aperture is [0, 2^48 - 1] (48-bit IOVA); the MSI window is excluded.
    # history: GET_INFO iova_pgsizes on arm-smmu => 0x40201000 (4K | 2M | 1G); DMA_AVAIL and IOVA_RANGE capabilities
    Given the SMMU "synthetic-nested" reserves IOVA 0x8000000 to 0x80fffff for MSIs
    And group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    And the VMM has mapped iova 0x100000 size 0x4000 read-write
    Then GET_INFO should report page sizes 0x40201000
    And GET_INFO should report 65534 DMA mappings available
    And GET_INFO should report IOVA ranges 0x0-0x7ffffff, 0x8100000-0xffffffffffff

  @since-linux-6.1
  Scenario: [15] 6.1: MAP outside the aperture or into a reserved region: EINVAL
    # history: MAP_DMA outside the aperture or into a reserved region => EINVAL
    Given the SMMU "synthetic-nested" reserves IOVA 0x8000000 to 0x80fffff for MSIs
    And group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    When the VMM maps iova 0x1000000000000 size 0x1000 read-write
    Then the operation should fail with EINVAL
    When the VMM maps iova 0x80ff000 size 0x2000 read-write
    Then the operation should fail with EINVAL
    When the VMM maps iova 0x8100000 size 0x1000 read-write
    Then the operation should succeed

  @since-linux-6.1
  Scenario: [16] 6.1: no mapping slot left (dma_entry_limit): ENOSPC; an UNMAP gives one back
    # history: MAP_DMA beyond vfio_iommu_type1.dma_entry_limit => ENOSPC
    Given the machine boots with vfio_iommu_type1.dma_entry_limit=2
    And group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    And the VMM has mapped iova 0x100000 size 0x1000 read-write
    And the VMM has mapped iova 0x200000 size 0x1000 read-write
    When the VMM maps iova 0x300000 size 0x1000 read-write
    Then the operation should fail with ENOSPC
    When the VMM unmaps iova 0x100000 size 0x1000
    And the VMM maps iova 0x300000 size 0x1000 read-write
    Then the operation should succeed

  @since-linux-6.1
  Scenario: [17] 6.1: UNMAP_ALL removes everything and reports the total
    # history: UNMAP_DMA with VFIO_DMA_UNMAP_FLAG_ALL => removes every mapping
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    And the VMM has mapped iova 0x100000 size 0x4000 read-write
    And the VMM has mapped iova 0x40000000 size 0x200000 read-write
    When the VMM unmaps everything
    Then the operation should succeed, unmapping 0x204000 bytes
    And GET_INFO should report 65535 DMA mappings available

  @since-linux-6.1
  Scenario: [18] 6.1: UNMAP_ALL with an iova or a size: EINVAL
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    When the VMM unmaps iova 0x100000 size 0x0 with flags ALL
    Then the operation should fail with EINVAL

  @rfc-v2 @enforcing @merged
  Scenario: [19] 3.x UNMAP accepts no flags: EINVAL
    # history: UNMAP_DMA with VFIO_DMA_UNMAP_FLAG_ALL => EINVAL (no flags in 3.x)
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    When the VMM unmaps iova 0x0 size 0x0 with flags ALL
    Then the operation should fail with EINVAL

  @until-linux-6.12
  Scenario: [20] A failed MAP leaves nothing behind: an ordinary MAP after it succeeds
    vfio_dma_do_map returns EINVAL when vaddr + size - 1 wraps (any user vaddr of 0x2000 or more
    does with size 2^64 - 4K); the VMM unmaps the buffer it made, and nothing of the call remains.
    # history: map iova=0x0 size=0xfffffffffffff000, then an ordinary map => EINVAL, then ok
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    When the VMM maps iova 0x0 size 0xfffffffffffff000 with flags READ|WRITE
    Then the operation should fail with EINVAL
    When the VMM maps iova 0x100000 size 0x1000 read-write
    Then the operation should succeed

  @linux-6.1
  Scenario: [21] UNMAP with VFIO_DMA_UNMAP_FLAG_VADDR of a vaddr already invalid: EINVAL, the call's invalidations undone
    vfio_dma_do_unmap (5.12+, commit c3cbab2 "vfio/type1: implement interfaces to update vaddr"):
    with invalidate_vaddr, a mapping whose dma->vaddr_invalid is already set ends the walk; every
    mapping this call invalidated before it (from first_n up to it) gets vaddr_invalid = false
    again, and the call returns -EINVAL with unmapped = 0. Nothing is unmapped from the IOMMU.
    # history: UNMAP with VFIO_DMA_UNMAP_FLAG_VADDR of a mapping whose vaddr is already invalid => EINVAL, the call's invalidations undone
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    And the VMM has mapped iova 0x100000 size 0x1000 read-write
    And the VMM has mapped iova 0x200000 size 0x1000 read-write
    When the VMM unmaps iova 0x200000 size 0x1000 with flags VADDR
    Then the operation should succeed, unmapping 0x1000 bytes
    When the VMM unmaps iova 0x0 size 0x1000000 with flags VADDR
    Then the operation should fail with EINVAL
    When the VMM unmaps iova 0x100000 size 0x1000 with flags VADDR
    Then the operation should succeed, unmapping 0x1000 bytes
    When the device of group 0 reads 16 bytes at IOVA 0x200000
    Then the DMA should succeed

  @rfc-v2 @enforcing @merged @linux-6.1
  Scenario: [22] UNMAP of a range ending exactly at 2^64: the end wraps to 0 and nothing is found (up to 6.17)
    iova + size - 1 = 2^64 - 1 does not wrap, so the size checks pass; but the search for the first
    mapping compares with iova + size, which is 0 in 64 bits (6.1 vfio_find_dma_first_node:
    "dma_res->iova >= start + size" drops the node; 3.x vfio_find_dma: "start + size <= dma->iova"
    goes left): ok, unmapped = 0, the mapping stays. Commit ef270ec44637 (6.18) compares with
    iova + size - 1 instead, and such a range removes the mappings it covers.
    # history: unmap iova=0x1000 size=0xfffffffffffff000 with a mapping at 0x100000 => ok, unmapped=0, the mapping stays
    Given group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    And the VMM has mapped iova 0x100000 size 0x4000 read-write
    When the VMM unmaps iova 0x1000 size 0xfffffffffffff000
    Then the operation should succeed, unmapping 0x0 bytes
    When the device of group 0 reads 16 bytes at IOVA 0x100000
    Then the DMA should succeed
