import { describe, expect, it } from 'vitest';
import { cacheKey, createKeyHasher } from '../../src/cache/keys.js';

const bytes = Buffer.from('canonical row bytes');

describe('cache keys', () => {
  it('follow the documented format {prefix}:{kind}:{name}:{version}:{hash}', () => {
    expect(cacheKey('ic', 'p', 'iris', '1', 'ab'.repeat(16))).toBe(`ic:p:iris:1:${'ab'.repeat(16)}`);
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
