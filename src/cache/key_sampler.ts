import { xxh64 } from '@node-rs/xxhash';

const TWO_TO_64 = 2 ** 64;

/**
 * Spatial sampling of keys, as in SHARDS (Waldspurger et al., FAST '15): a
 * key is sampled when its 64-bit hash falls below `rate` of the hash space,
 * so a key is either traced on every access or never, and the reuse
 * distances among the sampled keys are those of the full traffic scaled by
 * `rate`. Returns the hash of a sampled key (what a trace writes in place
 * of the key, which may hold entity ids) and undefined for the others.
 */
export function keySampler(rate: number): (key: string) => bigint | undefined {
  if (!(rate > 0 && rate <= 1)) throw new RangeError(`a sample rate is above 0 and at most 1, not ${rate}`);
  // 2^64 itself at rate 1: every hash is below it.
  const below = BigInt(Math.min(TWO_TO_64, Math.round(rate * TWO_TO_64)));
  return (key) => {
    const hash = xxh64(key);
    return hash < below ? hash : undefined;
  };
}
