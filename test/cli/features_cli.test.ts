import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featureFiles } from '../helpers/feature_files.js';
import { freePort } from '../helpers/ports.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainJs = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const files = featureFiles();
const prefix = `iccli-${randomBytes(4).toString('hex')}`;
const HEADER = 'user_id,score,visits,active,city,embedding';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a CLI run: the test views and key prefix, none of the developer's INFERCACHE_ settings. */
function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('INFERCACHE_')) env[k] = v;
  return { ...env, INFERCACHE_FEATURE_VIEWS: files.views, INFERCACHE_KEY_PREFIX: prefix, ...extra };
}

function cli(args: string[], env = cliEnv()): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [mainJs, ...args],
      { cwd: repoRoot, env, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (error as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}

const users = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, k) => {
    const i = from + k;
    return `${i},${i / 4},${i * 10},${i % 2 === 1},city${i},${i} ${i} ${i}`;
  });

describe('infercache features (CLI)', () => {
  let withRedis: Sidecar;
  let l1Only: Sidecar;
  beforeAll(async () => {
    [withRedis, l1Only] = await Promise.all([
      startSidecar({
        redisUrl: sharedRedisUrl(),
        keyPrefix: prefix,
        env: { INFERCACHE_FEATURE_VIEWS: files.views },
      }),
      startSidecar({ redisUrl: '', env: { INFERCACHE_FEATURE_VIEWS: files.views } }),
    ]);
  });
  afterAll(stopAllSidecars);

  it('load ends with one summary line and no progress bar when stderr is not a terminal; rejected rows alone do not fail it', async () => {
    const file = files.file('load.csv', [HEADER, ...users(1, 20), '21,x,0,true,,1 2 3'].join('\n'));
    const run = await cli(['features', 'load', 'users', file, '--redis-url', sharedRedisUrl()]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(
        `^users from ${file}: read 21 rows, written 20, skipped older 0, rejected 1 ` +
          `\\(row 21: score: "x" is not a number\\); \\d+ rows/s, \\d+\\.\\d\\d s\\n$`,
      ),
    );
  });

  it('get prints one row per entity: values, status, age and source; -o json the same for machines', async () => {
    const run = await cli(['features', 'get', 'users', '1', '2', '999', '--addr', withRedis.grpcAddr]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]?.split(/\s+/)).toEqual([
      'user_id',
      'score',
      'visits',
      'active',
      'city',
      'embedding',
      'status',
      'age',
      'source',
    ]);
    expect(lines[1]?.split(/\s+/)).toEqual([
      '1',
      '0.25',
      '10',
      'true',
      'city1',
      '[1,1,1]',
      'present',
      expect.stringMatching(/^(\d+ms|\d+s|\d+m\d\ds)$/),
      'l2',
    ]);
    expect(lines[2]?.split(/\s+/).slice(0, 2)).toEqual(['2', '0.5']);
    expect(lines[3]?.split(/\s+/)).toEqual(['999', '-', '-', '-', '-', '-', 'not_found', '-', 'none']);

    const json = await cli([
      'features',
      'get',
      'users',
      '3',
      '998',
      '-f',
      'score,city',
      '-o',
      'json',
      '-a',
      withRedis.grpcAddr,
    ]);
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout) as { view: string; entities: Record<string, unknown>[] };
    expect(out.view).toBe('users');
    expect(out.entities[0]).toMatchObject({
      id: { user_id: 3 },
      features: { score: { value: 0.75, status: 'present' }, city: { value: 'city3', status: 'present' } },
      eventTimeMs: expect.any(Number),
      ageMs: expect.any(Number),
      source: 'l2',
    });
    expect(Object.keys(out.entities[0]?.features as object)).toEqual(['score', 'city']);
    expect(out.entities[1]).toEqual({
      id: { user_id: 998 },
      features: { score: { value: null, status: 'not_found' }, city: { value: null, status: 'not_found' } },
      eventTimeMs: null,
      ageMs: null,
      source: 'none',
    });
  });

  it('load --addr goes through a sidecar with no Redis; a reload with older rows is counted as skipped', async () => {
    const file = files.file('addr.csv', [HEADER, ...users(101, 150)].join('\n'));
    const first = await cli([
      'features',
      'load',
      'users',
      file,
      '--addr',
      l1Only.grpcAddr,
      '--batch-size',
      '20',
    ]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/read 50 rows, written 50, skipped older 0, rejected 0;/);
    const older = await cli([
      'features',
      'load',
      'users',
      file,
      '--addr',
      l1Only.grpcAddr,
      '--event-time',
      '1000',
    ]);
    expect(older.code).toBe(0);
    expect(older.stdout).toMatch(/read 50 rows, written 0, skipped older 50, rejected 0;/);

    const get = await cli(['features', 'get', 'users', '150', '-o', 'json', '--addr', l1Only.grpcAddr]);
    const entity = (
      JSON.parse(get.stdout) as { entities: { features: Record<string, unknown>; source: string }[] }
    ).entities[0];
    expect(entity?.source).toBe('l1');
    expect(entity?.features.embedding).toEqual({ value: [150, 150, 150], status: 'present' });
  });

  it('reads a composite key as comma-separated values in join key order', async () => {
    const file = files.file('pairs.jsonl', '{"shop": "north", "item": 7, "price": 2.5}\n');
    expect((await cli(['features', 'load', 'pairs', file, '--addr', l1Only.grpcAddr])).code).toBe(0);
    const run = await cli(['features', 'get', 'pairs', 'north,7', 'south,7', '--addr', l1Only.grpcAddr]);
    expect(run.stdout.split('\n').map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ['shop', 'item', 'price', 'status'],
      ['north', '7', '2.5', 'present'],
      ['south', '7', '-', 'not_found'],
      [''],
    ]);
    const bad = await cli(['features', 'get', 'pairs', 'north', '--addr', l1Only.grpcAddr]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('infercache: id "north": expected shop,item (comma-separated)\n');
  });

  it('exits 1 with a clear message when the view, the file, Redis or the sidecar is wrong', async () => {
    const good = files.file('ok.csv', [HEADER, ...users(1, 2)].join('\n'));
    const typo = files.file('typo.csv', 'user_id,scroe\n1,2\n');
    const [deadRedis, deadSidecar] = [await freePort(), await freePort()];
    const runs = await Promise.all([
      cli(['features', 'load', 'nope', good, '--redis-url', sharedRedisUrl()]),
      cli(['features', 'load', 'users', `${files.dir}/absent.csv`, '--redis-url', sharedRedisUrl()]),
      cli(['features', 'load', 'users', good, '--redis-url', `redis://127.0.0.1:${deadRedis}`]),
      cli(['features', 'load', 'users', good, '--addr', `127.0.0.1:${deadSidecar}`, '--timeout-ms', '1000']),
      cli(['features', 'load', 'users', typo, '--redis-url', sharedRedisUrl()]),
      cli(['features', 'load', 'users', good, '--redis-url', sharedRedisUrl(), '--batch-size', '0']),
      cli(['features', 'load', 'users', good], cliEnv({ INFERCACHE_REDIS_URL: '' })),
    ]);
    const messages = [
      /^infercache: unknown view "nope" \(views in .*views\.yaml: users, pairs\)\n$/,
      /^infercache: cannot read .*absent\.csv: ENOENT/,
      new RegExp(
        `^infercache: cannot reach Redis at redis://127\\.0\\.0\\.1:${deadRedis}: connect ECONNREFUSED`,
      ),
      new RegExp(`^infercache: cannot reach the sidecar at 127\\.0\\.0\\.1:${deadSidecar}:`),
      /^infercache: header: unknown column "scroe"; view users has join key\(s\) user_id; features score, /,
      /^infercache: --batch-size "0": expected an integer >= 1\n$/,
      /^infercache: no Redis configured \(INFERCACHE_REDIS_URL is empty\): give --redis-url, or --addr/,
    ];
    runs.forEach((run, i) => {
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(messages[i] as RegExp);
    });
    // Seven CLI processes at once: room for a loaded 2-core machine.
  }, 120_000);

  it('exits 1 past --max-rejects, after the summary line of what was done', async () => {
    const file = files.file(
      'rejects.csv',
      [HEADER, ...users(201, 203), 'a', 'b', ...users(204, 205)].join('\n'),
    );
    const run = await cli([
      'features',
      'load',
      'users',
      file,
      '--redis-url',
      sharedRedisUrl(),
      '--max-rejects',
      '1',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /^users from .*: read 5 rows, written 3, skipped older 0, rejected 2 \(row 4: /,
    );
    expect(run.stderr).toBe(
      'infercache: more than 1 rows rejected (--max-rejects); stopped at row 5; ' +
        'the rows written so far stay, and loading the file again is safe\n',
    );
  });

  it('shows a progress bar with rows/s on a terminal, then the summary line', async () => {
    const file = files.file('tty.csv', [HEADER, ...users(301, 400)].join('\n'));
    const command = [
      process.execPath,
      mainJs,
      'features',
      'load',
      'users',
      file,
      '--redis-url',
      sharedRedisUrl(),
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    // script(1) (bsdutils; test/prerequisites.sh installs it) runs the command on a pseudo-terminal, as a person at a terminal would.
    const run = await new Promise<Run>((resolve) => {
      execFile(
        'script',
        ['-qec', command, '/dev/null'],
        { env: cliEnv(), timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }),
      );
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/users \[[█░]+\] \d+% \| \d+ rows \| \d+ rows\/s/);
    expect(run.stdout).toMatch(/users from .*: read 100 rows, written 100, skipped older 0, rejected 0;/);
  });
});
