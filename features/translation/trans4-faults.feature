Feature: Trans4 - Translation faults and how the SMMU reports them
  A walk that cannot finish is a fault, named by its kind, the stage whose walk or check failed,
  and the level of the descriptor that caused it (Arm ARM, VMSAv8-64; docs/facts/smmu-translation.md#faults).
  Checks at a leaf, in order: invalid or reserved -> Translation; AF = 0 -> Access flag (it beats
  Permission); AP / S2AP / APTable deny -> Permission; output address >= 2^(IPS or PS) -> Address
  size. A table address >= 2^IPS is an Address size fault at the table descriptor's level.
  Nested: every stage-1 table address goes through stage 2 first (a read), and a stage-2 fault
  there is reported as a stage-2 fault "on the stage-1 table walk" naming the descriptor's IPA
  (SMMUv3 CLASS = TT, SMMUv2 FSYNR0.PTWF); a stage-2 fault on the final IPA names that IPA (CLASS = IN).

  Background: The machine, and how each fault is worked out
    The machine is Trans3's worked example: guest RAM IPA 0x4000_0000 + 2M read-write (PA
    0x8000_0000), and two more VMM buffers: IPA 0x4020_0000 + 2M read-only (PA 0x8020_0000) and
    IPA 0x4040_0000 + 2M write-only (PA 0x8040_0000). The guest's stage 1 (TTB IPA 0x4000_0000,
    T0SZ 25, IPS 40) maps IOVA 0x8040_3010 through L1 entry IPA 0x4000_0010, L2 entry IPA
    0x4000_1010 and L3 entry IPA 0x4000_2018 to IPA 0x4010_0010. Each scenario overwrites one of
    the guest's descriptors (values below: the good ones are 0x4000_1003, 0x4000_2003 and
    0x4010_0F47; 0x400 is AF, 0x80 AP[2] read-only, 0x40 AP[1] unprivileged, bit 62 APTable[1]
    no-write, and IPS 40 puts the first out-of-range address at 0x100_0000_0000).

    Stage-2 levels: IPA 0x5000_0000 has L0 index 0 and L1 index 1 (present) but L2 index
    0x280 & 0x1ff = 0x80 (empty): level 2. IPA 0x8000_0000 has L1 index 2 (empty): level 1.
    IPA 0x80_0000_0000 has L0 index 1 (empty): level 0. A descriptor's IPA is its table's IPA +
    8 * index: the L3 entry of a table at IPA 0x5000_0000 is at 0x5000_0018, the L2 entry at
    0x5000_0010.

    External aborts on a descriptor fetch (F_WALK_EABT, FSR.EF) need a table address with nothing
    behind it; the simulated machine has no holes below 2^48 and every table address beyond the
    IPS/PS is an Address size fault first, so no scenario here reaches one (the unit tests do,
    with a memory hole).

  Rule: SMMUv2 (synthetic-nested): the fault, and the guest stage-1 bank's fault registers
    SMMUv1/v2 records a fault in the context bank that translated: CB_FSR (TF 0x2, AFF 0x4, PF
    0x8, ASF 0x80), CB_FSYNR0 (PLVL = level, WNR = write, PTWF = a stage-2 fault on a stage-1
    table walk) and CB_FAR = the IOVA.

    Background:
      Given an SMMU from fixture "synthetic-nested" with VFIO group 0 at stream 0x10
      And group 0 is in the container
      And the container is set to VFIO_TYPE1_NESTING_IOMMU
      And the VMM has mapped iova 0x4000_0000 size 0x20_0000 read-write
      And the VMM has mapped iova 0x4020_0000 size 0x20_0000 read-only
      And the VMM has mapped iova 0x4040_0000 size 0x20_0000 write-only
      And the guest of stream 0x10 has written 0x0000_0000_4000_1003 at IPA 0x4000_0010
      And the guest of stream 0x10 has written 0x0000_0000_4000_2003 at IPA 0x4000_1010
      And the guest of stream 0x10 has written 0x0000_0000_4010_0F47 at IPA 0x4000_2018
      And the guest of stream 0x10 has installed stage 1 with TTB 0x4000_0000, T0SZ 25, granule 4K, IPS 40 bits, ASID 1

    Scenario Outline: [1] <case>: <kind> fault at stage <stage>, level <level>
      When the guest of stream 0x10 writes <descriptor> at IPA <entry>
      And the device at stream 0x10 <op> 4 bytes at IOVA 0x8040_3010
      Then the DMA should take a <kind> fault at stage <stage>, level <level>
      And the fault should be:
        | S1 table walk | <on table walk> |
        | IOVA          | 0x8040_3010     |
        | IPA           | <ipa>           |

      @until-linux-6.12
      Examples: stage 1 (the guest's tables)
        | case                                        | entry       | descriptor            | op     | kind         | stage | level | on table walk | ipa  |
        | L1 entry invalid                            | 0x4000_0010 | 0x0                   | reads  | translation  | 1     | 1     | no            | none |
        | L3 entry invalid                            | 0x4000_2018 | 0x0                   | reads  | translation  | 1     | 3     | no            | none |
        | L3 entry of type 0b01 (reserved at level 3) | 0x4000_2018 | 0x0000_0000_4010_0F45 | reads  | translation  | 1     | 3     | no            | none |
        | L3 page without AF                          | 0x4000_2018 | 0x0000_0000_4010_0B47 | reads  | access flag  | 1     | 3     | no            | none |
        | read-only L3 page without AF, written       | 0x4000_2018 | 0x0000_0000_4010_0BC7 | writes | access flag  | 1     | 3     | no            | none |
        | read-only L3 page, written                  | 0x4000_2018 | 0x0000_0000_4010_0FC7 | writes | permission   | 1     | 3     | no            | none |
        | privileged-only L3 page, device read        | 0x4000_2018 | 0x0000_0000_4010_0F07 | reads  | permission   | 1     | 3     | no            | none |
        | L2 table with APTable[1], written           | 0x4000_1010 | 0x4000_0000_4000_2003 | writes | permission   | 1     | 3     | no            | none |
        | L3 page beyond IPS 40                       | 0x4000_2018 | 0x0000_0100_0000_0F47 | reads  | address size | 1     | 3     | no            | none |
        | L2 table address beyond IPS 40              | 0x4000_1010 | 0x0000_0100_0000_0003 | reads  | address size | 1     | 2     | no            | none |

      @until-linux-6.12
      Examples: stage 2 (the host's tables), on the final IPA or on a stage-1 table address
        | case                                   | entry       | descriptor            | op     | kind        | stage | level | on table walk | ipa            |
        | page at an IPA the host did not map    | 0x4000_2018 | 0x0000_0000_5000_0F47 | reads  | translation | 2     | 2     | no            | 0x5000_0010    |
        | page under an empty stage-2 L1 entry   | 0x4000_2018 | 0x0000_0000_8000_0F47 | reads  | translation | 2     | 1     | no            | 0x8000_0010    |
        | page under an empty stage-2 L0 entry   | 0x4000_2018 | 0x0000_0080_0000_0F47 | reads  | translation | 2     | 0     | no            | 0x80_0000_0010 |
        | page in read-only guest RAM, written   | 0x4000_2018 | 0x0000_0000_4020_0F47 | writes | permission  | 2     | 2     | no            | 0x4020_0010    |
        | L3 table at an IPA the host did not map | 0x4000_1010 | 0x0000_0000_5000_0003 | reads  | translation | 2     | 2     | yes           | 0x5000_0018    |
        | L2 table at an IPA the host did not map | 0x4000_0010 | 0x0000_0000_5000_0003 | reads  | translation | 2     | 2     | yes           | 0x5000_0010    |
        | L3 table in write-only guest RAM       | 0x4000_1010 | 0x0000_0000_4040_0003 | reads  | permission  | 2     | 2     | yes           | 0x4040_0018    |

    @until-linux-6.12
    Scenario: [2] A read-only stage-2 page: the guest's stage 1 allows the write, stage 2 refuses it; reads go through
      When the guest of stream 0x10 writes 0x0000_0000_4020_0F47 at IPA 0x4000_2018
      And the device at stream 0x10 reads 4 bytes at IOVA 0x8040_3010
      Then the DMA should have reached PA 0x8020_0010
      When the device at stream 0x10 writes 4 bytes at IOVA 0x8040_3010
      Then the DMA should take a permission fault at stage 2, level 2

    Scenario Outline: [3] <case>: bank 2 (the guest's stage-1 bank) holds CB_FSR <fsr>, PLVL <plvl>, WNR <wnr>, PTWF <ptwf>
      When the guest of stream 0x10 writes <descriptor> at IPA <entry>
      And the device at stream 0x10 <op> 4 bytes at IOVA 0x8040_3010
      Then context bank 2 should hold the fault:
        | CB_FSR         | <fsr>       |
        | CB_FSYNR0.PLVL | <plvl>      |
        | CB_FSYNR0.WNR  | <wnr>       |
        | CB_FSYNR0.PTWF | <ptwf>      |
        | CB_FAR         | 0x8040_3010 |

      @until-linux-6.12
      Examples:
        | case                            | entry       | descriptor            | op     | fsr      | plvl | wnr | ptwf |
        | stage-1 translation             | 0x4000_2018 | 0x0                   | reads  | 0x2 TF   | 3    | 0   | 0    |
        | stage-1 access flag             | 0x4000_2018 | 0x0000_0000_4010_0B47 | reads  | 0x4 AFF  | 3    | 0   | 0    |
        | stage-1 permission              | 0x4000_2018 | 0x0000_0000_4010_0FC7 | writes | 0x8 PF   | 3    | 1   | 0    |
        | stage-1 address size            | 0x4000_1010 | 0x0000_0100_0000_0003 | reads  | 0x80 ASF | 2    | 0   | 0    |
        | stage 2 on the final IPA        | 0x4000_2018 | 0x0000_0000_5000_0F47 | reads  | 0x2 TF   | 2    | 0   | 0    |
        | stage 2 on a stage-1 table walk | 0x4000_1010 | 0x0000_0000_5000_0003 | reads  | 0x2 TF   | 2    | 0   | 1    |

  Rule: SMMUv3 (synthetic-smmuv3-nested, Linux 6.1): the fault, and the event record
    SMMUv3 queues an event record: ID 0x10 F_TRANSLATION, 0x11 F_ADDR_SIZE, 0x12 F_ACCESS, 0x13
    F_PERMISSION; RnW (1 = read); S2 (1 = stage-2 fault); CLASS (IHI 0070 7.3.13: IN for every
    stage-1 fault, TT or IN for these stage-2 ones); InputAddr = the IOVA; IPA = the faulting
    IPA's bits [51:12] (stage-2 faults only).

    Background:
      Given an SMMU from fixture "synthetic-smmuv3-nested" with VFIO group 0 at stream 0x10
      And group 0 is in the container
      And the container is set to VFIO_TYPE1_NESTING_IOMMU
      And the VMM has mapped iova 0x4000_0000 size 0x20_0000 read-write
      And the VMM has mapped iova 0x4020_0000 size 0x20_0000 read-only
      And the VMM has mapped iova 0x4040_0000 size 0x20_0000 write-only
      And the guest of stream 0x10 has written 0x0000_0000_4000_1003 at IPA 0x4000_0010
      And the guest of stream 0x10 has written 0x0000_0000_4000_2003 at IPA 0x4000_1010
      And the guest of stream 0x10 has written 0x0000_0000_4010_0F47 at IPA 0x4000_2018
      And the guest of stream 0x10 has installed stage 1 with TTB 0x4000_0000, T0SZ 25, granule 4K, IPS 40 bits, ASID 1, its CD at IPA 0x4000_3000

    Scenario Outline: [4] <case>: event <event>, S2 <s2>, CLASS <class>
      The host's stage 2 has IAS 44 here (L0 with 32 entries); the indices and levels of these
      IPAs are the same as with 48 bits. The IPA field keeps bits [51:12]: 0x5000_0018 is recorded
      as 0x5000_0000.
      When the guest of stream 0x10 writes <descriptor> at IPA <entry>
      And the device at stream 0x10 <op> 4 bytes at IOVA 0x8040_3010
      Then the DMA should take a <kind> fault at stage <stage>, level <level>
      And the SMMU should have queued 1 event
      And the last event should be:
        | event     | <event>     |
        | StreamID  | 0x10        |
        | RnW       | <rnw>       |
        | S2        | <s2>        |
        | CLASS     | <class>     |
        | InputAddr | 0x8040_3010 |
        | IPA       | <ipa>       |

      @linux-6.1
      Examples:
        | case                                 | entry       | descriptor            | op     | kind         | stage | level | event              | rnw | s2 | class | ipa         |
        | stage-1 translation                  | 0x4000_2018 | 0x0                   | reads  | translation  | 1     | 3     | 0x10 F_TRANSLATION | 1   | 0  | IN    | none        |
        | stage-1 address size                 | 0x4000_2018 | 0x0000_0100_0000_0F47 | reads  | address size | 1     | 3     | 0x11 F_ADDR_SIZE   | 1   | 0  | IN    | none        |
        | stage-1 access flag                  | 0x4000_2018 | 0x0000_0000_4010_0B47 | reads  | access flag  | 1     | 3     | 0x12 F_ACCESS      | 1   | 0  | IN    | none        |
        | stage-1 permission                   | 0x4000_2018 | 0x0000_0000_4010_0FC7 | writes | permission   | 1     | 3     | 0x13 F_PERMISSION  | 0   | 0  | IN    | none        |
        | stage 2 on the final IPA             | 0x4000_2018 | 0x0000_0000_5000_0F47 | reads  | translation  | 2     | 2     | 0x10 F_TRANSLATION | 1   | 1  | IN    | 0x5000_0000 |
        | stage 2 on a stage-1 table walk      | 0x4000_1010 | 0x0000_0000_5000_0003 | reads  | translation  | 2     | 2     | 0x10 F_TRANSLATION | 1   | 1  | TT    | 0x5000_0000 |
        | stage-2 permission on the final IPA  | 0x4000_2018 | 0x0000_0000_4020_0F47 | writes | permission   | 2     | 2     | 0x13 F_PERMISSION  | 0   | 1  | IN    | 0x4020_0000 |
        | stage-2 permission on a table fetch  | 0x4000_1010 | 0x0000_0000_4040_0003 | reads  | permission   | 2     | 2     | 0x13 F_PERMISSION  | 1   | 1  | TT    | 0x4040_0000 |

    Scenario Outline: [5] The record's four words for <case>
      dw0 = event ID | StreamID << 32: 0x10 | 0x10 << 32 = 0x0000_0010_0000_0010 (0x13 ... 0013).
      dw1 = RnW << 35 | S2 << 39 | CLASS << 40: a read, stage 2, CLASS TT (1) =
      0x8_0000_0000 + 0x80_0000_0000 + 0x100_0000_0000 = 0x0000_0188_0000_0000; a stage-1 write:
      RnW 0, S2 0, CLASS IN (2), since IHI 0070 7.3.13 (F_TRANSLATION, to which F_PERMISSION 7.3.16
      refers) gives a stage-1 fault CLASS == IN: 2 << 40 = 0x0000_0200_0000_0000.
      dw2 = InputAddr; dw3 = IPA bits [51:12] (0 for a stage-1 fault: its IPA is UNKNOWN).
      When the guest of stream 0x10 writes <descriptor> at IPA <entry>
      And the device at stream 0x10 <op> 4 bytes at IOVA 0x8040_3010
      Then the last event record should be <dw0>, <dw1>, 0x0000_0000_8040_3010, <dw3>

      @linux-6.1
      Examples:
        | case                                             | entry       | descriptor            | op     | dw0                   | dw1                   | dw3                   |
        | a read faulting at stage 2 on a stage-1 table    | 0x4000_1010 | 0x0000_0000_5000_0003 | reads  | 0x0000_0010_0000_0010 | 0x0000_0188_0000_0000 | 0x0000_0000_5000_0000 |
        | a write to a read-only stage-1 page              | 0x4000_2018 | 0x0000_0000_4010_0FC7 | writes | 0x0000_0010_0000_0013 | 0x0000_0200_0000_0000 | 0x0                   |

    @linux-6.1
    Scenario: [6] One event per faulting transaction; a transaction that translates queues none
      When the device at stream 0x10 reads 4 bytes at IOVA 0x8040_3010
      Then the DMA should succeed
      And the SMMU should have queued 0 events
      When the device at stream 0x10 reads 4 bytes at IOVA 0x8040_4010
      And the device at stream 0x10 writes 4 bytes at IOVA 0x8040_5010
      Then the SMMU should have queued 2 events

    @linux-6.1
    Scenario: [7] The guest's CD at an IPA stage 2 maps write-only: the CD fetch is a read, stage 2 refuses it
      With both stages on, STE.S1ContextPtr is an IPA and the CD is fetched through stage 2. The
      guest wrote its CD at IPA 0x4040_0000 (the write-only buffer, level-2 block); the SMMU's
      read of it is a stage-2 permission fault. IHI 0070 7.3.13 (to which F_PERMISSION, 7.3.16,
      refers): S2 = 1, CLASS = CD, IPA = the CD's address; RnW is the incoming transaction's
      (7.3): this DMA is a write, so 0, though the SMMU was reading the CD.
      dw0 = 0x13 | 0x10 << 32; dw1 = S2 << 39 = 0x0000_0080_0000_0000 (CLASS CD = 0).
      When the guest of stream 0x10 installs stage 1 with TTB 0x4000_0000, T0SZ 25, granule 4K, IPS 40 bits, ASID 1, its CD at IPA 0x4040_0000
      And the device at stream 0x10 writes 4 bytes at IOVA 0x8040_3010
      Then the DMA should take a permission fault at stage 2, level 2
      And the SMMU should have queued 1 event
      And the last event should be:
        | event     | 0x13 F_PERMISSION |
        | StreamID  | 0x10              |
        | RnW       | 0                 |
        | S2        | 1                 |
        | CLASS     | CD                |
        | InputAddr | 0x8040_3010       |
        | IPA       | 0x4040_0000       |
      And the last event record should be 0x0000_0010_0000_0013, 0x0000_0080_0000_0000, 0x0000_0000_8040_3010, 0x0000_0000_4040_0000
