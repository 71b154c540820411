import { createHmac, hkdfSync } from 'node:crypto';
import { xxh3 } from '@node-rs/xxhash';

/** What a cache entry holds: a prediction, a feature row or an embedding. */
export type EntryKind = 'p' | 'f' | 'e';

export type KeyHashName = 'xxh3-128' | 'hmac-sha256-128';

/** Hashes canonical bytes to the 128-bit hex digest a key ends with. */
export type KeyHasher = (canonical: Uint8Array) => string;

/**
 * XXH3-128 is the fast default; it is not collision-resistant against a caller
 * who crafts inputs, so a deployment with untrusted callers sets a secret
 * (XXH3 keyed with it) or picks HMAC-SHA256 truncated to 128 bits. 64 bits is
 * not enough for a fleet-wide cache: birthday collisions become likely near
 * 2^32 entries, a count a busy fleet reaches.
 */
export function createKeyHasher(name: KeyHashName, secret: string): KeyHasher {
  if (name === 'hmac-sha256-128') {
    return (canonical) => createHmac('sha256', secret).update(canonical).digest('hex').slice(0, 32);
  }
  // XXH3 wants a secret of at least 136 bytes; stretch the configured one
  // (an empty one gives a fixed public secret, as XXH3's built-in one is).
  // The secret form is also the fast one: @node-rs/xxhash's plain xxh128
  // measured ~2x slower per 1 KiB row (bench/scenarios/key_hash.ts).
  const stretched = new Uint8Array(hkdfSync('sha256', secret, 'infercache', 'xxh3-secret', 192));
  return (canonical) => xxh3.xxh128WithSecret(canonical, stretched).toString(16).padStart(32, '0');
}

/** `{prefix}:{kind}:{name}:{version}:{hash}`, the documented key format (v1). */
export function cacheKey(
  prefix: string,
  kind: EntryKind,
  name: string,
  version: string,
  hash: string,
): string {
  return `${prefix}:${kind}:${name}:${version}:${hash}`;
}
