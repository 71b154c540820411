import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPackageDefinition } from '../../src/api/proto.js';
import { waitForExit } from '../helpers/children.js';
import type { PredictResponse } from '../helpers/client.js';
import { metricValue } from '../helpers/metrics.js';
import { eventually, HEAVY_OUT, heavyRequest, heavyRows, SRC } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const CALLS = 10;
const ROWS = 256;

/** A grpc.health.v1 Watch on `service`: every status pushed, as names. */
function watchHealth(addr: string, service: string) {
  const loaded = grpc.loadPackageDefinition(loadPackageDefinition()) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  const client = new loaded.grpc.health.v1.Health(addr, grpc.credentials.createInsecure());
  const stream = (
    client as unknown as { Watch(req: unknown): grpc.ClientReadableStream<{ status: number }> }
  ).Watch({ service });
  const seen: string[] = [];
  const names = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
  stream.on('data', (m: { status: number }) => seen.push(names[m.status] ?? String(m.status)));
  stream.on('error', () => {}); // CANCELLED when we stop watching.
  return {
    seen,
    close() {
      stream.cancel();
      client.close();
    },
  };
}

describe('graceful shutdown', () => {
  afterAll(stopAllSidecars);

  it('on SIGTERM finishes every in-flight heavy call, turns health NOT_SERVING and exits 0', {
    timeout: 150_000,
  }, async () => {
    const sidecar: Sidecar = await startSidecar({
      redisUrl: '',
      // Generous, so the test is about draining, not about the grace period on a busy box.
      env: { INFERCACHE_SHUTDOWN_GRACE_MS: '90000' },
    });
    const watch = watchHealth(sidecar.grpcAddr, '');
    await eventually('health Watch to report SERVING', async () =>
      watch.seen.includes('SERVING') ? true : undefined,
    );

    let sigtermSent = false;
    let completedAfterSigterm = 0;
    const calls = Array.from({ length: CALLS }, () =>
      sidecar.client
        .predict(heavyRequest(heavyRows(ROWS), { cache: { bypass: true } }), { deadlineMs: 120_000 })
        .then((res: PredictResponse) => {
          if (sigtermSent) completedAfterSigterm++;
          return res;
        }),
    );
    const settled = Promise.allSettled(calls);

    // Once the first batch has run, every call has reached the sidecar; the rest are queued or running.
    const batchesRun = async () =>
      metricValue(await sidecar.metrics(), 'infercache_inference_batch_rows_count', { model: 'heavy' }) ?? 0;
    await eventually(
      'the first heavy batch to finish',
      async () => ((await batchesRun()) >= 1 ? true : undefined),
      60_000,
    );
    const exited = waitForExit(sidecar.proc);
    sidecar.proc.kill('SIGTERM');
    sigtermSent = true;

    const results = await settled;
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(failures).toEqual([]);
    for (const r of results) {
      const res = (r as PromiseFulfilledResult<PredictResponse>).value;
      expect(res.row_sources).toEqual(new Array(ROWS).fill(SRC.MODEL));
      expect(res.outputs.y?.shape).toEqual([String(ROWS), String(HEAVY_OUT)]);
    }
    // The drain was real: calls were still running when the signal came.
    expect(completedAfterSigterm).toBeGreaterThanOrEqual(1);

    await eventually('health Watch to report NOT_SERVING', async () =>
      watch.seen.includes('NOT_SERVING') ? true : undefined,
    );
    expect(watch.seen.slice(0, 2)).toEqual(['SERVING', 'NOT_SERVING']);
    watch.close();

    expect(await exited).toBe(0);
    const messages = sidecar.logs().map((l) => l.msg);
    expect(messages).toContain('draining: health NOT_SERVING, finishing in-flight calls');
    expect(messages).toContain('stopped');
    expect(messages.filter((m) => /grace period over/.test(String(m)))).toEqual([]);
  });

  it('with a drain delay, answers Check with NOT_SERVING while it still serves, then exits 0 despite an open Watch', {
    timeout: 60_000,
  }, async () => {
    const sidecar = await startSidecar({
      redisUrl: '',
      // A grace period longer than the test: an open Watch stream holding the
      // shutdown until the grace ran out would make this test time out.
      env: { INFERCACHE_DRAIN_DELAY_MS: '3000', INFERCACHE_SHUTDOWN_GRACE_MS: '300000' },
    });
    const watch = watchHealth(sidecar.grpcAddr, '');
    await eventually('health Watch to report SERVING', async () =>
      watch.seen.includes('SERVING') ? true : undefined,
    );
    const exited = waitForExit(sidecar.proc);
    sidecar.proc.kill('SIGTERM');
    await eventually('Check to answer NOT_SERVING', async () =>
      (await sidecar.client.health('')) === 'NOT_SERVING' ? true : undefined,
    );
    const during = await sidecar.client.predict(heavyRequest(heavyRows(1)));
    expect(during.row_sources).toEqual([SRC.MODEL]);
    expect(await exited).toBe(0);
    watch.close();
  });

  it('past its grace period drops the queued model runs of cancelled calls and exits within the grace plus a small bound', {
    timeout: 90_000,
  }, async () => {
    const GRACE_MS = 1000;
    const sidecar = await startSidecar({
      redisUrl: '',
      env: { INFERCACHE_SHUTDOWN_GRACE_MS: String(GRACE_MS), INFERCACHE_INFERENCE_THREADS: '1' },
    });
    // Twelve 8192-row runs of the heavy model: about 1.5 s each here, so
    // running them all would take far longer than the grace period.
    const calls = Array.from({ length: 12 }, () =>
      sidecar.client.predict(heavyRequest(heavyRows(8192), { cache: { bypass: true } }), {
        deadlineMs: 120_000,
      }),
    );
    const settled = Promise.allSettled(calls);
    const queued = async () =>
      metricValue(await sidecar.metrics(), 'infercache_inference_queue_seconds_count', { model: 'heavy' }) ??
      0;
    await eventually(
      'the first run to start',
      async () => ((await queued()) >= 1 ? true : undefined),
      60_000,
    );
    const exited = waitForExit(sidecar.proc);
    const sentAt = performance.now();
    sidecar.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    const exitMs = performance.now() - sentAt;
    // Before the fix the queued runs of the cancelled calls still executed:
    // 17.1 s to exit with a 1 s grace.
    expect(exitMs).toBeLessThan(GRACE_MS + 2000);
    const results = await settled;
    expect(results.filter((r) => r.status === 'rejected').length).toBeGreaterThanOrEqual(10);
    expect(sidecar.logs().map((l) => l.msg)).toContain(
      'grace period over: cancelling the calls still running',
    );
  });
});
