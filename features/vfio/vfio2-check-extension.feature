Feature: Vfio2 - VFIO_CHECK_EXTENSION
  A VMM asks the container which IOMMU types and extensions it supports before, and after, it
  commits to one. Without an IOMMU driver the VFIO core asks every registered driver (type1 with a
  NULL instance); afterwards the container's driver answers. The nesting type's answer is where
  the kernels differ ([6] shows it kernel by kernel in one table):
  - RFC: 1 while the container has no IOMMU; afterwards 1 only if *every* domain reads back
    DOMAIN_ATTR_NESTING = 1 (vfio_domains_have_iommu_nesting), so a silent fallback shows here.
  - The review's ask (enforcing): the answer of a probe of the bus's IOMMU driver (Background).
  - Merged to 6.12: 1, always (on 6.12 even where SET_IOMMU(nesting) then fails EPERM, Vfio3).
  - 6.13 and later (7.3): 0; the value 6 is __VFIO_RESERVED_TYPE1_NESTING_IOMMU and type1's
    check_extension no longer lists it (commit 35890f85573c).

  Background: The review's probe
    With the review's ask, attach guarantees nesting, so the per-domain check goes; the answer
    comes from probing the bus's IOMMU driver with a fresh domain. arm-smmu accepts the attribute
    on any unattached domain, so it says 1 even on stage-1-only hardware ("until we've done an
    attach, it's impossible to know", Will Deacon).

  Scenario Outline: [1] <extension> before any group, after GROUP_SET_CONTAINER and after SET_IOMMU(TYPE1v2)
    # history: CHECK_EXTENSION(<extension>) before any group / after SET_IOMMU(TYPE1v2) => <before> / <after>
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    Then CHECK_EXTENSION(<extension>) should answer <before>
    When group 0 is added to the container
    Then CHECK_EXTENSION(<extension>) should answer <before>
    When the container's IOMMU is set to VFIO_TYPE1v2_IOMMU
    Then CHECK_EXTENSION(<extension>) should answer <after>

    # synthetic-nested has no coherent table walk: DMA_CC stays 0.
    Examples:
      | extension                | before | after |
      | VFIO_TYPE1_IOMMU         | 1      | 1     |
      | VFIO_TYPE1v2_IOMMU       | 1      | 1     |
      | VFIO_DMA_CC_IOMMU        | 0      | 0     |


    @since-linux-6.1
    Examples:
      | extension                | before | after |
      | VFIO_UNMAP_ALL           | 1      | 1     |
      | VFIO_UPDATE_VADDR        | 0      | 1     |

  Scenario Outline: [2] The nesting type after SET_IOMMU(nesting) on <fixture> hardware
    # history: CHECK_EXTENSION(nesting) after SET_IOMMU(nesting) on <fixture> => <answer>
    Given an SMMU from fixture "<fixture>" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_TYPE1_NESTING_IOMMU
    Then the operation should succeed
    And CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU) should answer <answer>

    # The RFC's get_attr reads the stage the driver really chose.
    @rfc-v2
    Examples:
      | fixture           | answer |
      | synthetic-nested  | 1      |
      | synthetic-s1-s2   | 0      |
      | synthetic-s2-only | 0      |
      | synthetic-s1-only | 0      |

    # Merged to 6.12 answer statically, whatever the domains became.
    @since-merged @until-linux-6.12
    Examples:
      | fixture           | answer |
      | synthetic-nested  | 1      |
      | synthetic-s1-s2   | 1      |
      | synthetic-s2-only | 1      |
      | synthetic-s1-only | 1      |

  @rfc-v2 @enforcing @merged
  Scenario: [3] DMA_CC reflects the SMMU's coherent table walk in 3.x (IOMMU_CAP_CACHE_COHERENCY)
    # history: CHECK_EXTENSION(DMA_CC) on an SMMU with a coherent table walk => 1 (IOMMU_CAP_CACHE_COHERENCY)
    Given an SMMU from fixture "synthetic-coherent" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_TYPE1v2_IOMMU
    Then CHECK_EXTENSION(VFIO_DMA_CC_IOMMU) should answer 1

  @since-linux-6.1
  Scenario: [4] In 6.1 DMA_CC needs enforce_cache_coherency, which arm-smmu does not implement
    # history: CHECK_EXTENSION(DMA_CC) on an SMMU with a coherent table walk => 0 (no enforce_cache_coherency)
    Given an SMMU from fixture "synthetic-coherent" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_TYPE1v2_IOMMU
    Then CHECK_EXTENSION(VFIO_DMA_CC_IOMMU) should answer 0

  Scenario: [5] Unknown extensions answer 0
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    Then CHECK_EXTENSION(2) should answer 0
    And CHECK_EXTENSION(42) should answer 0

  Scenario: [6] The nesting type (6) before any group and after SET_IOMMU(TYPE1v2), kernel by kernel
    A TYPE1v2 container's domains are stage 1, so the RFC's per-domain check says no nesting after
    SET_IOMMU; the review's probe and the merged kernels say 1 either way; 6.13 dropped the type.
    Observed on Linux 6.1, 6.12 and 7.3 (transcripts/recorded/*-smmuv3-linux-*.vfio).
    # history: CHECK_EXTENSION(6) before any group / after SET_IOMMU(TYPE1v2) => by kernel
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    Then CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU) should answer, by kernel:
      | kernel                       | answer |
      | rfc-v2 to linux-6.12         | 1      |
      | linux-7.3 and later          | 0      |
    When group 0 is added to the container
    And the container's IOMMU is set to VFIO_TYPE1v2_IOMMU
    Then CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU) should answer, by kernel:
      | kernel                       | answer |
      | rfc-v2                       | 0      |
      | enforcing to linux-6.12      | 1      |
      | linux-7.3 and later          | 0      |

