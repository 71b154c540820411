/**
 * Mulberry32, a tiny seeded PRNG. Hand-written rather than a dependency: ten
 * lines, and the shipped weights (and the rows benchmarks and tests send)
 * must never change because a library altered its algorithm or seeding.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
