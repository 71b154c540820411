import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WARN } from '../helpers/memory_log.js';
import { metricValue } from '../helpers/metrics.js';
import {
  emptyModelsDir,
  failingRunModel,
  inconsistentRows,
  installVersion,
  modelIn,
  SCALE_WIDTH,
  scaleModel,
  scaleRequest,
} from '../helpers/model_versions.js';
import { eventually, f32Tensor, grpcError, irisRows } from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainJs = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
// Generous: announcements, scans and loads share a loaded 2-core machine.
const WAIT_MS = 60_000;

/** Runs a program to its end; resolves with its exit code and stdout (never rejects). */
function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: repoRoot, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? Number((error as { code?: unknown }).code ?? 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `infercache models activate ...` against `sidecar`. */
const activate = (sidecar: Sidecar, ...args: string[]) =>
  run(process.execPath, [mainJs, 'models', 'activate', ...args, '--addr', sidecar.grpcAddr]);

// Each test waits on several sidecars in turn, each wait up to WAIT_MS.
describe('the fleet chooses the current version of a model', { timeout: 180_000 }, () => {
  const prefix = `vfleet-${randomBytes(6).toString('hex')}`;
  const full = emptyModelsDir();
  const partial = emptyModelsDir();
  let a: Sidecar;
  let b: Sidecar;

  /** What Redis holds as the fleet's choice for `model` ('' when none), read with redis-cli. */
  const stored = async (model: string) => {
    const res = await run('redis-cli', [
      '-u',
      sharedRedisUrl(),
      '--raw',
      'HGET',
      `${prefix}:versions`,
      model,
    ]);
    expect(res.code).toBe(0);
    return res.stdout.trim();
  };
  const start = async (modelsDir: string) => {
    const s = await startSidecar({
      redisUrl: sharedRedisUrl(),
      modelsDir,
      keyPrefix: prefix,
      env: { INFERCACHE_MODELS_POLL_MS: '200' },
    });
    await s.waitForLog((l) => l.msg === 'L2 connected', WAIT_MS);
    return s;
  };
  const scaleOf = async (s: Sidecar) => modelIn(await s.client.listModels(), 'scale');
  /** Waits until `s` serves `version` of scale (with no mismatch unless `mismatch` is given). */
  const serves = (s: Sidecar, version: string, mismatch = '') =>
    eventually(
      `scale ${version} current (mismatch '${mismatch}')`,
      async () => {
        const m = await scaleOf(s);
        return m.current_version === version && m.mismatch === mismatch ? m : undefined;
      },
      WAIT_MS,
    );
  const predictVersion = async (s: Sidecar) =>
    (
      await s.client.predict({
        model: 'scale',
        inputs: { x: f32Tensor([1, SCALE_WIDTH], [1, 2, 3, 4]) },
        cache: { bypass: true },
      })
    ).version;

  beforeAll(async () => {
    for (const v of [1, 2, 3]) await installVersion(full, 'scale', String(v), scaleModel(v));
    for (const v of [1, 2]) await installVersion(partial, 'scale', String(v), scaleModel(v));
    [a, b] = await Promise.all([start(full), start(partial)]);
  });
  afterAll(stopAllSidecars);

  it('`infercache models activate` stores the choice in Redis, and another sidecar process switches to it', async () => {
    expect(a.proc.pid).not.toBe(b.proc.pid);
    await serves(a, '3');
    await serves(b, '2');

    const res = await activate(a, 'scale', '1');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('scale: the fleet serves 1; this sidecar serves 1\n');
    expect(await stored('scale')).toBe('1');

    await serves(b, '1');
    expect(await predictVersion(b)).toBe('1');
    expect(await predictVersion(a)).toBe('1');
  });

  it('a sidecar without the chosen version keeps its own and reports the mismatch, then switches once it appears', async () => {
    const reply = await a.client.unary<{ model: string; current_version: string }>('ActivateModel', {
      model: 'scale',
      version: '3',
    });
    expect(reply).toEqual({ model: 'scale', current_version: '3' });
    expect(await stored('scale')).toBe('3');

    // b has versions 1 and 2: it goes back to its newest, and says the fleet chose 3.
    await serves(b, '2', '3');
    expect(await predictVersion(b)).toBe('2');
    expect(metricValue(await b.metrics(), 'infercache_model_version_mismatch', { model: 'scale' })).toBe(1);
    const warned = await b.waitForLog((l) => l.level === WARN && l.chosen === '3', WAIT_MS);
    expect(warned).toMatchObject({ model: 'scale', serving: '2' });
    expect(metricValue(await a.metrics(), 'infercache_model_version_mismatch', { model: 'scale' })).toBe(0);
    const listing = await run(process.execPath, [mainJs, 'models', '--addr', b.grpcAddr]);
    expect(listing.stdout).toContain('scale  current 2 (the fleet chose 3, not loadable here)\n');

    await installVersion(partial, 'scale', '3', scaleModel(3));
    await serves(b, '3');
    expect(await predictVersion(b)).toBe('3');
    expect(metricValue(await b.metrics(), 'infercache_model_version_mismatch', { model: 'scale' })).toBe(0);
  });

  it('`infercache models activate NAME` without a version goes back to the newest, on every sidecar', async () => {
    expect((await activate(b, 'scale', '2')).code).toBe(0);
    await serves(a, '2');
    await serves(b, '2');

    const res = await activate(b, 'scale');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('scale: the fleet serves the newest version; this sidecar serves 3\n');
    expect(await stored('scale')).toBe('');
    await serves(a, '3');
    await serves(b, '3');
  });

  it('a sidecar started after the activation adopts it', async () => {
    expect((await activate(a, 'scale', '1')).code).toBe(0);
    const late = await start(full);
    await serves(late, '1');
    expect(await predictVersion(late)).toBe('1');
  });

  it('refuses to choose a version this sidecar does not have', async () => {
    const missing = await grpcError(a.client.unary('ActivateModel', { model: 'scale', version: '9' }));
    expect(missing.code).toBe(status.NOT_FOUND);
    expect(missing.details).toMatch(/no version "9"/);
    const unknown = await grpcError(a.client.unary('ActivateModel', { model: 'nope', version: '1' }));
    expect(unknown.code).toBe(status.NOT_FOUND);
    expect(await stored('scale')).toBe('1');
  });
});

describe('a version roll across a three-process fleet under continuous load', { timeout: 180_000 }, () => {
  const prefix = `vroll-${randomBytes(6).toString('hex')}`;
  // One models directory each: the third one gets a broken version 3.
  const dirs = [emptyModelsDir(), emptyModelsDir(), emptyModelsDir()];
  let fleet: Sidecar[];

  beforeAll(async () => {
    for (const dir of dirs) await installVersion(dir, 'roll', '1', scaleModel(1));
    fleet = await Promise.all(
      dirs.map(async (modelsDir) => {
        const s = await startSidecar({
          redisUrl: sharedRedisUrl(),
          modelsDir,
          keyPrefix: prefix,
          env: { INFERCACHE_MODELS_POLL_MS: '200' },
        });
        await s.waitForLog((l) => l.msg === 'L2 connected', WAIT_MS);
        return s;
      }),
    );
  });
  afterAll(stopAllSidecars);

  it('fails no call, and every answer matches the version it reports: new versions, a failed one on one sidecar, an older one activated', async () => {
    const [x, y, z] = fleet as [Sidecar, Sidecar, Sidecar];
    // Half of each batch repeats rows every version has cached, half is new.
    const shared = irisRows(50);
    const seen = fleet.map(() => new Set<string>());
    const failures: string[] = [];
    const fail = (why: string) => {
      if (failures.length < 20) failures.push(why);
    };
    let rolling = true;
    const client = async (s: number) => {
      while (rolling) {
        const rows = [...shared, ...irisRows(50)];
        try {
          const res = await (fleet[s] as Sidecar).client.predict(scaleRequest('roll', rows));
          const bad = inconsistentRows(res, rows);
          if (bad.length > 0) fail(`sidecar ${s}, version ${res.version}: rows ${bad.slice(0, 5)}`);
          seen[s]?.add(res.version);
        } catch (error) {
          fail(`sidecar ${s}: ${(error as Error).message}`);
        }
      }
    };
    /** Waits until sidecar `s` has answered calls with `version`. */
    const answered = (s: number, version: string) =>
      eventually(
        `sidecar ${s} to answer with version ${version}`,
        async () => (seen[s]?.has(version) ? true : undefined),
        WAIT_MS,
      );
    const clients = [0, 1, 2].map(client);
    // The steps wait on answers; a step that fails must still stop the clients.
    let before: Set<string>[] = [];
    try {
      for (const s of [0, 1, 2]) await answered(s, '1');

      for (const dir of dirs) await installVersion(dir, 'roll', '2', scaleModel(2));
      for (const s of [0, 1, 2]) await answered(s, '2');

      // Version 3 is good on two sidecars; the third cannot run it.
      await installVersion(dirs[0] as string, 'roll', '3', scaleModel(3));
      await installVersion(dirs[1] as string, 'roll', '3', scaleModel(3));
      await installVersion(dirs[2] as string, 'roll', '3', failingRunModel());
      await answered(0, '3');
      await answered(1, '3');
      const failed = await eventually(
        'the third sidecar to report version 3 failed',
        async () => {
          const m = modelIn(await z.client.listModels(), 'roll');
          return m.versions.some((v) => v.version === '3') ? m : undefined;
        },
        WAIT_MS,
      );
      expect(failed.current_version).toBe('2');
      expect(failed.versions.find((v) => v.version === '3')?.error).toMatch(/^warm-up run failed: /);
      expect(metricValue(await z.metrics(), 'infercache_model_versions', { state: 'failed' })).toBe(1);
      expect(await z.client.health('infercache.v1.InferCache/roll')).toBe('SERVING');

      // The fleet chooses 3: the third keeps 2 and says it cannot follow.
      await x.client.unary('ActivateModel', { model: 'roll', version: '3' });
      await eventually(
        'the third sidecar to report the mismatch',
        async () =>
          (await z.client.listModels()).models.find((m) => m.name === 'roll')?.mismatch === '3'
            ? true
            : undefined,
        WAIT_MS,
      );
      // Then an older version, through another sidecar: every one goes back to it.
      before = seen.map((s) => new Set(s));
      await y.client.unary('ActivateModel', { model: 'roll', version: '1' });
      for (const s of [0, 1, 2]) {
        seen[s]?.delete('1');
        await answered(s, '1');
      }
    } finally {
      rolling = false;
      await Promise.all(clients);
    }
    expect(failures).toEqual([]);
    expect(before.map((s) => [...s].sort())).toEqual([
      ['1', '2', '3'],
      ['1', '2', '3'],
      ['1', '2'],
    ]);
  });
});
