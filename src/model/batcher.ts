/** How the rows of different calls to one model version may share a run. */
export interface BatchPolicy {
  /** Rows of different calls that may run together (1: every call runs alone). */
  readonly maxRows: number;
  /**
   * How long the oldest rows of a batch may wait for more while a worker is
   * free (0: a batch forms only from what queued while the workers were busy).
   */
  readonly maxDelayMs: number;
}

/** What the batcher reads of a waiting run. */
export interface Queued {
  /** Runs of the same group may be joined into one; undefined runs alone. */
  readonly group: string | undefined;
  /** Rows on axis 0 (a run that cannot be joined counts as one). */
  readonly rows: number;
  readonly policy: BatchPolicy;
  /** performance.now() (or the injected clock) when it was queued. */
  readonly queuedAt: number;
}

/** The runs to start now (maybe none, when all it took had expired) and the expired ones it removed. */
export interface Taken<T> {
  readonly run: T[];
  readonly expired: T[];
}

interface Group<T> {
  readonly items: Set<T>;
  rows: number;
}

/**
 * The runs waiting for a worker, in arrival order, and the choice of what a
 * free worker runs next: the oldest run, joined with the later runs of its
 * group up to the policy's rows (Triton's dynamic batcher, without preferred
 * sizes). A group whose rows do not yet fill a batch waits up to its delay
 * for more, while runs behind it that are ready go first.
 */
export class Batcher<T extends Queued> {
  // Sets keep insertion order and remove a cancelled run in O(1).
  readonly #order = new Set<T>();
  readonly #groups = new Map<string, Group<T>>();
  /** Runs taken out of a failed batch to run alone: they go before anything queued. */
  readonly #first = new Set<T>();

  get size(): number {
    return this.#order.size + this.#first.size;
  }

  add(item: T): void {
    this.#order.add(item);
    if (item.group === undefined) return;
    let group = this.#groups.get(item.group);
    if (group === undefined) {
      group = { items: new Set(), rows: 0 };
      this.#groups.set(item.group, group);
    }
    group.items.add(item);
    group.rows += item.rows;
  }

  /** Puts a run back at the head of the line, to run alone. */
  addFirst(item: T): void {
    this.#first.add(item);
  }

  /** Removes a waiting run; false when it was not waiting. */
  delete(item: T): boolean {
    if (this.#first.delete(item)) return true;
    if (!this.#order.delete(item)) return false;
    if (item.group === undefined) return true;
    const group = this.#groups.get(item.group) as Group<T>;
    group.items.delete(item);
    group.rows -= item.rows;
    if (group.items.size === 0) this.#groups.delete(item.group);
    return true;
  }

  /** Removes and returns every waiting run. */
  drain(): T[] {
    const all = [...this.#first, ...this.#order];
    this.#first.clear();
    this.#order.clear();
    this.#groups.clear();
    return all;
  }

  /**
   * What a free worker runs next, or, when nothing is ready yet, the clock
   * time at which a waiting batch will be (undefined: nothing waits).
   */
  take(now: number, expired: (item: T) => boolean): Taken<T> | number | undefined {
    for (const item of this.#first) {
      this.#first.delete(item);
      return expired(item) ? { run: [], expired: [item] } : { run: [item], expired: [] };
    }
    let wakeAt = Number.POSITIVE_INFINITY;
    for (const item of this.#order) {
      if (item.group === undefined) {
        this.#order.delete(item);
        return expired(item) ? { run: [], expired: [item] } : { run: [item], expired: [] };
      }
      const group = this.#groups.get(item.group) as Group<T>;
      // Only a group's oldest run decides for the group; the others follow it.
      if (group.items.values().next().value !== item) continue;
      const readyAt = item.queuedAt + item.policy.maxDelayMs;
      if (group.rows >= item.policy.maxRows || now >= readyAt) return this.#takeGroup(group, expired);
      wakeAt = Math.min(wakeAt, readyAt);
    }
    return wakeAt === Number.POSITIVE_INFINITY ? undefined : wakeAt;
  }

  /** The group's oldest runs, in order, while their rows fit the policy (the first always). */
  #takeGroup(group: Group<T>, expired: (item: T) => boolean): Taken<T> {
    const run: T[] = [];
    const gone: T[] = [];
    let rows = 0;
    for (const item of group.items) {
      if (expired(item)) {
        this.delete(item);
        gone.push(item);
        continue;
      }
      if (run.length > 0 && rows + item.rows > item.policy.maxRows) break;
      this.delete(item);
      run.push(item);
      rows += item.rows;
    }
    return { run, expired: gone };
  }
}
