import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferCacheClientConstructor, loadPackageDefinition } from '../../src/api/proto.js';
import { metricValue } from '../helpers/metrics.js';
import { eventually, grpcError, heavyRequest, heavyRows, SRC, sleep } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const bypass = { cache: { bypass: true } };

describe('cancellation flows down to the queue and the single-flight waits', () => {
  let sidecar: Sidecar;
  const metric = async (name: string, labels: Record<string, string>) =>
    metricValue(await sidecar.metrics(), name, labels) ?? 0;
  beforeAll(async () => {
    // One worker and whole runs (no pieces): a 4096-row run holds the worker.
    sidecar = await startSidecar({ redisUrl: '', env: { INFERCACHE_MAX_RUN_ROWS: '8192' } });
  });
  afterAll(stopAllSidecars);

  /**
   * A run that keeps the only worker busy for a while (over a second),
   * once it is on the worker: its 8 MiB request can take a while to arrive
   * on a loaded machine, and a call sent before it starts would run first.
   */
  const occupy = async (s: Sidecar = sidecar) => {
    const started = async () =>
      metricValue(await s.metrics(), 'infercache_inference_queue_seconds_count', { model: 'heavy' }) ?? 0;
    const before = await started();
    const run = s.client.predict(heavyRequest(heavyRows(8192), bypass), { deadlineMs: 120_000 });
    await eventually('the blocking run to start', async () =>
      (await started()) > before ? true : undefined,
    );
    // Wrapped: an async function returning the call's promise would wait for it.
    return { done: run };
  };

  it('drops the queued run of a call whose deadline passes, and never runs it', async () => {
    const ranBefore = await metric('infercache_inference_batch_rows_count', { model: 'heavy' });
    const blocker = await occupy();
    const late = await grpcError(
      sidecar.client.predict(heavyRequest(heavyRows(8), bypass), { deadlineMs: 300 }),
    );
    expect(late.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await blocker.done;
    // The server sees the deadline pass, or the client's cancel sent at that
    // same deadline first (the server's own deadline is a little later): one
    // dropped run either way.
    const dropped = async (reason: string) =>
      metric('infercache_inference_errors_total', { model: 'heavy', reason });
    expect((await dropped('E_DEADLINE_EXCEEDED')) + (await dropped('E_CANCELLED'))).toBe(1);
    // Only the blocker ran; it and the dropped run are told apart in the metrics.
    expect(await metric('infercache_inference_batch_rows_count', { model: 'heavy' })).toBe(ranBefore + 1);
    expect(await metric('infercache_inference_duration_seconds_count', { model: 'heavy' })).toBe(
      ranBefore + 1,
    );
  });

  it('drops the queued run of a call its client cancels', async () => {
    const blocker = await occupy();
    const Client = inferCacheClientConstructor(loadPackageDefinition());
    const client = new Client(sidecar.grpcAddr, grpc.credentials.createInsecure());
    const call = (
      client as unknown as { Predict: (r: unknown, cb: (e: unknown) => void) => grpc.ClientUnaryCall }
    ).Predict(heavyRequest(heavyRows(8), bypass), () => {});
    await sleep(200);
    call.cancel();
    await eventually('the cancelled run to be dropped', async () =>
      (await metric('infercache_inference_errors_total', { model: 'heavy', reason: 'E_CANCELLED' })) >= 1
        ? true
        : undefined,
    );
    client.close();
    await blocker.done;
  });

  it("lets a request waiting on another request's run give up at its own deadline, releasing what it holds", async () => {
    // Three calls may be in progress: the blocker, the owner and the waiter.
    // A waiter that kept waiting past its deadline would keep its place, and
    // the fourth call below would be refused.
    const own = await startSidecar({
      redisUrl: '',
      env: { INFERCACHE_MAX_RUN_ROWS: '8192', INFERCACHE_MAX_INFLIGHT_CALLS: '3' },
    });
    const blocker = await occupy(own);
    const rows = heavyRows(4);
    // The owner claims the rows and waits (long deadline) behind the blocker.
    const owner = own.client.predict(heavyRequest(rows), { deadlineMs: 120_000 });
    await sleep(100);
    const waiter = await grpcError(own.client.predict(heavyRequest(rows), { deadlineMs: 300 }));
    expect(waiter.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await sleep(100);
    const models = await own.client.listModels();
    expect(models.models.length).toBeGreaterThan(0);
    expect((await owner).row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    await blocker.done;
  });
});
