/**
 * The checkout's root directory, for reading the files that ship beside the code (fixtures/,
 * transcripts/, test data). The code runs compiled from dist/ (bin/build.js) or, under a TypeScript loader,
 * as TypeScript, so a path relative to a module's own directory (`__dirname`) differs between
 * the two; this is the one place that knows the layout (eslint forbids `__dirname` elsewhere).
 */
import * as path from 'node:path'

const parent = path.resolve(__dirname, '..')

/** Whether this code runs compiled, from dist/ (otherwise as TypeScript, from the sources). */
export const COMPILED = path.basename(parent) === 'dist'

/** The directory holding package.json. */
export const ROOT = COMPILED ? path.dirname(parent) : parent

// Where the code running now has a source file (or glob), relative to ROOT: `steps/**/*.ts` is
// `dist/steps/**/*.js` when compiled, itself otherwise.
export function runningCode(source: string): string {
  return COMPILED ? `dist/${source.replace(/\.ts$/, '.js')}` : source
}
