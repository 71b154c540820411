import { describe, expect, it } from 'vitest';
import type { CacheEntry } from '../../src/cache/entry.js';
import { L1Cache } from '../../src/cache/l1.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { DType } from '../../src/tensor/dtypes.js';

const entry = (bytes: number): CacheEntry => ({
  createdAt: Date.now(),
  tensors: [{ dtype: DType.UINT8, dims: [bytes], data: Buffer.alloc(bytes) }],
});

async function metricValue(metrics: ReturnType<typeof createMetrics>, name: string): Promise<number> {
  const text = await metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

describe('L1', () => {
  it('stays under its byte bound by evicting the least recently used entries, and counts them', async () => {
    const metrics = createMetrics();
    const l1 = new L1Cache({ maxBytes: 64 * 1024, ttlMs: 60_000 }, metrics);
    for (let i = 0; i < 200; i++) l1.set(`k${i}`, entry(1024));
    expect(l1.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(l1.get('k199')).toBeDefined();
    expect(l1.get('k0')).toBeUndefined();
    expect(await metricValue(metrics, 'infercache_l1_evictions_total')).toBe(200 - l1.size);
    expect(await metricValue(metrics, 'infercache_l1_entries')).toBe(l1.size);
    expect(await metricValue(metrics, 'infercache_l1_size_bytes')).toBe(l1.bytes);
  });

  it('refuses an entry larger than the whole cache instead of emptying it', () => {
    const l1 = new L1Cache({ maxBytes: 4096, ttlMs: 60_000 }, createMetrics());
    l1.set('small', entry(100));
    l1.set('huge', entry(10_000));
    expect(l1.get('huge')).toBeUndefined();
    expect(l1.get('small')).toBeDefined();
  });

  it('counts per-entry overhead, so many tiny entries cannot exceed the bound in real memory', () => {
    const l1 = new L1Cache({ maxBytes: 100_000, ttlMs: 60_000 }, createMetrics());
    for (let i = 0; i < 10_000; i++) l1.set(`k${i}`, entry(1));
    expect(l1.size).toBeLessThan(1000);
  });

  it('forgets entries after their TTL', async () => {
    const l1 = new L1Cache({ maxBytes: 65_536, ttlMs: 30 }, createMetrics());
    l1.set('k', entry(10));
    expect(l1.get('k')).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(l1.get('k')).toBeUndefined();
  });
});
