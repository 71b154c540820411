import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcError, irisRequest, irisRows } from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

/**
 * What Prometheus's own linter makes of the scrape, after calls of every
 * kind have made their labelled series exist (test/prerequisites.sh
 * installs promtool from Debian's prometheus package).
 */
describe('the /metrics exposition', () => {
  let sidecar: Sidecar;
  let scrape: string;
  beforeAll(async () => {
    sidecar = await startSidecar({ redisUrl: sharedRedisUrl() });
    await sidecar.client.listModels();
    const rows = irisRows(3);
    await sidecar.client.predict(irisRequest(rows));
    await sidecar.client.predict(irisRequest(rows));
    await grpcError(sidecar.client.predict({ model: 'no-such-model', inputs: {} }));
    // The shipped feature view: a write, then a read of a row found and one not.
    const flowers = { columns: [{ name: 'flower_id', int64_values: ['1', '2'] }] };
    await sidecar.client.putFeatures({
      view: 'iris_flowers',
      entities: { columns: [{ name: 'flower_id', int64_values: ['1'] }] },
      features: [{ name: 'species', type: 6, bytes_values: [Buffer.from('setosa')] }],
      event_time_ms: [Date.now()],
    });
    await sidecar.client.getFeatures({ features: ['iris_flowers'], entities: flowers });
    await sidecar.client.health('');
    scrape = await sidecar.metrics();
  });
  afterAll(stopAllSidecars);

  it('passes promtool check metrics', () => {
    const result = spawnSync('promtool', ['check', 'metrics'], { input: scrape, encoding: 'utf8' });
    expect(result.error, 'promtool is missing: run test/prerequisites.sh').toBeUndefined();
    // promtool prints one line per problem, starting with the metric's name.
    expect(`${result.stdout}${result.stderr}`.trim()).toBe('');
    expect(result.status).toBe(0);
  });

  it('exposes the feature series of the view that was called', () => {
    for (const name of [
      'infercache_feature_values_total',
      'infercache_feature_rows_total',
      'infercache_feature_batch_entities_count',
      'infercache_feature_age_seconds_count',
      'infercache_feature_writes_total',
    ]) {
      expect(scrape, name).toMatch(new RegExp(`^${name}\\{[^}]*view="iris_flowers"`, 'm'));
    }
  });

  it('names every series infercache_', () => {
    const names = scrape
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split(/[{ ]/)[0] as string);
    expect(names.length).toBeGreaterThan(50);
    expect(names.filter((n) => !n.startsWith('infercache_'))).toEqual([]);
  });
});
