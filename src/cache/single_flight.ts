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

  /** Claims keys nobody is computing; the caller must settle every claim. */
  claim(keys: readonly string[]): {
    resolve: (key: string, value: V) => void;
    reject: (error: unknown) => void;
  } {
    type Settler = { promise: Promise<V>; resolve: (v: V) => void; reject: (e: unknown) => void };
    const settlers = new Map<string, Settler>();
    for (const key of keys) {
      const settler = {} as Settler;
      settler.promise = new Promise<V>((resolve, reject) => {
        settler.resolve = resolve;
        settler.reject = reject;
      });
      // Waiters attach their own handlers; this one only stops an
      // unhandled-rejection report when nobody waited.
      settler.promise.catch(() => undefined);
      settlers.set(key, settler);
      this.#inflight.set(key, settler.promise);
    }
    // A key is forgotten only while it still maps to this claim's promise.
    const forget = (key: string, s: Settler) => {
      if (this.#inflight.get(key) === s.promise) this.#inflight.delete(key);
    };
    return {
      resolve: (key, value) => {
        const s = settlers.get(key);
        if (s === undefined) return;
        s.resolve(value);
        settlers.delete(key);
        forget(key, s);
      },
      reject: (error) => {
        for (const [key, s] of settlers) {
          s.reject(error);
          forget(key, s);
        }
        settlers.clear();
      },
    };
  }

  get size(): number {
    return this.#inflight.size;
  }
}

/**
 * Waits for `promise` but gives up when `signal` fires: a waiter honours its
 * own deadline and cancellation, not only those of the caller it waits on.
 */
export function waitUnlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
