import { status } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/metrics.js';
import {
  eventually,
  grpcError,
  heavyRequest,
  heavyRows,
  irisRequest,
  irisRows,
  SRC,
  sleep,
} from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const bypass = { cache: { bypass: true } };

/** Waits until `n` heavy runs have started on a worker (an 8 MiB request can take a while to arrive). */
const runsStarted = (sidecar: Sidecar, n: number) =>
  eventually(`${n} heavy run(s) to start`, async () =>
    (metricValue(await sidecar.metrics(), 'infercache_inference_queue_seconds_count', { model: 'heavy' }) ??
      0) >= n
      ? true
      : undefined,
  );

describe('overload is refused up front', () => {
  afterAll(stopAllSidecars);

  it('refuses a call past INFERCACHE_MAX_INFLIGHT_CALLS with RESOURCE_EXHAUSTED, then serves again', async () => {
    const sidecar = await startSidecar({ redisUrl: '', env: { INFERCACHE_MAX_INFLIGHT_CALLS: '1' } });
    const blocker = sidecar.client.predict(heavyRequest(heavyRows(4096), bypass), { deadlineMs: 120_000 });
    await runsStarted(sidecar, 1);
    const refused = await grpcError(sidecar.client.predict(irisRequest(irisRows(1))));
    expect(refused.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(refused.details).toMatch(/^E_OVERLOADED: too many calls in progress/);
    await blocker;
    expect((await sidecar.client.predict(irisRequest(irisRows(1)))).row_sources).toEqual([SRC.MODEL]);
    const counted = metricValue(await sidecar.metrics(), 'infercache_requests_total', {
      method: 'Predict',
      code: 'RESOURCE_EXHAUSTED',
    });
    expect(counted).toBe(1);
  });

  it('answers a call L1 holds in full at once, even while every call slot is taken', async () => {
    // Such a call waits for nothing and holds nothing, so it is answered
    // before admission: the synchronous L1 answer, not the asynchronous path.
    const sidecar = await startSidecar({ redisUrl: '', env: { INFERCACHE_MAX_INFLIGHT_CALLS: '1' } });
    const rows = irisRows(2).map((r) => r.map((x) => x + 0.625));
    expect((await sidecar.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
    const blocker = sidecar.client.predict(heavyRequest(heavyRows(4096), bypass), { deadlineMs: 120_000 });
    await runsStarted(sidecar, 1);
    expect((await sidecar.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.L1, SRC.L1]);
    // A row L1 lacks still takes the one slot, and is refused.
    const refused = await grpcError(sidecar.client.predict(irisRequest([...rows, [9, 9, 9, 9]])));
    expect(refused.code).toBe(status.RESOURCE_EXHAUSTED);
    await blocker;
  });

  it('refuses a model run past INFERCACHE_INFERENCE_QUEUE with RESOURCE_EXHAUSTED, naming the limit', async () => {
    // One run of 4096 rows (not pieces), long enough to keep the next one waiting.
    const sidecar = await startSidecar({
      redisUrl: '',
      env: { INFERCACHE_INFERENCE_QUEUE: '1', INFERCACHE_MAX_RUN_ROWS: '8192' },
    });
    const timedRuns = async () =>
      metricValue(await sidecar.metrics(), 'infercache_inference_duration_seconds_count', {
        model: 'heavy',
      }) ?? 0;
    const timedBefore = await timedRuns();
    const running = sidecar.client.predict(heavyRequest(heavyRows(4096), bypass), { deadlineMs: 120_000 });
    await runsStarted(sidecar, 1);
    const queued = sidecar.client.predict(heavyRequest(heavyRows(1), bypass), { deadlineMs: 120_000 });
    await sleep(100);
    const refused = await grpcError(sidecar.client.predict(heavyRequest(heavyRows(1), bypass)));
    expect(refused.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(refused.details).toMatch(/inference queue is full \(1 runs waiting\)/);
    expect((await running).row_sources).toHaveLength(4096);
    expect((await queued).row_sources).toEqual([SRC.MODEL]);
    // The refused run never ran: it is not timed as a run (of 0 s) beside the two that did.
    expect((await timedRuns()) - timedBefore).toBe(2);
  });
});
