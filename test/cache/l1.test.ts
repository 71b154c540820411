import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES } from '../../src/cache/kind.js';
import { L1Cache, type L1Shares } from '../../src/cache/l1.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { type Blob, blob, blobKind } from '../helpers/blob_kind.js';
import { metricValue } from '../helpers/metrics.js';

const SHARES: L1Shares = { p: 0.5, f: 0.3, e: 0.2 };
const p = blobKind({ id: 'p' });
const f = blobKind({ id: 'f' });
const e = blobKind({ id: 'e' });

function l1(maxBytes = 100_000, shares: L1Shares = SHARES) {
  const metrics = createMetrics();
  const cache = new L1Cache({ maxBytes, shares }, metrics.cache, metrics.l1Sources);
  return { cache, metrics, read: (name: string, kind: string) => readMetric(metrics, name, kind) };
}

async function readMetric(metrics: ReturnType<typeof createMetrics>, name: string, kind: string) {
  return metricValue(await metrics.registry.metrics(), name, { kind });
}

/** A blob whose L1 cost under a 3-character key is exactly `cost` bytes. */
const costing = (cost: number): Blob => blob(cost - ENTRY_OVERHEAD_BYTES - 3);
const key3 = (i: number) => `k${String(i).padStart(2, '0')}`;

describe('L1', () => {
  it('keeps a flood of one kind from evicting another kind', async () => {
    const { cache, read } = l1();
    const predictions = cache.store(p);
    const features = cache.store(f);
    for (let i = 0; i < 20; i++) predictions.set(`p${i}`, blob(1000), 60_000);
    for (let i = 0; i < 1000; i++) features.set(`f${i}`, blob(1000), 60_000);
    for (let i = 0; i < 20; i++) expect(predictions.get(`p${i}`)).toBeDefined();
    expect(features.bytes).toBeLessThanOrEqual(30_000);
    expect(await read('infercache_l1_evictions_total', 'f')).toBeGreaterThan(900);
    expect(await read('infercache_l1_evictions_total', 'p')).toBeUndefined();
  });

  it('keeps each kind under its share by evicting the least recently used entries, and counts them', async () => {
    const { cache, read } = l1();
    const features = cache.store(f);
    // 30 entries of 1,000 bytes fill the 30,000 bytes of f exactly.
    for (let i = 0; i < 30; i++) features.set(key3(i), costing(1000), 60_000);
    expect(features.bytes).toBe(30_000);
    expect(await read('infercache_l1_evictions_total', 'f')).toBeUndefined();
    features.get(key3(0));
    features.set(key3(30), costing(1000), 60_000);
    expect(features.get(key3(0))).toBeDefined();
    expect(features.get(key3(1))).toBeUndefined();
    expect(await read('infercache_l1_evictions_total', 'f')).toBe(1);
    for (let i = 31; i < 100; i++) features.set(key3(i), costing(1000), 60_000);
    expect(features.size).toBe(30);
    expect(features.bytes).toBe(30_000);
    expect(features.get(key3(99))).toBeDefined();
    expect(await read('infercache_l1_evictions_total', 'f')).toBe(70);
  });

  it("refuses an entry larger than its kind's budget instead of emptying that kind", async () => {
    const { cache, read } = l1();
    const embeddings = cache.store(e);
    embeddings.set('small', blob(100), 60_000);
    // Fits in the whole L1 (100,000 bytes), not in the 20,000 bytes of e.
    embeddings.set('huge', blob(25_000), 60_000);
    expect(embeddings.get('huge')).toBeUndefined();
    expect(embeddings.get('small')).toBeDefined();
    expect(await read('infercache_l1_evictions_total', 'e')).toBeUndefined();
  });

  it('counts per-entry overhead, so many tiny entries cannot exceed the bound in real memory', () => {
    const { cache } = l1(100_000, { p: 1, f: 0, e: 0 });
    const predictions = cache.store(p);
    for (let i = 0; i < 10_000; i++) predictions.set(`k${i}`, blob(1), 60_000);
    expect(predictions.size).toBeLessThan(100_000 / ENTRY_OVERHEAD_BYTES);
    expect(predictions.bytes).toBeLessThanOrEqual(100_000);
  });

  it('forgets each entry after its own TTL', async () => {
    const { cache } = l1();
    const predictions = cache.store(p);
    predictions.set('short', blob(10), 30);
    predictions.set('long', blob(10), 60_000);
    expect(predictions.get('short')).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(predictions.get('short')).toBeUndefined();
    expect(predictions.get('long')).toBeDefined();
  });

  it('keeps nothing given a lifetime of 0 (which lru-cache would read as forever), and drops what the key held', async () => {
    const { cache } = l1();
    const features = cache.store(f);
    features.set('zero', blob(10), 0);
    features.set('kept', blob(10), 60_000);
    features.set('kept', blob(10), 0);
    features.set('negative', blob(10), -5);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect([features.get('zero'), features.get('kept'), features.get('negative')]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(features.size).toBe(0);
  });

  it('drops every entry under a prefix in one kind, and only there', () => {
    const { cache } = l1();
    const predictions = cache.store(p);
    const features = cache.store(f);
    predictions.set('ic:p:a:1:x', blob(10), 60_000);
    predictions.set('ic:p:a:1:y', blob(10), 60_000);
    predictions.set('ic:p:a:10:x', blob(10), 60_000);
    features.set('ic:p:a:1:z', blob(10), 60_000);
    expect(predictions.deletePrefix('ic:p:a:1:')).toBe(2);
    expect(predictions.get('ic:p:a:1:x')).toBeUndefined();
    expect(predictions.get('ic:p:a:10:x')).toBeDefined();
    expect(features.get('ic:p:a:1:z')).toBeDefined();
    expect(predictions.deletePrefix('ic:p:a:1:')).toBe(0);
  });

  it('reports entries, bytes and the byte budget of each kind as gauges', async () => {
    const { cache, read } = l1();
    const predictions = cache.store(p);
    const features = cache.store(f);
    for (let i = 0; i < 7; i++) predictions.set(`p${i}`, blob(100 * i), 60_000);
    features.set('f', blob(50), 60_000);
    expect(await read('infercache_l1_entries', 'p')).toBe(7);
    expect(await read('infercache_l1_entries', 'f')).toBe(1);
    expect(await read('infercache_l1_entries', 'e')).toBe(0);
    expect(await read('infercache_l1_size_bytes', 'p')).toBe(predictions.bytes);
    expect(await read('infercache_l1_size_bytes', 'f')).toBe(ENTRY_OVERHEAD_BYTES + 50 + 1);
    expect(await read('infercache_l1_max_bytes', 'p')).toBe(50_000);
    expect(await read('infercache_l1_max_bytes', 'f')).toBe(30_000);
    expect(await read('infercache_l1_max_bytes', 'e')).toBe(20_000);
    // Kept as objects: no arena.
    expect(await read('infercache_l1_arena_bytes', 'p')).toBe(0);
    predictions.delete('p3');
    predictions.clear();
    expect(await read('infercache_l1_entries', 'p')).toBe(0);
    expect(await read('infercache_l1_size_bytes', 'p')).toBe(0);
  });

  it('refuses shares that add up to more than 1', () => {
    expect(() => l1(1000, { p: 0.6, f: 0.3, e: 0.2 })).toThrow(/L1 shares add up to .*, more than 1/);
    expect(() => l1(1000, { p: 0.7, f: 0.2, e: 0.1 })).not.toThrow();
  });
});
