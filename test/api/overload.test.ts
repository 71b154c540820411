import { status } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/metrics.js';
import {
  grpcError,
  heavyRequest,
  heavyRows,
  irisRequest,
  irisRows,
  SRC,
  sleep,
} from '../helpers/requests.js';
import { startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const bypass = { cache: { bypass: true } };

describe('overload is refused up front', () => {
  afterAll(stopAllSidecars);

  it('refuses a call past INFERCACHE_MAX_INFLIGHT_CALLS with RESOURCE_EXHAUSTED, then serves again', async () => {
    const sidecar = await startSidecar({ redisUrl: '', env: { INFERCACHE_MAX_INFLIGHT_CALLS: '1' } });
    const blocker = sidecar.client.predict(heavyRequest(heavyRows(4096), bypass), { deadlineMs: 120_000 });
    await sleep(300);
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

  it('refuses a model run past INFERCACHE_INFERENCE_QUEUE with RESOURCE_EXHAUSTED, naming the limit', async () => {
    const sidecar = await startSidecar({ redisUrl: '', env: { INFERCACHE_INFERENCE_QUEUE: '1' } });
    const running = sidecar.client.predict(heavyRequest(heavyRows(4096), bypass), { deadlineMs: 120_000 });
    await sleep(300);
    const queued = sidecar.client.predict(heavyRequest(heavyRows(1), bypass), { deadlineMs: 120_000 });
    await sleep(100);
    const refused = await grpcError(sidecar.client.predict(heavyRequest(heavyRows(1), bypass)));
    expect(refused.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(refused.details).toMatch(/inference queue is full \(1 runs waiting\)/);
    expect((await running).row_sources).toHaveLength(4096);
    expect((await queued).row_sources).toEqual([SRC.MODEL]);
  });
});
