/**
 * How each kind of translation fault is reported, on each architecture: the SMMUv3 event (Arm
 * IHI 0070 7.3.12 F_WALK_EABT, 7.3.13-7.3.16 F_TRANSLATION, F_ADDR_SIZE, F_ACCESS, F_PERMISSION;
 * the IDs in Linux's arm-smmu-v3.h EVT_ID_*) and the SMMUv1/v2 CB_FSR bit (Linux arm-smmu.h
 * ARM_SMMU_CB_FSR_*). One table, read by both encoders (v3/events.ts, events.ts).
 */
import type { FaultKind } from '../pgtable'
import type { FsrBit } from './events'
import type { V3EventName } from './v3/events'

export const FAULT_CODES: Readonly<Record<FaultKind, { readonly event: V3EventName; readonly fsr: FsrBit }>> = {
  translation: { event: 'F_TRANSLATION', fsr: 'TF' },
  addressSize: { event: 'F_ADDR_SIZE', fsr: 'ASF' },
  accessFlag: { event: 'F_ACCESS', fsr: 'AFF' },
  permission: { event: 'F_PERMISSION', fsr: 'PF' },
  externalAbort: { event: 'F_WALK_EABT', fsr: 'EF' },
}
