import type { BoundedStore, KindStore, StoreOptions } from './bounded_store.js';
import type { CacheKind } from './kind.js';
import { SlabArena } from './slab_arena.js';

// What an entry costs besides its bytes in the arena: the key string and its Map entry,
// the policy's slots (lru-cache's typed arrays, or a W-TinyLFU node) and the
// 22 bytes of this store's own arrays. Smaller than ENTRY_OVERHEAD_BYTES,
// which also pays for the value's objects.
export const ARENA_ENTRY_OVERHEAD_BYTES = 96;
const NO_KIND = 0xffff;

/**
 * One kind's part of L1 with its values kept encoded (the kind's L2
 * payload) in a SlabArena rather than as objects: the GC then walks a few
 * large buffers instead of every cached tensor, so a hit does not wait on a
 * collection made long by a large L1. The policy (LRU or W-TinyLFU) holds
 * only a small integer per key, an index into typed arrays that say where
 * the bytes are (the arena moves them, and says where to).
 *
 * A read decodes the bytes, and every kind's decode copies what it keeps
 * (CacheKind.decode), so a value handed out stays valid when its bytes are
 * moved or their room reused. An entry costs its bytes, the arena's record
 * header, its key and ARENA_ENTRY_OVERHEAD_BYTES; the bound holds on that
 * sum, and the arena's slabs within SlabArena.maxReservedBytes of it (under
 * 1.6% over it). A value the kind cannot encode is not kept.
 */
export class ArenaStore implements KindStore {
  readonly maxBytes: number;
  readonly #policy: BoundedStore<number>;
  readonly #arena: SlabArena;
  #slab = new Int32Array(256);
  #offset = new Int32Array(256);
  #length = new Int32Array(256);
  #time = new Float64Array(256);
  #kindOf = new Uint16Array(256);
  #nextId = 0;
  readonly #freeIds: number[] = [];
  /** The kinds that wrote the entries held, so a snapshot can decode them; an index per kind, counted. */
  readonly #kinds: (CacheKind<object> | undefined)[] = [];
  readonly #kindRefs: number[] = [];
  readonly #kindIndex = new Map<CacheKind<object>, number>();

