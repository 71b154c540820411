/**
 * Single-flight for cache misses: while one caller computes a key, others
 * asking for the same key wait for that result instead of computing it again.
 * Hand-written because the libraries found coalesce one call per key, and a
 * batch claims many keys at once and settles them together from one run.
 */
export class SingleFlight<V> {
  readonly #inflight = new Map<string, Promise<V>>();

  /** The pending result for `key`, if another caller is computing it. */
  pending(key: string): Promise<V> | undefined {
    return this.#inflight.get(key);
  }

  /**
   * Claims keys nobody is computing; the caller must settle every claim.
   * Returns one settle function per key, in order.
   */
  claim(keys: readonly string[]): {
    resolve: (key: string, value: V) => void;
    reject: (error: unknown) => void;
  } {
    const settlers = new Map<string, { resolve: (v: V) => void; reject: (e: unknown) => void }>();
    for (const key of keys) {
      const promise = new Promise<V>((resolve, reject) => settlers.set(key, { resolve, reject }));
      // Waiters attach their own handlers; this one only stops an
      // unhandled-rejection report when nobody waited.
      promise.catch(() => undefined);
      this.#inflight.set(key, promise);
    }
    return {
      resolve: (key, value) => {
        settlers.get(key)?.resolve(value);
        settlers.delete(key);
        this.#inflight.delete(key);
      },
      reject: (error) => {
        for (const [key, s] of settlers) {
          s.reject(error);
          this.#inflight.delete(key);
        }
        settlers.clear();
      },
    };
  }

  get size(): number {
    return this.#inflight.size;
  }
}
