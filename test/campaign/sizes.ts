/** Campaign sizes: the default (what `npm test` runs) and --long (ten times more). */
export const DEFAULT_SEED = 20_141_124

export interface CampaignSizes {
  /** VFIO model-based campaign: commands executed. */
  readonly vfioSteps: number
  /** Isolation campaign: nested walks over guest-written tables. */
  readonly isolationWalks: number
  /** IOTLB model-based campaign: operations. */
  readonly iotlbOps: number
  /** iommufd lifetimes campaign: calls. */
  readonly iommufdSteps: number
  /** iommufd isolation campaign: guests (each 6 rounds of scribbles and 8 accesses per round). */
  readonly iommufdScenes: number
}

export const DEFAULT_SIZES: CampaignSizes = { vfioSteps: 20_000, isolationWalks: 40_000, iotlbOps: 100_000, iommufdSteps: 3_000, iommufdScenes: 60 }
export const LONG_SIZES: CampaignSizes = { vfioSteps: 200_000, isolationWalks: 400_000, iotlbOps: 1_000_000, iommufdSteps: 30_000, iommufdScenes: 600 }
