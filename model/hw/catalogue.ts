/**
 * The fixture catalogue: every `*.yaml` in a folder (fixtures/ by default), loaded and validated.
 * Adding a file to the folder adds it to everything that iterates the catalogue (the Fix
 * features, `smmu-nesting-tck fixtures list`, the report) with no code change.
 */
import * as path from 'node:path'
import type { FeatureSet } from './features'
import { FIXTURES_DIR, formatFixtureError, listFixtureNames, loadFixtureFile, type FixtureError } from './fixture'

export interface Catalogue {
  readonly dir: string
  /** Valid fixtures, sorted by name. */
  readonly fixtures: readonly FeatureSet[]
  /** Problems of the fixtures that did not load (each file:line:column, field, reason). */
  readonly errors: readonly FixtureError[]
}

const loaded = new Map<string, Catalogue>()

/** Load every fixture in `dir`. Cached per folder unless `fresh`. */
export function loadCatalogue(dir: string = FIXTURES_DIR, fresh = false): Catalogue {
  const abs = path.resolve(dir)
  const cached = loaded.get(abs)
  if (cached !== undefined && !fresh) return cached
  const results = listFixtureNames(abs).map((n) => loadFixtureFile(path.join(abs, `${n}.yaml`)))
  const catalogue: Catalogue = {
    dir: abs,
    fixtures: results.flatMap((r) => (r.fixture === undefined ? [] : [r.fixture])),
    errors: results.flatMap((r) => r.errors),
  }
  loaded.set(abs, catalogue)
  return catalogue
}

/**
 * The catalogue's problems as `smmu-nesting-tck fixtures validate` prints them
 * (`file:line:column: field: reason [CODE]`), files relative to the working folder when inside it.
 */
export function formatCatalogueErrors(errors: readonly FixtureError[]): string[] {
  return errors.map((e) => {
    const rel = path.relative(process.cwd(), e.file)
    return formatFixtureError(rel.startsWith('..') || path.isAbsolute(rel) ? e : { ...e, file: rel })
  })
}
