import type { SimResult } from '../../src/cache/simulator.js';

/** One simulated point of a Zipf(1.0) trace of 1,000 accesses: `policy` at `capacityBytes` hit `hitRatio`. */
export const simResult = (
  policy: SimResult['policy'],
  capacityBytes: number,
  hitRatio: number,
): SimResult => ({
  trace: 'zipf:1.0',
  policy,
  capacityBytes,
  sampleRate: 1,
  accesses: 1000,
  hitRatio,
  byteHitRatio: hitRatio,
});
