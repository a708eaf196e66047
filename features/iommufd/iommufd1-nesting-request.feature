Feature: Iommufd1 - Asking for nesting through iommufd, on each machine and kernel
  From 6.13 a VMM nests a guest's stage 1 only through iommufd: bind the VFIO device (cdev), an
  IOAS with guest RAM, a nest-parent HWPT (stage 2), a vIOMMU on it, a vDEVICE (the device's
  virtual StreamID), a nested HWPT with the guest's vSTE, attach. The 2014 table's modern form:
  machine x kernel -> where the request stops, and its errno. Sources: arm-smmu-v3.c
  arm_smmu_domain_alloc_paging_flags (NEST_PARENT needs S1P and S2P) and
  arm_smmu_device_iidr_probe (MMU-600 r0/r1 and MMU-700 r0 or p0 lose nesting);
  arm-smmu-v3-iommufd.c arm_smmu_get_viommu_size (CANWBS or S2FWB); iommufd device.c
  iommufd_device_bind (IOMMU_CAP_CACHE_COHERENCY); VT-d needs ECAP.NEST; arm-smmu v1/v2 take no
  HWPT flags. 6.12's arm-smmu-v3 refuses NEST_PARENT; before 6.2 there is no iommufd at all.

  Scenario Outline: [1] Nesting through iommufd on <fixture> (<hardware>): <outcome>
    # history: nesting through iommufd on <fixture> (<hardware>) => <outcome>
    Given the machine of fixture "<fixture>" with VFIO group 1 at stream 0x8, unless it has that group
    When the VMM asks for nesting through iommufd for device 1
    Then the nesting request should end with "<outcome>"

    @until-linux-6.1
    Examples: kernels without iommufd: no device cdev to open
      | fixture                      | hardware             | outcome      |
      | qemu-smmuv3-10.0             | SMMUv3 S1+S2         | bind: ENOENT |
      | qemu-smmuv3-10.0-acpi-canwbs | SMMUv3 S1+S2, CANWBS | bind: ENOENT |
      | qemu-q35-intel-iommu-7.2     | VT-d                 | bind: ENOENT |

    @linux-6.12
    Examples: 6.12: arm_smmu_domain_alloc_user takes DIRTY_TRACKING only
      | fixture                      | hardware              | outcome                  |
      | qemu-smmuv3-10.0             | SMMUv3 S1+S2          | nest parent: EOPNOTSUPP  |
      | qemu-smmuv3-10.0-acpi-canwbs | SMMUv3 S1+S2, CANWBS  | nest parent: EOPNOTSUPP  |
      | synthetic-smmuv3-fwb         | SMMUv3 S1+S2, S2FWB   | nest parent: EOPNOTSUPP  |
      | qemu-smmuv3-7.2              | SMMUv3 S1 only        | nest parent: EOPNOTSUPP  |
      | synthetic-smmuv3-nested      | SMMUv3, no COHACC     | bind: EINVAL             |
      | qemu-q35-intel-iommu-7.2     | VT-d                  | nest parent: EOPNOTSUPP  |
      | synthetic-coherent           | SMMUv2 with nesting   | nest parent: EOPNOTSUPP  |

    @since-linux-7.3
    Examples: 7.3: the nest parent on S1P+S2P, the vIOMMU with CANWBS or S2FWB
      | fixture                      | hardware                | outcome                  |
      | qemu-smmuv3-10.0             | SMMUv3 S1+S2            | vIOMMU: EOPNOTSUPP       |
      | qemu-smmuv3-10.0-acpi-canwbs | SMMUv3 S1+S2, CANWBS    | attached                 |
      | synthetic-smmuv3-fwb         | SMMUv3 S1+S2, S2FWB     | attached                 |
      | qemu-smmuv3-10.0-virt-9.1-s2 | SMMUv3 S2 only          | nest parent: EOPNOTSUPP  |
      | qemu-smmuv3-7.2              | SMMUv3 S1 only          | nest parent: EOPNOTSUPP  |
      | synthetic-mmu600-r1          | MMU-600 r1p0            | nest parent: EOPNOTSUPP  |
      | synthetic-mmu700-r0p1        | MMU-700 r0p1, S2FWB     | nest parent: EOPNOTSUPP  |
      | synthetic-mmu700-r1p1        | MMU-700 r1p1, S2FWB     | attached                 |
      | synthetic-smmuv3-nested      | SMMUv3, no COHACC       | bind: EINVAL             |
      | qemu-q35-intel-iommu-7.2     | VT-d                    | nest parent: EOPNOTSUPP  |
      | synthetic-coherent           | SMMUv2 with nesting     | nest parent: EOPNOTSUPP  |

  Scenario Outline: [2] What is refused where: the errno of <call> on <fixture>
    An S1P+S2P SMMUv3 without CANWBS or S2FWB gets a nest parent but no vIOMMU; a nested HWPT
    needs a vIOMMU on arm-smmu-v3 (it has no domain_alloc_nested, VT-d's way, and its paging
    domains take no driver data).
    # history: <call> on <fixture> => <result>
    Given the machine of fixture "<fixture>"
    And the VMM has run:
      """
      device 1 bind                                 = ok
      ioas 1 alloc                                  = ok
      ioas 1 map iova=0x40000000 size=0x200000 rw   = ok
      hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT = ok
      """
    When the VMM runs '<call>'
    Then the result should be "<result>"

    @since-linux-7.3
    Examples:
      | fixture          | call                                                                  | result     |
      | qemu-smmuv3-10.0 | viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3                        | EOPNOTSUPP |
      | qemu-smmuv3-10.0 | hwpt 2 alloc device=1 pt=hwpt:1 vste="v cfg=s1 s1ctxptr=0x40001000"   | EOPNOTSUPP |
      | qemu-smmuv3-10.0 | hwpt 2 alloc device=1 pt=ioas:1 vste="v cfg=s1 s1ctxptr=0x40001000"   | EOPNOTSUPP |
      | qemu-smmuv3-10.0 | hwpt 2 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x40001000" | EINVAL     |
      | qemu-smmuv3-10.0 | device 1 attach pt=hwpt:1                                             | ok         |

  Scenario Outline: [3] The vIOMMU's conditions come first: a missing HWPT is EOPNOTSUPP on <fixture>
    arm_smmu_get_viommu_size answers before the HWPT is looked up (6.17+), so on a machine that
    cannot have a vIOMMU even a bad hwpt_id gives EOPNOTSUPP, where a capable one says ENOENT.
    # history: IOMMU_VIOMMU_ALLOC with no such HWPT on <fixture> => <result>
    Given the machine of fixture "<fixture>" with VFIO group 1 at stream 0x8, unless it has that group
    When the VMM runs 'device 1 bind'
    And the VMM runs 'viommu 1 alloc device=1 hwpt=9 type=ARM_SMMUV3'
    Then the result should be "<result>"

    @since-linux-7.3
    Examples:
      | fixture                      | result     |
      | qemu-smmuv3-10.0             | EOPNOTSUPP |
      | synthetic-mmu700-r0p1        | EOPNOTSUPP |
      | synthetic-mmu700-r1p1        | ENOENT     |
      | qemu-q35-intel-iommu-7.2     | EOPNOTSUPP |
      | synthetic-smmuv3-fwb         | ENOENT     |
