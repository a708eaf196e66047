@since-linux-7.3
Feature: Iommufd9 - Two SMMUs, two vIOMMUs: each object stays on its own SMMU
  One iommufd may hold devices behind several SMMUs, but every domain and vIOMMU belongs to one.
  arm-smmu-v3 registers an iommu_device per SMMU; iommufd compares the device's with the vIOMMU's
  (viommu.c iommufd_vdevice_alloc_ioctl, hw_pagetable.c iommufd_hwpt_alloc: EINVAL), and the driver
  compares a domain's SMMU with the master's (arm-smmu-v3.c arm_smmu_attach_dev, arm-smmu-v3-iommufd.c
  arm_vsmmu_init, arm_smmu_attach_dev_nested: EINVAL). A vSID indexes its own vIOMMU's xarray, a
  guest's TLBI goes to its vIOMMU's SMMU only, an event to its own vIOMMU's vEVENTQ.
  The machine is QEMU 11.1's virt11-2smmu-nested (docs/real-kernel-two-smmu.md), recorded on 7.3.4.

  Background: Both edus of one iommufd, one IOAS of guest RAM, a nest parent on each SMMU
    Device 1 is edu 00:02.0 behind SMMU 1 (StreamID 0x10), device 2 edu 81:00.0 behind SMMU 2
    (StreamID 0x8100); both SMMUs have both stages and a CANWBS root complex. Object IDs are the
    lowest free (main.c _iommufd_object_alloc). Each guest keeps its own CD and stage-1 tables in
    guest RAM (t0sz 25, 4K): vIOMMU 1's at IPA 0x400_1000 (VA 0x10_0000 -> IPA 0x400_5000),
    vIOMMU 2's at 0x401_1000 (the same VA and ASID -> IPA 0x401_5000).
    Given the machine of fixture "qemu-smmuv3-11.1-pcie0-nested-canwbs"
    And the machine of fixture "qemu-smmuv3-11.1-pxb-nested-canwbs"
    And the VMM has run:
      """
      device 1 bind                                               = ok id=1
      device 2 bind                                               = ok id=2
      ioas 1 alloc                                                = ok id=3
      ioas 1 map iova=0x4000000 size=0x200000 rw                  = ok
      hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT           = ok id=4
      hwpt 2 alloc device=2 pt=ioas:1 flags=NEST_PARENT           = ok id=5
      hwpt 3 alloc device=1 pt=ioas:1                             = ok id=6
      guest cd ipa=0x4001000 asid=1 ttb0=0x4002000 t0sz=25 tg0=4K ips=44 = ok
      guest table ipa=0x4002000 index=0 next=0x4003000            = ok
      guest table ipa=0x4003000 index=0 next=0x4004000            = ok
      guest page ipa=0x4004000 index=0x100 out=0x4005000          = ok
      guest cd ipa=0x4011000 asid=1 ttb0=0x4012000 t0sz=25 tg0=4K ips=44 = ok
      guest table ipa=0x4012000 index=0 next=0x4013000            = ok
      guest table ipa=0x4013000 index=0 next=0x4014000            = ok
      guest page ipa=0x4014000 index=0x100 out=0x4015000          = ok
      """

  Scenario Outline: [1] <call>: <result> (<rule>)
    hwpt 1 is SMMU 1's nest parent, hwpt 2 SMMU 2's, hwpt 3 a stage-1 paging domain of SMMU 1.
    # history: on two SMMUs, <call> => <result>
    When the VMM runs '<call>'
    Then the result should be "<result>"

    Examples: a domain of another SMMU
      | call                                           | result | rule                                                                  |
      | device 2 attach pt=hwpt:1                      | EINVAL | arm_smmu_attach_dev: smmu_domain->smmu != master->smmu                |
      | device 2 attach pt=hwpt:3                      | EINVAL | the same for a stage-1 domain: 7.3.4 shares no domain across SMMUs    |
      | device 1 attach pt=hwpt:2                      | EINVAL | the same, the other way round                                         |
      | device 2 attach pt=hwpt:2                      | ok     | its own SMMU's nest parent, alone: a stage-2 domain                   |

    Examples: a vIOMMU over another SMMU's nest parent
      | call                                           | result   | rule                                                                  |
      | viommu 1 alloc device=2 hwpt=1 type=ARM_SMMUV3 | EINVAL   | arm_vsmmu_init: s2_parent->smmu != the device's SMMU                  |
      | viommu 1 alloc device=1 hwpt=2 type=ARM_SMMUV3 | EINVAL   | the same, the other way round                                         |
      | viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3 | ok id=7  | the device's own SMMU: VMID = hwpt 1's                                |
      | viommu 1 alloc device=2 hwpt=2 type=ARM_SMMUV3 | ok id=7  | one vIOMMU per SMMU is as good as one on the other                    |

  Scenario Outline: [2] With a vIOMMU on each SMMU, <call>: <result> (<rule>)
    # history: on two SMMUs with a vIOMMU each, <call> => <result>
    Given the VMM has run:
      """
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3              = ok id=7
      viommu 2 alloc device=2 hwpt=2 type=ARM_SMMUV3              = ok id=8
      """
    When the VMM runs '<call>'
    Then the result should be "<result>"

    Examples:
      | call                                                                   | result     | rule                                                                     |
      | vdevice 1 alloc viommu=1 device=2 virt_id=0x9                          | EINVAL     | iommufd_vdevice_alloc_ioctl: viommu->iommu_dev is not the device's       |
      | vdevice 1 alloc viommu=2 device=2 virt_id=0x9                          | ok id=9    | its own vIOMMU                                                           |
      | hwpt 4 alloc device=2 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x4001000"   | EINVAL     | iommufd_hwpt_alloc: the same check, before the driver sees the vSTE      |
      | hwpt 4 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x4001000"   | ok id=9    | arm_vsmmu_alloc_domain_nested                                            |
      | hwpt 4 alloc device=2 pt=hwpt:1 vste="v cfg=s1 s1ctxptr=0x4001000"     | EOPNOTSUPP | iommufd_hwpt_nested_alloc: arm-smmu-v3 has no domain_alloc_nested in 7.3 |
      | veventq 2 alloc viommu=2 type=ARM_SMMUV3 depth=16                      | ok id=9    | one vEVENTQ of a type per vIOMMU: vIOMMU 2 has none yet                  |

  Scenario: [3] The same vSID in two vIOMMUs; a vSID means something only in its own
    iommufd_vdevice_alloc_ioctl inserts the vSID into viommu->vdevs, one xarray per vIOMMU: vSID
    0x8 may name device 1 in vIOMMU 1 and device 2 in vIOMMU 2. A guest's CFGI_CD names a vSID of
    its own vIOMMU (arm_vsmmu_vsid_to_sid: none there, EIO), whatever the other vIOMMU holds.
    Given the VMM has run:
      """
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3              = ok id=7
      viommu 2 alloc device=2 hwpt=2 type=ARM_SMMUV3              = ok id=8
      """
    When the VMM runs:
      """
      vdevice 1 alloc viommu=1 device=1 virt_id=0x8               = ok id=9
      vdevice 2 alloc viommu=2 device=2 virt_id=0x8               = ok id=10
      viommu 1 invalidate cmd="CFGI_CD sid=0x8 leaf"              = ok entry_num=1
      viommu 2 invalidate cmd="CFGI_CD sid=0x8 leaf"              = ok entry_num=1
      destroy vdevice 2                                           = ok
      viommu 2 invalidate cmd="CFGI_CD sid=0x8 leaf"              = EIO entry_num=0
      viommu 1 invalidate cmd="CFGI_CD sid=0x8 leaf"              = ok entry_num=1
      vdevice 2 alloc viommu=2 device=2 virt_id=0x9               = ok id=10
      viommu 1 invalidate cmd="CFGI_CD sid=0x9 leaf"              = EIO entry_num=0
      viommu 2 invalidate cmd="CFGI_CD sid=0x9 leaf"              = ok entry_num=1
      """

  Scenario: [4] A nested domain attaches to devices of its vIOMMU's SMMU only; each DMA uses its own guest stage 1
    arm_smmu_attach_dev_nested: nested_domain->vsmmu->smmu != master->smmu -> EINVAL. Attached, each
    SMMU fetches its guest's CD through its own stage 2 and walks that guest's tables: the same VA
    and ASID land at IPA 0x400_5000 for device 1 and 0x401_5000 for device 2.
    Given the VMM has run:
      """
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3              = ok
      viommu 2 alloc device=2 hwpt=2 type=ARM_SMMUV3              = ok
      vdevice 1 alloc viommu=1 device=1 virt_id=0x8               = ok
      vdevice 2 alloc viommu=2 device=2 virt_id=0x9               = ok
      hwpt 4 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x4001000" = ok
      hwpt 5 alloc device=2 pt=viommu:2 vste="v cfg=s1 s1ctxptr=0x4011000" = ok
      """
    When the VMM runs:
      """
      device 2 attach pt=hwpt:4                                   = EINVAL
      device 1 attach pt=hwpt:5                                   = EINVAL
      device 1 attach pt=hwpt:4                                   = ok
      device 2 attach pt=hwpt:5                                   = ok
      device 2 attach pt=hwpt:4                                   = EINVAL
      device 1 dma write iova=0x100000 size=0x10 ipa=0x4005000    = ok
      device 2 dma write iova=0x100000 size=0x10 ipa=0x4015000    = ok
      """

  Scenario: [5] A guest's TLBI reaches its own vIOMMU's SMMU only
    arm_vsmmu_cache_invalidate issues the converted commands on vsmmu->smmu's command queue. Both
    guests remap VA 0x10_0000 (to IPA 0x400_6000 and 0x401_6000); after vIOMMU 1's TLBI_NH_VA,
    SMMU 2 may still use the old translation until vIOMMU 2's guest invalidates it as well. The
    model's IOTLB keeps it, and so did QEMU 11.1's SMMUv3 in the recording (an SMMU may also drop
    a cached entry sooner: there the stale DMA would be misplaced).
    Given the VMM has run:
      """
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3              = ok
      viommu 2 alloc device=2 hwpt=2 type=ARM_SMMUV3              = ok
      vdevice 1 alloc viommu=1 device=1 virt_id=0x8               = ok
      vdevice 2 alloc viommu=2 device=2 virt_id=0x9               = ok
      hwpt 4 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x4001000" = ok
      hwpt 5 alloc device=2 pt=viommu:2 vste="v cfg=s1 s1ctxptr=0x4011000" = ok
      device 1 attach pt=hwpt:4                                   = ok
      device 2 attach pt=hwpt:5                                   = ok
      device 1 dma read iova=0x100000 size=0x10 ipa=0x4005000     = ok
      device 2 dma read iova=0x100000 size=0x10 ipa=0x4015000     = ok
      guest page ipa=0x4004000 index=0x100 out=0x4006000          = ok
      guest page ipa=0x4014000 index=0x100 out=0x4016000          = ok
      """
    When the VMM runs:
      """
      viommu 1 invalidate cmd="TLBI_NH_VA asid=1 addr=0x100000 leaf" = ok entry_num=1
      device 1 dma write iova=0x100000 size=0x10 ipa=0x4006000    = ok
      device 2 dma write iova=0x100000 size=0x10 ipa=0x4015000    = ok
      viommu 2 invalidate cmd="TLBI_NH_VA asid=1 addr=0x100000 leaf" = ok entry_num=1
      device 2 dma write iova=0x100000 size=0x10 ipa=0x4016000    = ok
      """

  Scenario: [6] Each vIOMMU's vEVENTQ gets its own device's stage-1 fault, with its own vSID
    arm_smmu_handle_event passes a master's event to its vmaster's vIOMMU, the StreamID replaced
    by that vIOMMU's vSID (arm_vmaster_report_event); each queue numbers its own records from 0.
    Given the VMM has run:
      """
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3              = ok
      viommu 2 alloc device=2 hwpt=2 type=ARM_SMMUV3              = ok
      vdevice 1 alloc viommu=1 device=1 virt_id=0x8               = ok
      vdevice 2 alloc viommu=2 device=2 virt_id=0x9               = ok
      hwpt 4 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x4001000" = ok
      hwpt 5 alloc device=2 pt=viommu:2 vste="v cfg=s1 s1ctxptr=0x4011000" = ok
      device 1 attach pt=hwpt:4                                   = ok
      device 2 attach pt=hwpt:5                                   = ok
      veventq 1 alloc viommu=1 type=ARM_SMMUV3 depth=16           = ok
      veventq 2 alloc viommu=2 type=ARM_SMMUV3 depth=16           = ok
      """
    When the VMM runs:
      """
      device 1 dma read iova=0x200000 size=0x4                    = fault
      veventq 2 read                                              = empty
      veventq 1 read                                              = F_TRANSLATION seq=0 sid=0x8 rnw=1 s2=0 addr=0x200000
      device 2 dma read iova=0x200000 size=0x4                    = fault
      veventq 1 read                                              = empty
      veventq 2 read                                              = F_TRANSLATION seq=0 sid=0x9 rnw=1 s2=0 addr=0x200000
      """

  Scenario: [7] One SMMU's side is torn down while the other's keeps translating
    IOMMU_DESTROY is EBUSY while an object has users (main.c iommufd_destroy): vIOMMU 1 and hwpt 4
    hold nest parent 1, the vDEVICE and vEVENTQ hold vIOMMU 1, the vEVENTQ's fd holds it; SMMU 2's
    nest parent still holds the IOAS once SMMU 1's side is gone.
    Given the VMM has run:
      """
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3              = ok
      viommu 2 alloc device=2 hwpt=2 type=ARM_SMMUV3              = ok
      vdevice 1 alloc viommu=1 device=1 virt_id=0x8               = ok
      vdevice 2 alloc viommu=2 device=2 virt_id=0x9               = ok
      hwpt 4 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x4001000" = ok
      hwpt 5 alloc device=2 pt=viommu:2 vste="v cfg=s1 s1ctxptr=0x4011000" = ok
      device 1 attach pt=hwpt:4                                   = ok
      device 2 attach pt=hwpt:5                                   = ok
      veventq 1 alloc viommu=1 type=ARM_SMMUV3 depth=16           = ok
      destroy hwpt 3                                              = ok
      """
    When the VMM runs:
      """
      destroy hwpt 1                                              = EBUSY
      destroy viommu 1                                            = EBUSY
      device 1 detach                                             = ok
      destroy hwpt 4                                              = ok
      destroy vdevice 1                                           = ok
      destroy veventq 1                                           = EBUSY
      veventq 1 close                                             = ok
      destroy veventq 1                                           = ok
      destroy viommu 1                                            = ok
      destroy hwpt 1                                              = ok
      destroy ioas 1                                              = EBUSY
      device 2 dma write iova=0x100000 size=0x10 ipa=0x4015000    = ok
      """

  Scenario: [8] Automatic domains: the IOAS gets one per SMMU
    iommufd_device_auto_get_domain tries the IOAS's automatic HWPTs in turn and skips one whose
    attach fails with EINVAL (arm_smmu_attach_dev: another SMMU's domain): device 2 gets a new one.
    So IDs 7 (SMMU 1's) and 8 (SMMU 2's) are taken, and the next object is 9. The transcript
    qemu-virt11-2smmu-nested-iommufd-linux-7.3.vfio (Iommufd8 [2]) runs the whole of this feature
    in one session, and its recording on Linux 7.3.4 agrees with it line by line.
    When the VMM runs:
      """
      device 1 attach pt=ioas:1                                   = ok
      device 2 attach pt=ioas:1                                   = ok
      device 1 dma write iova=0x4005000 size=0x10 ipa=0x4005000   = ok
      device 2 dma write iova=0x4015000 size=0x10 ipa=0x4015000   = ok
      hwpt 9 alloc device=1 pt=ioas:1                             = ok id=9
      """
