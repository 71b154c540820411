/**
 * The keys this sidecar is writing to Redis now, and which of them a change
 * made elsewhere reached meanwhile. A writer keeps its own rows in L1 once
 * Redis answers; but the fleet's message of a later change (another
 * sidecar's newer row, a delete) travels on another connection and can
 * arrive before that answer, and the row kept would then be older than
 * Redis's for its whole L1 lifetime. Seen in the staleness checker: a
 * sidecar held its own row for 130 ms after another's newer write, until
 * the next change of the entity happened to drop it.
 */
export class WritesInFlight {
  /** Key → writes of it in flight (a batch may name a key twice; calls may overlap). */
  readonly #writing = new Map<string, number>();
  readonly #overtaken = new Set<string>();

  /** A writer is about to send `keys` to Redis. */
  begin(keys: readonly string[]): void {
    for (const key of keys) this.#writing.set(key, (this.#writing.get(key) ?? 0) + 1);
  }

  /** Redis answered the writes of `keys` (begun with begin): the keys a change made elsewhere reached meanwhile. */
  end(keys: readonly string[]): Set<string> {
    const overtaken = new Set<string>();
    for (const key of keys) {
      if (this.#overtaken.has(key)) overtaken.add(key);
      const left = (this.#writing.get(key) ?? 1) - 1;
      if (left > 0) {
        this.#writing.set(key, left);
        continue;
      }
      this.#writing.delete(key);
      this.#overtaken.delete(key);
    }
    return overtaken;
  }

  /** A change of `key` made elsewhere (announced by the fleet) reached this sidecar. */
  changed(key: string): void {
    if (this.#writing.has(key)) this.#overtaken.add(key);
  }

  /** Changes may have been missed (a lost tracking connection, a trimmed log): any key may have changed. */
  changedAll(): void {
    for (const key of this.#writing.keys()) this.#overtaken.add(key);
  }
}
