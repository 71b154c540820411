import calculateSlot from 'cluster-key-slot';
import { Cluster, type Redis } from 'ioredis';
import { type RedisCluster, startRedisCluster } from '../../test/helpers/redis_cluster.js';
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

const MASTERS = 3;
const SEED = 0x12b1;
const OURS = 'ours';
const DOOR = 'door only';
const BASELINE = 'raw ioredis';
const VIA_CLUSTER = 'raw ioredis, Cluster.pipeline';

/**
 * The leanest batch read on a cluster with ioredis: group the keys by the
 * owner of their slot (the Cluster client's slot map), then per node one
 * pipeline holding one MGET per slot, on that node's connection, all nodes
 * at once. With `viaCluster`, each node's pipeline is made by
 * Cluster.pipeline() instead, as our cluster transport makes it (ioredis
 * then routes every command by its keys, and follows MOVED and ASK).
 */
function rawClusterReader(cluster: Cluster, viaCluster = false) {
  const masters = new Map<string, Redis>(
    cluster.nodes('master').map((r) => [`${r.options.host}:${r.options.port}`, r]),
  );
  return async (keys: readonly string[]): Promise<(Buffer | null)[]> => {
    const byNode = new Map<string, Map<number, number[]>>();
    const slots = cluster.slots;
    for (let i = 0; i < keys.length; i++) {
      const slot = calculateSlot(keys[i] as string);
      const node = slots[slot]?.[0];
      if (node === undefined) throw new Error(`slot ${slot} has no owner`);
      let bySlot = byNode.get(node);
      if (bySlot === undefined) {
        bySlot = new Map();
        byNode.set(node, bySlot);
      }
      let group = bySlot.get(slot);
      if (group === undefined) {
        group = [];
        bySlot.set(slot, group);
      }
      group.push(i);
    }
    const out = new Array<Buffer | null>(keys.length).fill(null);
    await Promise.all(
      [...byNode].map(async ([node, bySlot]) => {
        const client = masters.get(node);
        if (client === undefined) throw new Error(`no connection to ${node}`);
        const groups = [...bySlot.values()];
        const pipeline = viaCluster ? cluster.pipeline() : client.pipeline();
        for (const g of groups) pipeline.mgetBuffer(...g.map((i) => keys[i] as string));
        const replies = (await pipeline.exec()) ?? [];
        replies.forEach(([error, values], j) => {
          if (error !== null) return;
          const g = groups[j] as number[];
          (values as (Buffer | null)[]).forEach((v, k) => {
            out[g[k] as number] = v;
          });
        });
      }),
    );
    return out;
  };
}

/**
 * The same 1,000-key batch read as l2_batch, on a local Redis Cluster of
 * three masters: our cluster door (one pipeline per node, one MGET per slot)
 * against the same plan written with a raw ioredis Cluster client.
 */
export async function l2BatchCluster(): Promise<ScenarioResult> {
  const code = await ourCode();
  progress(`  starting a ${MASTERS}-master Redis Cluster`);
  const redis: RedisCluster = await startRedisCluster({ masters: MASTERS });
  // ioredis's defaults: the baseline shares none of our client options.
  const raw = new Cluster([...redis.seedNodes]);
  const ours = benchTieredCache(code, redis.seedUrls, 'cluster');
  try {
    await new Promise<void>((resolve, reject) => {
      raw.once('ready', resolve);
      raw.once('error', reject);
    });
    const kind = heavyRowKind(code);
    const { keys, frames } = heavyEntries(code, kind, L2_BATCH.keys, SEED);
    await Promise.all(keys.map((key, i) => raw.set(key, frames[i] as Buffer, 'PX', 3_600_000)));
    const read = rawClusterReader(raw);
    const readViaCluster = rawClusterReader(raw, true);
    const slots = new Set(keys.map((k) => calculateSlot(k))).size;
    const decode = decoder(code, kind);
    const contenders: Contender[] = [
      { name: OURS, run: async () => l2Hits(await ours.cache.getMany(kind, keys)) },
      { name: BASELINE, run: async () => decode(keys, await read(keys)) },
      {
        name: DOOR,
        run: async () => decode(keys, await ours.cache.door.getMany('mget', keys)),
      },
      { name: VIA_CLUSTER, run: async () => decode(keys, await readViaCluster(keys)) },
    ];
    progress(`  ${keys.length}-key batches over ${slots} slots, ${L2_BATCH.rounds} rounds`);
    const comparison = await timeL2Contenders('l2_batch_cluster', contenders, keys.length);
    return l2Result({
      name: 'l2_batch_cluster',
      title: `${keys.length}-key batch read from a ${MASTERS}-master Redis Cluster: TieredCache.getMany vs raw ioredis per-node pipelines`,
      settings: {
        keys: keys.length,
        masters: MASTERS,
        slots,
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
      target: 1.2,
      others: [DOOR, VIA_CLUSTER],
      notes: [
        `${OURS}: TieredCache.getMany over createRedisDoor in cluster mode (default settings), L1 off for predictions (a share of 0: lookups skip it, nothing is copied into it); ` +
          `${BASELINE}: an ioredis Cluster client with its defaults, keys grouped by slot owner from its slot map, ` +
          "one pipeline per master on that master's connection with one MGET per slot, all masters at once; " +
          "both decode every value (decodeFrame, then the kind's decode); calls run one at a time.",
        `${VIA_CLUSTER}: the baseline's plan with each node's pipeline made by Cluster.pipeline(), as our cluster transport makes it; ` +
          'between it and the baseline is the cost of ioredis routing every command of a cluster pipeline.',
        'shortCalls: calls that answered fewer than all keys (a Redis timeout or error on our side).',
      ],
    });
  } finally {
    raw.disconnect();
    await ours.close();
    await redis.stop();
  }
}
