import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferCacheService, loadPackageDefinition } from '../../src/api/proto.js';
import { MAX_ELEMENTS } from '../../src/api/wire/proto_reader.js';
import { metricValue } from '../helpers/metrics.js';
import { rawClient, wire } from '../helpers/raw_call.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

/** A field key whose varint never ends: no message of any type. */
const NOT_A_MESSAGE = Buffer.from([0xff, 0xff, 0xff, 0xff]);
const MAX_DETAILS_BYTES = 300;

/** Every method of ours, by path, with its label in infercache_requests_total and whether it streams. */
const METHODS = Object.entries(inferCacheService(loadPackageDefinition())).map(([name, def]) => ({
  path: `/infercache.v1.InferCache/${name}`,
  label: name,
  streams: def.responseStream,
}));

describe("a request that does not decode is the caller's error", () => {
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

  const send = (m: (typeof METHODS)[number], bytes: Buffer) =>
    m.streams ? client.stream(m.path, bytes, 3000) : client.call(m.path, bytes, 3000);

  it.each(METHODS.map((m) => [m.label, m] as const))(
    '%s answers bytes that are not its message with INVALID_ARGUMENT, and counts it',
    async (label, method) => {
      const outcome = await send(method, NOT_A_MESSAGE);
      expect(outcome.code, outcome.details).toBe(grpc.status.INVALID_ARGUMENT);
      expect(outcome.details).toMatch(/^E_INVALID_ARGUMENT: the .* request is not a valid message: /);
      expect(Buffer.byteLength(outcome.details)).toBeLessThan(MAX_DETAILS_BYTES);
      const counted = metricValue(await sidecar.metrics(), 'infercache_requests_total', {
        method: label,
        code: 'INVALID_ARGUMENT',
      });
      expect(counted).toBe(1);
    },
  );

  it('Warm refuses a request past the element budget with RESOURCE_EXHAUSTED, not INTERNAL', async () => {
    // entities.columns[0].int64_values, packed: one element per byte.
    const column = Buffer.concat([wire.bytes(1, 'flower_id'), wire.bytes(3, Buffer.alloc(MAX_ELEMENTS + 1))]);
    const request = Buffer.concat([wire.bytes(1, 'iris_flowers'), wire.bytes(2, wire.bytes(1, column))]);
    const outcome = await client.stream('/infercache.v1.InferCache/Warm', request, 3000);
    expect(outcome.code, outcome.details).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(outcome.details).toMatch(/^E_LIMIT_EXCEEDED: the request holds more than \d+ fields and values/);
    const body = await sidecar.metrics();
    expect(
      metricValue(body, 'infercache_requests_total', { method: 'Warm', code: 'RESOURCE_EXHAUSTED' }),
    ).toBe(1);
    expect(
      metricValue(body, 'infercache_requests_total', { method: 'Warm', code: 'INTERNAL' }),
    ).toBeUndefined();
  });
});
