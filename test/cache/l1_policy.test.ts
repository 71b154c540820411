import { describe, expect, it } from 'vitest';
import type { L1Policy } from '../../src/cache/bounded_store.js';
import { ENTRY_OVERHEAD_BYTES } from '../../src/cache/kind.js';
import { L1Cache, type L1Policies } from '../../src/cache/l1.js';
import { loadConfig } from '../../src/config/load.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { blob, blobKind } from '../helpers/blob_kind.js';
import { metricValue } from '../helpers/metrics.js';

const p = blobKind({ id: 'p' });
const f = blobKind({ id: 'f' });
const e = blobKind({ id: 'e' });
const SHARES = { p: 0.5, f: 0.3, e: 0.2 };

function l1(policies: Partial<L1Policies>, maxBytes = 100_000) {
  const metrics = createMetrics();
  // Not 0: lru-cache reads an entry stored at time 0 as one without a TTL.
  const clock = { now: 1000 };
  const cache = new L1Cache(
    { maxBytes, shares: SHARES, policies, now: () => clock.now },
    metrics.cache,
    metrics.l1Sources,
  );
  return { cache, metrics, clock };
}

/** Five rounds over a hot set of 20, then a scan of 500 one-time keys: which hot keys are left. */
function hotAfterScan(store: ReturnType<L1Cache['store']>): number {
  for (let i = 0; i < 200; i++) store.set(`before${i}`, blob(100), 60_000);
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 20; i++)
      if (store.get(`hot${i}`) === undefined) store.set(`hot${i}`, blob(100), 60_000);
  }
  for (let i = 0; i < 500; i++)
    if (store.get(`scan${i}`) === undefined) store.set(`scan${i}`, blob(100), 60_000);
  let left = 0;
  for (let i = 0; i < 20; i++) if (store.get(`hot${i}`) !== undefined) left++;
  return left;
}

describe.each<L1Policy>(['lru', 'tinylfu'])('L1 with the %s policy', (policy) => {
  const all = { p: policy, f: policy, e: policy };

  it('keeps each kind within its share, and refuses an entry larger than the share', async () => {
    const { cache, metrics } = l1(all);
    const embeddings = cache.store(e);
    for (let i = 0; i < 500; i++) embeddings.set(`e${i}`, blob(100 + (i % 7) * 300), 60_000);
    expect(embeddings.bytes).toBeLessThanOrEqual(20_000);
    expect(embeddings.bytes).toBeGreaterThan(15_000);
    embeddings.set('huge', blob(20_001 - ENTRY_OVERHEAD_BYTES - 4), 60_000);
    expect(embeddings.get('huge')).toBeUndefined();
    const max = metricValue(await metrics.registry.metrics(), 'infercache_l1_max_bytes', { kind: 'e' });
    expect(max).toBe(20_000);
  });

  it('forgets each entry after its own TTL', () => {
    const { cache, clock } = l1(all);
    const features = cache.store(f);
    features.set('short', blob(10), 30);
    features.set('long', blob(10), 60_000);
    clock.now += 29;
    expect(features.get('short')).toBeDefined();
    clock.now += 2;
    expect(features.get('short')).toBeUndefined();
    expect(features.get('long')).toBeDefined();
    expect([...cache.entries('f')].map(([key, , left]) => [key, left])).toEqual([['long', 60_000 - 31]]);
  });

  it('drops entries by key, by prefix and by kind, as invalidations do', () => {
    const { cache } = l1(all);
    const predictions = cache.store(p);
    const features = cache.store(f);
    for (const key of ['ic:p:a:1:x', 'ic:p:a:1:y', 'ic:p:a:10:x', 'ic:p:b:1:x']) {
      predictions.set(key, blob(10), 60_000);
    }
    features.set('ic:f:v:0:x', blob(10), 60_000);
    expect(cache.deletePrefix('p', 'ic:p:a:1:')).toBe(2);
    expect(predictions.get('ic:p:a:1:x')).toBeUndefined();
    expect(predictions.get('ic:p:a:10:x')).toBeDefined();
    cache.delete('p', 'ic:p:b:1:x');
    expect(predictions.get('ic:p:b:1:x')).toBeUndefined();
    expect(predictions.size).toBe(1);
    cache.clear('f');
    expect([features.get('ic:f:v:0:x'), features.size, features.bytes]).toEqual([undefined, 0, 0]);
    expect(predictions.get('ic:p:a:10:x')).toBeDefined();
  });
});

describe('L1 policy per kind', () => {
  it('keeps the hot set of a tinylfu kind through a scan that flushes an lru kind', () => {
    const { cache } = l1({ p: 'tinylfu', f: 'lru' });
    expect(hotAfterScan(cache.store(p))).toBe(20);
    expect(hotAfterScan(cache.store(f))).toBe(0);
    // A kind left out is plain LRU.
    expect(hotAfterScan(cache.store(e))).toBe(0);
  });

  it('is chosen by INFERCACHE_L1_POLICY, per kind or for all', () => {
    const config = loadConfig({}, { INFERCACHE_L1_POLICY: 'f=tinylfu' });
    expect(config.l1Policy).toEqual({ p: 'lru', f: 'tinylfu', e: 'lru' });
    const { cache } = l1(config.l1Policy);
    expect(hotAfterScan(cache.store(f))).toBe(20);
    expect(hotAfterScan(cache.store(p))).toBe(0);
    expect(loadConfig({ l1Policy: 'tinylfu' }, {}).l1Policy).toEqual({
      p: 'tinylfu',
      f: 'tinylfu',
      e: 'tinylfu',
    });
    expect(() => loadConfig({}, { INFERCACHE_L1_POLICY: 'p=lfu' })).toThrow(
      /INFERCACHE_L1_POLICY="p=lfu": expected p=<policy>,f=<policy>,e=<policy> or one policy/,
    );
  });
});
