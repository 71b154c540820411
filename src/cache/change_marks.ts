import type { FrameKind } from './value_frame.js';

// Keys remembered at most. Past it, those older than every open mark are
// forgotten, and if more than half of it remain, everything counts as changed.
const PRUNE_AT = 65_536;

/**
 * Which L1 entries a writer or an invalidation changed while a read from L2
 * or a computation was in flight: what such a reader found or made may be
 * older than what the change left, so it is served but not kept in L1.
 *
 * Per key, not per kind: under a stream of writes (feature ingestion, or
 * client tracking echoing this sidecar's own PutFeatures) a per-kind count
 * moved during nearly every read, and L1 then kept almost nothing it read
 * from L2 or computed.
 *
 * Changes are numbered. A reader opens a mark (the current number) before
 * it looks, asks after it is answered whether a key changed since, and
 * closes the mark. Keys are remembered only while a mark is open, and only
 * as long as an open mark is older than their change; at most PRUNE_AT are
 * kept, beyond which the whole cache counts as changed, which only costs
 * copies (a reader then keeps nothing new), never a stale entry.
 */
export class ChangeMarks {
  #number = 0;
  readonly #byKey = new Map<string, number>();
  readonly #byKind = new Map<FrameKind, number>();
  /** The last change that counts for every key (a forgetting past PRUNE_AT). */
  #all = 0;
  /** Open mark → readers holding it. Marks only grow, so the first is the oldest. */
  readonly #open = new Map<number, number>();

  /** A mark to ask unchanged() with later; close it when done. */
  open(): number {
    const mark = this.#number;
    this.#open.set(mark, (this.#open.get(mark) ?? 0) + 1);
    return mark;
  }

  close(mark: number): void {
    const holders = (this.#open.get(mark) ?? 1) - 1;
    if (holders > 0) this.#open.set(mark, holders);
    else this.#open.delete(mark);
    if (this.#open.size === 0) this.#byKey.clear();
  }

  /** Whether anything changed since `mark` was opened: when not, no key need be asked about. */
  changedSince(mark: number): boolean {
    return this.#number > mark;
  }

  /** Whether neither `key` nor its whole kind changed since `mark` was opened. */
  unchanged(kind: FrameKind, key: string, mark: number): boolean {
    if (this.#number <= mark) return true;
    return this.#all <= mark && (this.#byKind.get(kind) ?? 0) <= mark && (this.#byKey.get(key) ?? 0) <= mark;
  }

  /** `key`'s entry was written or dropped from outside a read. */
  changed(key: string): void {
    if (this.#open.size === 0) return; // Nobody in flight can ask; later marks start after it.
    this.#byKey.set(key, ++this.#number);
    if (this.#byKey.size > PRUNE_AT) this.#prune();
  }

  /** Entries of `kind` under no single key changed (a scope invalidated, the kind cleared). */
  changedKind(kind: FrameKind): void {
    this.#byKind.set(kind, ++this.#number);
  }

  /** Keys remembered now (for tests and the bound). */
  get keys(): number {
    return this.#byKey.size;
  }

  #prune(): void {
    const oldest = this.#open.keys().next().value as number;
    for (const [key, number] of this.#byKey) if (number <= oldest) this.#byKey.delete(key);
    if (this.#byKey.size <= PRUNE_AT / 2) return;
    this.#all = ++this.#number;
    this.#byKey.clear();
  }
}

export const CHANGE_MARKS_PRUNE_AT = PRUNE_AT;
