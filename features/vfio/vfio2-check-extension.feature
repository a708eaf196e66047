Feature: Vfio2 - VFIO_CHECK_EXTENSION
  A VMM asks the container which IOMMU types and extensions it supports before, and after, it
  commits to one. Without an IOMMU driver the VFIO core asks every registered driver (type1 with a
  NULL instance); afterwards the container's driver answers.

  The nesting type's answer is where the kernels differ:
  - RFC: 1 while the container has no IOMMU; afterwards 1 only if *every* domain reads back
    DOMAIN_ATTR_NESTING = 1 (vfio_domains_have_iommu_nesting), so a silent fallback shows here.
  - The review's ask (enforcing): attach guarantees nesting, so the per-domain check goes; the
    answer comes from probing the bus's IOMMU driver with a fresh domain. arm-smmu accepts the
    attribute on any unattached domain, so it says 1 even on stage-1-only hardware ("until we've
    done an attach, it's impossible to know", Will Deacon).
  - Merged and later: 1, always.

  Scenario Outline: [1] <extension> before any group, after GROUP_SET_CONTAINER and after SET_IOMMU(TYPE1v2)
    # history: CHECK_EXTENSION(<extension>) before any group / after SET_IOMMU(TYPE1v2) => <before> / <after>
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    Then CHECK_EXTENSION(<extension>) should answer <before>
    When group 0 is added to the container
    Then CHECK_EXTENSION(<extension>) should answer <before>
    When the container's IOMMU is set to VFIO_TYPE1v2_IOMMU
    Then CHECK_EXTENSION(<extension>) should answer <after>

    # synthetic-nested has no coherent table walk: DMA_CC stays 0.
    @rfc-v2 @enforcing @merged @linux-6.1
    Examples:
      | extension                | before | after |
      | VFIO_TYPE1_IOMMU         | 1      | 1     |
      | VFIO_TYPE1v2_IOMMU       | 1      | 1     |
      | VFIO_DMA_CC_IOMMU        | 0      | 0     |

    # A TYPE1v2 container's domains are stage 1: the RFC's per-domain check says no nesting.
    @rfc-v2
    Examples:
      | extension                | before | after |
      | VFIO_TYPE1_NESTING_IOMMU | 1      | 0     |

    @enforcing @merged @linux-6.1
    Examples:
      | extension                | before | after |
      | VFIO_TYPE1_NESTING_IOMMU | 1      | 1     |

    @linux-6.1
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

    # Merged and later answer statically, whatever the domains became.
    @merged @linux-6.1
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

  @linux-6.1
  Scenario: [4] In 6.1 DMA_CC needs enforce_cache_coherency, which arm-smmu does not implement
    # history: CHECK_EXTENSION(DMA_CC) on an SMMU with a coherent table walk => 0 (no enforce_cache_coherency)
    Given an SMMU from fixture "synthetic-coherent" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_TYPE1v2_IOMMU
    Then CHECK_EXTENSION(VFIO_DMA_CC_IOMMU) should answer 0

  @rfc-v2 @enforcing @merged @linux-6.1
  Scenario: [5] Unknown extensions answer 0
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    Then CHECK_EXTENSION(2) should answer 0
    And CHECK_EXTENSION(42) should answer 0
