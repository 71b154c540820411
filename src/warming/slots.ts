/**
 * A counting semaphore whose waits end when their signal fires: the warms
 * in progress (start, a version switch, the schedule, Warm calls) share a
 * fixed number of batches in flight. Small enough to keep here rather than
 * take a dependency whose waits cannot be cancelled.
 */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  /** Resolves with the slot's release once one is free; rejects when `signal` fires first. */
  take(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    const release = once(() => this.#release());
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        resolve(release);
      };
      const onAbort = () => {
        const at = this.#waiting.indexOf(grant);
        if (at !== -1) this.#waiting.splice(at, 1);
        reject(signal.reason);
      };
      this.#waiting.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#free++;
    else next();
  }
}

function once(f: () => void): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    f();
  };
}
