import { describe, expect, it } from 'vitest';
import { L1Cache } from '../../src/cache/l1.js';
import type { L1Trace } from '../../src/cache/traced_store.js';
import type { FrameKind } from '../../src/cache/value_frame.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { blob, blobKind } from '../helpers/blob_kind.js';

const SHARES = { p: 0.5, f: 0.3, e: 0.2 };

/** A trace that samples the keys `sample` accepts, with a hash of 1n, 2n, ... per key, and keeps every line. */
function memoryTrace(sample: (key: string) => boolean = () => true) {
  const lines: string[] = [];
  const hashes = new Map<string, bigint>();
  const counts = { p: { n: 0 }, f: { n: 0 }, e: { n: 0 } };
  const trace: L1Trace = {
    lookups: (kind) => counts[kind],
    sampled(key) {
      if (!sample(key)) return undefined;
      if (!hashes.has(key)) hashes.set(key, BigInt(hashes.size + 1));
      return hashes.get(key);
    },
    lookup: (kind: FrameKind, hash, bytes) => lines.push(`${kind}:${hash}${bytes > 0 ? `,${bytes}` : ''}`),
    store: (kind: FrameKind, hash, bytes) => lines.push(`+${kind}:${hash},${bytes}`),
  };
  return { trace, lines, counts };
}

function l1(trace: L1Trace, arena: FrameKind[] = [], shares = SHARES) {
  const metrics = createMetrics();
  return new L1Cache({ maxBytes: 100_000, shares, arena, trace }, metrics.cache, metrics.l1Sources);
}

describe('an L1 store with a trace', () => {
  it('records a miss without a size, a store and a hit with what the entry costs', () => {
    const { trace, lines } = memoryTrace();
    const store = l1(trace).store(blobKind({ id: 'f' }));
    expect(store.get('a')).toBeUndefined();
    store.set('a', blob(100), 60_000);
    expect(store.get('a')).toBeDefined();
    // The cost L1 charges: the kind's size of the value plus the key.
    expect(store.bytes).toBe(261);
    expect(lines).toEqual(['f:1', '+f:1,261', 'f:1,261']);
  });

  it('records the lookups and stores of a kind whose L1 is off, as misses, at the size L1 would charge', () => {
    const { trace, lines, counts } = memoryTrace();
    const store = l1(trace, [], { p: 0.5, f: 0, e: 0.5 }).store(blobKind({ id: 'f' }));
    expect(store.get('a')).toBeUndefined();
    store.set('a', blob(100), 60_000);
    expect(store.get('a')).toBeUndefined();
    expect(store.bytes).toBe(0);
    // What an L1 with room would charge (the first test's entry): how the trace sizes the L1 the kind lacks.
    expect(lines).toEqual(['f:1', '+f:1,261', 'f:1']);
    expect(counts.f.n).toBe(2);
  });

  it('records the size the slab arena charges for a kind kept there', () => {
    const { trace, lines } = memoryTrace();
    const store = l1(trace, ['p']).store(blobKind({ id: 'p' }));
    store.set('a', blob(100), 60_000);
    store.get('a');
    expect(lines).toEqual([`+p:1,${store.bytes}`, `p:1,${store.bytes}`]);
  });

  it('records an all-L1 answer once per key, and nothing when it fails, since the caller looks up again', () => {
    const { trace, lines, counts } = memoryTrace();
    const store = l1(trace).store(blobKind({ id: 'p' }));
    store.set('a', blob(10), 60_000);
    store.set('b', blob(10), 60_000);
    lines.length = 0;
    expect(store.getAll(['a', 'b', 'a'])).toHaveLength(3);
    expect(lines).toEqual(['p:1,171', 'p:2,171', 'p:1,171']);
    expect(counts.p.n).toBe(3);
    lines.length = 0;
    expect(store.getAll(['a', 'c'])).toBeUndefined();
    expect(store.getAll(['a'], () => false)).toBeUndefined();
    expect(lines).toEqual([]);
    expect(counts.p.n).toBe(3);
  });

  it('records nothing of a key left out of the sample, but counts its lookups', () => {
    const { trace, lines, counts } = memoryTrace((key) => key !== 'hidden');
    const store = l1(trace).store(blobKind({ id: 'e' }));
    store.set('hidden', blob(10), 60_000);
    store.get('hidden');
    store.getAll(['hidden']);
    store.get('shown');
    expect(lines).toEqual(['e:1']);
    // Counted all the same: the replay needs every lookup's count.
    expect([counts.e.n, counts.p.n, counts.f.n]).toEqual([3, 0, 0]);
  });
});
