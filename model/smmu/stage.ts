/**
 * Stage selection: which stage a domain really gets on given hardware.
 *
 * A domain can only *request* stage 1 (the default) or nested (DOMAIN_ATTR_NESTING /
 * iommu_enable_nesting); "you can't actually request stage-2 mappings" (seed, patch 3/3).
 * The driver then fixes the request up against the hardware, in this order:
 *   1. no stage 1 in hardware       -> S2
 *   2. no stage 2 in hardware       -> S1
 *   3. (RFC only) no nesting and the request is NESTED -> S2
 * Linux as merged, and arm-smmu-v3's domain finalise, have only steps 1 and 2.
 */
import type { TranslationSupport } from '../hw/features'
import type { SmmuDriverBehaviour } from '../profiles'

/** What a domain may ask for. There is deliberately no 'S2'. */
export type RequestedStage = 'S1' | 'NESTED'

/** The domain's stage once fixed up against the hardware (arm_smmu_domain->stage). */
export type DomainStage = 'S1' | 'S2' | 'NESTED'

/**
 * `current` is the domain's stage field: S1 or NESTED as requested, or (only after a failed first
 * attach, whose fix-up the kernel does not undo) an already fixed-up stage.
 */
export function selectStage(
  current: DomainStage,
  hw: TranslationSupport,
  driver: Pick<SmmuDriverBehaviour, 'nestedNeedsNestingFeature'>,
): DomainStage {
  let stage: DomainStage = current
  if (!hw.stage1) stage = 'S2'
  if (!hw.stage2) stage = 'S1'
  if (driver.nestedNeedsNestingFeature && !hw.nested && stage === 'NESTED') stage = 'S2'
  return stage
}
