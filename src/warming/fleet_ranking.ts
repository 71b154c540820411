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
 * `{prefix}:popular:{view}` to which every sidecar adds its local top-K
 * estimates now and then. Scores decay: whichever sidecar first finds a
 * half-life passed (a key set with NX and an expiry of one half-life)
 * halves every score and trims the set to `maxEntities`. Members are the
 * entity's join values as a JSON array of strings.
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

  /** Adds this sidecar's top entities of every view to the fleet ranking. */
  async publish(popularity: Popularity): Promise<void> {
    if (this.#door.mode === 'none') return;
    for (const view of popularity.views()) {
      const top = popularity.top(view, this.#options.maxEntities).filter((e) => e.estimate > 0);
      if (top.length === 0) continue;
      const key = this.#key(view);
      const outcomes = await this.#door.run(
        'ranking_add',
        'write',
        top.map((e) => ({ key, name: 'ZINCRBY', args: [key, e.estimate, member(e.values)] })),
      );
      const failed = outcomes.find(isFailure);
      if (failed !== undefined) {
        this.#log.debug({ view, reason: failed.reason }, 'could not add to the fleet ranking');
        continue;
      }
      await this.#decay(key);
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
