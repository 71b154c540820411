import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { openFeatureStore, viewNamed } from '../../src/cli/feature_store.js';
import { loadConfig } from '../../src/config/load.js';
import { entityRows } from '../../src/features/entity_keys.js';
import { newerWinsCall } from '../../src/features/newer_wins.js';
import type { RedisServer } from '../../test/helpers/redis_server.js';
import { envInt } from '../lib/env.js';
import { progress } from '../lib/log.js';
import type { ScenarioResult } from '../lib/report.js';
import { mulberry32 } from '../lib/rows.js';

const FEATURES = 10;
const BATCH = 1000;
const IN_FLIGHT = 4;
const SEED = 0xb01d;
const PREFIX = 'benchload';
const mainJs = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const cpuProfilePreload = new URL('../lib/cpu_profile.mjs', import.meta.url).href;

const VIEWS = `views:
  - name: bench_rows
    entities: [{ name: id, type: int64 }]
    features:
${Array.from({ length: FEATURES }, (_, f) => `      - { name: f${f}, type: float32 }`).join('\n')}
    max_age: 24h
`;

/** Row i's feature values as the file holds them (text), the same for both sides. */
function* rows(count: number): Generator<string[]> {
  const rand = mulberry32(SEED);
  for (let i = 0; i < count; i++) {
    yield Array.from({ length: FEATURES }, () => (rand() * 200 - 100).toFixed(3));
  }
}

/**
 * `infercache features load` of a generated CSV (int64 id + 10 float32
 * features) straight into Redis, against a raw pipelined ioredis loop
 * writing the same keys and frames with plain SET key frame PX ttl (built
 * beforehand, outside the clock), at the same batch size and batches in
 * flight. Ours is timed by its own summary line (reading, checking,
 * hashing, framing and the newer-wins script included; process start
 * excluded). Rounds alternate which side goes first; the ratio is the
 * median of the rounds' ratios.
 */
