/**
 * Single-flight for cache misses: while one caller computes a key, others
 * asking for the same key wait for that result instead of computing it again.
 * Hand-written because the libraries found coalesce one call per key, and a
 * batch claims many keys at once and settles them together from one run.
 */
/**
 * One key being computed. Its promise is made only when another caller
 * waits for it: most computed keys have no waiter, and a promise with its
 * two settling functions and a guard against unhandled rejection is a few
 * hundred bytes per key (a 1,024-row miss claims 1,024 keys).
 */
class Flight<V> {
  #promise: Promise<V> | undefined;
  #resolve: ((value: V) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;

  wait(): Promise<V> {
    if (this.#promise === undefined) {
      this.#promise = new Promise<V>((resolve, reject) => {
        this.#resolve = resolve;
        this.#reject = reject;
      });
      // Waiters attach their own handlers; this one only stops an
      // unhandled-rejection report when the waiter left (its deadline) first.
      this.#promise.catch(() => undefined);
    }
    return this.#promise;
  }

  resolve(value: V): void {
    this.#resolve?.(value);
  }

  reject(error: unknown): void {
    this.#reject?.(error);
  }
}

export class SingleFlight<V> {
  readonly #inflight = new Map<string, Flight<V>>();

  /** The pending result for `key`, if another caller is computing it. */
  pending(key: string): Promise<V> | undefined {
    return this.#inflight.get(key)?.wait();
  }

  /** Whether some caller is computing `key` (without waiting for it). */
  has(key: string): boolean {
    return this.#inflight.has(key);
  }

  /**
   * Claims keys nobody is computing; the caller must settle every claim:
   * `resolve(i, value)` for `keys[i]`, or `reject` for all still unsettled.
   */
  claim(keys: readonly string[]): {
    resolve: (i: number, value: V) => void;
    reject: (error: unknown) => void;
  } {
    const flights = new Array<Flight<V> | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const flight = new Flight<V>();
      flights[i] = flight;
      this.#inflight.set(keys[i] as string, flight);
    }
    // A key is forgotten only while it still maps to this claim's flight.
    const settle = (i: number): Flight<V> | undefined => {
      const flight = flights[i];
      if (flight === undefined) return undefined;
      flights[i] = undefined;
      const key = keys[i] as string;
      if (this.#inflight.get(key) === flight) this.#inflight.delete(key);
      return flight;
    };
    return {
      resolve: (i, value) => settle(i)?.resolve(value),
      reject: (error) => {
        for (let i = 0; i < keys.length; i++) settle(i)?.reject(error);
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
