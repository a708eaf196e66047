@since-linux-7.3
Feature: Iommufd4 - A guest's stage 1 over the nest parent, walked from the physical STE
  The physical STE (arm_smmu_make_nested_cd_table_ste over arm_smmu_make_s2_domain_ste) carries
  the guest's S1ContextPtr, an IPA: the SMMU fetches the CD through stage 2, then each of the
  guest's stage-1 tables, each through stage 2 (IHI 0070 3.3.2).

  Background: The worked example, on QEMU 10's SMMUv3 booted with CANWBS
    Host: guest RAM is IOAS 0x4000_0000 + 2M, the VMM's first buffer: RAM starts at PA
    0x8000_0000 and a 2M buffer is 2M-aligned, so IPA 0x4000_0000 + x is PA 0x8000_0000 + x.
    The nest parent's stage 2 (44-bit IPA, 4K: starts at level 0, L0 at 0x1_0000_0000, the first
    page of the table pool) maps it with one 2M block: L0[0] -> L1 0x1_0000_1000, L1[1] -> L2
    0x1_0000_2000, L2[0] = 0x8000_07FD (AF | SH inner | S2AP RW | MemAttr Normal WB | block).
    Guest: its CD at IPA 0x4000_1000 (ASID 1, TTB0 IPA 0x4000_2000, T0SZ 25: 39-bit VA, so the
    walk starts at level 1); VA 0x10_0000: L1[0] = 0x4000_3003, L2[0] = 0x4000_4003 at IPA
    0x4000_3000, L3[0x100] = 0x4000_5F43 at IPA 0x4000_4800 (nG | AF | SH inner | AP EL0 RW |
    page): VA 0x10_0000 -> IPA 0x4000_5000 -> PA 0x8000_5000.
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

  Scenario: [1] The physical STE: the parent's stage 2, Config nested, the guest's CD pointer, MEV
    Word 0 = V | Config 0b111 | S1ContextPtr 0x4000_1000. Word 1 = MEV (bit 19; no ATS, no S2FWB,
    no SHCFG: QEMU has no IDR1.ATTR_TYPES_OVR). Word 2 = S2VMID 1 (the first VMID) | S2T0SZ 20
    [37:32] | S2SL0 0b10 (level 0) [39:38] | S2IR0 = S2OR0 = WBWA [41:40], [43:42] | S2SH0 inner
    [45:44] | S2TG 4K | S2PS 44 bits (0b100) [50:48] | S2AA64 [51] | S2PTW [54] | S2R [58].
    Word 3 = S2TTB 0x1_0000_0000.
    # history: the physical STE of a translating vSTE, word 0 and word 1 => 0x4000_100F, 0x8_0000 (MEV)
    Then the STE of stream 0x8 should be:
      | word | value                 |
      | 0    | 0x0000_0000_4000_100F |
      | 1    | 0x0000_0000_0008_0000 |
      | 2    | 0x044C_3594_0000_0001 |
      | 3    | 0x0000_0001_0000_0000 |
      | 4    | 0x0                   |
      | 5    | 0x0                   |
      | 6    | 0x0                   |
      | 7    | 0x0                   |

  Scenario: [2] The CD is fetched at its IPA through stage 2, from the VMM's buffer
    The guest's CD words: V | EPD1 | T0SZ 25 | IPS 44 bits (4) | AA64 | R | A | ASID 1, and TTB0.
    Then the CD of stream 0x8 should be fetched through stage 2:
      | walk      | level | address       | descriptor            |
      | S2 for CD | 0     | 0x1_0000_0000 | 0x0000_0001_0000_1003 |
      | S2 for CD | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
      | S2 for CD | 2     | 0x1_0000_2000 | 0x0000_0000_8000_07FD |
      | CD        | -     | 0x8000_1000   | -                     |
    And the descriptor at PA 0x8000_1000 should be 0x0001_6204_C000_0019
    And the descriptor at PA 0x8000_1008 should be 0x0000_0000_4000_2000

  Scenario: [3] The whole walk of VA 0x10_0000: 3 stage-1 fetches, each through stage 2, then the IPA
    # history: nested walk of VA 0x10_0000 through iommufd => PA 0x8000_5000, 15 fetches
    Then the walk of IOVA 0x10_0000 on stream 0x8 should read:
      | walk            | level | address       | descriptor            |
      | S2 for S1 table | 0     | 0x1_0000_0000 | 0x0000_0001_0000_1003 |
      | S2 for S1 table | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
      | S2 for S1 table | 2     | 0x1_0000_2000 | 0x0000_0000_8000_07FD |
      | S1              | 1     | 0x8000_2000   | 0x0000_0000_4000_3003 |
      | S2 for S1 table | 0     | 0x1_0000_0000 | 0x0000_0001_0000_1003 |
      | S2 for S1 table | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
      | S2 for S1 table | 2     | 0x1_0000_2000 | 0x0000_0000_8000_07FD |
      | S1              | 2     | 0x8000_3000   | 0x0000_0000_4000_4003 |
      | S2 for S1 table | 0     | 0x1_0000_0000 | 0x0000_0001_0000_1003 |
      | S2 for S1 table | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
      | S2 for S1 table | 2     | 0x1_0000_2000 | 0x0000_0000_8000_07FD |
      | S1              | 3     | 0x8000_4800   | 0x0000_0000_4000_5F43 |
      | S2              | 0     | 0x1_0000_0000 | 0x0000_0001_0000_1003 |
      | S2              | 1     | 0x1_0000_1008 | 0x0000_0001_0000_2003 |
      | S2              | 2     | 0x1_0000_2000 | 0x0000_0000_8000_07FD |
    And IOVA 0x10_0000 on stream 0x8 should translate to PA 0x8000_5000

  Scenario: [4] The device's DMA lands at the PA the walk gives
    When the device bound to iommufd as device 1 writes "ca fe f0 0d" at IOVA 0x10_0010
    Then the DMA should succeed
    And physical memory at PA 0x8000_5010 should hold "ca fe f0 0d"

  Scenario: [5] A guest page outside guest RAM: the host's stage 2 stops the DMA
    The guest points VA 0x10_1000 at IPA 0x5000_0000, which the VMM never mapped: whatever the
    guest writes, the device reaches only what the nest parent maps. IPA 0x5000_0000 shares L0[0]
    and L1[1] with guest RAM; L2[0x80] (IPA[29:21]) is empty: a stage-2 fault at level 2.
    When the VMM runs 'guest page ipa=0x40004000 index=0x101 out=0x50000000'
    And the device bound to iommufd as device 1 writes "ca fe f0 0d" at IOVA 0x10_1000
    Then the DMA should fault
    And IOVA 0x10_1000 on stream 0x8 should take a translation fault at stage 2, level 2