  constructor(policy: (options: StoreOptions<number>) => BoundedStore<number>, options: StoreOptions) {
    this.maxBytes = options.maxBytes;
    this.#arena = new SlabArena(options.maxBytes, (id, slab, offset) => {
      this.#slab[id] = slab;
      this.#offset[id] = offset;
    });
    this.#policy = policy({
      maxBytes: options.maxBytes,
      ...(options.now ? { now: options.now } : {}),
      ...(options.onEvict ? { onEvict: options.onEvict } : {}),
      onDrop: (id) => this.#free(id),
    });
  }

  get size(): number {
    return this.#policy.size;
  }

  get bytes(): number {
    return this.#policy.bytes;
  }

  /** Bytes of the slabs held: what the arena costs in memory, against `bytes`, what the bound counts. */
  get reservedBytes(): number {
    return this.#arena.reservedBytes;
  }

  get<V>(kind: CacheKind<V>, key: string): V | undefined {
    const id = this.#policy.get(key);
    if (id === undefined) return undefined;
    return this.#decode(kind, key, id);
  }

  set<V>(kind: CacheKind<V>, key: string, value: V, ttlMs: number): void {
    let payload: Uint8Array;
    try {
      payload = kind.encode(value);
    } catch {
      this.#policy.delete(key);
      return;
    }
    const size = cost(payload, key);
    // Refused before a slot is taken: the policy would drop a refused value without giving it back.
    if (size > this.maxBytes) {
      this.#policy.delete(key);
      return;
    }
    const kindIndex = this.#refKind(kind as CacheKind<object>);
    const id = this.#newId();
    const slot = this.#arena.alloc(id, payload.length);
    this.#arena.buffer(slot.slab).set(payload, slot.offset);
    this.#slab[id] = slot.slab;
    this.#offset[id] = slot.offset;
    this.#length[id] = payload.length;
    this.#time[id] = kind.timeOf(value);
    this.#kindOf[id] = kindIndex;
    this.#policy.set(key, id, size, ttlMs);
    // Now that what the policy evicted is freed: the slabs left with holes are compacted if they hold too much.
    this.#arena.trim();
  }

  charge<V>(kind: CacheKind<V>, key: string, value: V): number {
    // Encoded again rather than read from the entry: its slot is found
    // through the policy, whose lookups count as uses (W-TinyLFU's sketch).
    // Only a traced key asks (traced_store.ts), so the encoding is rare.
    try {
      return cost(kind.encode(value), key);
    } catch {
      return 0; // Not encodable: set() keeps nothing.
    }
  }

  delete(key: string): boolean {
    return this.#policy.delete(key);
  }

  clear(): void {
    this.#policy.clear();
  }

  keys(): IterableIterator<string> {
    return this.#policy.keys();
  }

  *entries(): Generator<[string, object, number]> {
    for (const [key, id, left] of this.#policy.entries()) {
      const kind = this.#kinds[this.#kindOf[id] as number];
      // Decoded before the yield: the consumer may await, and the slot be reused, before the next step.
      const value = kind === undefined ? undefined : this.#decode(kind, key, id);
      if (value !== undefined) yield [key, value, left];
    }
  }

  #decode<V>(kind: CacheKind<V>, key: string, id: number): V | undefined {
    const at = this.#offset[id] as number;
    const bytes = this.#arena
      .buffer(this.#slab[id] as number)
      .subarray(at, at + (this.#length[id] as number));
    try {
      return kind.decode(bytes, this.#time[id] as number);
    } catch {
      // Bytes this kind wrote and now refuses (another reader's schema under the same key): a miss.
      this.#policy.delete(key);
      return undefined;
    }
  }

  #free(id: number): void {
    this.#arena.free(this.#slab[id] as number, this.#offset[id] as number);
    this.#unrefKind(this.#kindOf[id] as number);
    this.#kindOf[id] = NO_KIND;
    this.#freeIds.push(id);
  }

  #newId(): number {
    const reused = this.#freeIds.pop();
    if (reused !== undefined) return reused;
    const id = this.#nextId++;
    if (id >= this.#slab.length) {
      const n = this.#slab.length * 2;
      this.#slab = grow(new Int32Array(n), this.#slab);
      this.#offset = grow(new Int32Array(n), this.#offset);
      this.#length = grow(new Int32Array(n), this.#length);
      this.#time = grow(new Float64Array(n), this.#time);
      this.#kindOf = grow(new Uint16Array(n), this.#kindOf);
    }
    return id;
  }

  #refKind(kind: CacheKind<object>): number {
    let index = this.#kindIndex.get(kind);
    if (index === undefined) {
      index = this.#kinds.indexOf(undefined);
      if (index < 0) index = this.#kinds.length;
      if (index >= NO_KIND) throw new RangeError('more cache kinds in use than the arena can tell apart');
      this.#kinds[index] = kind;
      this.#kindRefs[index] = 0;
      this.#kindIndex.set(kind, index);
    }
    this.#kindRefs[index] = (this.#kindRefs[index] as number) + 1;
    return index;
  }

  /** A kind no entry uses any more is forgotten, so kinds of unloaded model versions are not held. */
  #unrefKind(index: number): void {
    const refs = (this.#kindRefs[index] as number) - 1;
    this.#kindRefs[index] = refs;
    if (refs > 0) return;
    const kind = this.#kinds[index] as CacheKind<object>;
    this.#kindIndex.delete(kind);
    this.#kinds[index] = undefined;
  }
}

/** What an entry costs against the bound: its bytes in the arena, its key and the bookkeeping. */
function cost(payload: Uint8Array, key: string): number {
  return SlabArena.recordBytes(payload.length) + key.length + ARENA_ENTRY_OVERHEAD_BYTES;
}

function grow<A extends Int32Array | Float64Array | Uint16Array>(into: A, from: A): A {
  into.set(from);
  return into;
}
