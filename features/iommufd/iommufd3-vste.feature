@since-linux-7.3
Feature: Iommufd3 - What a guest may put in its vSTE
  arm_smmu_validate_vste (arm-smmu-v3-iommufd.c): V = 0 -> the vSTE is zeroed and accepted (an
  abort STE); a bit outside STRTAB_STE_0/1_NESTING_ALLOWED -> EIO: word 0 V, Config, S1Fmt,
  S1ContextPtr [51:6], S1CDMax; word 1 S1DSS, S1CIR, S1COR, S1CSH, S1STALLD, EATS; Config other
  than abort, bypass and stage-1 translate -> EIO; EATS other than ABT and TRANS -> EIO.
  arm_vsmmu_alloc_domain_nested refuses every flag (EOPNOTSUPP) and copies the data as a 16-byte
  struct iommu_hwpt_arm_smmuv3 (another data type or fewer bytes -> EINVAL); the core's
  FAULT_ID_VALID needs a fault queue (the model has none: ENOENT).

  Background:
    Given the machine of fixture "qemu-smmuv3-10.0-acpi-canwbs"
    And the VMM has run:
      """
      device 1 bind                                     = ok
      ioas 1 alloc                                      = ok
      ioas 1 map iova=0x40000000 size=0x200000 rw       = ok
      hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT = ok
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3    = ok
      """

  Scenario Outline: [1] A vSTE with <vste>: <result>
    # history: a vSTE with <vste> => <result>
    When the VMM runs 'hwpt 2 alloc device=1 pt=viommu:1 vste="<fields>"'
    Then the result should be "<result>"

    Examples: Config
      | vste                       | fields                                        | result |
      | V = 0 and anything else    | v=0 cfg=nested s2fwb strw=2                   | ok     |
      | Config abort               | v cfg=abort                                   | ok     |
      | Config bypass              | v cfg=bypass                                  | ok     |
      | Config stage-1 translate   | v cfg=s1 s1ctxptr=0x40001000                  | ok     |
      | Config stage-2 translate   | v cfg=s2                                      | EIO    |
      | Config nested              | v cfg=nested s1ctxptr=0x40001000              | EIO    |
      | Config 0b001 (reserved)    | v cfg=1                                       | EIO    |

    Examples: the fields a guest may set
      | vste                       | fields                                                        | result |
      | S1Fmt and S1CDMax          | v cfg=s1 s1ctxptr=0x40001000 s1fmt=1 s1cdmax=3                | ok     |
      | S1DSS, S1CIR/COR/CSH       | v cfg=s1 s1ctxptr=0x40001000 s1dss=2 s1cir=1 s1cor=1 s1csh=3  | ok     |
      | S1STALLD                   | v cfg=s1 s1ctxptr=0x40001000 s1stalld                         | ok     |
      | EATS translate             | v cfg=s1 s1ctxptr=0x40001000 eats=1                           | ok     |
      | EATS split (S1CHK)         | v cfg=s1 s1ctxptr=0x40001000 eats=2                           | EIO    |
      | S1ContextPtr bit 52        | v cfg=s1 s1ctxptr=0x10000000000000                            | EIO    |

    Examples: fields that are the host's
      | vste                       | fields                                        | result |
      | MEV                        | v cfg=s1 s1ctxptr=0x40001000 mev              | EIO    |
      | S2FWB                      | v cfg=s1 s1ctxptr=0x40001000 s2fwb            | EIO    |
      | STRW                       | v cfg=s1 s1ctxptr=0x40001000 strw=2           | EIO    |
      | SHCFG                      | v cfg=s1 s1ctxptr=0x40001000 shcfg=1          | EIO    |
      | PRIVCFG                    | v cfg=s1 s1ctxptr=0x40001000 privcfg=2        | EIO    |
      | DCP                        | v cfg=s1 s1ctxptr=0x40001000 dcp              | EIO    |
      | bit 56 of word 0           | v cfg=s1 s1ctxptr=0x40001000 w0=0x100000000000000 | EIO |

  Scenario Outline: [2] A nested HWPT on the vIOMMU with <what>: <result>
    # history: a nested HWPT on an SMMUv3 vIOMMU with <what> => <result>
    When the VMM runs 'hwpt 2 alloc device=1 pt=viommu:1 <args>'
    Then the result should be "<result>"

    Examples:
      | what                   | args                                                              | result     |
      | the PASID flag         | flags=PASID vste="v cfg=s1 s1ctxptr=0x40001000"                   | EOPNOTSUPP |
      | FAULT_ID_VALID         | flags=FAULT_ID_VALID vste="v cfg=s1 s1ctxptr=0x40001000"          | ENOENT     |
      | 8 bytes of data        | vste="v cfg=s1 s1ctxptr=0x40001000" data_len=8                    | EINVAL     |
      | the VT-d data type     | vste="v cfg=s1 s1ctxptr=0x40001000" data_type=VTD_S1              | EINVAL     |
      | no data                |                                                                   | EOPNOTSUPP |
      | 24 bytes, a zero tail  | vste="v cfg=s1 s1ctxptr=0x40001000" data_len=24                   | ok         |

  Scenario Outline: [3] The physical STE of a <vste> vSTE: Config <config>
    arm_smmu_make_nested_domain_ste: abort (or V = 0) -> arm_smmu_make_abort_ste; bypass -> the
    parent's stage-2 STE (Config S2 translate); stage-1 translate -> Config nested.
    # history: physical STE Config of a <vste> vSTE => <config>
    Given the VMM has run:
      """
      vdevice 1 alloc viommu=1 device=1 virt_id=0x8     = ok
      hwpt 2 alloc device=1 pt=viommu:1 vste="<fields>" = ok
      device 1 attach pt=hwpt:2                         = ok
      """
    Then the STE of stream 0x8 should be:
      | field  | value    |
      | V      | 1        |
      | Config | <config> |

    Examples:
      | vste          | fields                       | config |
      | invalid       | v=0                          | 0b000  |
      | abort         | v cfg=abort                  | 0b000  |
      | bypass        | v cfg=bypass                 | 0b110  |
      | translating   | v cfg=s1 s1ctxptr=0x40001000 | 0b111  |
