Feature: Vfio4 - One container, several SMMUs
  Will Deacon's point in the review: "the ARM SMMU driver (at least) can handle multiple SMMU
  instances on a single bus, only some of which may be capable of nesting. Until we've done an
  attach, it's impossible to know what the capabilities are." A domain is bound to one SMMU at its
  first attach, so type1 gives each SMMU its own domain, and each domain gets the stage its SMMU
  can do.

  The machine: SMMU "synthetic-nested" (S1+S2 with nesting) holds group 0 (stream 0x10); SMMU
  "synthetic-s1-only" holds group 1 (stream 0x20).

  Scenario Outline: [1] A nesting container with groups behind both SMMUs
    # history: SET_IOMMU(nesting) with groups behind a nesting and a stage-1-only SMMU => <result>, <domains> domain(s)
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And an SMMU from fixture "synthetic-s1-only" with VFIO group 1 at stream 0x20
    And group 0 is in the container
    And group 1 is in the container
    When the container's IOMMU is set to VFIO_TYPE1_NESTING_IOMMU
    Then the operation <result>
    And the number of IOMMU domains in the container should be <domains>

    @rfc-v2 @since-merged @until-linux-6.12
    Examples: the S1-only SMMU's domain falls back to stage 1 and nothing fails
      | result                      | domains |
      | should succeed              | 2       |

    @enforcing
    Examples: the S1-only SMMU's group fails the whole SET_IOMMU
      | result                      | domains |
      | should fail with EOPNOTSUPP | 0       |

  @rfc-v2 @since-merged @until-linux-6.12
  Scenario: [2] Each SMMU's domain gets its own stage
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And an SMMU from fixture "synthetic-s1-only" with VFIO group 1 at stream 0x20
    And group 0 is in the container
    And group 1 is in the container
    When the container's IOMMU is set to VFIO_TYPE1_NESTING_IOMMU
    Then the domain of group 0 should have stage NESTED
    And the domain of group 1 should have stage S1

  Scenario Outline: [3] A second group can make a nesting container lose nesting
    The container starts nested (group 0 alone); then the S1-only SMMU's group 1 joins.
    # history: a stage-1-only group joins a nesting container => <result>; CHECK_EXTENSION(nesting) then <after>
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And an SMMU from fixture "synthetic-s1-only" with VFIO group 1 at stream 0x20
    And group 0 is in the container
    And the container is set to VFIO_TYPE1_NESTING_IOMMU
    Then CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU) should answer 1
    When group 1 is added to the container
    Then the operation <result>
    And CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU) should answer <after>

    # RFC: the join succeeds, and the per-domain check now says the container does not nest.
    @rfc-v2
    Examples:
      | result                      | after |
      | should succeed              | 0     |

    # enforcing: the join is refused; the container keeps only nested domains.
    @enforcing
    Examples:
      | result                      | after |
      | should fail with EOPNOTSUPP | 1     |

    # merged and later: the join succeeds and the answer stays 1 although group 1 is stage 1.
    @since-merged @until-linux-6.12
    Examples:
      | result                      | after |
      | should succeed              | 1     |

  Scenario: [4] Two groups behind the same SMMU share one domain (and one context bank)
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And an SMMU from fixture "synthetic-s1-only" with VFIO group 1 at stream 0x20
    And VFIO group 2 at stream 0x30 is behind the same SMMU "synthetic-nested"
    And group 0 is in the container
    And group 1 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    When group 2 is added to the container
    Then the operation should succeed
    And the number of IOMMU domains in the container should be 2
    And groups 0 and 2 should share one domain

  Scenario: [5] Mappings made before a group joins are replayed into its new domain
    type1 writes every existing mapping into a new domain's page tables (vfio_iommu_replay), so
    the device behind the second SMMU can reach them at once.
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And an SMMU from fixture "synthetic-s1-s2" with VFIO group 1 at stream 0x20
    And group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    And the VMM has mapped iova 0x100000 size 0x2000 read-write
    When group 1 is added to the container
    And the device of group 1 writes 32 bytes at IOVA 0x101000
    Then the DMA should succeed
    When the VMM unmaps iova 0x100000 size 0x2000
    And the device of group 1 reads 32 bytes at IOVA 0x101000
    Then the DMA should fault

  @since-linux-6.1
  Scenario: [6] 6.1: a group whose reserved region covers an existing mapping cannot join: EINVAL
    Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
    And an SMMU from fixture "synthetic-s1-s2" with VFIO group 1 at stream 0x20
    And the SMMU "synthetic-s1-s2" reserves IOVA 0x8000000 to 0x80fffff for MSIs
    And group 0 is in the container
    And the container is set to VFIO_TYPE1v2_IOMMU
    And the VMM has mapped iova 0x8000000 size 0x1000 read-write
    When group 1 is added to the container
    Then the operation should fail with EINVAL
    And the number of IOMMU domains in the container should be 1

  Scenario Outline: [7] QEMU 11's two-SMMU machine: the shipped transcript <transcript> agrees, line by line
    Two SMMUv3s of QEMU 11.1 (-device arm-smmuv3): stage 1 only in front of group 1, and "<second>"
    in front of group 2 (docs/real-kernel-two-smmu.md). The transcripts put both groups in one
    container in both orders, under the nesting type and TYPE1v2, with DMA by both devices; where
    the two domains' apertures differ (2^48 at stage 1, 2^44 at stage 2), group 2 may not join
    while a mapping lies at 2^44 (type1 vfio_iommu_aper_conflict). Written from each kernel's
    source, and recorded on that kernel by `npm run real-kernel` (transcripts/recorded/).
    Given the machine of fixture "qemu-smmuv3-11.1-s1"
    And the machine of fixture "<second>"
    When the transcript file "transcripts/<transcript>" is replayed
    Then every line should agree

    @linux-6.1
    Examples: 6.1: under the nesting type the nested SMMU's domain is stage 2
      | transcript                                  | second                  |
      | qemu-virt11-2smmu-smmuv3-linux-6.1.vfio     | qemu-smmuv3-11.1-nested |
      | qemu-virt11-2smmu-s2-smmuv3-linux-6.1.vfio  | qemu-smmuv3-11.1-s2     |

    @linux-6.12
    Examples: 6.12: no nesting (EPERM); only a stage-2-only SMMU makes the apertures differ
      | transcript                                  | second                  |
      | qemu-virt11-2smmu-smmuv3-linux-6.12.vfio    | qemu-smmuv3-11.1-nested |
      | qemu-virt11-2smmu-s2-smmuv3-linux-6.12.vfio | qemu-smmuv3-11.1-s2     |

    @linux-7.3
    Examples: 7.3: no nesting type (ENODEV); only a stage-2-only SMMU makes the apertures differ
      | transcript                                  | second                  |
      | qemu-virt11-2smmu-smmuv3-linux-7.3.vfio     | qemu-smmuv3-11.1-nested |
      | qemu-virt11-2smmu-s2-smmuv3-linux-7.3.vfio  | qemu-smmuv3-11.1-s2     |
