import { Redis } from 'ioredis';
import type { RedisServer } from '../../test/helpers/redis_server.js';
import type { Contender } from '../lib/alternate.js';
import { ourCode } from '../lib/dist.js';
import { l2Result, timeL2Contenders } from '../lib/l2_report.js';
import {
  decoder,
  HEAVY_OUTPUT_FLOATS,
  heavyEntries,
  heavyRowKind,
  L2_BATCH,
  l2Hits,
} from '../lib/l2_values.js';
import { progress } from '../lib/log.js';
import type { ScenarioResult } from '../lib/report.js';
import { benchTieredCache } from '../lib/tiered_cache.js';

const SEED = 0x12b0;
const OURS = 'ours';
const DOOR = 'door only';
const BASELINE = 'raw ioredis';

/**
 * A 1,000-key batch read from one Redis server: the sidecar's L2 path
 * (TieredCache.getMany over the door createRedisDoor builds, L1 missing)
 * against raw ioredis, one MGET, with the same frame check and decode of
 * each value. A third contender, the door alone plus that decoding, splits
 * the difference between the door and the cache above it.
 */
export async function l2Batch(redis: RedisServer): Promise<ScenarioResult> {
  const code = await ourCode();
  const kind = heavyRowKind(code);
  const { keys, frames } = heavyEntries(code, kind, L2_BATCH.keys, SEED);
  // ioredis's defaults: the baseline shares none of our client options.
  const raw = new Redis({ host: '127.0.0.1', port: redis.port });
  const ours = benchTieredCache(code, redis.url, 'single');
  try {
    const writes = raw.pipeline();
    keys.forEach((key, i) => {
      writes.set(key, frames[i] as Buffer, 'PX', 3_600_000);
    });
    await writes.exec();
    const decode = decoder(code, kind);
    const contenders: Contender[] = [
      { name: OURS, run: async () => l2Hits(await ours.cache.getMany(kind, keys)) },
      { name: BASELINE, run: async () => decode(keys, await raw.mgetBuffer(...keys)) },
      {
        name: DOOR,
        run: async () => decode(keys, await ours.cache.door.getMany('mget', keys)),
      },
    ];
    progress(
      `  ${keys.length}-key batches, ${L2_BATCH.rounds} rounds of ${L2_BATCH.iterations} calls per contender`,
    );
    const comparison = await timeL2Contenders('l2_batch', contenders, keys.length);
    return l2Result({
      name: 'l2_batch',
      title: `${keys.length}-key batch read from one Redis server: TieredCache.getMany vs raw ioredis MGET`,
      settings: {
        keys: keys.length,
        payloadBytes: HEAVY_OUTPUT_FLOATS * 4,
        frameBytes: (frames[0] as Buffer).length,
        rounds: L2_BATCH.rounds,
        callsPerRound: L2_BATCH.iterations,
        turnsPerRound: L2_BATCH.turns,
        warmupCalls: L2_BATCH.warmup,
      },
      comparison,
      ours: OURS,
      baseline: BASELINE,
      target: 1.15,
      others: [DOOR],
      notes: [
        `${OURS}: TieredCache.getMany over createRedisDoor (default settings), L1 off for predictions (a share of 0: lookups skip it, nothing is copied into it); ` +
          `${BASELINE}: one mgetBuffer of all keys on a client with ioredis's defaults; both decode every value ` +
          "(decodeFrame, then the kind's decode); calls run one at a time.",
        'The door splits a batch into MGETs of at most 500 keys, sent in one pipeline.',
        'shortCalls: calls that answered fewer than all keys (a Redis timeout or error on our side).',
      ],
    });
  } finally {
    raw.disconnect();
    await ours.close();
  }
}
