/**
 * mulberry32: a small seeded pseudo-random generator, uniform in [0, 1), so a run that draws from
 * it (the bench's addresses, the oracle's and the VFIO campaign's random cases) is the same run
 * every time for one seed. Shared by tools, no part of the specification.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
