/**
 * What answers a replayed transcript's calls. Only the model today; a backend that drives a real
 * kernel (a guest with /dev/vfio) plugs in here with the same VfioBackend interface.
 */
import type { FeatureSet } from '../model/hw'
import type { Profile } from '../model/profiles'
import type { VfioBackend } from '../model/vfio/backend'

export interface BackendOptions {
  readonly profile: Profile
  readonly fixtures: readonly FeatureSet[]
}

export interface BackendKind {
  readonly name: string
  readonly summary: string
  /** A fresh machine: nothing opened, no mappings. Called once per transcript. */
  create(opts: BackendOptions): Promise<VfioBackend>
}

export const BACKENDS: Readonly<Record<string, BackendKind>> = {
  model: {
    name: 'model',
    summary: 'the TypeScript model of the profile\'s kernel, on the fixtures\' hardware',
    // Loaded when first needed: the model is most of the tool's start-up time, and usage errors
    // should not wait for it.
    create: async (opts) => (await import('../model/vfio')).createModelBackend({ profile: opts.profile, fixtures: [...opts.fixtures] }),
  },
}

export function backendNames(): string[] {
  return Object.keys(BACKENDS)
}
