import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { cacheKey, createKeyHasher, keyScope } from '../../src/cache/keys.js';

const bytes = Buffer.from('canonical row bytes');

describe('cache keys', () => {
  it('follow the documented format {prefix}:{kind}:{name}:{version}:{hh}rest', () => {
    const scope = keyScope('ic', 'p', 'iris', '1');
    expect(scope).toBe('ic:p:iris:1:');
    const hash = `ab${'cd'.repeat(15)}`;
    expect(cacheKey(scope, hash)).toBe(`ic:p:iris:1:{ab}${'cd'.repeat(15)}`);
    expect(cacheKey(keyScope('fleet-a', 'f', 'user_features', 'v2'), hash)).toBe(
      `fleet-a:f:user_features:v2:{ab}${'cd'.repeat(15)}`,
    );
  });

  it('put keys whose hashes share their first two hex digits in one cluster slot, whatever the scope', () => {
    const a = cacheKey(keyScope('ic', 'p', 'iris', '1'), `7f${'0'.repeat(30)}`);
    const b = cacheKey(keyScope('other', 'e', 'bert', '3'), `7f${'1'.repeat(30)}`);
    expect(calculateSlot(a)).toBe(calculateSlot(b));
    expect(calculateSlot(a)).toBe(calculateSlot('7f'));
  });

  it('spread the keys of 10,000 different hashes over at most 256 slots, and over all of them', () => {
    const hash = createKeyHasher('xxh3-128', '');
    const scope = keyScope('ic', 'p', 'iris', '1');
    const slots = new Set<number>();
    for (let i = 0; i < 10_000; i++) slots.add(calculateSlot(cacheKey(scope, hash(Buffer.from(`row ${i}`)))));
    expect(slots.size).toBeLessThanOrEqual(256);
    // 10,000 uniform hashes miss one of 256 prefixes with probability ~e^-39:
    // the keyspace still spreads over every node of a cluster.
    expect(slots.size).toBe(256);
  });

  it.each(['xxh3-128', 'hmac-sha256-128'] as const)(
    '%s gives 128 bits as 32 hex digits, stable across calls',
    (name) => {
      const hash = createKeyHasher(name, '');
      expect(hash(bytes)).toMatch(/^[0-9a-f]{32}$/);
      expect(hash(bytes)).toBe(hash(Buffer.from(bytes)));
      expect(hash(bytes)).not.toBe(hash(Buffer.from('canonical row bytez')));
    },
  );

  it('gives different keys under different secrets, so a deployment secret keys the hash', () => {
    for (const name of ['xxh3-128', 'hmac-sha256-128'] as const) {
      const a = createKeyHasher(name, 'secret-a')(bytes);
      const b = createKeyHasher(name, 'secret-b')(bytes);
      expect(a).not.toBe(b);
      expect(a).not.toBe(createKeyHasher(name, '')(bytes));
    }
  });

  it('keeps leading zero digits so every hash has the same length', () => {
    const hash = createKeyHasher('xxh3-128', '');
    for (let i = 0; i < 2000; i++) expect(hash(Buffer.from([i & 255, i >> 8]))).toHaveLength(32);
  });
});
