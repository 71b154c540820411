import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModel } from '../../src/model/zoo/build.js';
import { buildIrisModel } from '../../src/model/zoo/iris.js';
import { metricValue } from '../helpers/metrics.js';
import { freePort } from '../helpers/ports.js';
import { redisCommand } from '../helpers/redis_command.js';
import { eventually, irisRows } from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainJs = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const FS_L1 = 1;
const FS_L2 = 2;
const RANKED = 100;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let views = '';

/** The environment of a CLI run: the test views, none of the developer's INFERCACHE_ settings. */
function cliEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('INFERCACHE_')) env[k] = v;
  return { ...env, INFERCACHE_FEATURE_VIEWS: views };
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [mainJs, ...args],
      { cwd: repoRoot, env: cliEnv(), timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (error as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}

const ids = (...flowerIds: number[]) => ({
  columns: [{ name: 'flower_id', int64_values: flowerIds.map(String) }],
});
const sourcesOf = async (s: Sidecar, ...flowerIds: number[]) =>
  (await s.client.getFeatures({ features: ['iris_flowers'], entities: ids(...flowerIds) })).views[0]?.sources;
const metric = async (s: Sidecar, name: string, labels: Record<string, string>) =>
  metricValue(await s.metrics(), name, labels) ?? 0;

describe('infercache warm (CLI)', () => {
  let dir: string;
  let fast: Sidecar;
  let slow: Sidecar;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infercache-warm-cli-'));
    await writeModel(dir, 'iris', 1, buildIrisModel());
    views = join(dir, 'views.json');
    await writeFile(
      views,
      JSON.stringify({
        views: [
          {
            name: 'iris_flowers',
            entities: [{ name: 'flower_id', type: 'int64' }],
            features: FEATURES.map((name) => ({ name, type: 'float32' })),
            max_age: '24h',
          },
        ],
      }),
    );
    env = { INFERCACHE_FEATURE_VIEWS: views, INFERCACHE_WARM_START_BUDGET_MS: '0' };
    const writer = await startSidecar({ redisUrl: sharedRedisUrl(), modelsDir: dir, env });
    const rows = irisRows(5);
    await writer.client.putFeatures({
      view: 'iris_flowers',
      entities: ids(1, 2, 3, 4, 5),
      features: FEATURES.map((name, j) => ({
        name,
        type: 1,
        float32_values: rows.map((r) => r[j] as number),
      })),
      event_time_ms: rows.map(() => Date.now()),
    });
    // The fleet ranks 5 first, then 4, ... then 1, then entities with no rows.
    const members = Array.from({ length: RANKED }, (_, i) => [
      String(RANKED - i),
      `["${[5, 4, 3, 2, 1][i] ?? 1000 + i}"]`,
    ]);
    await redisCommand(Number(new URL(sharedRedisUrl()).port), [
      'ZADD',
      `${writer.keyPrefix}:popular:iris_flowers`,
      ...members.flat(),
    ]);
    const same = { redisUrl: sharedRedisUrl(), modelsDir: dir, keyPrefix: writer.keyPrefix };
    [fast, slow] = await Promise.all([
      startSidecar({ ...same, env }),
      // One row per second: a warm of the ranking takes 100 s, time enough to interrupt it.
      startSidecar({
        ...same,
        env: { ...env, INFERCACHE_WARM_ROWS_PER_SECOND: '1', INFERCACHE_WARM_BATCH_ROWS: '1' },
      }),
    ]);
    await writer.stop();
  });
  afterAll(async () => {
    await stopAllSidecars();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('warms the entities given, then ends with one summary line', async () => {
    const run = await cli(['warm', 'iris_flowers', '1', '2', '--addr', fast.grpcAddr]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^iris_flowers: warmed 2 of 2 rows, failed 0; \d+\.\d\d s\n$/);
    expect(await sourcesOf(fast, 1, 2, 3)).toEqual([FS_L1, FS_L1, FS_L2]);
  });

  it('warms the fleet top N with --top', async () => {
    const run = await cli(['warm', 'iris_flowers', '--top', '2', '-a', fast.grpcAddr]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^iris_flowers: warmed 2 of 2 rows, failed 0; \d+\.\d\d s; top of the fleet ranking\n$/,
    );
    expect(await sourcesOf(fast, 5, 4)).toEqual([FS_L1, FS_L1]);
  });

  it('warms the top N of the sidecar’s own ranking when it has no Redis, and says so', async () => {
    const alone = await startSidecar({
      redisUrl: '',
      modelsDir: dir,
      env: { ...env, INFERCACHE_L1_SNAPSHOT: 'off' },
    });
    await sourcesOf(alone, 3);
    await sourcesOf(alone, 3);
    await sourcesOf(alone, 4);
    const run = await cli(['warm', 'iris_flowers', '--top', '5', '-a', alone.grpcAddr]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^iris_flowers: warmed 2 of 2 rows, failed 0; \d+\.\d\d s; top of the sidecar's own ranking \(it has no Redis\)\n$/,
    );
  });

  it('exits 1 with a clear message when the view, the arguments or the sidecar are wrong', async () => {
    const deadSidecar = await freePort();
    const runs = await Promise.all([
      cli(['warm', 'nope', '1', '--addr', fast.grpcAddr]),
      cli(['warm', 'nope', '--top', '3', '--addr', fast.grpcAddr]),
      cli(['warm', 'iris_flowers', '--addr', fast.grpcAddr]),
      cli(['warm', 'iris_flowers', 'x', '--addr', fast.grpcAddr]),
      cli(['warm', 'iris_flowers', '--top', '0', '--addr', fast.grpcAddr]),
      cli(['warm', 'iris_flowers', '--top', '3', '--addr', `127.0.0.1:${deadSidecar}`]),
    ]);
    const messages = [
      /^infercache: unknown view "nope" \(views in .*views\.json: iris_flowers\)\n$/,
      new RegExp(`^infercache: Warm at ${fast.grpcAddr}: E_INVALID_ARGUMENT: view: unknown view "nope"\\n$`),
      /^infercache: give entity ids, or --top N \(the most popular\), not both\n$/,
      /^infercache: id "x", flower_id: "x" is not an int64\n$/,
      /^infercache: --top "0": expected an integer >= 1\n$/,
      new RegExp(`^infercache: cannot reach the sidecar at 127\\.0\\.0\\.1:${deadSidecar}: `),
    ];
    runs.forEach((run, i) => {
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(messages[i] as RegExp);
    });
  }, 120_000);

  it('Ctrl-C cancels the call, which stops the warming, and exits 1 saying so', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [mainJs, 'warm', 'iris_flowers', '--top', String(RANKED), '--addr', slow.grpcAddr],
      { cwd: repoRoot, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually(
      'the warm to get going',
      async () =>
        (await metric(slow, 'infercache_warm_rows_total', { kind: 'f', result: 'warmed' })) >= 2
          ? true
          : undefined,
      30_000,
    );
    child.kill('SIGINT');
    expect(await exited).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      /^infercache: warming cancelled \(Ctrl-C\) after \d+ of 100 rows; the rows warmed so far stay warm\n$/,
    );
    await eventually(
      'the sidecar to stop warming',
      async () =>
        (await metric(slow, 'infercache_warm_runs_total', { trigger: 'request', outcome: 'cancelled' })) === 1
          ? true
          : undefined,
      30_000,
    );
    expect(
      await metric(slow, 'infercache_warm_rows_total', { kind: 'f', result: 'skipped' }),
    ).toBeGreaterThan(RANKED / 2);
  });

  it('shows a progress bar with rows/s on a terminal, then the summary line', async () => {
    const command = [process.execPath, mainJs, 'warm', 'iris_flowers', '--top', '3', '--addr', slow.grpcAddr]
      .map((a) => `'${a}'`)
      .join(' ');
    // script(1) (bsdutils; test/prerequisites.sh installs it) runs the command on a pseudo-terminal.
    const run = await new Promise<Run>((resolve) => {
      execFile(
        'script',
        ['-qec', command, '/dev/null'],
        { env: cliEnv(), timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }),
      );
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/iris_flowers \[[█░]+\] \d+% \| [123]\/3 rows \| \d+ rows\/s/);
    expect(run.stdout).toMatch(/iris_flowers: warmed 3 of 3 rows, failed 0;/);
  });
});
