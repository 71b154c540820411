import type { BoundedStore, StoreOptions } from './bounded_store.js';
import { coarseClock } from './coarse_clock.js';
import { FrequencySketch } from './frequency_sketch.js';

// Byte shares of the segments, after Caffeine's defaults: a 1% window of
// plain LRU lets a burst of new keys build up a count before they must win
// admission; the main part is 80% protected (seen twice since admitted).
const WINDOW_SHARE = 0.01;
const PROTECTED_SHARE = 0.8;
// A candidate with an estimate of at least this is let in 1 time in 128 even
// against a victim that looks as warm or warmer: counters stop at 15, and a
// key that collides with hot keys in every row would otherwise keep a warm
// newcomer out for good (Caffeine guards its admission the same way).
const WARM_CANDIDATE = 6;
// A bound in bytes does not say how many entries fit: the sketch is sized
// at first for entries of about this many bytes (a prediction row of a
// mid-sized model, a 256-float embedding), and grows, losing its counts, when
// more are held; at 8 bytes per entry it costs about 1% of the bound.
const SKETCH_BYTES_PER_ENTRY = 1024;
const SKETCH_MIN = 64;
const SKETCH_MAX = 1 << 22;
// Counters per entry held, and increments per entry between two halvings,
// as in Caffeine (16 and 10): the sketch must also count the keys that are
// not let in, and a denser one saturates before it ages.
const SKETCH_KEYS_PER_ENTRY = 4;
const SKETCH_SAMPLES_PER_ENTRY = 10;

const WINDOW = 0;
const PROBATION = 1;
const PROTECTED = 2;

interface Node<V> {
  key: string;
  value: V;
  size: number;
  expiresAt: number;
  hash: number;
  segment: number;
  prev: Node<V>;
  next: Node<V>;
}

/** A circular list around a sentinel: `head.next` is the least recently used. */
class Segment<V> {
  readonly head: Node<V>;
  bytes = 0;
  constructor() {
    const head = { key: '', size: 0, expiresAt: 0, hash: 0, segment: -1 } as Node<V>;
    head.prev = head;
    head.next = head;
    this.head = head;
  }
  get lru(): Node<V> | undefined {
    const n = this.head.next;
    return n === this.head ? undefined : n;
  }
  push(node: Node<V>, segment: number): void {
    const tail = this.head.prev;
    node.prev = tail;
    node.next = this.head;
    tail.next = node;
    this.head.prev = node;
    node.segment = segment;
    this.bytes += node.size;
  }
  unlink(node: Node<V>): void {
    node.prev.next = node.next;
    node.next.prev = node.prev;
    this.bytes -= node.size;
  }
  clear(): void {
    this.head.prev = this.head;
    this.head.next = this.head;
    this.bytes = 0;
  }
}

/**
 * W-TinyLFU bounded in bytes (Einziger, Friedman and Manes, "TinyLFU: A
 * Highly Efficient Cache Admission Policy", 2017; Caffeine's layout): new
 * entries enter a small LRU window; what the window pushes out is a
 * candidate for the main segmented LRU, let in only if the frequency sketch
 * has seen it more often than the entry it would displace. A scan of
 * one-time keys therefore passes through the window without flushing the
 * frequent set, which plain LRU cannot do.
 *
 * Written here rather than taken from npm: the one maintained W-TinyLFU
 * package found (transitory) evicts on a timer and lets its weight run past
 * the bound until then, has no per-entry lifetime, and does not refuse an
 * entry larger than the bound; L1 needs all three, exactly, on every set.
 */
export class TinyLfuStore<V> implements BoundedStore<V> {
  readonly maxBytes: number;
  readonly #windowMax: number;
  readonly #protectedMax: number;
  readonly #now: () => number;
  readonly #onEvict: () => void;
  readonly #onDrop: ((value: V) => void) | undefined;
  readonly #map = new Map<string, Node<V>>();
  readonly #window = new Segment<V>();
  readonly #probation = new Segment<V>();
  readonly #protected = new Segment<V>();
  #sketch: FrequencySketch;
  #sketchCapacity: number;
  #bytes = 0;
  #random = 0x2545f491;

