/** Hand cases: the walks of the translation features with their own descriptor values. */
import type { OracleCase } from './case'

export function handCases(): OracleCase[] {
  return []
}
