import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/metrics.js';
import { heavyRequest, heavyRows, irisRequest, irisRows, SRC } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const HEAVY_BATCH_ROWS = 2048;
const LAG_P99 = 'infercache_nodejs_eventloop_lag_p99_seconds';

/** The nice value of each thread of process `pid` (Linux /proc), by thread id. */
function threadNice(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, nice is field 19.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), Number(fields[16]));
  }
  return out;
}

describe('inference stays off the event loop', () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    sidecar = await startSidecar({ redisUrl: '' });
  });
  afterAll(stopAllSidecars);

  it('runs the model in a worker thread below the event loop (INFERCACHE_INFERENCE_NICE, 10 by default)', async () => {
    const started = await sidecar.waitForLog((l) => l.msg === 'inference workers started');
    const pid = sidecar.proc.pid as number;
    const nice = threadNice(pid);
    // The main thread's id is the process id: it keeps the process's priority.
    const main = nice.get(pid) as number;
    expect(started.nice).toEqual([Math.min(19, main + 10)]);
    // The worker thread, and ONNX Runtime's intra-op threads it made (CPUs - 2 of them): none else.
    const lowered = [...nice.values()].filter((n) => n === Math.min(19, main + 10));
    expect(lowered.length).toBeGreaterThanOrEqual(1);
    expect(lowered.length).toBeLessThanOrEqual(Math.max(1, availableParallelism() - 1));
  });

  it('keeps serving L1 hits while a long run of heavy misses is in progress', async () => {
    const hot = irisRows(1);
    expect((await sidecar.client.predict(irisRequest(hot))).row_sources).toEqual([SRC.MODEL]);
    // prom-client resets its event-loop delay histogram at every scrape: this
    // one starts the window that the scrape after the heavy run reports.
    expect(metricValue(await sidecar.metrics(), LAG_P99)).toBeDefined();

    let heavyDone = false;
    const heavy = sidecar.client
      .predict(heavyRequest(heavyRows(HEAVY_BATCH_ROWS), { cache: { bypass: true } }), {
        deadlineMs: 120_000,
      })
      .finally(() => {
        heavyDone = true;
      });

    let hitsDuringHeavy = 0;
    const otherSources: number[][] = [];
    while (!heavyDone) {
      const res = await sidecar.client.predict(irisRequest(hot));
      if (res.row_sources[0] !== SRC.L1) otherSources.push(res.row_sources);
      if (!heavyDone) hitsDuringHeavy++;
    }
    const heavyRes = await heavy;
    expect(heavyRes.row_sources).toHaveLength(HEAVY_BATCH_ROWS);
    expect(heavyRes.row_sources.every((s) => s === SRC.MODEL)).toBe(true);
    expect(otherSources).toEqual([]);
    // Had the run blocked the event loop, no call could have completed before it did.
    expect(hitsDuringHeavy).toBeGreaterThanOrEqual(20);

    // A bound, not a speed claim: the main thread never stalled for long.
    const lagP99 = metricValue(await sidecar.metrics(), LAG_P99);
    expect(lagP99).toBeDefined();
    expect(lagP99).toBeLessThan(0.5);
  });
});
