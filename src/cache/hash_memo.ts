import { KeyMemo } from './key_memo.js';
import type { KeyHasher } from './keys.js';

// Inputs of at most this many bytes are remembered: entity keys (an int64
// id is 9 bytes, a composite key a few dozen). Longer inputs are rarely
// repeated byte for byte and cost more to remember than to hash.
const MAX_INPUT_BYTES = 64;
// About 3 MB at most: each entry holds a string of the input (up to 64
// bytes) and the 32-digit hash.
const HASH_MEMO_ENTRIES = 16_384;

const latin1 = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/**
 * `hasher`, remembering the hashes of about the last HASH_MEMO_ENTRIES
 * distinct short inputs it saw: the entity keys of feature lookups, whose
 * hashes popularity counts and whose keys the key memo remembers by hash
 * (a prediction row's key is remembered by its bytes there, so predictions
 * hash with the plain hasher). Each hash of an entity key is a native call
 * of 0.3 to 0.7 µs (bench key_hash); a remembered one is a string and a Map
 * lookup. The inputs an L1 hit hashes are by definition ones seen recently.
 * Kept in the key memo's two generations (cache/key_memo.ts), so a working
 * set larger than the bound loses its oldest entries, not all of them at
 * once; the hashes are a pure function of the bytes, so a remembered one is
 * never wrong. Not for the bulk loader, whose keys never repeat.
 */
export function rememberingHasher(hasher: KeyHasher, entries = HASH_MEMO_ENTRIES): KeyHasher {
  const memo = new KeyMemo(entries).context('');
  return (canonical) => {
    if (canonical.length > MAX_INPUT_BYTES) return hasher(canonical);
    const input = latin1.call(canonical, 0, canonical.length);
    return memo.get(input) ?? memo.set(input, hasher(canonical));
  };
}
