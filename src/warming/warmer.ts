import type { EntityColumnWire } from '../features/entity_keys.js';
import type { FeatureReader } from '../features/get_features.js';
import type { FeatureView } from '../features/view.js';
import type { ReadyVersion } from '../model/registry.js';
import type { Logger } from '../ops/logger.js';
import type { WarmingMetrics } from '../ops/metrics.js';
import type { FleetRanking } from './fleet_ranking.js';
import type { EntityValues, Popularity } from './popularity.js';
import { RateLimiter } from './rate_limiter.js';
import { Slots } from './slots.js';

export type WarmTrigger = 'start' | 'switch' | 'schedule' | 'request';

/** Which ranking said what is popular: the fleet's in Redis, or this sidecar's own (no Redis). */
export type RankingUsed = 'fleet' | 'local';

export interface WarmProgress {
  readonly done: number;
  readonly total: number;
  readonly failed: number;
  readonly seconds: number;
}

/** Computes what a model version makes of these entities (predictions or embeddings), counting what it warmed. */
export type VersionWarmer = (
  mv: ReadyVersion,
  columns: EntityColumnWire[],
  signal: AbortSignal,
) => Promise<void>;

export interface WarmerDeps {
  readonly reader: FeatureReader;
  readonly ranking: FleetRanking;
  /** This sidecar's own ranking: what is popular when there is no fleet (no Redis). */
  readonly popularity: Pick<Popularity, 'top'>;
  readonly views: () => ReadonlyMap<string, FeatureView>;
  /** Entity rows per batch (one feature read and one model run each). */
  readonly batch: number;
  readonly rowsPerSecond: number;
  /** Batches in flight at once, over every warm in progress. */
  readonly concurrency: number;
  /** The current versions whose entity rows read `view` (none: `view` feeds no model). */
  readonly versionsReading: (view: FeatureView) => readonly ReadyVersion[];
  /** The views a version's entity rows read. */
  readonly viewsOf: (mv: ReadyVersion) => readonly FeatureView[];
  readonly warmVersion: VersionWarmer;
  readonly metrics: WarmingMetrics;
  readonly log: Logger;
}

/**
 * Warms the tiers with popular entities: their feature rows are read (L2
 * into L1; the origin for what no tier has), then the predictions and
 * embeddings of the models they feed are computed, in batches, at a bounded
 * rate and concurrency so warming never starves live traffic. Used at start
 * (before health says SERVING, within a time budget), before a model version
 * switch (that version only), on a schedule, and by the Warm call. Warming
 * never counts as a lookup: popular stays what callers ask for.
 */
export class Warmer {
  readonly #deps: WarmerDeps;
  readonly #limiter: RateLimiter;
  readonly #slots: Slots;

  constructor(deps: WarmerDeps) {
    this.#deps = deps;
    this.#limiter = new RateLimiter(deps.rowsPerSecond);
    this.#slots = new Slots(deps.concurrency);
  }

