/** Test inputs shared by the fixture tests: a valid SMMUv2 fixture as YAML text. */

/** A valid synthetic SMMUv2 fixture named `name` (line 9 is `context_banks: 8`, column 16 its value). */
export function goodFixtureText(name: string): string {
  return `name: ${name}
description: a test SMMU
kind: synthetic
architecture: smmuv2
translation:
  stage1: true
  stage2: true
  nested: false
context_banks: 8
s2_only_context_banks: 2
ias: 48
oas: 40
granules: [4K]
stream_id_bits: 15
`
}
