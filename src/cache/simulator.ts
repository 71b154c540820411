import { type BoundedStore, type L1Policy, lruStore } from './bounded_store.js';
import { TinyLfuStore } from './tiny_lfu.js';
import type { Trace } from './trace.js';

/** A policy L1 can run, or `opt`: Belady's, which knows the future (the bound on any policy). */
export type SimPolicy = L1Policy | 'opt';
export const SIM_POLICIES: readonly SimPolicy[] = ['lru', 'tinylfu', 'opt'];

export interface SimResult {
  readonly trace: string;
  readonly policy: SimPolicy;
  /** The L1 size simulated, in terms of the full traffic (see Trace.sampleRate). */
  readonly capacityBytes: number;
  /** The fraction of the traffic's keys the trace holds (1: all). */
  readonly sampleRate: number;
  readonly accesses: number;
  readonly hitRatio: number;
  /** Hits weighted by the bytes each key costs. */
  readonly byteHitRatio: number;
}

// Longer than any replay takes: the simulator measures what a policy keeps, not lifetimes.
const FOREVER_MS = 2 ** 31;
const VALUE = Object.freeze({});

/**
 * Replays `trace` through the store L1 would use for `policy`, bounded at
 * `capacityBytes`: a miss stores the key, as the sidecar stores a row it
 * fetched or computed. The stores are the ones serving (tiny_lfu.ts, and
 * lru-cache), not models of them. A trace sampled by key at rate R is
 * replayed in R × `capacityBytes`: its keys are R of the traffic's, its
 * reuse distances R of theirs, so its hit ratio there estimates the full
 * traffic's in `capacityBytes` (SHARDS, Waldspurger et al., FAST '15).
 */
export function simulate(trace: Trace, policy: SimPolicy, capacityBytes: number): SimResult {
  const rate = trace.sampleRate ?? 1;
  const scaled = Math.max(1, Math.round(capacityBytes * rate));
  const counts = policy === 'opt' ? belady(trace, scaled) : replay(trace, policy, scaled);
  const accesses = trace.keys.length;
  return {
    trace: trace.name,
    policy,
    capacityBytes,
    sampleRate: rate,
    accesses,
    hitRatio: hitRatio(counts.hits, accesses, rate, trace.fullAccesses),
    byteHitRatio: counts.hitBytes / counts.bytes,
  };
}

/**
 * `hits` of `accesses`, for a sample of keys taken at `rate` from traffic of
 * `full` accesses: SHARDS-adj (Waldspurger et al., section 4.3). A sample
 * that took a very hot key holds more than `rate` of the accesses, mostly
 * hits; one that missed it holds fewer. The difference from the expected
 * count is counted as hits (or taken from them), which removes most of the
 * error a few hot keys make. Plain hits / accesses when `full` is unknown.
 */
function hitRatio(hits: number, accesses: number, rate: number, full: number | undefined): number {
  if (full === undefined || rate === 1 || full <= 0) return hits / accesses;
  const expected = full * rate;
  return Math.min(1, Math.max(0, (hits + expected - accesses) / expected));
}

interface Counts {
  readonly hits: number;
  readonly hitBytes: number;
  readonly bytes: number;
}

function replay(trace: Trace, policy: L1Policy, capacityBytes: number): Counts {
  const store: BoundedStore<object> =
    policy === 'tinylfu'
      ? new TinyLfuStore({ maxBytes: capacityBytes })
      : lruStore({ maxBytes: capacityBytes });
  const names = keyNames(trace);
  let hits = 0;
  let hitBytes = 0;
  let bytes = 0;
  for (let i = 0; i < trace.keys.length; i++) {
    const id = trace.keys[i] as number;
    const name = names[id] as string;
    const size = trace.sizes[id] as number;
    bytes += size;
    if (store.get(name) !== undefined) {
      hits++;
      hitBytes += size;
    } else store.set(name, VALUE, size, FOREVER_MS);
  }
  return { hits, hitBytes, bytes };
}

const namesOf = new WeakMap<Trace, string[]>();

/** One string per key id, made once per trace (the stores are keyed by strings, as L1 is). */
function keyNames(trace: Trace): string[] {
  let names = namesOf.get(trace);
  if (names === undefined) {
    names = Array.from({ length: trace.sizes.length }, (_, id) => `k${id}`);
    namesOf.set(trace, names);
  }
  return names;
}

/**
 * Belady's policy with bypass: on a miss, keep the key unless it is used
 * again later than every key it would displace; make room by dropping the
 * keys used again furthest in the future. Optimal for entries of one size;
 * with mixed sizes a close bound, not the exact optimum (that is NP-hard).
 */
function belady(trace: Trace, capacityBytes: number): Counts {
  const n = trace.keys.length;
  const nextUse = new Float64Array(n);
  const seen = new Float64Array(trace.sizes.length).fill(Number.POSITIVE_INFINITY);
  for (let i = n - 1; i >= 0; i--) {
    const id = trace.keys[i] as number;
    nextUse[i] = seen[id] as number;
    seen[id] = i;
  }
  // Max-heap of (next use, id); an entry whose next use is no longer the key's is stale and skipped.
  const heap = new MaxHeap();
  const residentNext = new Float64Array(trace.sizes.length).fill(-1);
  let used = 0;
  let hits = 0;
  let hitBytes = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const id = trace.keys[i] as number;
    const size = trace.sizes[id] as number;
    const next = nextUse[i] as number;
    bytes += size;
    if ((residentNext[id] as number) >= 0) {
      hits++;
      hitBytes += size;
      if (next === Number.POSITIVE_INFINITY) {
        residentNext[id] = -1;
        used -= size;
      } else {
        residentNext[id] = next;
        heap.push(next, id);
      }
      continue;
    }
    if (next === Number.POSITIVE_INFINITY || size > capacityBytes) continue;
    let admit = true;
    while (used + size > capacityBytes) {
      const [top, topId] = heap.peek();
      if (residentNext[topId] !== top) {
        heap.pop();
        continue;
      }
      if (top < next) {
        admit = false;
        break;
      }
      heap.pop();
      residentNext[topId] = -1;
      used -= trace.sizes[topId] as number;
    }
    if (!admit) continue;
    residentNext[id] = next;
    used += size;
    heap.push(next, id);
  }
  return { hits, hitBytes, bytes };
}

/** A binary max-heap of (priority, id) pairs in two flat arrays. */
class MaxHeap {
  readonly #keys: number[] = [];
  readonly #ids: number[] = [];

  push(key: number, id: number): void {
    let i = this.#keys.length;
    this.#keys.push(key);
    this.#ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.#keys[parent] as number) >= key) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  peek(): [number, number] {
    return [this.#keys[0] as number, this.#ids[0] as number];
  }

  pop(): void {
    const last = this.#keys.length - 1;
    this.#swap(0, last);
    this.#keys.pop();
    this.#ids.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < last && (this.#keys[l] as number) > (this.#keys[top] as number)) top = l;
      if (r < last && (this.#keys[r] as number) > (this.#keys[top] as number)) top = r;
      if (top === i) return;
      this.#swap(i, top);
      i = top;
    }
  }

  #swap(a: number, b: number): void {
    const k = this.#keys[a] as number;
    this.#keys[a] = this.#keys[b] as number;
    this.#keys[b] = k;
    const id = this.#ids[a] as number;
    this.#ids[a] = this.#ids[b] as number;
    this.#ids[b] = id;
  }
}
