import { createHmac, hkdfSync } from 'node:crypto';
import { xxh3 } from '@node-rs/xxhash';
import type { FrameKind } from './value_frame.js';

export type KeyHashName = 'xxh3-128' | 'hmac-sha256-128';

/**
 * Hashes canonical bytes to the 128-bit hex digest a key ends with. `raw`,
 * where the hash has one, gives the same digest as a bigint, before it is
 * made a string (hex128 makes it one): a row whose key is remembered by its
 * hash (predict/row_keys.ts) then costs no string to find it again.
 */
export type KeyHasher = ((canonical: Uint8Array) => string) & {
  readonly raw?: (canonical: Uint8Array) => bigint;
};

/** A 128-bit digest as the 32 hex digits a key ends with. */
export function hex128(digest: bigint): string {
  return digest.toString(16).padStart(32, '0');
}

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
  const raw = (canonical: Uint8Array) => xxh3.xxh128WithSecret(canonical, stretched);
  return Object.assign((canonical: Uint8Array) => hex128(raw(canonical)), { raw });
}

/**
 * The scope part of a key, `{prefix}:{kind}:{name}:{tag}:`, built once per
 * request rather than per row. The tag holds what else sets the key apart:
 * a model's version and the generations of its invalidation scopes
 * (`1:g0.0`), a view's generation (`g0`).
 */
export function keyScope(prefix: string, kind: FrameKind, name: string, tag: string): string {
  return `${prefix}:${kind}:${name}:${tag}:`;
}

/**
 * `{scope}{hh}rest`: the key format (v2). The first two hex digits of the
 * hash, in braces, are a Redis Cluster hash tag: the keys of a batch fall
 * into at most 256 slots, so a batch read on a cluster is one MGET per slot
 * and one pipeline per node rather than one command per key, while the
 * keyspace still spreads over the nodes.
 */
export function cacheKey(scope: string, hash: string): string {
  return `${scope}{${hash.slice(0, 2)}}${hash.slice(2)}`;
}
