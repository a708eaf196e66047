/**
 * iommufd's objects and their table (drivers/iommu/iommufd/main.c, iommufd_private.h, Linux 7.1).
 *
 * Every object has an ID from the context's xarray, allocated lowest free from 1
 * (xa_init_flags(..., XA_FLAGS_ALLOC1), xa_alloc), and a `users` count: 1 for the table itself,
 * one more for each object that holds it (a HWPT holds its IOAS, a vIOMMU its parent HWPT, a nested
 * HWPT its vIOMMU or parent, a vDEVICE its vIOMMU, a vEVENTQ its vIOMMU, an attached device its
 * HWPT). IOMMU_DESTROY (iommufd_object_remove) removes an object only when the table holds the
 * last reference (refcount_dec_if_one): EBUSY otherwise; an ID with no object, or a tombstone,
 * is ENOENT. A lookup of the wrong type is ENOENT too (iommufd_get_object).
 *
 * A tombstone (iommufd_object_tombstone_user, 6.17+) keeps a destroyed object's ID reserved:
 * xa_alloc does not hand it out again, and IOMMU_DESTROY of it is ENOENT.
 */
import { fail, ok, type Result } from '../errno'
import type { IommuDomain } from '../iommu/domain'
import type { NestedDomain, ViommuDriver } from './driver'
import type { IommufdDevice } from './device-info'
import type { IoPagetable } from './io-pagetable'
import { IOMMU_VEVENTQ_FLAG_LOST_EVENTS } from './uapi'

export type ObjectType = 'ioas' | 'hwpt_paging' | 'hwpt_nested' | 'device' | 'viommu' | 'vdevice' | 'veventq'

/** The words the kernel's messages use for each type. */
export const OBJECT_TYPE_NAMES: Readonly<Record<ObjectType, string>> = {
  ioas: 'IOAS',
  hwpt_paging: 'paging HWPT',
  hwpt_nested: 'nested HWPT',
  device: 'device',
  viommu: 'vIOMMU',
  vdevice: 'vDEVICE',
  veventq: 'vEVENTQ',
}

abstract class ObjectBase {
  id = 0
  /** refcount users: 1 for the table, +1 for each object holding this one. */
  users = 1
  abstract readonly type: ObjectType
}

/** IOMMUFD_OBJ_IOAS. */
export class Ioas extends ObjectBase {
  readonly type = 'ioas'
  /** ioas->hwpt_list: the paging HWPTs filled from this IOAS. */
  readonly hwpts: HwptPaging[] = []
  constructor(readonly iopt: IoPagetable) {
    super()
  }
}

/** What a device is attached to (the group's hwpt), and the devices attached. */
abstract class HwptBase extends ObjectBase {
  readonly devices = new Set<Idev>()
}

/** IOMMUFD_OBJ_HWPT_PAGING: an iommu paging domain filled from an IOAS. */
export class HwptPaging extends HwptBase {
  readonly type = 'hwpt_paging'
  constructor(
    readonly domain: IommuDomain,
    readonly ioas: Ioas,
    /** IOMMU_HWPT_ALLOC_NEST_PARENT was given. */
    readonly nestParent: boolean,
    /** Made by an attach to the IOAS (iommufd_device_auto_get_domain), not by IOMMU_HWPT_ALLOC. */
    readonly autoDomain: boolean,
    /** The driver of the device it was allocated for (domain->owner). */
    readonly owner: string,
  ) {
    super()
  }
}

/** IOMMUFD_OBJ_HWPT_NESTED: a driver's nested domain over a parent (a paging HWPT, or a vIOMMU's). */
export class HwptNested extends HwptBase {
  readonly type = 'hwpt_nested'
  constructor(
    readonly domain: NestedDomain,
    readonly parent: HwptPaging,
    /** Set when allocated on a vIOMMU (iommufd_viommu_alloc_hwpt_nested). */
    readonly viommu: Viommu | undefined,
  ) {
    super()
  }
}

export type Hwpt = HwptPaging | HwptNested

/** IOMMUFD_OBJ_DEVICE: a device bound to this iommufd (iommufd_device_bind). */
export class Idev extends ObjectBase {
  readonly type = 'device'
  /** The HWPT its group is attached to. */
  attached?: Hwpt
  /** idev->vdev. */
  vdev?: Vdevice
  /** idev->destroying: set once unbinding started (no new vDEVICE). */
  destroying = false
  constructor(readonly dev: IommufdDevice) {
    super()
  }
}

/** IOMMUFD_OBJ_VIOMMU. */
export class Viommu extends ObjectBase {
  readonly type = 'viommu'
  /** viommu->vdevs: virt_id -> vDEVICE. */
  readonly vdevs = new Map<bigint, Vdevice>()
  /** viommu->veventqs. */
  readonly veventqs: Veventq[] = []
  constructor(
    readonly viommuType: number,
    /** The nest-parent HWPT (viommu->hwpt). */
    readonly hwpt: HwptPaging,
    /** viommu->iommu_dev: the physical IOMMU instance of the device the vIOMMU was allocated with (iommufd_viommu_alloc_ioctl), not of its nest parent. */
    readonly iommuDev: object,
  ) {
    super()
  }