  /**
   * The `n` most popular entities of `view`: the fleet's ranking, or
   * without Redis this sidecar's own top-K (there is no fleet ranking then,
   * and the sidecar's own lookups are all there is to go by).
   */
  async popular(view: FeatureView, n: number): Promise<{ entities: EntityValues[]; ranking: RankingUsed }> {
    if (this.#deps.ranking.shared)
      return { entities: await this.#deps.ranking.top(view.name, n), ranking: 'fleet' };
    return { entities: this.#deps.popularity.top(view.name, n).map((e) => e.values), ranking: 'local' };
  }

  /** The `top` most popular entities of every view (see popular), until `signal` fires (a time budget). */
  async warmTop(top: number, trigger: WarmTrigger, signal: AbortSignal): Promise<WarmProgress> {
    let sum: WarmProgress = { done: 0, total: 0, failed: 0, seconds: 0 };
    for (const view of this.#deps.views().values()) {
      if (signal.aborted) break;
      const { entities } = await this.popular(view, top);
      if (entities.length === 0) continue;
      sum = add(sum, await this.warm(view, entities, trigger, signal));
    }
    return sum;
  }

  /**
   * Before `mv` becomes current: its predictions or embeddings of the top
   * entities of each view it reads, until `signal` fires (the switch budget).
   */
  async warmVersion(mv: ReadyVersion, top: number, signal: AbortSignal): Promise<WarmProgress> {
    let sum: WarmProgress = { done: 0, total: 0, failed: 0, seconds: 0 };
    const each = (columns: EntityColumnWire[], s: AbortSignal) => this.#deps.warmVersion(mv, columns, s);
    for (const view of this.#deps.viewsOf(mv)) {
      if (signal.aborted) break;
      const { entities } = await this.popular(view, top);
      if (entities.length === 0) continue;
      sum = add(sum, await this.warm(view, entities, 'switch', signal, () => {}, each));
    }
    return sum;
  }

  /**
   * Warms `entities` of `view` (by default: their feature rows, then every
   * current model reading the view), batches in parallel up to the
   * concurrency (the slots every warm shares), each paid for at the rate
   * limit before it starts; reports progress after each batch; stops early
   * (not failing) when `signal` fires, once the batches under way have
   * ended, so nothing it started outlives it.
   */
  async warm(
    view: FeatureView,
    entities: readonly EntityValues[],
    trigger: WarmTrigger,
    signal: AbortSignal,
    onProgress: (p: WarmProgress) => void = () => {},
    each: (columns: EntityColumnWire[], signal: AbortSignal) => Promise<void> = (columns, s) =>
      this.#featuresAndModels(view, columns, s),
  ): Promise<WarmProgress> {
    const { metrics, batch } = this.#deps;
    const started = performance.now();
    let done = 0;
    let failed = 0;
    const progress = () => ({
      done,
      total: entities.length,
      failed,
      seconds: (performance.now() - started) / 1000,
    });
    const one = async (chunk: readonly EntityValues[], release: () => void): Promise<void> => {
      try {
        await each(entityColumns(view, chunk), signal);
        done += chunk.length;
      } catch (error) {
        // A batch cut short by the signal is skipped, not failed.
        if (signal.aborted) return;
        failed += chunk.length;
        metrics.rows.labels('f', 'failed').inc(chunk.length);
        this.#deps.log.warn(
          { view: view.name, err: (error as Error).message.slice(0, 200) },
          'a warm batch failed',
        );
      } finally {
        release();
      }
      onProgress(progress());
    };
    const running = new Set<Promise<void>>();
    let outcome = 'done';
    try {
      for (let at = 0; at < entities.length; at += batch) {
        const chunk = entities.slice(at, at + batch);
        await this.#limiter.take(chunk.length, signal);
        const release = await this.#slots.take(signal);
        const batchDone: Promise<void> = one(chunk, release).finally(() => running.delete(batchDone));
        running.add(batchDone);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      await Promise.all(running);
      const skipped = entities.length - done - failed;
      if (skipped > 0 && signal.aborted) {
        outcome = trigger === 'start' || trigger === 'switch' ? 'budget' : 'cancelled';
        metrics.rows.labels('f', 'skipped').inc(skipped);
      }
      metrics.runs.labels(trigger, outcome).inc();
      metrics.seconds.labels(trigger).inc((performance.now() - started) / 1000);
    }
    return progress();
  }

  async #featuresAndModels(
    view: FeatureView,
    columns: EntityColumnWire[],
    signal: AbortSignal,
  ): Promise<void> {
    await this.#deps.reader.get([view.name], columns, signal, { lookup: false });
    const column = columns[0];
    const rows = column === undefined ? 0 : Math.max(column.int64_values.length, column.string_values.length);
    this.#deps.metrics.rows.labels('f', 'warmed').inc(rows);
    for (const mv of this.#deps.versionsReading(view)) await this.#deps.warmVersion(mv, columns, signal);
  }
}

function add(a: WarmProgress, b: WarmProgress): WarmProgress {
  return {
    done: a.done + b.done,
    total: a.total + b.total,
    failed: a.failed + b.failed,
    seconds: a.seconds + b.seconds,
  };
}

/** Entities as the view's join-key columns (int64 values as decimal strings). */
function entityColumns(view: FeatureView, entities: readonly EntityValues[]): EntityColumnWire[] {
  return view.joinKeys.map((key, k) => {
    const values = entities.map((e) => String(e[k] ?? ''));
    return key.type === 'int64'
      ? { name: key.name, string_values: [], int64_values: values }
      : { name: key.name, string_values: values, int64_values: [] };
  });
}
