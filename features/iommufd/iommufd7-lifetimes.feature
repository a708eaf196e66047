@since-linux-7.3
Feature: Iommufd7 - Object IDs and lifetimes
  Object IDs come from one xarray per iommufd, lowest free from 1 (XA_FLAGS_ALLOC1); a failed
  call takes none. IOMMU_DESTROY (iommufd_object_remove) removes an object only when nothing
  else holds it: a HWPT holds its IOAS, a vIOMMU its nest parent, a nested HWPT, a vDEVICE and a
  vEVENTQ their vIOMMU, an attached device its HWPT, an open fd its vEVENTQ; VFIO holds the device
  until its file is closed. Otherwise EBUSY; an ID with no object is ENOENT. Closing the device destroys its
  vDEVICE and leaves the ID a tombstone (iommufd_device_remove_vdev): ENOENT, never reused.
  The IOAS's mappings (io_pagetable.c): aligned only to what its domains need; an unmap must
  cover whole mappings, and when one reaches outside the range the ones before it are gone
  already when the call fails (iopt_unmap_iova_range).

  Background:
    Given the machine of fixture "qemu-smmuv3-10.0-acpi-canwbs"

  Scenario: [1] Destroy in the right order: every holder first
    When the VMM runs:
      """
      device 1 bind                                      = ok id=1
      ioas 1 alloc                                       = ok id=2
      ioas 1 map iova=0x40000000 size=0x200000 rw        = ok
      hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT  = ok id=3
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3     = ok id=4
      vdevice 1 alloc viommu=1 device=1 virt_id=0x8      = ok id=5
      hwpt 2 alloc device=1 pt=viommu:1 vste="v cfg=bypass" = ok id=6
      veventq 1 alloc viommu=1 type=ARM_SMMUV3 depth=4   = ok id=7
      device 1 attach pt=hwpt:2                          = ok
      destroy ioas 1                                     = EBUSY
      destroy hwpt 1                                     = EBUSY
      destroy viommu 1                                   = EBUSY
      destroy hwpt 2                                     = EBUSY
      destroy id=1                                       = EBUSY
      device 1 detach                                    = ok
      destroy hwpt 2                                     = ok
      destroy veventq 1                                  = EBUSY
      veventq 1 close                                    = ok
      destroy veventq 1                                  = ok
      destroy viommu 1                                   = EBUSY
      destroy vdevice 1                                  = ok
      destroy viommu 1                                   = ok
      destroy hwpt 1                                     = ok
      destroy ioas 1                                     = ok
      destroy ioas 1                                     = ENOENT
      """

  Scenario: [2] A failed call takes no ID; a freed ID is the next one handed out
    When the VMM runs:
      """
      device 1 bind                                      = ok id=1
      ioas 1 alloc                                       = ok id=2
      hwpt 1 alloc device=1 pt=ioas:1 flags=PASID|NEST_PARENT = EOPNOTSUPP
      ioas 2 alloc                                       = ok id=3
      destroy ioas 1                                     = ok
      ioas 3 alloc                                       = ok id=2
      """

  Scenario: [3] Closing the device: its vDEVICE goes and its ID stays a tombstone
    # history: IOMMU_DESTROY of a vDEVICE whose device was closed => ENOENT (tombstone)
    When the VMM runs:
      """
      device 1 bind                                      = ok id=1
      ioas 1 alloc                                       = ok id=2
      hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT  = ok id=3
      viommu 1 alloc device=1 hwpt=1 type=ARM_SMMUV3     = ok id=4
      vdevice 1 alloc viommu=1 device=1 virt_id=0x8      = ok id=5
      destroy viommu 1                                   = EBUSY
      device 1 close                                     = ok
      destroy vdevice 1                                  = ENOENT
      destroy viommu 1                                   = ok
      ioas 2 alloc                                       = ok id=1
      ioas 3 alloc                                       = ok id=4
      ioas 4 alloc                                       = ok id=6
      """

  Scenario: [4] An attach to an IOAS makes an automatic HWPT, which goes when the device leaves it
    When the VMM runs:
      """
      device 1 bind                                      = ok id=1
      ioas 1 alloc                                       = ok id=2
      device 1 attach pt=ioas:1                          = ok
      destroy ioas 1                                     = EBUSY
      destroy id=3                                       = EBUSY
      device 1 detach                                    = ok
      destroy id=3                                       = ENOENT
      destroy ioas 1                                     = ok
      """

  Scenario: [5] An unmap that cuts a mapping fails, after removing the whole ones before it
    # history: IOMMU_IOAS_UNMAP across two whole mappings and part of a third => ENOENT, the first two gone
    When the VMM runs:
      """
      ioas 1 alloc                                       = ok
      ioas 1 map iova=0x40000000 size=0x1000 rw          = ok
      ioas 1 map iova=0x40001000 size=0x1000 rw          = ok
      ioas 1 map iova=0x40002000 size=0x2000 rw          = ok
      ioas 1 unmap iova=0x40000000 size=0x3000           = ENOENT
      ioas 1 map iova=0x40000000 size=0x2000 rw          = ok
      ioas 1 unmap iova=0x40002000 size=0x2000           = ok unmapped=0x2000
      ioas 1 unmap all                                   = ok unmapped=0x2000
      ioas 1 unmap all                                   = ok unmapped=0
      ioas 1 unmap iova=0x40000000 size=0x1000           = ENOENT
      """

  Scenario: [6] An IOAS without a domain maps at any byte; a domain then needs its page size
    iopt_init_table starts the IOVA alignment at 1; iopt_table_add_domain raises it to the domain's
    smallest page and refuses an existing mapping that does not fit (EADDRINUSE).
    When the VMM runs:
      """
      device 1 bind                                      = ok
      ioas 1 alloc                                       = ok
      ioas 1 map iova=0x40000800 size=0x800 rw           = ok
      hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT  = EADDRINUSE
      ioas 1 unmap all                                   = ok unmapped=0x800
      hwpt 1 alloc device=1 pt=ioas:1 flags=NEST_PARENT  = ok
      ioas 1 map iova=0x40000800 size=0x800 rw           = EINVAL
      ioas 1 map iova=0x8000000 size=0x1000 rw           = ok
      device 1 attach pt=hwpt:1                          = EADDRINUSE
      """
