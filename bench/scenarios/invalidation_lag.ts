import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { FS, FT, featureOf, ST, stringIds, viewOf } from '../../test/helpers/features.js';
import { metricSum } from '../../test/helpers/metrics.js';
import type { RedisServer } from '../../test/helpers/redis_server.js';
import type { Sidecar } from '../../test/helpers/sidecar.js';
import { makeTempDir } from '../../test/helpers/temp_dirs.js';
import { envInt } from '../lib/env.js';
import { progress } from '../lib/log.js';
import { startBenchSidecar, stopBenchSidecar } from '../lib/procs.js';
import type { ScenarioResult, Value } from '../lib/report.js';
import { summarize } from '../lib/stats.js';

const ROUNDS = envInt('BENCH_LAG_ROUNDS', 200, 1);
const KEY_PREFIX = 'benchlag';
const VIEW = 'users';
const USER = 'user_id';
const LAG = 'infercache_coherence_invalidation_lag_seconds';
const TARGET_MS = 10;

type Kind = 'put' | 'invalidate' | 'external';
const KINDS: Record<Kind, string> = {
  put: 'PutFeatures through A',
  invalidate: 'Invalidate by entity through A',
  external: 'raw DEL of the key in Redis',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Cumulative counts of a histogram's buckets, by upper bound (seconds; +Inf last). */
function buckets(text: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\}\\s+(\\S+)`, 'gm'))) {
    const le = m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]);
    out.set(le, (out.get(le) ?? 0) + Number(m[2]));
  }
  return out;
}

/**
 * The upper bound (ms) of the bucket holding the q-quantile (nearest rank)
 * of the observations made between two scrapes: the quantile is at most that.
 */
function bucketQuantileMs(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const les = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total === 0) return Number.NaN;
  const rank = Math.ceil(q * total);
  for (const le of les) if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= rank) return le * 1000;
  return Number.POSITIVE_INFINITY;
}

const changesApplied = (text: string) =>
  metricSum(text, 'infercache_coherence_changes_total', { type: 'keys' });

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function readRow(s: Sidecar, id: string) {
  const res = await s.client.getFeatures({ features: [VIEW], entities: stringIds(USER, [id]) });
  const level = featureOf(res, `${VIEW}:level`);
  return { level: level.int32_values[0], status: level.statuses[0], source: viewOf(res, VIEW).sources[0] };
}

function putLevel(s: Sidecar, ids: string[], level: number, eventTime: number) {
  return s.client.putFeatures({
    view: VIEW,
    entities: stringIds(USER, ids),
    features: [{ name: 'level', type: FT.INT32, int32_values: ids.map(() => level) }],
    event_time_ms: ids.map(() => eventTime),
  });
}

/** Reads on `s` until the row is an L1 hit (the first read fills L1 from L2). */
const holdInL1 = (s: Sidecar, id: string) =>
  until(`${id} in L1`, async () => ((await readRow(s, id)).source === FS.L1 ? true : undefined), 5000);

/** Polls `s` back to back from `t0` until `done`; ms from `t0` to the answer that showed it. */
async function pollUntil(
  s: Sidecar,
  id: string,
  t0: number,
  done: (r: Awaited<ReturnType<typeof readRow>>) => boolean,
) {
  for (let polls = 1; ; polls++) {
    const r = await readRow(s, id);
    if (done(r)) return { ms: performance.now() - t0, polls };
    if (performance.now() - t0 > 10_000) throw new Error(`${id}: the change never reached the reader`);
  }
}

export async function invalidationLag(redis: RedisServer): Promise<ScenarioResult> {
  const views = join(makeTempDir('bench-lag-'), 'views.json');
  writeFileSync(
    views,
    JSON.stringify({
      views: [
        {
          name: VIEW,
          entities: [{ name: USER, type: 'string' }],
          features: [{ name: 'level', type: 'int32' }],
          max_age: '1h',
        },
      ],
    }),
  );
  const env = { INFERCACHE_FEATURE_VIEWS: views, INFERCACHE_L2_TTL_JITTER: '0' };
  const fleet: Sidecar[] = [];
  const raw = new Redis(redis.url, { lazyConnect: true });
  try {
    for (const label of ['A', 'B', 'C']) {
      const s = await startBenchSidecar(`fleet ${label}`, redis.url, env, KEY_PREFIX);
      fleet.push(s);
      await until(`${label}'s coherence link`, async () =>
        metricSum(await s.metrics(), 'infercache_coherence_catch_ups_total', { result: 'ok' }) >= 1
          ? true
          : undefined,
      );
    }
    const [a, b, c] = fleet as [Sidecar, Sidecar, Sidecar];
    await raw.connect();

    const phases: Record<string, Record<string, Value>> = {};
    const worstP99: Partial<Record<Kind, number>> = {};
    const e2eDetails: Record<string, number[]> = {};
    for (const kind of Object.keys(KINDS) as Kind[]) {
      progress(`  ${kind}: ${ROUNDS} rounds, ${KINDS[kind]}`);
      const ids = Array.from({ length: ROUNDS }, (_, i) => `${kind}-${i}`);
      const seededAt = Date.now() - 60_000;
      const beforeSeed = await Promise.all([b, c].map(async (s) => changesApplied(await s.metrics())));
      // One call per row, so the raw DEL knows each row's key without
      // reimplementing the sidecar's key derivation.
      const keyOf = new Map<string, string>();
      for (const id of ids) {
        const earlier = new Set(await raw.keys(`${KEY_PREFIX}:f:${VIEW}:*`));
        await putLevel(a, [id], 1, seededAt);
        const fresh = (await raw.keys(`${KEY_PREFIX}:f:${VIEW}:*`)).filter((k) => !earlier.has(k));
        if (fresh.length !== 1) throw new Error(`${id}: expected one new key, found ${fresh.length}`);
        keyOf.set(id, fresh[0] as string);
      }
      // The seeding announcements must not land in the measured window.
      await Promise.all(
        [b, c].map((s, i) =>
          until('the seeding changes', async () =>
            changesApplied(await s.metrics()) - (beforeSeed[i] as number) >= ROUNDS ? true : undefined,
          ),
        ),
      );
      const before = await Promise.all([b, c].map((s) => s.metrics()));
      const e2e: Record<'B' | 'C', number[]> = { B: [], C: [] };
      const polls: Record<'B' | 'C', number[]> = { B: [], C: [] };
      for (const id of ids) {
        await Promise.all([holdInL1(b, id), holdInL1(c, id)]);
        if (kind === 'put') await putLevel(a, [id], 2, Date.now());
        else if (kind === 'invalidate')
          await a.client.unary('Invalidate', { view: { view: VIEW, entities: stringIds(USER, [id]) } });
        else await raw.del(keyOf.get(id) as string);
        const t0 = performance.now();
        const done =
          kind === 'put'
            ? (r: Awaited<ReturnType<typeof readRow>>) => r.status === ST.PRESENT && r.level === 2
            : (r: Awaited<ReturnType<typeof readRow>>) => r.status === ST.NOT_FOUND;
        const [tb, tc] = await Promise.all([pollUntil(b, id, t0, done), pollUntil(c, id, t0, done)]);
        e2e.B.push(tb.ms);
        e2e.C.push(tc.ms);
        polls.B.push(tb.polls);
        polls.C.push(tc.polls);
      }
      // Every announcement applied (late ones included) before the second scrape.
      if (kind !== 'external') {
        await Promise.all(
          [b, c].map((s, i) =>
            until('the measured changes', async () =>
              changesApplied(await s.metrics()) - changesApplied(before[i] as string) >= ROUNDS
                ? true
                : undefined,
            ),
          ),
        );
      }
      const after = await Promise.all([b, c].map((s) => s.metrics()));
      (['B', 'C'] as const).forEach((name, i) => {
        const t0 = before[i] as string;
        const t1 = after[i] as string;
        const delta = (metric: string, labels: Record<string, string> = {}) =>
          metricSum(t1, metric, labels) - metricSum(t0, metric, labels);
        const lagCount = delta(`${LAG}_count`);
        const changes = delta('infercache_coherence_changes_total', { type: 'keys' });
        const viaLog = delta('infercache_coherence_changes_total', { type: 'keys', via: 'log' });
        const p99 = bucketQuantileMs(buckets(t0, LAG), buckets(t1, LAG), 0.99);
        const e = summarize(e2e[name]);
        phases[`${kind} → ${name}`] = {
          changes,
          viaLog,
          lagCount,
          countMatches: lagCount === changes && changes === (kind === 'external' ? 0 : ROUNDS),
          lagP50MsAtMost: bucketQuantileMs(buckets(t0, LAG), buckets(t1, LAG), 0.5),
          lagP99MsAtMost: p99,
          e2eP50Ms: e.p50Ms,
          e2eP99Ms: e.p99Ms,
          e2eMaxMs: e.maxMs,
          pollsMean: polls[name].reduce((x, y) => x + y, 0) / ROUNDS,
          trackedKeys: delta('infercache_coherence_tracked_keys_total'),
        };
        if (kind !== 'external')
          worstP99[kind] = Math.max(worstP99[kind] ?? 0, Number.isNaN(p99) ? Infinity : p99);
        e2eDetails[`${kind}:${name}`] = e2e[name];
      });
    }
    const target = (kind: 'put' | 'invalidate') => {
      const value = worstP99[kind] ?? Number.NaN;
      return { value, target: `< ${TARGET_MS}`, met: value < TARGET_MS };
    };
    return {
      name: 'invalidation_lag',
      title:
        'a row in the L1 of B and C changed through A (PutFeatures, Invalidate) or behind the fleet (raw DEL): time until B and C drop it',
      settings: { sidecars: 3, rounds: ROUNDS, resyncMs: 1000 },
      ratios: {
        'lag histogram p99 ms, PutFeatures (worse of B, C; bucket bound)': target('put'),
        'lag histogram p99 ms, Invalidate (worse of B, C; bucket bound)': target('invalidate'),
        'end to end p99 ms, PutFeatures (worse of B, C)': {
          value: Math.max(Number(phases['put → B']?.e2eP99Ms), Number(phases['put → C']?.e2eP99Ms)),
        },
        'end to end p99 ms, Invalidate (worse of B, C)': {
          value: Math.max(
            Number(phases['invalidate → B']?.e2eP99Ms),
            Number(phases['invalidate → C']?.e2eP99Ms),
          ),
        },
        'end to end p99 ms, raw DEL (worse of B, C)': {
          value: Math.max(Number(phases['external → B']?.e2eP99Ms), Number(phases['external → C']?.e2eP99Ms)),
        },
      },
      phases,
      notes: [
        'Three sidecar processes on the bench Redis; each round reads a fresh row on B and C until both answer it from L1, then changes it, and waits for both.',
        `lagP50MsAtMost, lagP99MsAtMost: from the delta of B's and C's ${LAG} between a scrape before and after the rounds, as the upper bound of the bucket holding the quantile (bounds 0.5, 1, 2.5, 5, 10, 25 ms...). The histogram times a change from its announcement (stamped by A just before it writes the change to Redis, in whole ms) to its L1 drop, for changes that came over pub/sub; lagCount must equal changes (every change came that way, none from the log) and the rounds.`,
        "e2e*: from A's acknowledgement (or the DEL's reply) to the first GetFeatures answer on B or C with the new value (or not found), polled back to back: it includes the poll's own gRPC round trip and up to one poll interval. pollsMean: GetFeatures calls per round until the change showed (1: the first poll already saw it, so that round measured a round trip, not the lag).",
        "A raw DEL reaches L1 only through client tracking (trackedKeys), which the lag histogram does not time: only end to end is measured. A's own writes are reported by tracking too, so B and C drop a row by whichever of the two arrives first.",
      ],
      details: { e2eMs: e2eDetails },
    };
  } finally {
    raw.disconnect();
    for (const s of fleet) await stopBenchSidecar(s);
  }
}
