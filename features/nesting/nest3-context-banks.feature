Feature: Nest3 - Context banks and identifiers
  On SMMUv1/v2 an attached domain occupies one context bank. The lowest IDR1.NUMS2CB banks can
  only translate at stage 2, so a stage-1 domain searches from bank NUMS2CB upward, while stage-2
  and nested domains search from bank 0 (first free bank wins). No free bank: ENOSPC, and the
  attach fails. The bank is the domain's until the domain is freed. In 3.x every bank has ASID =
  bank index and VMID = bank index + 1; from 4.x the two share a union: stage-2 domains store
  VMID = bank + 1, every other stage ASID = bank, so a nested domain's stage-2 bank carries
  VMID = bank and a stage-1 bank no VMID. On SMMUv3 there are no banks: a stage-1 domain takes an
  ASID (never 0) for its context descriptor, a stage-2 or nested domain a VMID (0 is kept for
  bypass STEs).

  Background: The fixtures' banks
    synthetic-nested has 8 banks, banks 0 and 1 stage-2-only; synthetic-all-banks-s2-only has 2
    banks, both stage-2-only; synthetic-one-bank has a single bank usable by every stage.

  Scenario Outline: [1] A <requested> domain on <fixture> takes bank <bank> (<cbar>), ASID <asid>, VMID <vmid>
    # history: context of a <requested> domain on <fixture> => bank <bank>, ASID <asid>, VMID <vmid>
    Given an SMMU from fixture "<fixture>"
    When a <requested> domain is attached to stream 0x10
    Then the domain should use context bank <bank> of type <cbar>
    And the domain should have ASID <asid> and VMID <vmid>

    @rfc-v2 @enforcing @merged
    Examples: 3.x: ASID = bank, VMID = bank + 1
      | requested | fixture           | bank | cbar               | asid | vmid |
      | stage 1   | synthetic-nested  | 2    | S1_TRANS_S2_BYPASS | 2    | 3    |
      | nested    | synthetic-nested  | 0    | S2_TRANS           | none | 1    |
      | stage 1   | synthetic-s2-only | 0    | S2_TRANS           | none | 1    |

    @since-linux-6.1
    Examples: 4.x to 6.x: asid/vmid union
      | requested | fixture           | bank | cbar               | asid | vmid |
      | stage 1   | synthetic-nested  | 2    | S1_TRANS_S2_BYPASS | 2    | none |
      | stage 1   | synthetic-s2-only | 0    | S2_TRANS           | none | 1    |

    @since-linux-6.1 @until-linux-6.12
    Examples: 4.x to 6.12: a nested domain (no nesting request after 6.12)
      | requested | fixture           | bank | cbar               | asid | vmid |
      | nested    | synthetic-nested  | 0    | S2_TRANS           | none | 0    |

  @until-linux-6.12
  Scenario: [2] Stage-1 and nested domains fill the banks from different starting points
    Given an SMMU from fixture "synthetic-nested"
    When a stage 1 domain "A" is attached to stream 0x10
    And a nested domain "B" is attached to stream 0x11
    And a stage 1 domain "C" is attached to stream 0x12
    And a nested domain "D" is attached to stream 0x13
    Then domain "A" should use context bank 2 of type S1_TRANS_S2_BYPASS
    And domain "B" should use context bank 0 of type S2_TRANS
    And domain "C" should use context bank 3 of type S1_TRANS_S2_BYPASS
    And domain "D" should use context bank 1 of type S2_TRANS

  @until-linux-6.12
  Scenario: [3] A nested domain may take a bank above the stage-2-only ones once those are used
    Given an SMMU from fixture "synthetic-all-banks-s2-only"
    When a nested domain "A" is attached to stream 0x10
    And a nested domain "B" is attached to stream 0x11
    Then the SMMU should have context banks "0, 1" in use
    When a nested domain "C" is attached to stream 0x12
    Then the operation should fail with ENOSPC

  Scenario: [4] A stage-1 domain cannot use stage-2-only banks: ENOSPC while they are free
    Given an SMMU from fixture "synthetic-all-banks-s2-only"
    When a stage 1 domain is attached to stream 0x10
    Then the operation should fail with ENOSPC
    And the domain should have no context
    And the SMMU should have context banks "" in use

  @until-linux-6.12
  Scenario: [5] No bank left: the second domain's attach fails with ENOSPC
    Given an SMMU from fixture "synthetic-one-bank"
    When a nested domain "A" is attached to stream 0x10
    Then the operation should succeed
    When a stage 1 domain "B" is attached to stream 0x11
    Then the operation should fail with ENOSPC
    And domain "B" should have no context

  Scenario: [6] Detach alone keeps the bank; freeing the domain gives it back
    Given an SMMU from fixture "synthetic-one-bank"
    When a stage 1 domain "A" is attached to stream 0x10
    And domain "A" is detached from stream 0x10
    And a stage 1 domain "B" is attached to stream 0x11
    Then the operation should fail with ENOSPC
    When domain "A" is freed
    And a stage 1 domain "C" is attached to stream 0x12
    Then the operation should succeed
    And domain "C" should use context bank 0 of type S1_TRANS_S2_BYPASS

  Scenario: [7] A freed bank is the first one reused
    Given an SMMU from fixture "synthetic-nested"
    When a stage 1 domain "A" is attached to stream 0x10
    And a stage 1 domain "B" is attached to stream 0x11
    And domain "A" is freed
    And a stage 1 domain "C" is attached to stream 0x12
    Then domain "C" should use context bank 2 of type S1_TRANS_S2_BYPASS
    And the SMMU should have context banks "2, 3" in use

  Scenario: [8] Two streams of one domain share its bank
    Given an SMMU from fixture "synthetic-nested"
    And a new domain
    When the domain is attached to stream 0x10
    And the domain is attached to stream 0x11
    Then the operation should succeed
    And the SMMU should have context banks "2" in use

  Scenario: [9] A stream already attached cannot be attached again: EEXIST
    Given an SMMU from fixture "synthetic-nested"
    When a stage 1 domain "A" is attached to stream 0x10
    And a stage 1 domain "B" is attached to stream 0x10
    Then the operation should fail with EEXIST
    And the SMMU should have context banks "2" in use

  Scenario: [10] A stream the SMMU does not have: ENXIO
    synthetic-nested has 15 stream ID bits: stream 0x8000 is outside them.
    Given an SMMU from fixture "synthetic-nested"
    When a stage 1 domain is attached to stream 0x8000
    Then the operation should fail with ENXIO
    And the domain should have no context

  Scenario Outline: [11] SMMUv3: a <requested> domain gets a stream table entry with ASID <asid>, VMID <vmid>
    # history: context of a <requested> domain on <fixture> => stream table entry, ASID <asid>, VMID <vmid>
    Given an SMMU from fixture "<fixture>"
    When a <requested> domain "A" is attached to stream 0x10
    And a <requested> domain "B" is attached to stream 0x11
    Then domain "A" should use a stream table entry
    And domain "A" should have ASID <asid> and VMID <vmid>
    And domain "B" should have ASID <asid_b> and VMID <vmid_b>

    @since-linux-6.1
    Examples:
      | requested | fixture                 | asid | vmid | asid_b | vmid_b |
      | stage 1   | synthetic-smmuv3-nested | 1    | none | 2      | none   |

    @since-linux-6.1 @until-linux-6.12
    Examples: nested requests (until 6.12)
      | requested | fixture                 | asid | vmid | asid_b | vmid_b |
      | nested    | synthetic-smmuv3-nested | none | 1    | none   | 2      |
      | nested    | qemu-smmuv3-7.2         | 1    | none | 2      | none   |

  Scenario Outline: [12] From 6.13 a nested domain is iommufd's: <fixture> gets none (<outcome>)
    No call asks a domain to nest; through iommufd (Nest1 [6]) these machines get no nested domain.
    # history: context of a nested domain on <fixture> => none: through iommufd, <outcome>
    Given the machine of fixture "<fixture>" with VFIO group 1 at stream 0x8, unless it has that group
    When the VMM asks for nesting through iommufd for device 1
    Then the nesting request should end with "<outcome>"

    @since-linux-7.3
    Examples:
      | fixture                 | outcome                 |
      | synthetic-nested        | bind: EINVAL            |
      | synthetic-smmuv3-nested | bind: EINVAL            |
      | qemu-smmuv3-7.2         | nest parent: EOPNOTSUPP |

  @since-linux-7.3
  Scenario: [13] From 6.13, with CANWBS: a nested domain is an STE with Config nested and the nest parent's VMID
    The nest parent (a stage-2 domain) takes the first VMID, 1; the guest's ASID is in its own CD,
    which the STE points at by IPA (Iommufd4).
    # history: context of a nested domain on qemu-smmuv3-10.0-acpi-canwbs => stream table entry (Config nested), ASID the guest's, VMID 1
    Given the machine of fixture "qemu-smmuv3-10.0-acpi-canwbs" with VFIO group 1 at stream 0x8, unless it has that group
    When the VMM asks for nesting through iommufd for device 1
    Then the nesting request should end with "attached"
    And the STE of stream 0x8 should be:
      | field        | value       |
      | Config       | 0b111       |
      | S1ContextPtr | 0x4000_1000 |
      | S2VMID       | 1           |
