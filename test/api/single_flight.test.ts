import { status } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/metrics.js';
import { grpcError, heavyRequest, heavyRows, SRC, sleep } from '../helpers/requests.js';
import { startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

describe('single-flight across requests', () => {
  afterAll(stopAllSidecars);

  it('runs a row itself when the request it was waiting on fails, instead of inheriting that failure', async () => {
    // One long run (not pieces) keeps the worker busy for the whole test.
    const sidecar = await startSidecar({ redisUrl: '', env: { INFERCACHE_MAX_RUN_ROWS: '8192' } });
    const row = heavyRows(1);
    // Keep the only inference worker busy, so the next run waits in its queue:
    // 8,192 rows run for about a second even on a fast core (4,096 were done
    // within A's deadline on one), far past A's deadline below.
    const blocker = sidecar.client.predict(heavyRequest(heavyRows(8192), { cache: { bypass: true } }), {
      deadlineMs: 120_000,
    });
    await sleep(300);
    // A claims the row, then its deadline passes while its run is queued.
    const a = grpcError(sidecar.client.predict(heavyRequest(row), { deadlineMs: 200 }));
    await sleep(50);
    // B asks for the same row while A holds it, and waits for A's result.
    const b = sidecar.client.predict(heavyRequest(row), { deadlineMs: 120_000 });

    expect((await a).code).toBe(status.DEADLINE_EXCEEDED);
    const answer = await b;
    expect(answer.row_sources).toEqual([SRC.MODEL]);
    await blocker;
    // The failed claim hurt nothing: the row is cached now, and the sidecar serves.
    expect((await sidecar.client.predict(heavyRequest(row))).row_sources).toEqual([SRC.L1]);
    expect(await sidecar.client.health('')).toBe('SERVING');
  });

  it('runs two concurrent identical misses exactly once', async () => {
    const sidecar = await startSidecar({ redisUrl: '' });
    const rows = heavyRows(512);
    const runs = async () =>
      metricValue(await sidecar.metrics(), 'infercache_inference_batch_rows_count', { model: 'heavy' }) ?? 0;
    const [first, second] = await Promise.all([
      sidecar.client.predict(heavyRequest(rows)),
      sidecar.client.predict(heavyRequest(rows)),
    ]);
    expect(first.row_sources).toEqual(new Array(512).fill(SRC.MODEL));
    expect(second.row_sources).toEqual(new Array(512).fill(SRC.MODEL));
    expect(second.outputs.y?.raw).toEqual(first.outputs.y?.raw);
    expect(await runs()).toBe(1);
  });
});
