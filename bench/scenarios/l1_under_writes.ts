import { createClient, type InferCacheClient } from '../../test/helpers/client.js';
import { metricValue } from '../../test/helpers/metrics.js';
import type { RedisServer } from '../../test/helpers/redis_server.js';
import { envInt } from '../lib/env.js';
import { progress } from '../lib/log.js';
import { startBenchSidecar, stopBenchSidecar } from '../lib/procs.js';
import type { ScenarioResult, Value } from '../lib/report.js';
import { mulberry32 } from '../lib/rows.js';

const ROUNDS = envInt('BENCH_INGEST_ROUNDS', 2, 1);
const PHASE_MS = 4000;
const VIEW = 'iris_flowers'; // The shipped view: flower_id int64, four float32 features.
const READ_ENTITIES = 2000;
const READ_BATCH = 50;
const READERS = 4;
const WRITERS = 2;
const WRITE_BATCH = 10;
// Short, so every row goes back to Redis twice a second and L1 must take it again each time.
const L1_TTL_MS = 500;
const TARGET = 0.9;
const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

function put(client: InferCacheClient, ids: readonly number[], rand: () => number) {
  return client.putFeatures({
    view: VIEW,
    entities: { columns: [{ name: 'flower_id', int64_values: ids.map(String) }] },
    features: FEATURES.map((name) => ({ name, type: 1, float32_values: ids.map(() => rand()) })),
    event_time_ms: ids.map(() => Date.now()),
  });
}

/** L1 lookups of feature rows so far: hits and misses. */
async function lookups(metrics: () => Promise<string>): Promise<{ hit: number; miss: number }> {
  const text = await metrics();
  const of = (result: string) =>
    metricValue(text, 'infercache_cache_lookups_total', { kind: 'f', tier: 'l1', result }) ?? 0;
  return { hit: of('hit'), miss: of('miss') };
}

/**
 * Reads of feature rows while PutFeatures of other entities streams into the
 * same sidecar, as in a feature store fed while it serves: L1's hit ratio of
 * the reads, against the same reads alone. Rows live 500 ms in L1, so each is
 * read from Redis about twice a second and must be copied into L1 again; a
 * copy is held back when its own key changed while the read was in flight
 * (cache/change_marks.ts), never because other keys did.
 */
export async function l1UnderWrites(redis: RedisServer): Promise<ScenarioResult> {
  const sidecar = await startBenchSidecar('feature reads and writes', redis.url, {
    INFERCACHE_L1_TTL_MS: String(L1_TTL_MS),
  });
  const client = createClient(sidecar.grpcAddr);
  const rand = mulberry32(0x1e57);
  const readIds = Array.from({ length: READ_ENTITIES }, (_, i) => 1_000_000 + i);
  let nextWrite = 2_000_000;
  try {
    for (let i = 0; i < readIds.length; i += 500) await put(client, readIds.slice(i, i + 500), rand);
    const phase = async (withWrites: boolean) => {
      const before = await lookups(() => sidecar.metrics());
      const end = Date.now() + PHASE_MS;
      let read = 0;
      let written = 0;
      const reader = async () => {
        while (Date.now() < end) {
          const ids = Array.from({ length: READ_BATCH }, () => readIds[Math.floor(rand() * readIds.length)]);
          await client.getFeatures({
            features: [VIEW],
            entities: { columns: [{ name: 'flower_id', int64_values: ids.map(String) }] },
          });
          read += READ_BATCH;
        }
      };
      const writer = async () => {
        while (Date.now() < end) {
          const ids = Array.from({ length: WRITE_BATCH }, () => nextWrite++);
          await put(client, ids, rand);
          written += WRITE_BATCH;
        }
      };
      await Promise.all([
        ...Array.from({ length: READERS }, reader),
        ...(withWrites ? Array.from({ length: WRITERS }, writer) : []),
      ]);
      const after = await lookups(() => sidecar.metrics());
      const hit = after.hit - before.hit;
      const miss = after.miss - before.miss;
      return {
        hitRatio: hit / (hit + miss),
        rowsReadPerSec: read / (PHASE_MS / 1000),
        rowsWrittenPerSec: written / (PHASE_MS / 1000),
      };
    };
    const perRound: { alone: number; withWrites: number }[] = [];
    const phases: Record<string, Record<string, Value>> = {};
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? [false, true] : [true, false];
      const got: Record<string, number> = {};
      for (const withWrites of order) {
        const name = withWrites ? 'reads beside writes' : 'reads alone';
        progress(`  round ${round}/${ROUNDS}: ${name}, ${PHASE_MS} ms`);
        const r = await phase(withWrites);
        got[name] = r.hitRatio;
        phases[`${name}, round ${round}`] = {
          l1HitRatio: r.hitRatio,
          rowsReadPerSec: Math.round(r.rowsReadPerSec),
          rowsWrittenPerSec: Math.round(r.rowsWrittenPerSec),
        };
      }
      perRound.push({
        alone: got['reads alone'] as number,
        withWrites: got['reads beside writes'] as number,
      });
    }
    const ratios = perRound.map((r) => r.withWrites / r.alone).sort((a, b) => a - b);
    const text = await sidecar.metrics();
    const keptBack = metricValue(text, 'infercache_l1_kept_back_total', { kind: 'f', source: 'l2' }) ?? 0;
    return {
      name: 'l1_under_writes',
      title: 'GetFeatures from L1 while PutFeatures of other entities streams into the same sidecar',
      settings: {
        rounds: ROUNDS,
        phaseMs: PHASE_MS,
        readEntities: READ_ENTITIES,
        readers: READERS,
        readBatch: READ_BATCH,
        writers: WRITERS,
        writeBatch: WRITE_BATCH,
        l1TtlMs: L1_TTL_MS,
      },
      ratios: {
        'L1 hit ratio of the reads, beside writes/alone (worst round)': {
          value: ratios[0] as number,
          target: `>= ${TARGET}`,
          met: (ratios[0] as number) >= TARGET,
        },
      },
      phases,
      notes: [
        `${READERS} readers ask for ${READ_BATCH} of ${READ_ENTITIES} entities at random, back to back; beside them ${WRITERS} writers put ${WRITE_BATCH} new entities at a time, back to back. Rows live ${L1_TTL_MS} ms in L1, so the reads keep copying rows from Redis into L1.`,
        `L1 copies held back over the run (infercache_l1_kept_back_total, kind f, source l2): ${keptBack}. Each write changes other keys than the reads', and client tracking reports the sidecar's own writes back to it; a copy is held back only when its own key changed while it was read.`,
      ],
    };
  } finally {
    client.close();
    await stopBenchSidecar(sidecar);
  }
}