export async function bulkLoad(redis: RedisServer): Promise<ScenarioResult> {
  const count = envInt('BENCH_BULK_ROWS', 1_000_000, 1000);
  const rounds = envInt('BENCH_BULK_ROUNDS', 3, 1);
  const dir = mkdtempSync(join(tmpdir(), 'infercache-bulk-'));
  const viewsFile = join(dir, 'views.yaml');
  const csv = join(dir, 'rows.csv');
  writeFileSync(viewsFile, VIEWS);
  const env = {
    INFERCACHE_FEATURE_VIEWS: viewsFile,
    INFERCACHE_KEY_PREFIX: PREFIX,
    INFERCACHE_REDIS_URL: redis.url,
  };
  const client = new Redis(redis.url);
  try {
    progress(`  writing ${count} rows to ${csv}`);
    await writeCsv(csv, count);
    progress('  building the raw side: the same keys and frames');
    const raw = await rawWrites(env, count);
    const ours: number[] = [];
    const rawRates: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const sides = [
        async () => ours.push(await loadWithCli(csv, env, redis.url, count)),
        async () => rawRates.push(await rawLoop(client, raw)),
      ];
      for (const side of round % 2 === 0 ? sides : sides.reverse()) {
        // The scenario's own connection: a fresh one per command can take seconds on a busy machine.
        await client.flushall();
        await side();
        const keys = await client.dbsize();
        if (keys !== count) throw new Error(`${keys} keys in Redis after a load of ${count} rows`);
      }
      progress(`  round ${round + 1}: ours ${ours.at(-1)} rows/s, raw ${rawRates.at(-1)} rows/s`);
    }
    const ratios = ours.map((o, i) => o / (rawRates[i] as number));
    const ratio = median(ratios);
    return {
      name: 'bulk_load',
      title: `features load of ${count} rows (int64 id, ${FEATURES} float32) vs raw pipelined SET of the same bytes`,
      settings: { rows: count, batchSize: BATCH, inFlight: IN_FLIGHT, rounds, statistic: 'median of rounds' },
      ratios: { 'ours/raw rows/s': { value: ratio, target: '>= 0.8', met: ratio >= 0.8 } },
      phases: {
        'features load (CLI)': { rowsPerSec: median(ours) },
        'raw ioredis SET pipeline': { rowsPerSec: median(rawRates) },
      },
      notes: [
        'Ours reads and checks the CSV, hashes the keys, frames the rows and runs the newer-wins script (one call per up to 100 rows of a hash slot); raw sends prebuilt frames with SET.',
        `Rounds (ours/raw): ${ratios.map((r) => r.toFixed(3)).join(', ')}.`,
      ],
      details: { ours, raw: rawRates, ratios },
    };
  } finally {
    client.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function writeCsv(path: string, count: number): Promise<void> {
  const out = createWriteStream(path);
  out.write(`id,${Array.from({ length: FEATURES }, (_, f) => `f${f}`).join(',')}\n`);
  let lines: string[] = [];
  let id = 0;
  for (const values of rows(count)) {
    lines.push(`${++id},${values.join(',')}`);
    if (lines.length === 10_000) {
      if (!out.write(`${lines.join('\n')}\n`)) await once(out, 'drain');
      lines = [];
    }
  }
  if (lines.length > 0) out.write(`${lines.join('\n')}\n`);
  out.end();
  await once(out, 'finish');
}

interface RawWrites {
  keys: string[];
  frames: Buffer[];
  ttls: string[];
}

/** The keys and frames the loader writes, made by the same code (feature_store.ts, newer_wins.ts). */
async function rawWrites(env: Record<string, string>, count: number): Promise<RawWrites> {
  const config = loadConfig({}, { ...env });
  const view = await viewNamed(config, 'bench_rows');
  const store = await openFeatureStore(config, view, 10_000);
  const { kind } = store.reader.plumbing(view);
  const out: RawWrites = { keys: [], frames: [], ttls: [] };
  const now = Date.now();
  let id = 0;
  let ids: string[] = [];
  let values: number[][] = [];
  const flush = () => {
    const entities = entityRows(
      view.joinKeys,
      [{ name: 'id', string_values: [], int64_values: ids }],
      ids.length,
    );
    const keys = store.reader.keys(view, entities);
    keys.forEach((key, i) => {
      const call = newerWinsCall(kind, key, {
        eventTime: now,
        values: values[i] as number[],
        writtenAt: now,
      });
      out.keys.push(key);
      out.frames.push(call.args[0] as Buffer);
      out.ttls.push(call.args[2] as string);
    });
    ids = [];
    values = [];
  };
  for (const text of rows(count)) {
    ids.push(String(++id));
    values.push(text.map((t) => Math.fround(Number(t))));
    if (ids.length === BATCH) flush();
  }
  if (ids.length > 0) flush();
  await store.close();
  return out;
}

async function rawLoop(client: Redis, raw: RawWrites): Promise<number> {
  const started = performance.now();
  const pending = new Set<Promise<unknown>>();
  for (let at = 0; at < raw.keys.length; at += BATCH) {
    while (pending.size >= IN_FLIGHT) await Promise.race(pending);
    const pipeline = client.pipeline();
    const end = Math.min(at + BATCH, raw.keys.length);
    for (let i = at; i < end; i++) {
      pipeline.callBuffer('SET', raw.keys[i] as string, raw.frames[i] as Buffer, 'PX', raw.ttls[i] as string);
    }
    const done: Promise<unknown> = pipeline.exec().finally(() => pending.delete(done));
    pending.add(done);
  }
  await Promise.all(pending);
  return Math.round(raw.keys.length / ((performance.now() - started) / 1000));
}

/** Runs `infercache features load` and reads its rate (rows / load seconds) from the summary line. */
async function loadWithCli(csv: string, env: Record<string, string>, url: string, count: number) {
  const profDir = process.env.BENCH_CPU_PROF;
  if (profDir) mkdirSync(profDir, { recursive: true });
  const child = spawn(
    process.execPath,
    [mainJs, 'features', 'load', 'bench_rows', csv, '--redis-url', url, '--batch-size', String(BATCH)],
    {
      env: {
        ...process.env,
        ...env,
        ...(profDir ? { NODE_OPTIONS: `--import=${cpuProfilePreload}`, BENCH_CPU_PROF: profDir } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const [code] = (await once(child, 'exit')) as [number | null];
  const m = /read (\d+) rows, written (\d+),.*; \d+ rows\/s, ([\d.]+) s$/m.exec(stdout);
  if (code !== 0 || m === null || Number(m[2]) !== count) {
    throw new Error(`features load failed (exit ${code}): ${stdout}${stderr}`);
  }
  return Math.round(count / Number(m[3]));
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
