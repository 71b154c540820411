import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARENA_ENTRY_OVERHEAD_BYTES, ArenaStore } from '../../src/cache/arena_store.js';
import type { L1Policy, StoreOptions } from '../../src/cache/bounded_store.js';
import { lruStore } from '../../src/cache/bounded_store.js';
import type { CacheKind } from '../../src/cache/kind.js';
import { L1Cache } from '../../src/cache/l1.js';
import { SlabArena, slabBytesFor } from '../../src/cache/slab_arena.js';
import { TinyLfuStore } from '../../src/cache/tiny_lfu.js';
import { loadConfig } from '../../src/config/load.js';
import { embeddingKind } from '../../src/embeddings/embedding_kind.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { predictionKind } from '../../src/predict/prediction_kind.js';
import { DType } from '../../src/tensor/dtypes.js';
import { readSnapshot, writeSnapshot } from '../../src/warming/l1_snapshot.js';
import { blob, blobKind } from '../helpers/blob_kind.js';
import { memoryLog } from '../helpers/memory_log.js';
import { metricValue } from '../helpers/metrics.js';
import { makeTempDir } from '../helpers/temp_dirs.js';

const TTL = { l1Ms: 60_000, l2Ms: 60_000, l2Jitter: 0 };
const MINUTE = 60_000;
const MiB = 2 ** 20;
const blobs = blobKind({ id: 'p' });

function arena(maxBytes: number, policy: L1Policy = 'lru', now?: () => number) {
  let evictions = 0;
  const make = <V extends {}>(o: StoreOptions<V>) =>
    policy === 'tinylfu' ? new TinyLfuStore<V>(o) : lruStore<V>(o);
  const store = new ArenaStore(make, { maxBytes, onEvict: () => evictions++, ...(now ? { now } : {}) });
  return { store, evictions: () => evictions };
}

const vector = (fill: number) => ({ createdAt: Date.now(), half: false, data: Buffer.alloc(64, fill) });

