import { getPriority } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';

// The pool starts its workers from the compiled session_worker.js beside it,
// so this test takes the pool from dist/.
type PoolModule = typeof import('../../src/model/pool.js');
const { InferencePool } = (await import(
  new URL('../../dist/model/pool.js', import.meta.url).href
)) as PoolModule;

describe('inference worker priority', () => {
  let pool: InstanceType<PoolModule['InferencePool']> | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it('lowers each worker thread by the nice given, and no other thread', async () => {
    const base = getPriority(0);
    pool = new InferencePool({ workers: 2, intraOpThreads: 1, nice: 7, preload: [] });
    expect(await pool.started()).toEqual([Math.min(19, base + 7), Math.min(19, base + 7)]);
    expect(getPriority(0)).toBe(base);
  });

  it('leaves the workers as the process is with 0', async () => {
    const base = getPriority(0);
    pool = new InferencePool({ workers: 1, intraOpThreads: 1, nice: 0, preload: [] });
    expect(await pool.started()).toEqual([base]);
  });
});
