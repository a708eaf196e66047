@since-linux-7.3
Feature: Iommufd2 - The vIOMMU and its vDEVICEs
  IOMMU_VIOMMU_ALLOC (iommufd viommu.c iommufd_viommu_alloc_ioctl, 6.17+ order): flags or type
  DEFAULT -> EOPNOTSUPP; the device -> ENOENT; no vIOMMU ops (VT-d) or get_viommu_size 0 ->
  EOPNOTSUPP, before the HWPT is looked at; the HWPT (a paging one) -> ENOENT; not a nest parent
  -> EINVAL. arm_smmu_get_viommu_size is 0 without FEAT_NESTING, with CMDQ_FORCE_SYNC, or without
  CANWBS and S2FWB. IOMMU_VDEVICE_ALLOC (iommufd_vdevice_alloc_ioctl): the vIOMMU and the device
  -> ENOENT; a device with a vDEVICE already, or a virt_id taken -> EEXIST. A nested attach needs
  the device's vDEVICE when the vSTE translates (arm_smmu_attach_prepare_vmaster, 6.19+: abort and
  bypass vSTEs attach without one).

  Background:
    Given the machine of fixture "qemu-smmuv3-10.0-acpi-canwbs"
    And the VMM has run:
      """
      device 1 bind                                     = ok
      ioas 1 alloc                                      = ok
      ioas 1 map iova=0x40000000 size=0x200000 rw       = ok
      hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT = ok
      hwpt 2 alloc device=1 pt=ioas:1                   = ok
      """

  Scenario Outline: [1] IOMMU_VIOMMU_ALLOC <call>: <result>
    # history: IOMMU_VIOMMU_ALLOC <call> on a CANWBS SMMUv3 => <result>
    When the VMM runs '<call>'
    Then the result should be "<result>"

    Examples:
      | call                                                    | result     |
      | viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3          | ok id=5    |
      | viommu 1 alloc device=1 hwpt=1 type=DEFAULT             | EOPNOTSUPP |
      | viommu 1 alloc device=1 hwpt=1 type=TEGRA241_CMDQV      | EOPNOTSUPP |
      | viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3 flags=1  | EOPNOTSUPP |
      | viommu 1 alloc device=9 hwpt=1 type=ARM_SMMUV3          | ENOENT     |
      | viommu 1 alloc device=1 hwpt=2 type=ARM_SMMUV3          | EINVAL     |
      | viommu 1 alloc device=1 hwpt=ioas:1 type=ARM_SMMUV3     | ENOENT     |
      | viommu 1 alloc device=1 hwpt=9 type=ARM_SMMUV3          | ENOENT     |

  Scenario: [2] The vIOMMU holds its nest parent; a vDEVICE per device, a virt_id per vIOMMU
    When the VMM runs:
      """
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3        = ok id=5
      destroy hwpt 1                                         = EBUSY
      vdevice 1 alloc viommu=1 device=1 virt_id=0x8          = ok id=6
      vdevice 2 alloc viommu=1 device=1 virt_id=0x9          = EEXIST
      vdevice 2 alloc viommu=9 device=1 virt_id=0x9          = ENOENT
      vdevice 2 alloc viommu=1 device=9 virt_id=0x9          = ENOENT
      destroy vdevice 1                                      = ok
      vdevice 2 alloc viommu=1 device=1 virt_id=0x9          = ok id=6
      """

  Scenario Outline: [3] A <vste> vSTE attached without a vDEVICE: <result>
    # history: nested attach of a <vste> vSTE without a vDEVICE => <result>
    Given the VMM has run:
      """
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3 = ok
      hwpt 3 alloc device=1 pt=viommu:1 vste="<fields>" = ok
      """
    When the VMM runs 'device 1 attach pt=hwpt:3'
    Then the result should be "<result>"

    Examples:
      | vste        | fields                         | result |
      | translating | v cfg=s1 s1ctxptr=0x40001000   | ENOENT |
      | bypass      | v cfg=bypass                   | ok     |
      | abort       | v cfg=abort                    | ok     |
      | invalid     | v=0                            | ok     |