  /** viommu->ops and the driver's state, set by the driver's init. */
  ops?: ViommuDriver

  /** iommufd_viommu_get_vdev_id: the virtual ID of `dev` in this vIOMMU. */
  vdevIdOf(dev: IommufdDevice): bigint | undefined {
    for (const [id, v] of this.vdevs) if (v.idev.dev === dev) return id
    return undefined
  }

  /** iommufd_viommu_find_dev: the device whose vDEVICE has `virtId`. */
  findDev(virtId: bigint): IommufdDevice | undefined {
    return this.vdevs.get(virtId)?.idev.dev
  }
}

/** IOMMUFD_OBJ_VDEVICE. */
export class Vdevice extends ObjectBase {
  readonly type = 'vdevice'
  constructor(
    readonly viommu: Viommu,
    readonly idev: Idev,
    readonly virtId: bigint,
  ) {
    super()
  }
}

/** One queued vEVENT: header fields and the driver's data (empty for the lost-events header). */
export interface Vevent {
  readonly flags: number
  /** Set when queued (the lost-events header is queued again with a new one). */
  sequence: number
  readonly data: Uint8Array
}

/** IOMMUFD_OBJ_VEVENTQ. */
export class Veventq extends ObjectBase {
  readonly type = 'veventq'
  /** eventq->deliver: queued records, oldest first; the lost-events header is one of them. */
  readonly deliver: Vevent[] = []
  /** veventq->num_events: queued events, the lost-events header not counted. */
  numEvents = 0
  /** veventq->sequence: the next record's sequence number (0..INT_MAX, then 0). */
  sequence = 0
  /** veventq->lost_events_header: one shared record, queued at the tail when an event is dropped. */
  readonly lostEventsHeader: Vevent = { flags: IOMMU_VEVENTQ_FLAG_LOST_EVENTS, sequence: 0, data: new Uint8Array(0) }
  /** The queue's fd is open: it holds a users reference (eventq.c iommufd_eventq_init). */
  fdOpen = false
  constructor(
    readonly viommu: Viommu,
    readonly veventqType: number,
    readonly depth: number,
  ) {
    super()
  }
}

export type IommufdObject = Ioas | HwptPaging | HwptNested | Idev | Viommu | Vdevice | Veventq

/** A destroyed object whose ID stays reserved (XA_ZERO_ENTRY). */
const TOMBSTONE = Symbol('tombstone')

/** The context's object table: ictx->objects. */
export class ObjectTable {
  private readonly objects = new Map<number, IommufdObject | typeof TOMBSTONE>()

  /** xa_alloc over [1, INT_MAX]: the lowest free ID; the object is visible at once. */
  add<T extends IommufdObject>(obj: T): T {
    let id = 1
    while (this.objects.has(id)) id++
    obj.id = id
    this.objects.set(id, obj)
    return obj
  }

  /** iommufd_get_object: ENOENT for no object, a tombstone, or another type. */
  get(id: number, ...types: ObjectType[]): Result<IommufdObject> {
    const obj = this.objects.get(id)
    if (obj === undefined || obj === TOMBSTONE) return fail('ENOENT', `no object has ID ${id}`)
    if (types.length > 0 && !types.includes(obj.type)) {
      return fail('ENOENT', `ID ${id} is a ${OBJECT_TYPE_NAMES[obj.type]}, not a ${types.map((t) => OBJECT_TYPE_NAMES[t]).join(' or ')}`)
    }
    return ok(obj)
  }

  /**
   * iommufd_object_remove with no object in hand (IOMMU_DESTROY): ENOENT for an empty slot or a
   * tombstone, EBUSY while another object holds it; otherwise the object leaves the table and
   * `destroy` runs (the object's type's destroy: it drops what the object held).
   */
  remove(id: number, destroy: (obj: IommufdObject) => void): Result<void> {
    const obj = this.objects.get(id)
    if (obj === undefined || obj === TOMBSTONE) return fail('ENOENT', `no object has ID ${id}`)
    if (obj.users !== 1) return fail('EBUSY', `the ${OBJECT_TYPE_NAMES[obj.type]} ${id} is in use (${obj.users - 1} reference${obj.users === 2 ? '' : 's'} besides the table)`)
    obj.users = 0
    this.objects.delete(id)
    destroy(obj)
    return ok()
  }

  /** Remove an object the kernel itself destroys; `tombstone` keeps its ID reserved. */
  drop(obj: IommufdObject, tombstone: boolean): void {
    if (this.objects.get(obj.id) !== obj) throw new Error(`object ${obj.id} is not in the table`)
    if (tombstone) this.objects.set(obj.id, TOMBSTONE)
    else this.objects.delete(obj.id)
    obj.users = 0
  }

  /** Every live object, by ID. */
  live(): IommufdObject[] {
    return [...this.objects.values()].filter((o): o is IommufdObject => o !== TOMBSTONE).sort((a, b) => a.id - b.id)
  }

  /** IDs held by tombstones. */
  tombstones(): number[] {
    return [...this.objects.entries()].filter(([, o]) => o === TOMBSTONE).map(([id]) => id)
  }
}
