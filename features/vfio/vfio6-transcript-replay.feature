Feature: Vfio6 - Replaying a VMM's transcript
  A VMM developer writes down what their VMM asked VFIO and what it got back, one call per line,
  and replays it against a behaviour profile (a kernel) and a machine fixture:

    npx smmu-nesting-tck replay --profile linux-6.1 --fixture qemu-smmuv3-7.2 vmm.vfio

  Each line is `<call> = <observed result>` (grammar: docs/transcripts.md). The replay keeps the
  container's state from line to line, so the same call may rightly expect different answers at
  different points, and says for every line whether the model agrees; a line that differs shows
  the model's answer, a line that cannot be replayed is an error, and either makes the run fail.
  transcripts/ holds worked examples, every expected result explained from the kernel source.

  @linux-6.1
  Scenario: [1] On QEMU's stage-1-only SMMUv3, a nesting container is granted without a word
    The VMM asks for TYPE1_NESTING and gets it: arm-smmu-v3 accepts iommu_enable_nesting on the
    unattached domain, then finalises it as stage 1 because the SMMU has no stage 2. The same
    CHECK_EXTENSION line answers differently before and after SET_IOMMU.
    Given the machine of fixture "qemu-smmuv3-7.2"
    When this transcript is replayed:
      """
      open                                = ok
      check_extension TYPE1_NESTING       = 1
      check_extension UPDATE_VADDR        = 0      # no IOMMU driver yet
      group 1 set_container               = ok
      set_iommu TYPE1_NESTING             = ok     # stage 1 in fact; nothing says so
      check_extension TYPE1_NESTING       = 1
      check_extension UPDATE_VADDR        = 1
      get_info                            = pgsizes=0x40201000 ranges=0x0-0x7ffffff,0x8100000-0xffffffffffff
      map iova=0x100000 size=0x4000 rw    = ok
      dma read iova=0x100000 size=0x40    = ok
      """
    Then every line should agree
    And the summary should be "10 agree, 0 differ"

  Scenario Outline: [2] A session recorded on Linux 6.1 with VT-d, replayed on <kernel>
    On Linux 6.1 intel-iommu has no enable_nesting, so SET_IOMMU(nesting) fails with EINVAL and
    the VMM falls back to TYPE1v2. The same text against the other kernels: the RFC ignores the
    failed DOMAIN_ATTR_NESTING and attaches anyway (so the fallback finds the IOMMU already set,
    and the per-domain CHECK_EXTENSION reads 0). The review's ask answers CHECK_EXTENSION by
    probing the bus's IOMMU driver, which cannot nest, so it says 0 - and SET_IOMMU only tries
    drivers that answer CHECK_EXTENSION > 0: no driver, ENODEV. Linux as merged fails the attach
    with set_attr's EINVAL. TYPE1_NESTING is 5 in the RFC's uapi and 6 in the others: the replay
    resolves the name per kernel.
    On 7.3 the name TYPE1_NESTING still replays: it means the value 6 it always had, now
    __VFIO_RESERVED_TYPE1_NESTING_IOMMU (commit 35890f85573c), and the kernel answers for 6.
    # history: a session recorded on Linux 6.1 with VT-d, lines 3 / 4 / 5 => <line 3> / <line 4> / <line 5>
    Given the machine of fixture "qemu-q35-intel-iommu-7.2"
    When this transcript is replayed:
      """
      open                                = ok
      group 1 set_container               = ok
      set_iommu TYPE1_NESTING             = EINVAL
      set_iommu TYPE1v2_IOMMU             = ok
      check_extension TYPE1_NESTING       = 1
      """
    Then lines 1 to 2 should agree
    And line 3 should <line 3>
    And line 4 should <line 4>
    And line 5 should <line 5>

    @rfc-v2
    Examples: the RFC as posted
      | kernel | line 3             | line 4                 | line 5            |
      | rfc-v2 | differ (model: ok) | differ (model: EINVAL) | differ (model: 0) |

    @enforcing
    Examples: the review's ask
      | kernel    | line 3                 | line 4 | line 5            |
      | enforcing | differ (model: ENODEV) | agree  | differ (model: 0) |

    @merged
    Examples: Linux as merged
      | kernel | line 3 | line 4 | line 5 |
      | merged | agree  | agree  | agree  |

    @since-linux-6.1 @until-linux-6.12
    Examples: Linux 6.1 and 6.12 (intel-iommu has no enable_nesting op)
      | kernel                  | line 3 | line 4 | line 5 |
      | linux-6.1 to linux-6.12 | agree  | agree  | agree  |

    # 6.13+: the name still means 6 (__VFIO_RESERVED_TYPE1_NESTING_IOMMU), which no driver claims.
    @since-linux-7.3
    Examples: Linux 7.3 (VFIO_TYPE1_NESTING_IOMMU removed in 6.13)
      | kernel              | line 3                 | line 4 | line 5            |
      | linux-7.3 and later | differ (model: ENODEV) | agree  | differ (model: 0) |

  @since-linux-6.1 @until-linux-6.12
  Scenario: [3] A verdict for every line: agree, differ (with the model's answer) or error
    Comments and blank lines are not calls and get no verdict. A line that does not parse is an
    error and is not replayed; the lines after it still are.
    Given the machine of fixture "qemu-q35-intel-iommu-7.2"
    When this transcript is replayed:
      """
      # what the VMM hoped for on VT-d
      open                                = ok
      group 1 set_container               = ok
      set_iommu TYPE1_NESTING             = ok

      set_iommu TYPE1v2_IOMMU             = ok
      map iova=0x100000 size=0x1000       = ok     # no r, w, rw or flags=
      map iova=0x100000 size=0x1000 r     = ok
      dma write iova=0x100000 size=0x40   = ok     # the page is read-only
      """
    Then the replay should report:
      | line | verdict | detail           |
      | 2    | agree   |                  |
      | 3    | agree   |                  |
      | 4    | differ  | EINVAL           |
      | 6    | agree   |                  |
      | 7    | error   | MISSING_ARGUMENT |
      | 8    | agree   |                  |
      | 9    | differ  | fault            |
    And the summary should be "4 agree, 3 differ"

  Scenario Outline: [4] The shipped example <transcript> agrees with the model, line by line
    Given the machine of fixture "<fixture>"
    When the transcript file "transcripts/<transcript>" is replayed
    Then every line should agree

    @linux-6.1
    Examples:
      | transcript                               | fixture                  |
      | qemu-virt-smmuv3-linux-6.1.vfio          | qemu-smmuv3-7.2          |
      | qemu-q35-intel-iommu-linux-6.1.vfio      | qemu-q35-intel-iommu-7.2 |
      | qemu-virt10-smmuv3-linux-6.1.vfio        | qemu-smmuv3-10.0         |

    @linux-6.12
    Examples:
      | transcript                                 | fixture                      |
      | qemu-virt-smmuv3-linux-6.12.vfio           | qemu-smmuv3-7.2              |
      | qemu-virt10-9.1-s2-smmuv3-linux-6.12.vfio  | qemu-smmuv3-10.0-virt-9.1-s2 |

    @linux-7.3
    Examples:
      | transcript                                 | fixture                      |
      | qemu-virt-smmuv3-linux-7.3.vfio            | qemu-smmuv3-7.2              |
      | qemu-virt10-9.1-s2-smmuv3-linux-7.3.vfio   | qemu-smmuv3-10.0-virt-9.1-s2 |
      | qemu-q35-intel-iommu-linux-7.3.vfio        | qemu-q35-intel-iommu-7.2     |

  @since-linux-7.3
  Scenario: [5] 7.3: a transcript may name the nesting type by its old name, its reserved name or 6
    6.13 renamed VFIO_TYPE1_NESTING_IOMMU to __VFIO_RESERVED_TYPE1_NESTING_IOMMU and kept the value
    (commit 35890f85573c), so a VMM built against older headers still sends 6. The replay reads all
    three spellings as 6; the kernel's answer is the same for each: CHECK_EXTENSION 0, and with a
    group in the container SET_IOMMU finds no driver (ENODEV), after which TYPE1v2 works.
    Given the machine of fixture "qemu-smmuv3-10.0"
    When this transcript is replayed:
      """
      open                                         = ok
      check_extension TYPE1_NESTING_IOMMU          = 0
      check_extension __VFIO_RESERVED_TYPE1_NESTING_IOMMU = 0
      check_extension 6                            = 0
      group 1 set_container                        = ok
      set_iommu VFIO_TYPE1_NESTING_IOMMU           = ENODEV
      set_iommu __VFIO_RESERVED_TYPE1_NESTING_IOMMU = ENODEV
      set_iommu 6                                  = ENODEV
      set_iommu TYPE1v2_IOMMU                      = ok
      """
    Then every line should agree
    And the summary should be "9 agree, 0 differ"

