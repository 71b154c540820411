import { describe, expect, it } from 'vitest';
import { rememberingHasher } from '../../src/cache/hash_memo.js';
import { createKeyHasher, type KeyHasher } from '../../src/cache/keys.js';

/** A hasher that counts its calls: which inputs were hashed rather than remembered. */
function counting(inner: KeyHasher) {
  const calls: string[] = [];
  const hasher: KeyHasher = (bytes) => {
    calls.push(Buffer.from(bytes).toString('hex'));
    return inner(bytes);
  };
  return { hasher, calls };
}

describe('the remembering key hasher', () => {
  const plain = createKeyHasher('xxh3-128', 'a secret');

  it('answers what the hasher answers, for a buffer reused with new contents and for views at any offset', () => {
    const remembering = rememberingHasher(plain);
    const scratch = Buffer.alloc(12);
    for (let i = 0; i < 500; i++) {
      scratch.writeUInt32LE(i % 50, 0);
      scratch.writeUInt32LE(i % 7, 8);
      expect(remembering(scratch)).toBe(plain(scratch));
    }
    const big = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    for (let at = 0; at < 90; at += 3) {
      const view = big.subarray(at, at + 9);
      expect(remembering(view)).toBe(plain(view));
      expect(remembering(new Uint8Array(view))).toBe(plain(view));
    }
  });

  it('hashes a short input once, and one past 64 bytes every time', () => {
    const { hasher, calls } = counting(plain);
    const remembering = rememberingHasher(hasher);
    const short = Buffer.alloc(64, 1);
    const long = Buffer.alloc(65, 1);
    for (let i = 0; i < 3; i++) {
      remembering(short);
      remembering(long);
    }
    expect(calls.filter((c) => c === short.toString('hex'))).toHaveLength(1);
    expect(calls.filter((c) => c === long.toString('hex'))).toHaveLength(3);
  });

  it('holds at most its number of entries: past half of them, the older half goes, less what was used since', () => {
    const { hasher, calls } = counting(plain);
    const remembering = rememberingHasher(hasher, 4); // two generations of 2
    const input = (i: number) => Buffer.from([i]);
    remembering(input(0));
    remembering(input(1));
    remembering(input(0)); // remembered
    remembering(input(2)); // the newer generation was full: {0, 1} become the older one
    remembering(input(0)); // found there, and carried forward
    remembering(input(3)); // full again: {2, 0} older, {1} gone
    remembering(input(1));
    remembering(input(0));
    expect(calls).toEqual(['00', '01', '02', '03', '01']);
  });
});
