@since-linux-7.3
Feature: Iommufd6 - Which events reach the guest's vEVENTQ
  arm_smmu_handle_event passes an event to the vIOMMU (arm_vmaster_report_event) when it is one of
  C_BAD_STE, F_STREAM_DISABLED, C_BAD_SUBSTREAMID, C_BAD_CD, F_TRANSLATION, F_ADDR_SIZE, F_ACCESS,
  F_PERMISSION, not a stall, of a master attached to a nested domain with a vDEVICE (its vmaster),
  and not at stage 2 (event->s2): the whole record, its StreamID replaced by the vSID. Otherwise -
  or when the vIOMMU has no ARM_SMMUV3 vEVENTQ (iommufd_viommu_report_event: EOPNOTSUPP) - the
  host logs it. A full queue drops the event and queues the lost-events header at its tail (once,
  with the latest sequence number; iommufd_vevent_handler); every record takes the next sequence.
  Here the guest's vSID is 0x42, the device's StreamID 0x8.

  Background:
    Given the machine of fixture "qemu-smmuv3-10.0-acpi-canwbs"
    And the VMM has run:
      """
      device 1 bind                                                 = ok
      ioas 1 alloc                                                  = ok
      ioas 1 map iova=0x40000000 size=0x200000 rw                   = ok
      hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT             = ok
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3                = ok
      vdevice 1 alloc viommu=1 device=1 virt_id=0x42                = ok
      guest cd ipa=0x40001000 asid=1 ttb0=0x40002000 t0sz=25 tg0=4K ips=44 = ok
      guest table ipa=0x40002000 index=0 next=0x40003000            = ok
      guest table ipa=0x40003000 index=0 next=0x40004000            = ok
      guest page ipa=0x40004000 index=0x100 out=0x40005000          = ok
      hwpt 2 alloc device=1 pt=viommu:1 vste="v cfg=s1 s1ctxptr=0x40001000" = ok
      device 1 attach pt=hwpt:2                                     = ok
      veventq 1 alloc viommu=1 type=ARM_SMMUV3 depth=2              = ok
      """

  Scenario: [1] A stage-1 translation fault reaches the vEVENTQ with the vSID
    VA 0x20_0000: the guest's L2[1] is empty. A stage-1 fault: S2 = 0, CLASS = IN, InputAddr = VA.
    # history: a stage-1 fault of a nested device => vEVENTQ record with the vSID
    When the device bound to iommufd as device 1 reads 16 bytes at IOVA 0x20_0000
    Then the DMA should fault
    When the VMM runs 'veventq 1 read'
    Then the result should be "F_TRANSLATION seq=0 sid=0x42 ssv=0 rnw=1 s2=0 class=IN addr=0x200000"
    And the host should have logged 0 events

  Scenario: [2] A stage-2 fault stays with the host
    The guest maps VA 0x10_1000 to IPA 0x5000_0000, which the VMM never mapped.
    # history: a stage-2 fault of a nested device => the host's log, not the vEVENTQ
    When the VMM runs 'guest page ipa=0x40004000 index=0x101 out=0x50000000'
    And the device bound to iommufd as device 1 reads 16 bytes at IOVA 0x10_1000
    Then the DMA should fault
    And the host should have logged 1 event
    And the host's last logged event should be F_TRANSLATION for stream 0x8
    When the VMM runs 'veventq 1 read'
    Then the result should be "empty"

  Scenario: [3] Without a vEVENTQ the host logs the guest's fault
    When the VMM runs 'veventq 1 close'
    And the VMM runs 'destroy veventq 1'
    And the device bound to iommufd as device 1 reads 16 bytes at IOVA 0x20_0000
    Then the host should have logged 1 event
    And the host's last logged event should be F_TRANSLATION for stream 0x8

  Scenario: [4] An invalid CD: C_BAD_CD reaches the guest
    The guest writes V = 0 into its CD and invalidates it (CFGI_CD of its vSID).
    When the VMM runs 'guest cd ipa=0x40001000 v=0'
    And the VMM runs 'viommu 1 invalidate cmd="CFGI_CD sid=0x42"'
    And the device bound to iommufd as device 1 reads 16 bytes at IOVA 0x10_0000
    Then the DMA should fault
    When the VMM runs 'veventq 1 read'
    Then the result should be "C_BAD_CD seq=0 sid=0x42"

  Scenario: [5] A full queue: the lost-events header, queued once, with the latest sequence number
    # history: a vEVENTQ of depth 2 after 4 faults => 2 records and LOST_EVENTS
    When the device bound to iommufd as device 1 reads 16 bytes at IOVA 0x20_0000
    And the device bound to iommufd as device 1 reads 16 bytes at IOVA 0x20_0000
    And the device bound to iommufd as device 1 reads 16 bytes at IOVA 0x20_0000
    And the device bound to iommufd as device 1 reads 16 bytes at IOVA 0x20_0000
    And the VMM runs 'veventq 1 read'
    Then the result should be "F_TRANSLATION seq=0 F_TRANSLATION seq=1 LOST_EVENTS seq=3"
    When the device bound to iommufd as device 1 reads 16 bytes at IOVA 0x20_0000
    And the VMM runs 'veventq 1 read'
    Then the result should be "F_TRANSLATION seq=4"

  Scenario: [6] An abort vSTE: the DMA stops, and nothing is reported anywhere
    STE.Config abort terminates transactions without an event (IHI 0070 5.2).
    When the VMM runs 'hwpt 3 alloc device=1 pt=viommu:1 vste="v cfg=abort"'
    And the VMM runs 'device 1 attach pt=hwpt:3'
    And the device bound to iommufd as device 1 reads 16 bytes at IOVA 0x10_0000
    Then the DMA should fault
    And the host should have logged 0 events
    When the VMM runs 'veventq 1 read'
    Then the result should be "empty"
