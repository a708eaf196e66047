Feature: Vfio3 - Attaching a nesting container when the hardware cannot nest
  The review's question (Alex Williamson, 2014-07-09): should attach fail when the nesting
  attribute cannot be set, rather than hand back a domain that silently does not nest? Because
  VFIO attaches groups inside VFIO_SET_IOMMU, an attach that fails fails SET_IOMMU, and the VMM
  can retry with TYPE1v2. Each kernel's answer is in the Background; [8] and [9] show the whole
  history in one table each. In every profile the stage the domain gets is the driver's (Nest1).

  Background: Each kernel's answer
    - RFC: type1 ignores iommu_domain_set_attr's result; the attach goes on.
    - enforcing (the review's ask, with the errno Will Deacon proposed): the attach fails with
      EOPNOTSUPP unless the attached domain really is nested.
    - merged and 6.1: a failing set_attr / iommu_enable_nesting fails the attach with its errno, but
      arm-smmu accepts the request on any unattached domain and falls back at attach: on hardware
      that cannot nest the container is created anyway.
    - 6.12: VFIO type1 allocates the group's domain for its device (iommu_paging_domain_alloc,
      commit 60ffc4501722, 6.11) and arm-smmu-v3's domain_alloc_paging(dev) finalises it against
      the device's SMMU there, so arm_smmu_enable_nesting finds smmu_domain->smmu set: EPERM on
      every SMMUv3, nested-capable or not, while CHECK_EXTENSION still says 1. arm-smmu (v1/v2)
      binds at attach and behaves as in 6.1.
    - 6.13 and later (7.3): VFIO_TYPE1_NESTING_IOMMU is gone (commit 35890f85573c); 6 is
      __VFIO_RESERVED_TYPE1_NESTING_IOMMU, which type1 no longer claims: SET_IOMMU(6) is ENODEV.

  Scenario Outline: [1] SET_IOMMU(nesting) on <supported> hardware: <result>
    # history: SET_IOMMU(nesting) on <fixture> (<supported>) => <result>, <domains> domain(s)
    Given an SMMU from fixture "<fixture>" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_TYPE1_NESTING_IOMMU
    Then the operation <result>
    And the number of IOMMU domains in the container should be <domains>

    @rfc-v2
    Examples: RFC: the failed nesting request is ignored
      | supported | fixture | result | domains |
      | N | synthetic-nested | should succeed | 1 |
      | S1+S2 | synthetic-s1-s2 | should succeed | 1 |
      | S2 | synthetic-s2-only | should succeed | 1 |
      | S1 | synthetic-s1-only | should succeed | 1 |

    @enforcing
    Examples: enforcing: anything but a nested domain fails the attach
      | supported | fixture | result | domains |
      | N | synthetic-nested | should succeed | 1 |
      | S1+S2 | synthetic-s1-s2 | should fail with EOPNOTSUPP | 0 |
      | S2 | synthetic-s2-only | should fail with EOPNOTSUPP | 0 |
      | S1 | synthetic-s1-only | should fail with EOPNOTSUPP | 0 |

    @since-merged @until-linux-6.12
    Examples: merged to 6.12: arm-smmu accepts the request, then falls back silently
      | supported | fixture | result | domains |
      | N | synthetic-nested | should succeed | 1 |
      | S1+S2 | synthetic-s1-s2 | should succeed | 1 |
      | S2 | synthetic-s2-only | should succeed | 1 |
      | S1 | synthetic-s1-only | should succeed | 1 |

  Scenario Outline: [2] The domain a nesting container got on <fixture>: stage <stage>
    # history: stage of a nesting container's domain on <fixture> => <stage>
    Given an SMMU from fixture "<fixture>" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    And the container is set to VFIO_TYPE1_NESTING_IOMMU
    Then the domain of group 0 should have stage <stage>

    @rfc-v2
    Examples:
      | fixture           | stage  |
      | synthetic-nested  | NESTED |
      | synthetic-s1-s2   | S2     |
      | synthetic-s1-only | S1     |

    @since-merged @until-linux-6.12
    Examples:
      | fixture           | stage  |
      | synthetic-nested  | NESTED |
      | synthetic-s1-s2   | NESTED |
      | synthetic-s1-only | S1     |

  @enforcing
  Scenario: [3] enforcing: after EOPNOTSUPP the container is unset and TYPE1v2 works
    Given an SMMU from fixture "synthetic-s1-only" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_TYPE1_NESTING_IOMMU
    Then the operation should fail with EOPNOTSUPP
    When the container's IOMMU is set to VFIO_TYPE1v2_IOMMU
    Then the operation should succeed
    And the domain of group 0 should have stage S1

  @linux-6.1
  Scenario: [4] linux-6.1 on QEMU's stage-1-only SMMUv3: SET_IOMMU(nesting) succeeds, the domain is stage 1
    arm_smmu_enable_nesting only records the request; arm_smmu_domain_finalise then finds no S2P
    and builds a stage-1 domain. Nothing reports it (the review's worry).
    # history: SET_IOMMU(nesting) on qemu-smmuv3-7.2 (stage 1 only) => succeeds; the domain is stage 1, CHECK_EXTENSION says 1
    Given an SMMU from fixture "qemu-smmuv3-7.2" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_TYPE1_NESTING_IOMMU
    Then the operation should succeed
    And the domain of group 0 should have stage S1
    And CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU) should answer 1

  @since-merged @until-linux-6.12
  Scenario: [5] A failing nesting request fails the attach with its errno: VT-d has no nesting op (EINVAL)
    iommu_domain_set_attr (3.x) and iommu_enable_nesting (6.1) return -EINVAL when the driver has
    no such op; type1 frees the domain and VFIO_SET_IOMMU returns the error.
    # history: SET_IOMMU(nesting) on VT-d => fails with EINVAL
    Given an SMMU from fixture "synthetic-vtd" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_TYPE1_NESTING_IOMMU
    Then the operation should fail with EINVAL
    And the number of IOMMU domains in the container should be 0
    When the container's IOMMU is set to VFIO_TYPE1v2_IOMMU
    Then the operation should succeed

  @rfc-v2
  Scenario: [6] RFC on VT-d: the failed set_attr is ignored, and only CHECK_EXTENSION tells
    # history: SET_IOMMU(nesting) on VT-d => succeeds; only CHECK_EXTENSION (0) tells
    Given an SMMU from fixture "synthetic-vtd" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_TYPE1_NESTING_IOMMU
    Then the operation should succeed
    And CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU) should answer 0

  @enforcing
  Scenario: [7] enforcing on VT-d: the bus probe says no nesting, so no driver claims the type: ENODEV
    The VFIO core only offers SET_IOMMU a type some driver answers CHECK_EXTENSION > 0 for; with
    the review's bus probe, type1 answers 0 on a machine whose IOMMU driver refuses nesting.
    # history: SET_IOMMU(nesting) on VT-d => fails with ENODEV (no driver claims the type)
    Given an SMMU from fixture "synthetic-vtd" with VFIO group 0 at stream 0x10
    Then CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU) should answer 0
    When group 0 is added to the container
    And the container's IOMMU is set to VFIO_TYPE1_NESTING_IOMMU
    Then the operation should fail with ENODEV

  Scenario Outline: [8] SET_IOMMU(nesting) on <fixture> (<supported>), kernel by kernel
    One question, every kernel's answer: the row of the table below that names this kernel. The
    value 6 is sent on every kernel (VFIO_TYPE1_NESTING_IOMMU, reserved from 6.13). QEMU rows are
    what transcripts/recorded/ holds for those machines (qemu-virt*-smmuv3-linux-*.vfio).
    # history: SET_IOMMU(nesting) on <fixture> => by kernel
    Given an SMMU from fixture "<fixture>" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_TYPE1_NESTING_IOMMU
    Then the outcome should be, by kernel:
      | kernel                        | result      |
      | rfc-v2                        | <rfc>       |
      | enforcing                     | <enforcing> |
      | merged to linux-6.1           | <merged>    |
      | linux-6.12                    | <6.12>      |
      | linux-7.3 and later           | <7.3>       |

    Examples: arm-smmu (v1/v2) and VT-d
      | fixture           | supported | rfc | enforcing  | merged | 6.12   | 7.3    |
      | synthetic-nested  | N         | ok  | ok         | ok     | ok     | ENODEV |
      | synthetic-s1-s2   | S1+S2     | ok  | EOPNOTSUPP | ok     | ok     | ENODEV |
      | synthetic-s2-only | S2        | ok  | EOPNOTSUPP | ok     | ok     | ENODEV |
      | synthetic-s1-only | S1        | ok  | EOPNOTSUPP | ok     | ok     | ENODEV |
      | synthetic-vtd     | VT-d      | ok  | ENODEV     | EINVAL | EINVAL | ENODEV |

  Scenario Outline: [9] SET_IOMMU(nesting) on SMMUv3 <fixture> (<supported>), kernel by kernel
    arm-smmu-v3 exists from Linux 4.2, so the 3.x profiles have no row. 6.1 accepts the request
    on any SMMUv3 and falls back silently; 6.12 refuses it (EPERM, see the Background); 7.3
    has no nesting type.
    # history: SET_IOMMU(nesting) on <fixture> => by kernel
    Given an SMMU from fixture "<fixture>" with VFIO group 0 at stream 0x10
    And group 0 is in the container
    When the container's IOMMU is set to VFIO_TYPE1_NESTING_IOMMU
    Then the outcome should be, by kernel:
      | kernel              | result |
      | linux-6.1           | <6.1>  |
      | linux-6.12          | <6.12> |
      | linux-7.3 and later | <7.3>  |

    @since-linux-6.1
    Examples:
      | fixture                      | supported | 6.1 | 6.12  | 7.3    |
      | qemu-smmuv3-7.2              | S1        | ok  | EPERM | ENODEV |
      | qemu-smmuv3-10.0             | N         | ok  | EPERM | ENODEV |
      | qemu-smmuv3-10.0-virt-9.1-s2 | S2        | ok  | EPERM | ENODEV |
      | synthetic-smmuv3-nested      | N         | ok  | EPERM | ENODEV |

