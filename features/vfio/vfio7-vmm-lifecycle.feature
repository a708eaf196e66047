Feature: Vfio7 - What a real VMM does: probing sizes, holding files, exiting
  A VMM is not a hand-written transcript. It asks VFIO_IOMMU_GET_INFO with the bare struct first
  and again with the size the kernel asked for; it opens the group and the device and holds them;
  and on a normal quit it makes no teardown call at all: the kernel closes its files when the
  process exits. transcripts/recorded/vmm-*.vfio hold what Debian's QEMU 7.2, 10 and 11 really
  sent (`npm run real-kernel -- --vmm all`); the lines are those of docs/transcript-vmm.md.

  Rule: GET_INFO copies the capability chain only when the caller's argsz holds all of it
    vfio_iommu_type1_get_info reads the struct's first 16 bytes (offsetofend(iova_pgsizes)) and
    refuses less (EINVAL). It builds the chain MIGRATION (32 bytes), DMA_AVAIL (12 bytes),
    IOVA_RANGE (16 bytes and 16 a range) after the 24-byte struct; when argsz is smaller than the
    whole it copies none of it, still sets VFIO_IOMMU_INFO_CAPS, and writes the size it needs into
    argsz. From 6.6 ("vfio: align capability structures") vfio_info_cap_add rounds each
    capability up to 8 bytes, so DMA_AVAIL takes 16. Here the container has QEMU's SMMUv3 with two
    IOVA ranges (the MSI window cut out): 24 + 32 + 12 + 48 = 0x74 bytes on 6.1, 24 + 32 + 16 + 48
    = 0x78 from 6.6. The migration capability reports the smallest page size (0x1000) and
    DIRTY_BITMAP_SIZE_MAX, ALIGN(INT_MAX, 64) / 8 = 0x10000000.

    Scenario Outline: [1] <kernel>: the bare struct, one byte short, then the size the kernel asked for
      Given the machine of fixture "qemu-smmuv3-7.2"
      When this transcript is replayed:
        """
        open                                = ok
        group 1 set_container               = ok
        set_iommu TYPE1v2_IOMMU             = ok
        get_info argsz=0x8                  = EINVAL
        get_info argsz=0x10                 = argsz=<need> flags=0x3 pgsizes=0x40201000 caps=none
        get_info argsz=0x18                 = argsz=<need> flags=0x3 caps=none dma_avail=none
        get_info argsz=<short>              = argsz=<need> caps=none migration=none ranges=none
        get_info argsz=<need>               = argsz=<need> flags=0x3 caps=migration,dma_avail,iova_range migration=flags:0x0,pgsizes:0x1000,max_bitmap:0x10000000 dma_avail=65535 ranges=0x0-0x7ffffff,0x8100000-0xffffffffffff
        get_info argsz=0x1000               = argsz=0x1000 caps=migration,dma_avail,iova_range
        """
      Then every line should agree

      @linux-6.1
      Examples: 6.1: capabilities packed
        | kernel    | need | short |
        | linux-6.1 | 0x74 | 0x73  |

      @since-linux-6.12
      Examples: 6.6 and later: each capability 8-byte aligned
        | kernel          | need | short |
        | linux-6.12 on   | 0x78 | 0x77  |

  @since-linux-6.1
  Rule: A group is open once at a time, and its files decide when it leaves the container
    vfio_group_fops_open refuses a second open of a group file (EBUSY). A device file got with
    VFIO_GROUP_GET_DEVICE_FD needs the group in a container whose IOMMU driver is set (EINVAL
    before SET_IOMMU: vfio_group_use_container) and holds the group file: while it is open, the
    group cannot leave its container (container_users counts it: UNSET_CONTAINER is EBUSY) and
    closing the group file releases nothing. When the last file goes, vfio_group_fops_release
    takes the group out of its container; the last group out takes the IOMMU driver and every
    mapping with it (__vfio_group_unset_container).

    Scenario: [2] A second open of a group is refused until the first is closed
      Given the machine of fixture "qemu-smmuv3-7.2"
      When this transcript is replayed:
        """
        group 1 open                        = ok
        group 1 open                        = EBUSY
        group 1 close                       = ok
        group 1 open                        = ok
        """
      Then every line should agree

    Scenario: [3] Closing the last group file takes the container's mappings
      Given the machine of fixture "qemu-smmuv3-7.2"
      When this transcript is replayed:
        """
        open                                = ok
        group 1 set_container               = ok
        set_iommu TYPE1v2_IOMMU             = ok
        map iova=0x100000 size=0x1000 rw    = ok
        group 1 close                       = ok
        get_info                            = EINVAL
        group 1 status                      = viable
        group 1 set_container               = ok
        set_iommu TYPE1v2_IOMMU             = ok
        map iova=0x100000 size=0x1000 rw    = ok
        """
      Then every line should agree

    Scenario: [4] A device file holds its group in the container until it is closed
      Given the machine of fixture "qemu-smmuv3-7.2"
      When this transcript is replayed:
        """
        open                                = ok
        group 1 set_container               = ok
        group 1 get_device                  = EINVAL
        set_iommu TYPE1v2_IOMMU             = ok
        group 1 get_device                  = ok
        group 1 unset_container             = EBUSY
        group 1 close                       = ok
        group 1 open                        = EBUSY
        map iova=0x100000 size=0x1000 rw    = ok
        device 1 close                      = ok
        group 1 status                      = viable
        """
      Then every line should agree

  @since-linux-6.1
  Rule: A VMM that quits makes no teardown call: the kernel closes its files
    On exit the kernel closes every file the process still has; a device file keeps its group file
    until it goes, so the end is the same in any order: the group leaves the container, the last
    group takes the IOMMU driver and the mappings, and the group may be opened again. `exit` says
    that in a transcript.

    Scenario: [5] After the VMM's exit its group is free and a new container maps the same IOVA
      Given the machine of fixture "qemu-smmuv3-7.2"
      When this transcript is replayed:
        """
        group 1 open                        = ok
        group 1 status                      = viable
        open                                = ok
        group 1 set_container               = ok
        set_iommu TYPE1v2_IOMMU             = ok
        map iova=0x40000000 size=0x4000000 rw = ok
        group 1 get_device                  = ok
        exit                                = ok
        group 1 status                      = viable
        open                                = ok
        group 1 set_container               = ok
        set_iommu TYPE1v2_IOMMU             = ok
        map iova=0x40000000 size=0x4000000 rw = ok
        """
      Then every line should agree

  Rule: Device-level calls are kept as the kernel answered them, outside the model
    Region and IRQ information, config space, mmaps, interrupts, resets and feature probes are the
    device's (vfio-pci's and edu's), not the IOMMU's. A `device N` line keeps the call and the
    kernel's answer; the replay counts it and neither agrees nor differs.

    @since-linux-6.1
    Scenario: [6] A device's information and its refused hot reset, counted outside the model
      Given the machine of fixture "qemu-smmuv3-7.2"
      When this transcript is replayed:
        """
        open                                = ok
        group 1 set_container               = ok
        set_iommu TYPE1v2_IOMMU             = ok
        group 1 get_device                  = ok
        device 1 info argsz=0x18            = argsz=0x18 flags=0x2 num_regions=9 num_irqs=5 cap_offset=0x0
        device 1 hot_reset_info argsz=0xc   = ENODEV
        device 1 close                      = ok
        """
      Then line 5 should be outside the model
      And line 6 should be outside the model
      And the summary should be "5 agree, 0 differ, 2 outside the model"
