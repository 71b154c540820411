import { FrequencySketch } from '../cache/frequency_sketch.js';
import type { WarmingMetrics } from '../ops/metrics.js';
import { TopK } from './top_k.js';

/** One entity of a view, as warming asks for it again: its join values, in the view's key order. */
export type EntityValues = readonly (string | bigint)[];

/** A view's entities looked up since they were last published, and how to say they were. */
export interface Unpublished {
  /** Each entity with its lookups since the last publish (at least 1). */
  readonly entries: readonly { values: EntityValues; lookups: number }[];
  /** The fleet ranking has them: the next publish counts from here. */
  published(): void;
}

export interface PopularityOptions {
  /** Distinct entities the sketch tells apart (its memory: about 2 bytes each; see FrequencySketch.bytes). */
  readonly capacity: number;
  /** Entities kept per view in the local ranking. */
  readonly topK: number;
}

/**
 * How popular each entity is, in fixed memory: every lookup by entity
 * (GetFeatures, and through it Predict and GetEmbeddings by entity) counts
 * in one decaying frequency sketch, and each view keeps a top-K of its
 * most looked-up entities, with their join values, for warming.
 */
export class Popularity {
  readonly #sketch: FrequencySketch;
  readonly #topK: number;
  readonly #views = new Map<string, TopK<EntityValues>>();

  constructor(options: PopularityOptions, metrics: WarmingMetrics) {
    this.#sketch = new FrequencySketch(options.capacity);
    this.#topK = options.topK;
    this.#sketch.onHalve(() => {
      for (const top of this.#views.values()) top.age();
    });
    metrics.sketchBytes.set(this.#sketch.bytes);
  }

  /**
   * A lookup of entities of `view`: `hashes` are their key hashes (hex, 32
   * digits); `values(i)` gives entity i's join values, called only when it
   * enters the top-K (one function per lookup, no closure per entity: a
   * lookup is up to thousands of them).
   */
  seenAll(view: string, hashes: readonly string[], values: (i: number) => EntityValues): void {
    const salt = viewSalt(view);
    let top = this.#views.get(view);
    if (top === undefined) {
      top = new TopK<EntityValues>(this.#topK);
      this.#views.set(view, top);
    }
    for (let i = 0; i < hashes.length; i++) {
      const hash = hashes[i] as string;
      const estimate = this.#sketch.increment(Number.parseInt(hash.slice(-8), 16) ^ salt);
      top.offer(hash, estimate, values, i);
    }
  }

  /** The view's most looked-up entities here, most first. */
  top(view: string, n: number): { values: EntityValues; estimate: number }[] {
    return (this.#views.get(view)?.ranked() ?? [])
      .slice(0, n)
      .map((e) => ({ values: e.item, estimate: e.estimate }));
  }

  /**
   * Of the view's `n` most looked-up entities here, those looked up since
   * the last publish that reached the fleet, with how often. An entity that
   * enters the top-K brings its estimate (the lookups the sketch saw before).
   */
  unpublished(view: string, n: number): Unpublished {
    const ranked = (this.#views.get(view)?.ranked() ?? []).slice(0, n);
    // The counts as they are now: lookups made while the publish is under way go in the next one.
    const taken = ranked.filter((e) => e.offers > e.recorded).map((e) => ({ e, offers: e.offers }));
    return {
      entries: taken.map(({ e, offers }) => ({ values: e.item, lookups: offers - e.recorded })),
      published: () => {
        for (const { e, offers } of taken) e.recorded = offers;
      },
    };
  }

  views(): string[] {
    return [...this.#views.keys()];
  }
}

// The same entity in two views is two keys of the sketch.
function viewSalt(view: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < view.length; i++) h = Math.imul(h ^ view.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
