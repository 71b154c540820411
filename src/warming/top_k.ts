export interface Ranked<T> {
  readonly key: string;
  estimate: number;
  readonly item: T;
  /**
   * Times offered since it entered, plus its estimate then: a count that
   * neither saturates nor ages, unlike the estimate (what the fleet
   * ranking adds up, see fleet_ranking.ts).
   */
  offers: number;
  /** `offers` as its owner last recorded it (the fleet ranking: at the last publish). */
  recorded: number;
}

/**
 * The K keys with the highest estimates seen, with what identifies each
 * (an entity's join values, say): a min-heap on the estimate plus an index
 * by key, so offering a key costs O(log K) and O(1) when it cannot enter.
 */
export class TopK<T> {
  readonly #k: number;
  readonly #heap: Ranked<T>[] = [];
  readonly #at = new Map<string, number>();

  constructor(k: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError('k must be a positive integer');
    this.#k = k;
  }

  get size(): number {
    return this.#heap.length;
  }

  /**
   * `key` was seen with `estimate`: it enters, moves, or stays out. `item(i)`
   * is called only when it enters (`i` lets one function serve a whole batch
   * of keys, rather than a closure per key).
   */
  offer(key: string, estimate: number, item: (i: number) => T, i = 0): void {
    const at = this.#at.get(key);
    if (at !== undefined) {
      const entry = this.#heap[at] as Ranked<T>;
      const before = entry.estimate;
      entry.estimate = estimate;
      entry.offers++;
      if (estimate > before) this.#down(at);
      else this.#up(at);
      return;
    }
    if (this.#heap.length < this.#k) {
      this.#heap.push({ key, estimate, item: item(i), offers: estimate, recorded: 0 });
      this.#at.set(key, this.#heap.length - 1);
      this.#up(this.#heap.length - 1);
      return;
    }
    const min = this.#heap[0] as Ranked<T>;
    if (estimate <= min.estimate) return;
    this.#at.delete(min.key);
    this.#heap[0] = { key, estimate, item: item(i), offers: estimate, recorded: 0 };
    this.#at.set(key, 0);
    this.#down(0);
  }

  /** Halves every estimate (with the sketch's counters); the order is kept. */
  age(): void {
    for (const e of this.#heap) e.estimate = Math.floor(e.estimate / 2);
  }

  /** Every entry, highest estimate first. */
  ranked(): Ranked<T>[] {
    return [...this.#heap].sort((a, b) => b.estimate - a.estimate);
  }

  #up(i: number): void {
    const heap = this.#heap;
    let at = i;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if ((heap[parent] as Ranked<T>).estimate <= (heap[at] as Ranked<T>).estimate) break;
      this.#swap(at, parent);
      at = parent;
    }
  }

  #down(i: number): void {
    const heap = this.#heap;
    let at = i;
    for (;;) {
      const left = 2 * at + 1;
      const right = left + 1;
      let least = at;
      if (left < heap.length && (heap[left] as Ranked<T>).estimate < (heap[least] as Ranked<T>).estimate)
        least = left;
      if (right < heap.length && (heap[right] as Ranked<T>).estimate < (heap[least] as Ranked<T>).estimate)
        least = right;
      if (least === at) return;
      this.#swap(at, least);
      at = least;
    }
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap;
    const x = heap[a] as Ranked<T>;
    const y = heap[b] as Ranked<T>;
    heap[a] = y;
    heap[b] = x;
    this.#at.set(y.key, a);
    this.#at.set(x.key, b);
  }
}
