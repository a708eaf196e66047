Feature: Iommufd8 - The shipped iommufd transcripts agree with the model
  transcripts/ holds a VMM's whole nested setup through iommufd, every result written from the
  kernel source (docs/transcript-iommufd.md gives the grammar): on QEMU 10's SMMUv3 booted with a
  CANWBS IORT the whole path; on the same SMMU booted with a device tree the vIOMMU is refused; on
  QEMU 11's two nested SMMUs a vIOMMU on each, beside a stage-1-only SMMU no nest parent.

  Scenario Outline: [1] <transcript> on <fixture>, line by line
    Given the machine of fixture "<fixture>"
    When the transcript file "transcripts/<transcript>" is replayed
    Then every line should agree

    @since-linux-7.3
    Examples:
      | transcript                                          | fixture                      |
      | qemu-virt10-acpi-canwbs-iommufd-nested-linux-7.3.vfio | qemu-smmuv3-10.0-acpi-canwbs |
      | qemu-virt10-smmuv3-iommufd-linux-7.3.vfio             | qemu-smmuv3-10.0             |

  Scenario Outline: [2] <transcript> on QEMU 11's two SMMUs, line by line
    On two nested SMMUs, a vIOMMU on each and the rules that keep each object on its own SMMU
    (Iommufd9); on a stage-1-only SMMU beside a nested one without CANWBS, a nest parent only on the
    nested one and a vIOMMU on neither.
    Given the machine of fixture "<first>"
    And the machine of fixture "<second>"
    When the transcript file "transcripts/<transcript>" is replayed
    Then every line should agree

    @since-linux-7.3
    Examples:
      | transcript                                      | first                                | second                             |
      | qemu-virt11-2smmu-nested-iommufd-linux-7.3.vfio | qemu-smmuv3-11.1-pcie0-nested-canwbs | qemu-smmuv3-11.1-pxb-nested-canwbs |
      | qemu-virt11-2smmu-iommufd-linux-7.3.vfio        | qemu-smmuv3-11.1-s1                  | qemu-smmuv3-11.1-nested            |
