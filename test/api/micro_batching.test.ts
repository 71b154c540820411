import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferCacheClientConstructor, loadPackageDefinition } from '../../src/api/proto.js';
import type { PredictResponse } from '../helpers/client.js';
import { openDirect, runDirectF32, shippedModelPath } from '../helpers/direct_model.js';
import { metricValue } from '../helpers/metrics.js';
import {
  eventually,
  f32FromBytes,
  f32Of,
  grpcError,
  HEAVY_IN,
  heavyRequest,
  heavyRows,
  SRC,
} from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const bypass = { cache: { bypass: true } };
const LONG = { deadlineMs: 120_000 };
// A batch that is not full waits this long for more calls: far longer than
// the tests take to send theirs, so what joins is decided by the bound.
const WAIT_FOR_BATCH = { INFERCACHE_BATCH_MAX_DELAY_US: '1000000' };

/** Run counters of the heavy model, read from /metrics. */
async function runs(sidecar: Sidecar, model = 'heavy') {
  const body = await sidecar.metrics();
  const v = (name: string, labels: Record<string, string> = {}) =>
    metricValue(body, name, { model, ...labels }) ?? 0;
  return {
    runs: v('infercache_inference_batch_rows_count'),
    rows: v('infercache_inference_batch_rows_sum'),
    calls: v('infercache_inference_batch_calls_sum'),
    runsUpTo: (rows: number) => v('infercache_inference_batch_rows_bucket', { le: String(rows) }),
    errors: (reason: string) => v('infercache_inference_errors_total', { reason }),
  };
}

/** Resolves once the heavy model's run of `before` + 1 runs has started (their queue wait is observed then). */
async function started(sidecar: Sidecar, before: number): Promise<void> {
  await eventually('a run to start', async () => {
    const n = metricValue(await sidecar.metrics(), 'infercache_inference_queue_seconds_count', {
      model: 'heavy',
    });
    return (n ?? 0) > before ? true : undefined;
  });
}

const queueDepth = async (sidecar: Sidecar) =>
  metricValue(await sidecar.metrics(), 'infercache_inference_queue_depth') ?? 0;

