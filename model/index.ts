/**
 * Public facade: the one entry scenarios, the CLI and tests share.
 *
 *   const hw = loadFixture('mmu-500')            // catalogue name or path; throws on a bad fixture
 *   const system = createSystem('merged')
 *   const smmu = system.addSmmu('smmu0', hw)     // Result: ENODEV when the kernel has no driver
 */
import { formatFixtureError, loadFixtureFile, resolveFixturePath } from './hw/fixture'
import type { FeatureSet } from './hw/features'

export * from './errno'
export * from './hw'
export * from './profiles'
export * from './smmu'
export * from './iommu'
export * from './system'
export * from './memory'
export * from './pgtable'
export * from './vfio'

/** A fixture that failed to load; `errors` are already formatted as file:line:column lines. */
export class FixtureLoadError extends Error {
  constructor(readonly errors: readonly string[]) {
    super(`invalid fixture:\n  ${errors.join('\n  ')}`)
  }
}

const cache = new Map<string, FeatureSet>()

/** Load (once) and validate a fixture by catalogue name or path. */
export function loadFixture(nameOrPath: string): FeatureSet {
  const file = resolveFixturePath(nameOrPath)
  const cached = cache.get(file)
  if (cached !== undefined) return cached
  const { fixture, errors } = loadFixtureFile(file)
  if (fixture === undefined) throw new FixtureLoadError(errors.map(formatFixtureError))
  cache.set(file, fixture)
  return fixture
}
