/**
 * The behaviour profiles, in kernel order: the one list cucumber.js, the World, the CLI, the
 * report and the campaigns read. "Kernel order" is what @since-/@until- tags count along
 * (model/profiles/tags.ts). A leaf module, so cucumber.js can load it before anything else.
 */
export const PROFILE_NAMES = ['rfc-v2', 'enforcing', 'merged', 'linux-6.1', 'linux-6.12', 'linux-7.3'] as const
export type ProfileName = (typeof PROFILE_NAMES)[number]

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name)
}
