Feature: Vfio1 - Containers, groups and VFIO_SET_IOMMU
  A VMM opens /dev/vfio/vfio (a container), adds groups to it (VFIO_GROUP_SET_CONTAINER), then
  picks an IOMMU model for the container (VFIO_SET_IOMMU). Only adding a group gives the privilege
  to set the IOMMU; there is no "unset IOMMU", but removing the last group returns the container to
  the unset state. Facts: drivers/vfio/vfio.c (container.c from 6.2) and vfio_iommu_type1.c.

  The IOMMU type numbers are uapi: TYPE1 1, TYPE1v2 3, DMA_CC 4, and the nesting type, which the
  RFC numbered 5; VFIO_EEH took 5 first, so Linux merged VFIO_TYPE1_NESTING_IOMMU as 6.

  Scenario Outline: [1] The nesting type's number in <kernel>
    # history: VFIO_TYPE1_NESTING_IOMMU's number => <value>
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    Then VFIO_TYPE1_NESTING_IOMMU should be <value> in this kernel

    @rfc-v2 @enforcing
    Examples:
      | kernel        | value |
      | the RFC       | 5     |

    @since-merged
    Examples:
      | kernel        | value |
      | merged Linux  | 6     |

  @since-merged
  Scenario: [2] Once merged, type 5 is VFIO_EEH: type1 does not claim it, SET_IOMMU(5) is ENODEV
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    Then VFIO_EEH should be 5 in this kernel
    And CHECK_EXTENSION(5) should answer 0
    When the container's IOMMU is set to type 5
    Then the operation should fail with ENODEV

  Scenario: [3] The API version is 0
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    When the API version is read
    Then the answer should be 0

  Scenario: [4] SET_IOMMU with no group in the container: EINVAL
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    When the container's IOMMU is set to VFIO_TYPE1v2_IOMMU
    Then the operation should fail with EINVAL

  Scenario: [5] SET_IOMMU a second time: EINVAL
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    When the container's IOMMU is set to VFIO_TYPE1_IOMMU
    Then the operation should fail with EINVAL

  Scenario Outline: [6] SET_IOMMU with a type no driver claims (<type>): ENODEV
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to type <type>
    Then the operation should fail with ENODEV

    Examples: SPAPR_TCE (2) has no driver on ARM; DMA_CC (4) is an extension, not a type; 42 is nothing
      | type |
      | 2    |
      | 4    |
      | 42   |

  @since-linux-6.1
  Scenario: [7] SET_IOMMU(VFIO_UNMAP_ALL): type1 claims the extension, then its open() refuses the type: EINVAL
    CHECK_EXTENSION(9) answers 1, so the core picks type1; vfio_iommu_type1_open() only knows
    TYPE1, TYPE1v2 and the nesting type.
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_UNMAP_ALL
    Then the operation should fail with EINVAL

  Scenario: [8] Group status before and after joining a container
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    Then group 0 should report "viable"
    When group 0 is added to the container
    Then the operation should succeed
    And group 0 should report "viable, container set"

  Scenario: [9] A group whose devices are not all bound to VFIO cannot join: EPERM
    Given an SMMU from fixture "synthetic-nested" with a non-viable VFIO group 0 at stream 0x10
    Then group 0 should report "nothing"
    When group 0 is added to the container
    Then the operation should fail with EPERM

  Scenario: [10] A group already in a container cannot join again: EINVAL
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When group 0 is added to the container
    Then the operation should fail with EINVAL

  Scenario: [11] Removing a group that is not in a container: EINVAL
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    When group 0 is removed from the container
    Then the operation should fail with EINVAL

  Scenario: [12] Before SET_IOMMU the container passes nothing to a driver: GET_INFO and MAP_DMA are EINVAL
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    Then GET_INFO should fail with EINVAL
    When the VMM maps iova 0x100000 size 0x1000 read-write
    Then the operation should fail with EINVAL

  Scenario: [13] Removing the last group unsets the container's IOMMU; it can be set again
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    And the container is set to VFIO_TYPE1_IOMMU
    When group 0 is removed from the container
    Then the operation should succeed
    And GET_INFO should fail with EINVAL
    When group 0 is added to the container
    And the container's IOMMU is set to VFIO_TYPE1v2_IOMMU
    Then the operation should succeed

  Scenario: [14] A group added after SET_IOMMU is attached at once
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And an SMMU from fixture "synthetic-s1-s2" with VFIO group 1 at stream 0x20
    And group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    When group 1 is added to the container
    Then the operation should succeed
    And the container should hold 2 IOMMU domains
