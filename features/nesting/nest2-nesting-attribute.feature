Feature: Nest2 - The nesting attribute
  A domain's nesting request can only change before the domain is bound to an SMMU: the first
  attach fixes the stage and takes a context. Until Linux 5.12 the request is
  iommu_domain_set_attr(DOMAIN_ATTR_NESTING), and iommu_domain_get_attr reads back whether the
  domain's stage *is* NESTED, so a fallback at attach is visible; arm-smmu answers any other
  attribute with ENODEV. From 5.13 it is iommu_enable_nesting(), with no getter. 6.13 removed it
  and the drivers' enable_nesting op (commit 35890f85573c, "vfio: Remove
  VFIO_TYPE1_NESTING_IOMMU"): nesting is asked for through iommufd (IOMMU_HWPT_ALLOC_NEST_PARENT),
  so the scenarios that call iommu_enable_nesting stop at linux-6.12, and [9] shows what is left.

  Background: How 6.12 allocates here
    On 6.12 these domain-level scenarios allocate like iommu_domain_alloc(bus) (no device), so
    arm-smmu-v3 does not finalise early; VFIO allocates for the device and gets EPERM (Vfio3).

  @rfc-v2 @enforcing @merged
  Scenario: [1] Before attach, the attribute reads back what was set
    # history: how a domain asks for nesting => iommu_domain_set_attr(DOMAIN_ATTR_NESTING), read back by get_attr
    Given an SMMU from fixture "synthetic-nested"
    And a new domain
    Then the nesting attribute of the domain should read 0
    When the nesting attribute of the domain is set to 1
    Then the operation should succeed
    And the nesting attribute of the domain should read 1
    When the nesting attribute of the domain is set to 0
    Then the operation should succeed
    And the nesting attribute of the domain should read 0

  @rfc-v2 @enforcing @merged
  Scenario: [2] Once attached, setting the attribute fails with EPERM and changes nothing
    # history: asking for nesting once the domain is attached => EPERM, nothing changes
    Given an SMMU from fixture "synthetic-nested"
    When a nested domain is attached to stream 0x10
    And the nesting attribute of the domain is set to 0
    Then the operation should fail with EPERM
    And the domain should have stage NESTED
    And the nesting attribute of the domain should read 1
    And the domain should use context bank 0 of type S2_TRANS

  @rfc-v2 @enforcing @merged
  Scenario: [3] Detaching the last stream does not unbind the domain: still EPERM
    The domain keeps its SMMU and context bank until it is freed (arm_smmu_detach_dev only
    changes the stream's S2CR), so the stage stays fixed.
    Given an SMMU from fixture "synthetic-nested"
    When a stage 1 domain is attached to stream 0x10
    And the domain is detached from stream 0x10
    Then the operation should succeed
    When the nesting attribute of the domain is set to 1
    Then the operation should fail with EPERM
    And the domain should have stage S1

  Scenario Outline: [4] After attach the attribute reports what the domain really is, on <fixture>
    # history: DOMAIN_ATTR_NESTING read after a nested attach on <fixture> => <reads>
    Given an SMMU from fixture "<fixture>"
    When a nested domain is attached to stream 0x10
    Then the nesting attribute of the domain should read <reads>

    # RFC: the fallback is visible - this is what vfio_domains_have_iommu_nesting() relies on.
    @rfc-v2 @enforcing
    Examples: RFC PATCHv2
      | fixture           | reads |
      | synthetic-nested  | 1     |
      | synthetic-s1-s2   | 0     |
      | synthetic-s2-only | 0     |
      | synthetic-s1-only | 0     |

    # Merged: hardware with both stages but no NTS still reads 1 (stage NESTED on an S2 bank).
    @merged
    Examples: Linux as merged
      | fixture           | reads |
      | synthetic-nested  | 1     |
      | synthetic-s1-s2   | 1     |
      | synthetic-s2-only | 0     |
      | synthetic-s1-only | 0     |

  Scenario Outline: [5] arm-smmu does not implement DOMAIN_ATTR_<attr>: ENODEV
    Given an SMMU from fixture "synthetic-nested"
    And a new domain
    When DOMAIN_ATTR_<attr> of the domain is set to 1
    Then the operation should fail with ENODEV
    When DOMAIN_ATTR_<attr> of the domain is read
    Then the operation should fail with ENODEV
    And the domain should have stage S1

    @rfc-v2 @enforcing @merged
    Examples:
      | attr            |
      | WINDOWS         |
      | FSL_PAMU_STASH  |
      | FSL_PAMU_ENABLE |
      | FSL_PAMUV1      |

  @since-linux-6.1 @until-linux-6.12
  Scenario: [6] iommu_enable_nesting before attach selects nested
    # history: how a domain asks for nesting => iommu_enable_nesting(), no getter
    Given an SMMU from fixture "synthetic-nested"
    And a new domain
    When nesting is enabled on the domain
    Then the operation should succeed
    And the domain should have stage NESTED
    When the domain is attached to stream 0x10
    Then the operation should succeed
    And the domain should use context bank 0 of type S2_TRANS

  @since-linux-6.1 @until-linux-6.12
  Scenario: [7] iommu_enable_nesting once attached fails with EPERM and changes nothing
    # history: asking for nesting once the domain is attached => EPERM, nothing changes
    Given an SMMU from fixture "synthetic-nested"
    When a stage 1 domain is attached to stream 0x10
    And nesting is enabled on the domain
    Then the operation should fail with EPERM
    And the domain should have stage S1
    And the domain should use context bank 2 of type S1_TRANS_S2_BYPASS

  @since-linux-6.1 @until-linux-6.12
  Scenario: [8] On a stage-1-only SMMUv3, enabling nesting succeeds and the domain silently gets stage 1
    The case the review worried about: nothing tells the caller that nesting was not had.
    Given an SMMU from fixture "qemu-smmuv3-7.2"
    And a new domain
    When nesting is enabled on the domain
    Then the operation should succeed
    When the domain is attached to stream 0x10
    Then the operation should succeed
    And the domain should have stage S1
    And the domain should translate at stage 1

  @since-linux-7.3
  Scenario: [9] 7.3: nothing asks a domain to nest; the old nesting type finds no driver, even on hardware that nests
    type1's open() still treats 6 as TYPE1v2 ("Just in-case there is some userspace using this
    continue to treat requesting it as a NOP, but do not advertise support any more"), but its
    CHECK_EXTENSION no longer lists 6, and the VFIO core only opens a driver that does: ENODEV.
    The group then gets an ordinary stage-1 domain through TYPE1v2.
    # history: the nesting request on hardware that nests => no such call; SET_IOMMU(6) ENODEV
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_TYPE1_NESTING_IOMMU
    Then the operation should fail with ENODEV
    And the number of IOMMU domains in the container should be 0
    When the container's IOMMU is set to VFIO_TYPE1v2_IOMMU
    Then the operation should succeed
    And the domain of group 0 should have stage S1