describe('misses of concurrent calls to one model run together', () => {
  let heavy: InferenceSession;
  const dirs: string[] = [];

  beforeAll(async () => {
    heavy = await openDirect(shippedModelPath('heavy'));
  });
  afterAll(async () => {
    await stopAllSidecars();
    await heavy?.release();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /** Checks the answer of a single-row call against onnxruntime run on that row alone. */
  async function expectAnswerOf(row: Float32Array, res: PredictResponse): Promise<void> {
    expect(res.row_sources).toEqual([SRC.MODEL]);
    const want = f32FromBytes((await runDirectF32(heavy, 'x', [1, HEAVY_IN], row)).y as Buffer);
    const got = f32Of(res.outputs.y);
    expect(got.length).toBe(want.length);
    // The sidecar's session uses more intra-op threads than the reference and
    // a batch takes other kernels than one row: sums may round differently.
    for (let i = 0; i < want.length; i++) {
      const w = want[i] as number;
      expect(Math.abs((got[i] as number) - w)).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(w));
    }
  }

  describe('with a batch bound of 4 rows', () => {
    let sidecar: Sidecar;
    beforeAll(async () => {
      sidecar = await startSidecar({
        redisUrl: sharedRedisUrl(),
        env: { INFERCACHE_BATCH_MAX_ROWS: '4', ...WAIT_FOR_BATCH },
      });
    });

    it('answers 32 concurrent single-row calls each with its own row, in fewer runs than calls and none over the bound', async () => {
      const before = await runs(sidecar);
      const rows = Array.from({ length: 32 }, () => heavyRows(1));
      const answers = await Promise.all(rows.map((r) => sidecar.client.predict(heavyRequest(r), LONG)));
      for (let i = 0; i < rows.length; i++)
        await expectAnswerOf(rows[i] as Float32Array, answers[i] as PredictResponse);
      const after = await runs(sidecar);
      expect(after.rows - before.rows).toBe(32);
      expect(after.calls - before.calls).toBe(32);
      const ran = after.runs - before.runs;
      expect(ran).toBeGreaterThanOrEqual(8);
      expect(ran).toBeLessThan(32);
      expect(after.runsUpTo(4) - before.runsUpTo(4)).toBe(ran);
    });

    it("drops the row of a call whose deadline passes while it waits for a batch; the others' rows run", async () => {
      const before = await runs(sidecar);
      const [a, late, c, d, e] = Array.from({ length: 5 }, () => heavyRows(1)) as Float32Array[];
      const first = sidecar.client.predict(heavyRequest(a as Float32Array), LONG);
      const error = await grpcError(
        sidecar.client.predict(heavyRequest(late as Float32Array), { deadlineMs: 300 }),
      );
      expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      const rest = [c, d, e].map((r) => sidecar.client.predict(heavyRequest(r as Float32Array), LONG));
      await expectAnswerOf(a as Float32Array, await first);
      for (const [i, r] of [c, d, e].entries())
        await expectAnswerOf(r as Float32Array, await (rest[i] as Promise<PredictResponse>));
      const after = await runs(sidecar);
      expect(after.rows - before.rows).toBe(4);
      // The client ends the call at its deadline too; whichever the server
      // sees first names the drop.
      const dropped = (m: typeof after) => m.errors('E_DEADLINE_EXCEEDED') + m.errors('E_CANCELLED');
      expect(dropped(after) - dropped(before)).toBe(1);
    });

    it("drops the row of a call its client cancels while it waits for a batch; the others' rows run", async () => {
      const before = await runs(sidecar);
      const [a, gone, c, d, e] = Array.from({ length: 5 }, () => heavyRows(1)) as Float32Array[];
      const first = sidecar.client.predict(heavyRequest(a as Float32Array), LONG);
      const Client = inferCacheClientConstructor(loadPackageDefinition());
      const raw = new Client(sidecar.grpcAddr, grpc.credentials.createInsecure());
      const call = (
        raw as unknown as { Predict: (r: unknown, cb: (e: unknown) => void) => grpc.ClientUnaryCall }
      ).Predict(heavyRequest(gone as Float32Array), () => {});
      await eventually('both calls to wait for a batch', async () =>
        (await queueDepth(sidecar)) === 2 ? true : undefined,
      );
      call.cancel();
      await eventually('the cancelled row to be dropped', async () =>
        (await runs(sidecar)).errors('E_CANCELLED') > before.errors('E_CANCELLED') ? true : undefined,
      );
      raw.close();
      const rest = [c, d, e].map((r) => sidecar.client.predict(heavyRequest(r as Float32Array), LONG));
      await expectAnswerOf(a as Float32Array, await first);
      for (const [i, r] of [c, d, e].entries())
        await expectAnswerOf(r as Float32Array, await (rest[i] as Promise<PredictResponse>));
      const after = await runs(sidecar);
      expect(after.rows - before.rows).toBe(4);
    });
  });

  it('joins the calls that queue while the worker is busy, with no delay set', async () => {
    // Whole runs: one 8192-row call holds the only worker for a while.
    const sidecar = await startSidecar({ redisUrl: '', env: { INFERCACHE_MAX_RUN_ROWS: '8192' } });
    const before = await runs(sidecar);
    const blocker = sidecar.client.predict(heavyRequest(heavyRows(8192), bypass), LONG);
    await started(sidecar, 0);
    const rows = Array.from({ length: 16 }, () => heavyRows(1));
    const calls = rows.map((r) => sidecar.client.predict(heavyRequest(r), LONG));
    await eventually('the calls to queue behind the blocker', async () =>
      (await queueDepth(sidecar)) === 16 ? true : undefined,
    );
    await blocker;
    const answers = await Promise.all(calls);
    for (let i = 0; i < rows.length; i++)
      await expectAnswerOf(rows[i] as Float32Array, answers[i] as PredictResponse);
    const after = await runs(sidecar);
    // The blocker's run, then the sixteen rows together.
    expect(after.runs - before.runs).toBe(2);
    expect(after.rows - before.rows).toBe(8192 + 16);
  });

  it('refuses a call with RESOURCE_EXHAUSTED when the batching queue is full, and serves the waiting calls', async () => {
    const sidecar = await startSidecar({
      redisUrl: '',
      env: { INFERCACHE_INFERENCE_QUEUE: '2', INFERCACHE_MAX_RUN_ROWS: '8192', ...WAIT_FOR_BATCH },
    });
    const blocker = sidecar.client.predict(heavyRequest(heavyRows(8192), bypass), LONG);
    await started(sidecar, 0);
    const rows = [heavyRows(1), heavyRows(1)];
    const waiting = rows.map((r) => sidecar.client.predict(heavyRequest(r), LONG));
    await eventually('two calls to wait', async () => ((await queueDepth(sidecar)) === 2 ? true : undefined));
    const refused = await grpcError(sidecar.client.predict(heavyRequest(heavyRows(1)), LONG));
    expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(refused.details).toMatch(/^E_OVERLOADED: inference queue is full \(2 runs waiting\)/);
    await blocker;
    for (const [i, r] of rows.entries())
      await expectAnswerOf(r, await (waiting[i] as Promise<PredictResponse>));
  });

  it("takes a model's own batch bound from its model.json over the sidecar's", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infercache-batching-'));
    dirs.push(dir);
    await mkdir(join(dir, 'heavy', '1'), { recursive: true });
    await copyFile(shippedModelPath('heavy'), join(dir, 'heavy', '1', 'model.onnx'));
    await writeFile(
      join(dir, 'heavy', '1', 'model.json'),
      JSON.stringify({ batching: { maxRows: 2, maxDelayUs: 1_000_000 } }),
    );
    const sidecar = await startSidecar({
      redisUrl: '',
      modelsDir: dir,
      env: { INFERCACHE_BATCH_MAX_ROWS: '64', INFERCACHE_BATCH_MAX_DELAY_US: '0' },
    });
    const before = await runs(sidecar);
    const rows = Array.from({ length: 8 }, () => heavyRows(1));
    const answers = await Promise.all(rows.map((r) => sidecar.client.predict(heavyRequest(r), LONG)));
    for (let i = 0; i < rows.length; i++)
      await expectAnswerOf(rows[i] as Float32Array, answers[i] as PredictResponse);
    const after = await runs(sidecar);
    const ran = after.runs - before.runs;
    expect(ran).toBeGreaterThanOrEqual(4);
    expect(ran).toBeLessThan(8);
    expect(after.runsUpTo(2) - before.runsUpTo(2)).toBe(ran);
  });
});
