Feature: Nest1 - Stage selection
  A domain asks for stage 1 (the default) or for nested translation. When it is first attached,
  the arm-smmu driver fixes the request up against what the SMMU implements, in this order
  (arm_smmu_init_domain_context):
    1. the SMMU has no stage 1            -> S2
    2. the SMMU has no stage 2            -> S1
    3. RFC only: the SMMU cannot nest and the request is NESTED -> S2
  Linux as merged (and every later arm-smmu and arm-smmu-v3) has steps 1 and 2 only, so a NESTED
  request on an SMMU with both stages but no nesting stays NESTED. A stage-1 domain gets a context
  bank of CBAR type S1_TRANS_S2_BYPASS; stage-2 and nested domains one of type S2_TRANS (the RFC:
  this "will likely change when KVM gets involved"; in mainline it never did).

  Background: The hardware, and the kernels without a nesting request
    Fixtures: synthetic-nested = S1+S2 with NTS ("N" in the RFC's table), synthetic-s1-s2 = both
    stages without nesting ("S1+S2"), synthetic-s2-only ("S2"), synthetic-s1-only ("S1").
    From 6.13 (the linux-7.3 profile) no call asks an unmanaged domain to nest (Nest2): there the
    stage-1 rows hold, and a nested request is iommufd's ([6]).

  Scenario Outline: [1] A <requested> request on <supported> hardware gives stage <stage>
    # history: a <requested> request on <fixture> (<supported>) => <stage>
    Given an SMMU from fixture "<fixture>"
    When a <requested> domain is attached to stream 0x10
    Then the operation should succeed
    And the domain should have stage <stage>
    And the domain should translate at <translation>

    # The RFC's table, every cell ("Requested / Supported / Actual"), RFC PATCHv2 3/3.
    @rfc-v2 @enforcing
    Examples: RFC PATCHv2 as posted (the RFC's table)
      | requested | supported | fixture           | stage  | translation |
      | stage 1   | N         | synthetic-nested  | S1     | stage 1     |
      | stage 1   | S1+S2     | synthetic-s1-s2   | S1     | stage 1     |
      | stage 1   | S2        | synthetic-s2-only | S2     | stage 2     |
      | stage 1   | S1        | synthetic-s1-only | S1     | stage 1     |
      | nested    | N         | synthetic-nested  | NESTED | stage 2     |
      | nested    | S1+S2     | synthetic-s1-s2   | S2     | stage 2     |
      | nested    | S2        | synthetic-s2-only | S2     | stage 2     |
      | nested    | S1        | synthetic-s1-only | S1     | stage 1     |

    # Merged: no TRANS_NESTED check, so "N on S1+S2" keeps NESTED on a stage-2 bank.
    @since-merged
    Examples: Linux as merged and later, stage-1 requests
      | requested | supported | fixture           | stage  | translation |
      | stage 1   | N         | synthetic-nested  | S1     | stage 1     |
      | stage 1   | S1+S2     | synthetic-s1-s2   | S1     | stage 1     |
      | stage 1   | S2        | synthetic-s2-only | S2     | stage 2     |
      | stage 1   | S1        | synthetic-s1-only | S1     | stage 1     |

    @since-merged @until-linux-6.12
    Examples: Linux as merged to 6.12, nested requests
      | requested | supported | fixture           | stage  | translation |
      | nested    | N         | synthetic-nested  | NESTED | stage 2     |
      | nested    | S1+S2     | synthetic-s1-s2   | NESTED | stage 2     |
      | nested    | S2        | synthetic-s2-only | S2     | stage 2     |
      | nested    | S1        | synthetic-s1-only | S1     | stage 1     |

  Scenario Outline: [2] The context bank type follows the fixed-up stage on <fixture>
    Given an SMMU from fixture "<fixture>"
    When a <requested> domain is attached to stream 0x10
    Then the domain should use context bank <bank> of type <cbar>

    # synthetic-nested and synthetic-s1-s2 have 2 stage-2-only banks, so a stage-1 bank starts at 2.
    Examples:
      | requested | fixture           | bank | cbar               |
      | stage 1   | synthetic-nested  | 2    | S1_TRANS_S2_BYPASS |
      | stage 1   | synthetic-s2-only | 0    | S2_TRANS           |

    @until-linux-6.12
    Examples: nested requests (until 6.12)
      | requested | fixture           | bank | cbar               |
      | nested    | synthetic-nested  | 0    | S2_TRANS           |
      | nested    | synthetic-s1-s2   | 0    | S2_TRANS           |
      | nested    | synthetic-s1-only | 0    | S1_TRANS_S2_BYPASS |

  Scenario Outline: [3] Stage 2 cannot be requested: nesting attribute <value> asks for <stage>
    The attribute is a boolean to the driver (`if (*(int *)data)`): zero asks for stage 1, any
    other value for nested. No value a caller can pass asks for stage 2; stage 2 only ever comes
    from the driver's fix-up at attach.
    # history: the nesting attribute set to <value> before attach => <stage>
    Given an SMMU from fixture "synthetic-s1-s2"
    And a new domain
    When the nesting attribute of the domain is set to <value>
    Then the operation should succeed
    And the domain should have stage <stage>

    @rfc-v2 @enforcing @merged
    Examples:
      | value | stage  |
      | 0     | S1     |
      | 1     | NESTED |
      | 2     | NESTED |
      | -1    | NESTED |

  Scenario: [4] A domain that asks for nothing is a stage-1 domain, even on hardware with both stages
    Given an SMMU from fixture "synthetic-s1-s2"
    When a stage 1 domain is attached to stream 0x10
    Then the domain should have stage S1
    And the domain should use context bank 2 of type S1_TRANS_S2_BYPASS

  Scenario Outline: [5] A real part: <requested> on <fixture> gives stage <stage>
    # history: a <requested> request on <fixture> => <stage>
    Given an SMMU from fixture "<fixture>"
    When a <requested> domain is attached to stream 0x10
    Then the operation should succeed
    And the domain should have stage <stage>
    And the domain should translate at <translation>

    Examples: Arm CoreLink parts (SMMUv1/v2)
      | requested | fixture | stage  | translation |
      | stage 1   | mmu-500 | S1     | stage 1     |

    @until-linux-6.12
    Examples: Arm CoreLink parts, nested requests (set_attr / iommu_enable_nesting until 6.12)
      | requested | fixture | stage  | translation |
      | nested    | mmu-500 | NESTED | stage 2     |
      | nested    | mmu-400 | NESTED | stage 2     |

    # arm-smmu-v3 exists from Linux 4.2: the 3.x profiles have no driver for these.
    # QEMU 7.2's SMMUv3 has stage 1 only: the nesting request silently becomes stage 1.
    @since-linux-6.1
    Examples: SMMUv3 (arm-smmu-v3 domain finalise)
      | requested | fixture                 | stage  | translation |
      | stage 1   | qemu-smmuv3-7.2         | S1     | stage 1     |

    @since-linux-6.1 @until-linux-6.12
    Examples: SMMUv3, nested requests (iommu_enable_nesting until 6.12)
      | requested | fixture                 | stage  | translation |
      | nested    | qemu-smmuv3-7.2         | S1     | stage 1     |
      | nested    | synthetic-smmuv3-nested | NESTED | stage 2     |

  Scenario Outline: [6] From 6.13 a nested request on <fixture> is iommufd's: <outcome>
    No call asks a domain to nest any more; a VMM asks through iommufd (Iommufd1: bind, NEST_PARENT,
    vIOMMU, vDEVICE, nested HWPT, attach). These parts' devices stop at bind where the SMMU's walk
    is not coherent (IOMMU_CAP_CACHE_COHERENCY), arm-smmu v1/v2 takes no NEST_PARENT, and QEMU
    7.2's SMMUv3 has no stage 2.
    # history: a nested request on <on> => through iommufd, <outcome>
    Given the machine of fixture "<fixture>" with VFIO group 1 at stream 0x8, unless it has that group
    When the VMM asks for nesting through iommufd for device 1
    Then the nesting request should end with "<outcome>"

    @since-linux-7.3
    Examples:
      | fixture                 | on                           | outcome                 |
      | synthetic-nested        | synthetic-nested (N)         | bind: EINVAL            |
      | synthetic-s1-s2         | synthetic-s1-s2 (S1+S2)      | bind: EINVAL            |
      | synthetic-s2-only       | synthetic-s2-only (S2)       | bind: EINVAL            |
      | synthetic-s1-only       | synthetic-s1-only (S1)       | bind: EINVAL            |
      | synthetic-coherent      | synthetic-coherent (N)       | nest parent: EOPNOTSUPP |
      | mmu-500                 | mmu-500                      | bind: EINVAL            |
      | mmu-400                 | mmu-400                      | bind: EINVAL            |
      | qemu-smmuv3-7.2         | qemu-smmuv3-7.2              | nest parent: EOPNOTSUPP |
      | synthetic-smmuv3-nested | synthetic-smmuv3-nested      | bind: EINVAL            |
      | qemu-smmuv3-10.0        | qemu-smmuv3-10.0             | vIOMMU: EOPNOTSUPP      |
      | synthetic-smmuv3-fwb    | synthetic-smmuv3-fwb         | attached                |
