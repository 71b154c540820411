/**
 * Admission control: a cap on calls in progress, so a burst is refused with
 * RESOURCE_EXHAUSTED up front instead of queueing until memory or latency
 * blow up. Each call may hold up to maxMessageBytes of tensors.
 */
export class Admission {
  #inflight = 0;
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  enter(): boolean {
    if (this.#inflight >= this.#max) return false;
    this.#inflight++;
    return true;
  }

  leave(): void {
    this.#inflight--;
  }
}
