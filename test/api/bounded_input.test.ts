import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferCacheService, loadPackageDefinition } from '../../src/api/proto.js';
import { metricValue } from '../helpers/metrics.js';
import { HEALTH_CHECK, PREDICT, rawClient, wire } from '../helpers/raw_call.js';
import { heavyRequest, heavyRows, irisRequest, irisRows } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const MiB = 1024 * 1024;
// "No error message a client can trigger can exceed a few hundred bytes."
const MAX_DETAILS_BYTES = 300;

const encodePredict = (req: unknown) =>
  inferCacheService(loadPackageDefinition()).Predict?.requestSerialize(req) as Buffer;
const withModel = (model: string) => encodePredict({ ...irisRequest(irisRows(1)), model });
const healthCheck = (service: string) => wire.bytes(1, service);

describe('every string a caller sends is bounded at the edge', () => {
  let sidecar: Sidecar;
  let client: ReturnType<typeof rawClient>;
  beforeAll(async () => {
    sidecar = await startSidecar({ redisUrl: '' });
    client = rawClient(sidecar.grpcAddr);
  });
  afterAll(async () => {
    client.close();
    await stopAllSidecars();
  });

  it.each([
    ['a 1 MiB ASCII model name', 'm'.repeat(MiB)],
    ['a 28 KB model name of multi-byte characters', '€'.repeat(9400)],
  ])(
    'answers %s promptly with a short INVALID_ARGUMENT while a call on the same connection completes',
    async (_what, name) => {
      const inFlight = client.call(
        PREDICT,
        encodePredict(heavyRequest(heavyRows(512), { cache: { bypass: true } })),
      );
      // A reply within 3 s: before this was bounded, no reply came at all.
      const refused = await client.call(PREDICT, withModel(name), 3000);
      expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(refused.details).toMatch(/model is \d+ bytes; at most 128/);
      expect(Buffer.byteLength(refused.details)).toBeLessThan(MAX_DETAILS_BYTES);
      const other = await inFlight;
      expect(other.code).toBe(grpc.status.OK);
    },
  );

  it('refuses a long version, input name or health service name the same way', async () => {
    const long = 'v'.repeat(MiB);
    const outcomes = await Promise.all([
      client.call(PREDICT, encodePredict({ ...irisRequest(irisRows(1)), version: long }), 3000),
      client.call(PREDICT, wire.predict('iris', long, wire.bytes(3, Buffer.alloc(16))), 3000),
      client.call(HEALTH_CHECK, healthCheck(long), 3000),
    ]);
    for (const o of outcomes) {
      expect(o.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(Buffer.byteLength(o.details)).toBeLessThan(MAX_DETAILS_BYTES);
    }
    expect(outcomes.map((o) => o.details)).toEqual([
      expect.stringMatching(/version is \d+ bytes; at most 128/),
      expect.stringMatching(/input name is \d+ bytes; at most 256/),
      expect.stringMatching(/service name is \d+ bytes; at most 256/),
    ]);
  });

  // Requests decoded by decodeBounded (api/wire/bounded_decode.ts).
  const PUT_FEATURES = '/infercache.v1.InferCache/PutFeatures';
  const INVALIDATE = '/infercache.v1.InferCache/Invalidate';
  const ACTIVATE_MODEL = '/infercache.v1.InferCache/ActivateModel';
  const WARM = '/infercache.v1.InferCache/Warm';
  const long = 'v'.repeat(MiB);
  /** EntityKeys of one string column: `name` holding `id`. */
  const stringIds = (name: string, id: string) =>
    wire.bytes(1, Buffer.concat([wire.bytes(1, name), wire.bytes(2, id)]));

  it.each([
    ['PutFeatures', PUT_FEATURES, wire.bytes(1, long), /view is \d+ bytes; at most 128/],
    ['Warm', WARM, wire.bytes(1, long), /view is \d+ bytes; at most 128/],
    ['Invalidate', INVALIDATE, wire.bytes(2, wire.bytes(1, long)), /view\.view is \d+ bytes; at most 128/],
    [
      'PutFeatures (a feature name)',
      PUT_FEATURES,
      Buffer.concat([wire.bytes(1, 'iris_flowers'), wire.bytes(3, wire.bytes(1, long))]),
      /features\.name is \d+ bytes; at most 128/,
    ],
    [
      'Warm (a join key name)',
      WARM,
      Buffer.concat([wire.bytes(1, 'iris_flowers'), wire.bytes(2, stringIds(long, 'a'))]),
      /entities\.columns\.name is \d+ bytes; at most 128/,
    ],
    [
      'Invalidate (an entity id)',
      INVALIDATE,
      wire.bytes(
        2,
        Buffer.concat([wire.bytes(1, 'iris_flowers'), wire.bytes(2, stringIds('flower_id', long))]),
      ),
      /view\.entities\.columns\.string_values\[0\] is \d+ bytes; at most 256/,
    ],
  ])(
    'answers a 1 MiB name sent to %s promptly with a short INVALID_ARGUMENT',
    async (_what, path, request, said) => {
      const outcome =
        path === WARM ? await client.stream(path, request, 3000) : await client.call(path, request, 3000);
      expect(outcome.code, outcome.details).toBe(grpc.status.INVALID_ARGUMENT);
      expect(outcome.details).toMatch(said);
      expect(Buffer.byteLength(outcome.details)).toBeLessThan(MAX_DETAILS_BYTES);
    },
  );

  it('refuses a long model or version name to ActivateModel and Invalidate the same way', async () => {
    const outcomes = await Promise.all([
      client.call(ACTIVATE_MODEL, wire.bytes(1, long), 3000),
      client.call(ACTIVATE_MODEL, Buffer.concat([wire.bytes(1, 'iris'), wire.bytes(2, long)]), 3000),
      client.call(INVALIDATE, wire.bytes(1, wire.bytes(1, long)), 3000),
      client.call(
        INVALIDATE,
        wire.bytes(1, Buffer.concat([wire.bytes(1, 'iris'), wire.bytes(2, long)])),
        3000,
      ),
    ]);
    for (const o of outcomes) {
      expect(o.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(Buffer.byteLength(o.details)).toBeLessThan(MAX_DETAILS_BYTES);
    }
    expect(outcomes.map((o) => o.details)).toEqual([
      expect.stringMatching(/ model is \d+ bytes; at most 128/),
      expect.stringMatching(/ version is \d+ bytes; at most 128/),
      expect.stringMatching(/ model\.model is \d+ bytes; at most 128/),
      expect.stringMatching(/ model\.version is \d+ bytes; at most 128/),
    ]);
  });

  it('quotes at most a short prefix of a bad value in a message', async () => {
    const unknown = `no-such-model-${'x'.repeat(100)}`;
    const outcome = await client.call(PREDICT, withModel(unknown));
    expect(outcome.code).toBe(grpc.status.NOT_FOUND);
    expect(outcome.details).toContain(unknown.slice(0, 64));
    expect(outcome.details).not.toContain(unknown);
    expect(outcome.details).toContain('(114 chars)');
    const health = await client.call(HEALTH_CHECK, healthCheck('s'.repeat(200)));
    expect(health.code).toBe(grpc.status.NOT_FOUND);
    expect(Buffer.byteLength(health.details)).toBeLessThan(MAX_DETAILS_BYTES);
  });

  it('counts the refusals as INVALID_ARGUMENT, not as the NOT_FOUND a lookup would give', async () => {
    const body = await sidecar.metrics();
    expect(
      metricValue(body, 'infercache_requests_total', { method: 'Predict', code: 'INVALID_ARGUMENT' }),
    ).toBeGreaterThanOrEqual(4);
    expect(
      metricValue(body, 'infercache_requests_total', {
        method: 'grpc.health.v1.Health/Check',
        code: 'INVALID_ARGUMENT',
      }),
    ).toBe(1);
  });
});
