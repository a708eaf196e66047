@since-linux-7.3
Feature: Iommufd5 - The guest's invalidation commands
  IOMMU_HWPT_INVALIDATE on a vIOMMU carries raw SMMUv3 commands. 7.3 first checks each one
  (arm_vsmmu_validate_user_cmd): only the opcode's own fields may be set, ATC_INV needs IDR0.ATS,
  range fields need IDR3.RIL; then converts it (arm_vsmmu_convert_user_cmd): TLBI_NSNH_ALL becomes
  TLBI_NH_ALL of the vIOMMU's VMID, the other TLBIs get that VMID whatever the guest wrote, CFGI_CD
  and CFGI_CD_ALL get the SID of the device whose vDEVICE has the vSID (none: EIO). Any other
  opcode, or a refused command, is EIO. entry_num is written back on every path
  (iommufd_hwpt_invalidate): the index of the command refused, 0 when the array is refused.

  Background:
    Given the machine of fixture "qemu-smmuv3-10.0-acpi-canwbs"
    And the VMM has run:
      """
      device 1 bind                                                 = ok
      ioas 1 alloc                                                  = ok
      ioas 1 map iova=0x40000000 size=0x200000 rw                   = ok
      hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT             = ok
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3                = ok
      vdevice 1 alloc viommu=1 device=1 virt_id=0x8                 = ok
      guest cd ipa=0x40001000 asid=1 ttb0=0x40002000 t0sz=25 tg0=4K ips=44 = ok
      guest table ipa=0x40002000 index=0 next=0x40003000            = ok
      guest table ipa=0x40003000 index=0 next=0x40004000            = ok
      guest page ipa=0x40004000 index=0x100 out=0x40005000          = ok
      hwpt 2 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x40001000" = ok
      device 1 attach pt=hwpt:2                                     = ok
      """

  Scenario Outline: [1] The guest's <command>: <result>
    # history: a guest's <command> through IOMMU_HWPT_INVALIDATE => <result>
    When the VMM runs 'viommu 1 invalidate cmd="<command>"'
    Then the result should be "<result>"

    Examples: what passes, rewritten
      | command                                    | result         |
      | TLBI_NSNH_ALL                              | ok entry_num=1 |
      | TLBI_NH_ALL vmid=5                         | ok entry_num=1 |
      | TLBI_NH_ASID asid=1                        | ok entry_num=1 |
      | TLBI_NH_VA asid=1 addr=0x100000            | ok entry_num=1 |
      | TLBI_NH_VAA addr=0x100000                  | ok entry_num=1 |
      | TLBI_NH_VA asid=1 addr=0x100000 tg=1 num=1 | ok entry_num=1 |
      | CFGI_CD sid=0x8                            | ok entry_num=1 |
      | CFGI_CD sid=0x8 leaf                       | ok entry_num=1 |
      | CFGI_CD_ALL sid=0x8                        | ok entry_num=1 |

    Examples: what does not
      | command                               | result          |
      | CFGI_CD sid=0x9                       | EIO entry_num=0 |
      | ATC_INV sid=0x8                       | EIO entry_num=0 |
      | CFGI_CD sid=0x8 ssv                   | EIO entry_num=0 |
      | CFGI_CD sid=0x8 ssid=1                | EIO entry_num=0 |
      | TLBI_NH_ALL w0=0x0001000000000000     | EIO entry_num=0 |
      | TLBI_NSNH_ALL w0=0x100000000          | EIO entry_num=0 |
      | TLBI_NH_VA asid=1 addr=0x100000 num=1 | EIO entry_num=0 |
      | TLBI_NH_VA asid=1 addr=0x100000 tg=1  | EIO entry_num=0 |
      | CFGI_STE sid=0x8                      | EIO entry_num=0 |
      | CFGI_ALL                              | EIO entry_num=0 |
      | TLBI_S12_VMALL vmid=1                 | EIO entry_num=0 |
      | TLBI_S2_IPA vmid=1 addr=0x40000000    | EIO entry_num=0 |
      | TLBI_EL2_ALL                          | EIO entry_num=0 |
      | PREFETCH_CONFIG sid=0x8               | EIO entry_num=0 |
      | CMD_SYNC                              | EIO entry_num=0 |
      | 0xff                                  | EIO entry_num=0 |

  Scenario Outline: [2] entry_num written back: <case>
    # history: IOMMU_HWPT_INVALIDATE with <case> => <result>
    When the VMM runs '<call>'
    Then the result should be "<result>"

    Examples:
      | case                           | call                                                                                   | result                 |
      | a bad third command            | viommu 1 invalidate cmd="TLBI_NH_ALL" cmd="TLBI_NH_ASID asid=1" cmd="CFGI_STE sid=0x8" | EIO entry_num=2        |
      | no command                     | viommu 1 invalidate                                                                    | EINVAL entry_num=0     |
      | the VT-d data type             | viommu 1 invalidate cmd="TLBI_NH_ALL" type=VTD_S1                                      | EINVAL entry_num=0     |
      | 8-byte entries (zero-extended) | viommu 1 invalidate cmd="TLBI_NH_ALL" entry_len=8                                      | ok entry_num=1         |
      | 24-byte entries (a zero tail)  | viommu 1 invalidate cmd="TLBI_NH_ALL" entry_len=24                                     | ok entry_num=1         |
      | the nested HWPT                | hwpt 2 invalidate cmd="TLBI_NH_ALL"                                                    | EOPNOTSUPP entry_num=0 |
      | the nest parent                | hwpt 1 invalidate cmd="TLBI_NH_ALL"                                                    | EINVAL entry_num=0     |
      | no such object                 | viommu 9 invalidate cmd="TLBI_NH_ALL"                                                  | ENOENT entry_num=0     |

  Scenario: [3] A stale IOTLB entry serves the old page until the guest's TLBI_NH_VA of its ASID
    The guest remaps VA 0x10_0000 to IPA 0x4000_6000. A TLBI of another ASID leaves the entry;
    one with its ASID removes it, whatever VMID the guest wrote (the vIOMMU's is forced).
    When the device bound to iommufd as device 1 writes "ca fe f0 0d" at IOVA 0x10_0000
    And the VMM runs 'guest page ipa=0x40004000 index=0x100 out=0x40006000'
    Then IOVA 0x10_0000 on stream 0x8 should translate to PA 0x8000_5000
    When the VMM runs 'viommu 1 invalidate cmd="TLBI_NH_VA vmid=7 asid=2 addr=0x100000"'
    Then IOVA 0x10_0000 on stream 0x8 should translate to PA 0x8000_5000
    When the VMM runs 'viommu 1 invalidate cmd="TLBI_NH_VA vmid=7 asid=1 addr=0x100000"'
    Then IOVA 0x10_0000 on stream 0x8 should translate to PA 0x8000_6000

  Scenario: [4] A rewritten CD is read again only after CFGI_CD names the device's vSID
    The guest moves its tables: a new CD with TTB0 = IPA 0x4000_7000, whose tables map VA
    0x10_0000 to IPA 0x4000_8000. The SMMU keeps the CD it read until CFGI_CD; the IOTLB entry
    goes with TLBI_NH_ASID.
    Given the VMM has run:
      """
      guest table ipa=0x40007000 index=0 next=0x40009000          = ok
      guest table ipa=0x40009000 index=0 next=0x4000a000          = ok
      guest page ipa=0x4000a000 index=0x100 out=0x40008000        = ok
      """
    When the device bound to iommufd as device 1 writes "ca fe f0 0d" at IOVA 0x10_0000
    And the VMM runs 'guest cd ipa=0x40001000 asid=1 ttb0=0x40007000 t0sz=25 tg0=4K ips=44'
    And the VMM runs 'viommu 1 invalidate cmd="TLBI_NH_ASID asid=1"'
    Then IOVA 0x10_0000 on stream 0x8 should translate to PA 0x8000_5000
    When the VMM runs 'viommu 1 invalidate cmd="CFGI_CD sid=0x8" cmd="TLBI_NH_ASID asid=1"'
    Then IOVA 0x10_0000 on stream 0x8 should translate to PA 0x8000_8000
