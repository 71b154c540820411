import type { Logger } from '../ops/logger.js';
import { isFailure, type RedisDoor } from '../redis/door.js';
import type { EntityValues, Popularity } from './popularity.js';

export interface RankingOptions {
  readonly prefix: string;
  /** Entities the fleet ranking keeps per view. */
  readonly maxEntities: number;
  /** The fleet ranking's scores halve this often (ms): popularity decays. */
  readonly halfLifeMs: number;
}

/**
 * The fleet's ranking of popular entities, per view, in Redis: a sorted set
 * `{prefix}:popular:{view}` to which every sidecar adds, now and then, the
 * lookups its top-K entities had since its last publish. Scores decay:
 * whichever sidecar first finds a half-life passed (a key set with NX and an
 * expiry of one half-life) halves every score, before it adds its own, and
 * trims the set to `maxEntities`. Members are the entity's join values as a
 * JSON array of strings.
 *
 * A score is thus the fleet's lookups of the entity, each halved once per
 * half-life since: at a steady r lookups per half-life it tends to 2r, and
 * with none it halves every half-life. Lookups, not estimates: a sidecar
 * once added its top-K's estimates at every publish, lookups or not, so a
 * score grew with the number of publishes (34 to 584 within minutes with
 * no lookup at all), an idle sidecar kept what it once saw popular up for
 * good, and the sketch's 4-bit counters (at most 15) told the hot apart
 * from the merely warm no better than the publish count did.
 */
export class FleetRanking {
  readonly #door: RedisDoor;
  readonly #options: RankingOptions;
  readonly #log: Logger;

  constructor(door: RedisDoor, options: RankingOptions, log: Logger) {
    this.#door = door;
    this.#options = options;
    this.#log = log;
  }

  /** False without Redis: there is no fleet ranking, only each sidecar's own. */
  get shared(): boolean {
    return this.#door.mode !== 'none';
  }

  /** Adds the lookups of this sidecar's top entities since its last publish, view by view. */
  async publish(popularity: Popularity): Promise<void> {
    if (this.#door.mode === 'none') return;
    for (const view of popularity.views()) {
      const key = this.#key(view);
      // Halved first, so what is added now counts whole until the next half-life.
      await this.#decay(key);
      const fresh = popularity.unpublished(view, this.#options.maxEntities);
      if (fresh.entries.length === 0) continue;
      const outcomes = await this.#door.run(
        'ranking_add',
        'write',
        fresh.entries.map((e) => ({ key, name: 'ZINCRBY', args: [key, e.lookups, member(e.values)] })),
      );
      const failed = outcomes.find(isFailure);
      if (failed !== undefined) {
        // Left unpublished: the next publish adds them again (some may have been added twice).
        this.#log.debug({ view, reason: failed.reason }, 'could not add to the fleet ranking');
        continue;
      }
      fresh.published();
    }
  }

  /** The fleet's `n` most popular entities of `view`, most first. */
  async top(view: string, n: number): Promise<EntityValues[]> {
    if (this.#door.mode === 'none' || n <= 0) return [];
    const key = this.#key(view);
    const [reply] = await this.#door.run('ranking_top', 'read', [
      { key, name: 'ZREVRANGE', args: [key, 0, n - 1] },
    ]);
    if (isFailure(reply) || !Array.isArray(reply)) return [];
    return reply.flatMap((m) => {
      try {
        const values = JSON.parse(String(m)) as unknown;
        return Array.isArray(values) && values.every((v) => typeof v === 'string')
          ? [values as string[]]
          : [];
      } catch {
        return [];
      }
    });
  }

  async #decay(key: string): Promise<void> {
    const lock = `${key}:decayed`;
    const [won] = await this.#door.run('ranking_decay', 'write', [
      { key: lock, name: 'SET', args: [lock, '1', 'NX', 'PX', this.#options.halfLifeMs] },
    ]);
    if (isFailure(won) || won === null) return;
    await this.#door.run('ranking_decay', 'write', [
      { key, name: 'ZUNIONSTORE', args: [key, 1, key, 'WEIGHTS', 0.5] },
      { key, name: 'ZREMRANGEBYRANK', args: [key, 0, -(this.#options.maxEntities + 1)] },
    ]);
  }

  #key(view: string): string {
    return `${this.#options.prefix}:popular:${view}`;
  }
}

/** An entity's join values as a member of the sorted set (int64 values as decimal strings). */
function member(values: EntityValues): string {
  return JSON.stringify(values.map((v) => (typeof v === 'bigint' ? v.toString() : v)));
}
