import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/metrics.js';
import { irisRequest, irisRows, SRC, sleep } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

describe('early refresh of cached predictions', () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    // L1 only, rows living 4 s, and a beta that makes a refresh all but
    // certain in the last seconds of a row's life when it is read often.
    sidecar = await startSidecar({
      redisUrl: '',
      env: { INFERCACHE_L1_TTL_MS: '4000', INFERCACHE_EARLY_REFRESH_BETA: '100' },
    });
  });
  afterAll(stopAllSidecars);

  it('keeps a row read often cached past its lifetime: recomputed in the background, never a miss', async () => {
    const request = irisRequest(irisRows(1).map((r) => r.map((x) => x + 0.125)));
    expect((await sidecar.client.predict(request)).row_sources).toEqual([SRC.MODEL]);
    const sources: number[] = [];
    // Three lifetimes of the row.
    const until = Date.now() + 12_000;
    while (Date.now() < until) {
      sources.push(...(await sidecar.client.predict(request)).row_sources);
      await sleep(50);
    }
    expect(sources.filter((s) => s !== SRC.L1)).toEqual([]);
    const refreshed = metricValue(await sidecar.metrics(), 'infercache_early_refreshes_total', {
      kind: 'p',
      result: 'ok',
    });
    expect(refreshed).toBeGreaterThanOrEqual(2);
  });
});
