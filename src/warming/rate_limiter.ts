/**
 * A token bucket of rows per second: warming takes rows from it before each
 * batch, so it never outruns live traffic for the CPU, Redis or an origin.
 * Time is injected (tests move it instead of sleeping).
 */
export class RateLimiter {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(perSecond: number, now: () => number = () => performance.now()) {
    this.#perSecond = perSecond;
    this.#burst = Math.max(1, perSecond);
    this.#now = now;
    this.#tokens = this.#burst;
    this.#at = now();
  }

  /** Waits until `n` rows may go; rejects when `signal` fires. */
  async take(n: number, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    // The bucket holds one second's worth: a batch larger than that is paid
    // for a bucketful at a time, or such batches would run past the rate.
    for (let left = n; left > 0; left -= this.#burst)
      await this.#takeAtMostBurst(Math.min(left, this.#burst), signal);
  }

  async #takeAtMostBurst(want: number, signal: AbortSignal): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      const now = this.#now();
      this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#perSecond);
      this.#at = now;
      if (this.#tokens >= want) {
        this.#tokens -= want;
        return;
      }
      const waitMs = Math.ceil(((want - this.#tokens) / this.#perSecond) * 1000);
      await new Promise<void>((resolve, reject) => {
        // The listener goes with the wait: a warm of many batches shares one signal.
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal.reason);
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, waitMs);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}