  constructor(options: StoreOptions<V>) {
    this.maxBytes = options.maxBytes;
    this.#windowMax = Math.max(1, Math.floor(options.maxBytes * WINDOW_SHARE));
    this.#protectedMax = Math.floor((options.maxBytes - this.#windowMax) * PROTECTED_SHARE);
    // A clock a test gives is read on every call; the default, once per ms.
    this.#now = options.now ?? coarseClock();
    this.#onEvict = options.onEvict ?? (() => {});
    this.#onDrop = options.onDrop;
    this.#sketchCapacity = Math.min(
      SKETCH_MAX,
      Math.max(SKETCH_MIN, Math.ceil(options.maxBytes / SKETCH_BYTES_PER_ENTRY)),
    );
    this.#sketch = newSketch(this.#sketchCapacity);
  }

  get size(): number {
    return this.#map.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): V | undefined {
    const node = this.#map.get(key);
    if (node === undefined) return undefined;
    if (node.expiresAt <= this.#now()) {
      this.#remove(node);
      return undefined;
    }
    this.#sketch.increment(node.hash);
    this.#touch(node);
    return node.value;
  }

  set(key: string, value: V, size: number, ttlMs: number): void {
    const old = this.#map.get(key);
    if (size > this.maxBytes) {
      if (old !== undefined) this.#remove(old);
      return;
    }
    const expiresAt = this.#now() + ttlMs;
    if (old !== undefined) {
      this.#segmentOf(old).unlink(old);
      this.#bytes -= old.size;
      this.#onDrop?.(old.value);
      old.value = value;
      old.size = size;
      old.expiresAt = expiresAt;
      this.#bytes += size;
      this.#segmentOf(old).push(old, old.segment);
      this.#sketch.increment(old.hash);
      this.#demoteProtected();
    } else {
      const node = { key, value, size, expiresAt, hash: hashKey(key) } as Node<V>;
      this.#map.set(key, node);
      this.#window.push(node, WINDOW);
      this.#bytes += size;
      this.#sketch.increment(node.hash);
      this.#growSketch();
    }
    this.#makeRoom();
  }

  delete(key: string): boolean {
    const node = this.#map.get(key);
    if (node === undefined) return false;
    this.#remove(node);
    return true;
  }

  clear(): void {
    const onDrop = this.#onDrop;
    if (onDrop !== undefined) for (const node of this.#map.values()) onDrop(node.value);
    this.#map.clear();
    this.#window.clear();
    this.#probation.clear();
    this.#protected.clear();
    this.#bytes = 0;
  }

  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  *entries(): Generator<[string, V, number]> {
    const now = this.#now();
    for (const node of this.#map.values()) {
      const left = node.expiresAt - now;
      if (left > 0) yield [node.key, node.value, left];
    }
  }

  /** A hit: most recent in its segment; a second use on probation earns protection. */
  #touch(node: Node<V>): void {
    if (node.segment === PROBATION) {
      this.#probation.unlink(node);
      this.#protected.push(node, PROTECTED);
      this.#demoteProtected();
      return;
    }
    const segment = this.#segmentOf(node);
    segment.unlink(node);
    segment.push(node, node.segment);
  }

  /** Protected entries past its share go back on probation, most recent end. */
  #demoteProtected(): void {
    while (this.#protected.bytes > this.#protectedMax) {
      const lru = this.#protected.lru as Node<V>;
      this.#protected.unlink(lru);
      this.#probation.push(lru, PROBATION);
    }
  }

  /** Restores the bounds: the window's share first, then the whole. */
  #makeRoom(): void {
    while (this.#window.bytes > this.#windowMax) {
      const candidate = this.#window.lru as Node<V>;
      this.#window.unlink(candidate);
      this.#admit(candidate);
    }
    // Left over only when the window is under its share (it held little, or
    // an entry grew): then the main part gives way, least recent first.
    while (this.#bytes > this.maxBytes) {
      const victim = this.#probation.lru ?? this.#protected.lru ?? (this.#window.lru as Node<V>);
      this.#evict(victim);
    }
  }

  /**
   * A candidate out of the window (counted in #bytes, in no segment) enters
   * probation if there is room, or if it is seen more often than each entry
   * it displaces; otherwise it goes. An expired entry at the cold end of
   * either main segment gives way first, without a contest: one TTL per
   * kind makes the least recently used the likeliest to have expired.
   */
  #admit(candidate: Node<V>): void {
    const now = this.#now();
    while (this.#bytes > this.maxBytes) {
      const victim = this.#probation.lru ?? this.#protected.lru;
      if (victim === undefined || candidate.expiresAt <= now) {
        this.#drop(candidate);
        return;
      }
      const coldProtected = this.#protected.lru;
      if (victim.expiresAt <= now) this.#evict(victim);
      else if (coldProtected !== undefined && coldProtected.expiresAt <= now) this.#evict(coldProtected);
      else if (this.#wins(candidate, victim)) this.#evict(victim);
      else {
        this.#drop(candidate);
        return;
      }
    }
    this.#probation.push(candidate, PROBATION);
  }

  /** A candidate refused: it was stored and now goes for room, so it counts as an eviction. */
  #drop(candidate: Node<V>): void {
    this.#map.delete(candidate.key);
    this.#bytes -= candidate.size;
    this.#onDrop?.(candidate.value);
    this.#onEvict();
  }

  #wins(candidate: Node<V>, victim: Node<V>): boolean {
    const c = this.#sketch.frequency(candidate.hash);
    if (c > this.#sketch.frequency(victim.hash)) return true;
    if (c < WARM_CANDIDATE) return false;
    // xorshift32: a fixed sequence, so a replayed trace gives the same result.
    let x = this.#random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#random = x >>> 0;
    return (x & 127) === 0;
  }

  #evict(node: Node<V>): void {
    this.#remove(node);
    this.#onEvict();
  }

  #remove(node: Node<V>): void {
    this.#segmentOf(node).unlink(node);
    this.#map.delete(node.key);
    this.#bytes -= node.size;
    this.#onDrop?.(node.value);
  }

  #segmentOf(node: Node<V>): Segment<V> {
    return node.segment === WINDOW
      ? this.#window
      : node.segment === PROBATION
        ? this.#probation
        : this.#protected;
  }

  /**
   * A sketch much smaller than the number of entries makes every estimate
   * high and admission a coin toss; grown (and so reset, as Caffeine does)
   * when the entries outnumber what it tells apart.
   */
  #growSketch(): void {
    if (this.#map.size <= this.#sketchCapacity || this.#sketchCapacity >= SKETCH_MAX) return;
    this.#sketchCapacity = Math.min(SKETCH_MAX, this.#sketchCapacity * 4);
    this.#sketch = newSketch(this.#sketchCapacity);
  }
}

function newSketch(entries: number): FrequencySketch {
  return new FrequencySketch(entries * SKETCH_KEYS_PER_ENTRY, entries * SKETCH_SAMPLES_PER_ENTRY);
}

/** FNV-1a over the key's UTF-16 units: keys are short, and most end in a hash already. */
function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