describe('the L1 arena', () => {
  it('hands out values that stay intact after their slots go to other keys', () => {
    const { store } = arena(1_000_000);
    const embeddings = embeddingKind(16, TTL);
    const predictions = predictionKind([{ name: 'y', dtype: DType.FLOAT32, dims: [-1, 4] }], true, TTL);
    store.set(embeddings, 'e1', vector(1), MINUTE);
    store.set(
      predictions,
      'p1',
      { createdAt: 1, tensors: [{ dtype: DType.FLOAT32, dims: [4], data: Buffer.alloc(16, 1) }] },
      MINUTE,
    );
    const e = store.get(embeddings, 'e1');
    const p = store.get(predictions, 'p1');
    store.delete('e1');
    store.delete('p1');
    store.set(embeddings, 'e2', vector(2), MINUTE);
    store.set(
      predictions,
      'p2',
      { createdAt: 2, tensors: [{ dtype: DType.FLOAT32, dims: [4], data: Buffer.alloc(16, 2) }] },
      MINUTE,
    );
    expect(e?.data.equals(Buffer.alloc(64, 1))).toBe(true);
    expect(p?.tensors[0]?.data.equals(Buffer.alloc(16, 1))).toBe(true);
    expect(p?.createdAt).toBe(1);
    expect(store.get(embeddings, 'e2')?.data.equals(Buffer.alloc(64, 2))).toBe(true);
  });

  it("counts each entry's bytes in the arena, key and bookkeeping against the bound", () => {
    const { store } = arena(1_000_000);
    store.set(blobs, 'abc', blob(1000), MINUTE);
    expect(store.bytes).toBe(SlabArena.recordBytes(1000) + 3 + ARENA_ENTRY_OVERHEAD_BYTES);
    expect(SlabArena.recordBytes(1000)).toBeGreaterThan(1000);
  });

  for (const policy of ['lru', 'tinylfu'] as const) {
    it(`gives back the room of a value replaced under ${policy}`, () => {
      const maxBytes = 8 * MiB;
      const { store } = arena(maxBytes, policy);
      for (let i = 0; i < 5000; i++) store.set(blobs, 'k', blob(100, i & 0xff), MINUTE);
      expect(store.size).toBe(1);
      // The slab being filled, and one emptied kept for the next.
      expect(store.reservedBytes).toBeLessThanOrEqual(2 * slabBytesFor(maxBytes));
      expect(store.get(blobs, 'k')?.data[0]).toBe(4999 & 0xff);
    });

    it(`stays within its bound under ${policy}, in counted bytes and in slabs held`, () => {
      const maxBytes = 8 * MiB;
      const { store, evictions } = arena(maxBytes, policy);
      for (let i = 0; i < 80_000; i++) store.set(blobs, `k${i}`, blob(200, i & 0xff), MINUTE);
      expect(store.bytes).toBeLessThanOrEqual(maxBytes);
      expect(store.bytes).toBeGreaterThan(maxBytes * 0.9);
      expect(evictions()).toBeGreaterThan(50_000);
      // Room of evicted entries is reused or moved out of: the slabs held stay within 2% of the bound.
      expect(store.reservedBytes).toBeLessThanOrEqual(maxBytes * 1.02);
      for (const [key, value] of store.entries()) {
        expect((value as { data: Buffer }).data[0]).toBe(Number(key.slice(1)) & 0xff);
      }
    });
  }

  it('refuses a value larger than its bound without taking a slot, and drops the older one', () => {
    const { store } = arena(MiB);
    store.set(blobs, 'k', blob(10), MINUTE);
    for (let i = 0; i < 5; i++) store.set(blobs, 'k', blob(MiB), MINUTE);
    expect(store.get(blobs, 'k')).toBeUndefined();
    expect(store.size).toBe(0);
    expect(store.reservedBytes).toBeLessThanOrEqual(MiB);
  });

  it('does not keep a value its kind cannot encode, nor the stale one it replaces', () => {
    const { store } = arena(1_000_000);
    const predictions = predictionKind([{ name: 'y', dtype: DType.FLOAT32, dims: undefined }], false, TTL);
    const ok = { createdAt: 1, tensors: [{ dtype: DType.FLOAT32, dims: [1], data: Buffer.alloc(4) }] };
    const rank300 = {
      createdAt: 2,
      tensors: [{ dtype: DType.FLOAT32, dims: new Array(300).fill(1), data: Buffer.alloc(4) }],
    };
    store.set(predictions, 'k', ok, MINUTE);
    store.set(predictions, 'k', rank300, MINUTE);
    expect(store.get(predictions, 'k')).toBeUndefined();
  });

  it('forgets an entry after its TTL and gives its slot back', () => {
    let now = 0;
    const { store } = arena(1_000_000, 'tinylfu', () => now);
    store.set(blobs, 'a', blob(MiB / 2), 1000);
    expect(store.reservedBytes).toBe(MiB / 2);
    now = 1000;
    expect(store.get(blobs, 'a')).toBeUndefined();
    expect(store.reservedBytes).toBe(0);
  });

  it('through L1: deletePrefix and clear drop the entries of the kinds kept in the arena, and free their slabs', () => {
    const metrics = createMetrics();
    const l1 = new L1Cache(
      { maxBytes: 64 * MiB, shares: { p: 0.5, f: 0.2, e: 0.3 }, arena: ['p', 'e'] },
      metrics.cache,
      metrics.l1Sources,
    );
    const p = l1.store(blobs);
    for (let i = 0; i < 3000; i++) p.set(`${i % 2 ? 'a' : 'b'}:${i}`, blob(1000), MINUTE);
    expect(l1.deletePrefix('p', 'a:')).toBe(1500);
    expect(p.get('a:1')).toBeUndefined();
    expect(p.get('b:0')?.data.length).toBe(1000);
    l1.clear('p');
    expect(p.size).toBe(0);
    expect(p.bytes).toBe(0);
    expect(p.get('b:0')).toBeUndefined();
  });

  it('through L1: reports the slabs each kind in the arena holds as infercache_l1_arena_bytes', async () => {
    const metrics = createMetrics();
    const l1 = new L1Cache(
      { maxBytes: 64 * MiB, shares: { p: 0.5, f: 0.2, e: 0.3 }, arena: ['p'] },
      metrics.cache,
      metrics.l1Sources,
    );
    for (let i = 0; i < 3000; i++) l1.store(blobs).set(`p:${i}`, blob(100), MINUTE);
    const read = async (kind: string) =>
      metricValue(await metrics.registry.metrics(), 'infercache_l1_arena_bytes', { kind });
    const slabs = await read('p');
    expect(slabs).toBeGreaterThanOrEqual(3000 * SlabArena.recordBytes(100));
    expect(slabs).toBeLessThanOrEqual(3000 * SlabArena.recordBytes(100) + 2 * slabBytesFor(32 * MiB));
    expect(await read('f')).toBe(0);
  });

  it('is written to a snapshot and read back, each value decoded by the kind that wrote it', async () => {
    const metrics = createMetrics();
    const newL1 = () =>
      new L1Cache(
        { maxBytes: 1_000_000, shares: { p: 0.5, f: 0, e: 0.5 }, arena: ['p', 'e'] },
        metrics.cache,
        metrics.l1Sources,
      );
    const embeddings = embeddingKind(16, TTL);
    const kindOf = (id: string) => (id === 'e' ? embeddings : blobs) as CacheKind<object>;
    const l1 = newL1();
    l1.store(blobs).set('snap:p:1', blob(10, 7), MINUTE);
    l1.store(embeddings).set('snap:e:1', vector(9), MINUTE);
    const path = join(makeTempDir('arena-snapshot-'), 'l1.snapshot');
    expect(await writeSnapshot(path, 'snap', l1, kindOf)).toBe(2);
    const back = newL1();
    expect(await readSnapshot(path, 'snap', back, kindOf, 10_000_000, memoryLog().log)).toBe(2);
    expect(back.store(blobs).get('snap:p:1')?.data.equals(Buffer.alloc(10, 7))).toBe(true);
    expect(back.store(embeddings).get('snap:e:1')?.data.equals(Buffer.alloc(64, 9))).toBe(true);
  });

  it('is chosen per kind by INFERCACHE_L1_ARENA, for predictions and embeddings only', () => {
    expect(loadConfig({}, {}).l1Arena).toEqual([]);
    expect(loadConfig({}, { INFERCACHE_L1_ARENA: 'p,e' }).l1Arena).toEqual(['p', 'e']);
    expect(loadConfig({}, { INFERCACHE_L1_ARENA: 'e' }).l1Arena).toEqual(['e']);
    expect(loadConfig({}, { INFERCACHE_L1_ARENA: 'off' }).l1Arena).toEqual([]);
    expect(() => loadConfig({}, { INFERCACHE_L1_ARENA: 'p,f' })).toThrow(/L1_ARENA/);
  });
});
