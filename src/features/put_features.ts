import type { EntryTtl } from '../cache/kind.js';
import type { TieredCache } from '../cache/tiered.js';
import { InferCacheError, invalidArgument, quote } from '../errors.js';
import type { FeatureMetrics } from '../ops/metrics.js';
import { type Failure, isFailure } from '../redis/door.js';
import type { EntityColumnWire } from './entity_keys.js';
import { entityRows } from './entity_keys.js';
import { type FeatureValuesWire, readColumn } from './feature_columns.js';
import type { FeatureRow, FeatureValue } from './feature_row.js';
import type { FeatureReader } from './get_features.js';
import { NEWER_WINS, newerWinsCall } from './newer_wins.js';
import type { FeatureView } from './view.js';

export interface PutResult {
  readonly written: number;
  readonly skippedOlder: number;
  readonly applied: readonly boolean[];
}

export interface PutFeaturesRequest {
  readonly view: string;
  readonly entities: readonly EntityColumnWire[];
  readonly features: readonly FeatureValuesWire[];
  readonly eventTimes: readonly (string | number)[];
}

/**
 * PutFeatures: the whole batch is checked first (nothing is written if any
 * row or field is wrong), then every row goes to Redis in one round trip
 * per node through a script that keeps the stored row when it is newer, so
 * concurrent writers cannot race. This sidecar's L1 takes the rows written
 * (unless the fleet changed them again meanwhile); `announce` tells the
 * rest of the fleet which keys changed.
 */
export class FeatureWriter {
  readonly #reader: FeatureReader;
  readonly #cache: TieredCache;
  readonly #views: () => ReadonlyMap<string, FeatureView>;
  readonly #maxRows: number;
  readonly #metrics: FeatureMetrics;
  readonly #now: () => number;
  readonly #announce: (view: FeatureView, keys: string[]) => Promise<void>;

  constructor(deps: {
    reader: FeatureReader;
    cache: TieredCache;
    views: () => ReadonlyMap<string, FeatureView>;
    maxEntityRows: number;
    metrics: FeatureMetrics;
    now: () => number;
    announce: (view: FeatureView, keys: string[]) => Promise<void>;
  }) {
    this.#reader = deps.reader;
    this.#cache = deps.cache;
    this.#views = deps.views;
    this.#maxRows = deps.maxEntityRows;
    this.#metrics = deps.metrics;
    this.#now = deps.now;
    this.#announce = deps.announce;
  }

  async put(req: PutFeaturesRequest, signal: AbortSignal): Promise<PutResult> {
    const view = this.#views().get(req.view);
    if (view === undefined) throw invalidArgument(`view: unknown view ${quote(req.view)}`);
    const rows = entityRows(view.joinKeys, req.entities, this.#maxRows);
    const now = this.#now();
    const built = buildRows(view, rows.count, req, now);
    const keys = this.#reader.writeKeys(view, rows);
    const { kind } = this.#reader.plumbing(view);
    this.#metrics.batchEntities.labels(view.name).observe(rows.count);
    const l1 = this.#cache.l1(kind);
    const ttls = built.map((row) => kind.ttl(row));

    let outcomes: unknown[];
    if (this.#cache.door.mode === 'none') {
      // No Redis: L1 is the only tier, held to the same rule row by row (a
      // batch may name an entity twice), and a refused row leaves it alone.
      outcomes = built.map((row, i) => {
        const key = keys[i] as string;
        const current = l1.get(key);
        if (current?.values !== undefined && current.eventTime > row.eventTime) return 0;
        l1.set(key, row, (ttls[i] as EntryTtl).l1Ms);
        return 1;
      });
    } else {
      const sentAt = this.#now();
      const inFlight = this.#cache.writesInFlight;
      inFlight.begin(keys);
      let overtaken: Set<string>;
      try {
        outcomes = await this.#cache.door.evalMany(
          'features_put',
          NEWER_WINS,
          built.map((row, i) => newerWinsCall(kind, keys[i] as string, row, (ttls[i] as EntryTtl).l2Ms)),
          signal,
        );
      } finally {
        overtaken = inFlight.end(keys);
      }
      // Redis ran the calls of a key in batch order. Where a row was not
      // stored, Redis holds a newer row (or, after a failure, an unknown
      // one): this L1's copy is dropped, unless the newer row is the one
      // this batch stored a moment before (a batch may name an entity twice).
      // A row whose key the fleet changed while the call was on its way is
      // dropped rather than kept: the change was made after it in Redis.
      const stored = new Map<string, number>();
      built.forEach((row, i) => {
        const key = keys[i] as string;
        const ttl = ttls[i] as EntryTtl;
        if (outcomes[i] === 1 && overtaken.has(key)) {
          l1.delete(key);
          stored.set(key, row.eventTime);
        } else if (outcomes[i] === 1) {
          // No longer than the L2 entry just written: its TTL carries jitter,
          // and started when Redis ran the script, before this answer came.
          l1.set(key, row, Math.min(ttl.l1Ms, ttl.l2Ms - (this.#now() - sentAt)));
          stored.set(key, row.eventTime);
        } else if (!(outcomes[i] === 0 && (stored.get(key) ?? -1) > row.eventTime)) l1.delete(key);
      });
    }
    const applied = outcomes.map((o) => o === 1);
    const failed = outcomes.filter((o) => isFailure(o)) as Failure[];
    const changed = [...new Set(keys.filter((_, i) => applied[i]))];
    const written = applied.filter(Boolean).length;
    const skippedOlder = outcomes.filter((o) => o === 0).length;
    const m = this.#metrics.writes;
    if (written > 0) m.labels(view.name, 'written').inc(written);
    if (skippedOlder > 0) m.labels(view.name, 'skipped_older').inc(skippedOlder);
    // Acknowledged only once the fleet has been told (the bus log holds it).
    if (changed.length > 0) await this.#announce(view, changed);
    if (failed.length > 0) {
      m.labels(view.name, 'failed').inc(failed.length);
      throw new InferCacheError(
        'E_UNAVAILABLE',
        `${failed.length} of ${rows.count} rows were not written (Redis: ${failed[0]?.reason}); ` +
          `${written} were; writing again is safe`,
      );
    }
    return { written, skippedOlder, applied };
  }
}

/** Rows in the view's feature order, each field checked; INVALID_ARGUMENT names the row and field. */
function buildRows(view: FeatureView, count: number, req: PutFeaturesRequest, now: number): FeatureRow[] {
  if (req.eventTimes.length !== count) {
    throw invalidArgument(`event_time_ms: ${req.eventTimes.length} given for ${count} rows`);
  }
  const columns: (FeatureValue[] | undefined)[] = new Array(view.features.length).fill(undefined);
  for (const column of req.features) {
    const index = view.index.get(column.name);
    if (index === undefined)
      throw invalidArgument(`features: view ${view.name} has no feature ${quote(column.name)}`);
    if (columns[index] !== undefined) throw invalidArgument(`features: "${column.name}" given twice`);
    columns[index] = readColumn(view.features[index] as (typeof view.features)[number], column, count);
  }
  const rows: FeatureRow[] = new Array(count);
  for (let r = 0; r < count; r++) {
    const eventTime = Number(req.eventTimes[r]);
    if (!Number.isSafeInteger(eventTime) || eventTime <= 0) {
      throw invalidArgument(
        `row ${r}: event_time_ms ${quote(String(req.eventTimes[r]))} is not a time in ms`,
      );
    }
    rows[r] = { eventTime, values: columns.map((c) => c?.[r] ?? null), writtenAt: now };
  }
  return rows;
}
