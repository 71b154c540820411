import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FS, freshIds, ST } from '../helpers/features.js';
import { eventually, irisRows, SRC } from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, stopAllSidecars } from '../helpers/sidecar.js';
import {
  cli,
  type FleetFiles,
  fleetFiles,
  predictSources,
  putLevels,
  readLevels,
  startMember,
} from './fleet.js';

describe('infercache invalidate (CLI) does what the Invalidate call does', () => {
  const prefix = `icli-${randomBytes(4).toString('hex')}`;
  let files: FleetFiles;
  /** The sidecar the CLI talks to. */
  let a: Sidecar;
  /** Learns of the changes over the bus only (no client tracking). */
  let b: Sidecar;

  beforeAll(async () => {
    files = await fleetFiles();
    [a, b] = await Promise.all([
      startMember(sharedRedisUrl(), prefix, files),
      startMember(sharedRedisUrl(), prefix, files, { INFERCACHE_CLIENT_TRACKING: 'off' }),
    ]);
  });
  afterAll(stopAllSidecars);

  const invalidateCli = (args: string[]) =>
    cli(['invalidate', ...args, '--addr', a.grpcAddr], { INFERCACHE_FEATURE_VIEWS: files.views });

  /** Predicts `rows` on both sidecars until each holds them in L1. */
  async function predictedEverywhere(rows: number[][], version: string): Promise<void> {
    for (const s of [a, b]) {
      await eventually('the rows in L1', async () =>
        (await predictSources(s, rows, version)).every((x) => x === SRC.L1) ? true : undefined,
      );
    }
  }

  /** Polls until no row of `rows` is an L1 hit on `s` (each read may refill L1 from the new keys). */
  const leftL1 = (s: Sidecar, rows: number[][], version: string) =>
    eventually('the rows out of L1', async () =>
      (await predictSources(s, rows, version)).some((x) => x === SRC.L1) ? undefined : true,
    );

  it('invalidate model NAME [--version V]: a whole model, or one version, leaves every L1', async () => {
    const rows = irisRows(2);
    await predictedEverywhere(rows, '1');
    await predictedEverywhere(rows, '2');

    const one = await invalidateCli(['model', 'iris', '--version', '2']);
    expect(one).toMatchObject({ code: 0, stderr: '' });
    expect(one.stdout).toMatch(/^invalidated p:iris@2: generation \d+; every sidecar drops its copies\n$/);
    await leftL1(b, rows, '2');
    expect(await predictSources(b, rows, '1')).toEqual([SRC.L1, SRC.L1]);

    const all = await invalidateCli(['model', 'iris']);
    expect(all).toMatchObject({ code: 0, stderr: '' });
    expect(all.stdout).toMatch(/^invalidated p:iris: generation \d+; every sidecar drops its copies\n$/);
    await leftL1(b, rows, '1');
    expect((await predictSources(a, rows, '1')).some((x) => x === SRC.L1)).toBe(false);
  });

  it('takes an id of a single string key whole, commas included, and refuses a bad --timeout-ms', async () => {
    const [base] = freshIds(1, 'comma') as [string];
    const [withComma, prefixOnly] = [`${base},x`, base];
    await putLevels(a, [withComma, prefixOnly], [1, 2]);
    const out = await invalidateCli(['view', 'users', withComma]);
    expect(out).toMatchObject({ code: 0, stderr: '' });
    expect(out.stdout).toBe('deleted 1 of 1 rows of view users; every sidecar drops its copies\n');
    expect(await readLevels(a, [withComma, prefixOnly])).toMatchObject({
      statuses: [ST.NOT_FOUND, ST.PRESENT],
      levels: [0, 2],
    });
    const bad = await invalidateCli(['view', 'users', prefixOnly, '--timeout-ms', 'abc']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--timeout-ms "abc"');
  });

  it('invalidate view NAME ID...: the rows are deleted and leave every L1; without ids the whole view goes', async () => {
    const [gone, kept] = freshIds(2, 'cli') as [string, string];
    await putLevels(a, [gone, kept], [1, 2]);
    for (const s of [a, b]) {
      await eventually('the rows in L1', async () =>
        (await readLevels(s, [gone, kept])).sources.every((x) => x === FS.L1) ? true : undefined,
      );
    }

    const some = await invalidateCli(['view', 'users', gone]);
    expect(some).toMatchObject({ code: 0, stderr: '' });
    expect(some.stdout).toBe('deleted 1 of 1 rows of view users; every sidecar drops its copies\n');
    await eventually('the row out of L1', async () =>
      (await readLevels(b, [gone])).statuses[0] === ST.NOT_FOUND ? true : undefined,
    );
    expect(await readLevels(b, [kept])).toMatchObject({ levels: [2], sources: [FS.L1] });

    const whole = await invalidateCli(['view', 'users']);
    expect(whole).toMatchObject({ code: 0, stderr: '' });
    expect(whole.stdout).toMatch(/^invalidated f:users: generation \d+; every sidecar drops its copies\n$/);
    await eventually('the view out of L1', async () =>
      (await readLevels(b, [kept])).statuses[0] === ST.NOT_FOUND ? true : undefined,
    );
  });
});
