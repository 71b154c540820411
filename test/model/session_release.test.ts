import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModel } from '../../src/model/zoo/build.js';
import { emptyModelsDir, SCALE_WIDTH, scaleModel } from '../helpers/model_versions.js';
import { eventually, f32Raw } from '../helpers/requests.js';

// The pool starts its workers from the compiled session_worker.js beside it,
// so this test takes the pool (and what it sends the workers) from dist/.
type PoolModule = typeof import('../../src/model/pool.js');
type ReleaseModule = typeof import('../../src/model/session_release.js');
const fromDist = (file: string) => new URL(`../../dist/model/${file}`, import.meta.url).href;
const { InferencePool, ModelRunError } = (await import(fromDist('pool.js'))) as PoolModule;
const { releaseSession, sessionKey } = (await import(fromDist('session_release.js'))) as ReleaseModule;

describe('releasing a model version’s sessions in the inference workers', () => {
  let pool: InstanceType<PoolModule['InferencePool']>;
  let path: string;
  let key: string;

  beforeAll(async () => {
    const written = await writeModel(emptyModelsDir(), 'scale', 1, scaleModel(2));
    path = written.path;
    key = sessionKey(path, Buffer.from(written.sha256.slice(0, 32), 'hex'));
    pool = new InferencePool({ workers: 2, intraOpThreads: 1, nice: 0, preload: [{ key, path }] });
  });
  afterAll(() => pool?.close());

  const runOnce = () =>
    pool.run(key, path, [{ name: 'x', dtype: 1, dims: [1, SCALE_WIDTH], data: f32Raw([1, 2, 3, 4]) }], ['y']);

  it('drops the session in every worker, so a later run has to load the file again', async () => {
    // Sessions live in the workers: with the file gone, runs still answer from memory.
    await runOnce();
    await rm(path);
    for (let i = 0; i < 4; i++) expect((await runOnce())[0]?.name).toBe('y');

    releaseSession(key);

    // Released: the next run on each worker tries the file and fails to load it.
    const failure = await eventually('the session to be released', async () => {
      const outcomes = await Promise.allSettled([runOnce(), runOnce(), runOnce(), runOnce()]);
      const errors = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
      return errors.length === outcomes.length ? errors[0] : undefined;
    });
    expect(failure).toBeInstanceOf(ModelRunError);
    expect((failure as InstanceType<typeof ModelRunError>).stage).toBe('load');
  });
});
