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

/** Every method we serve, by path, with its label in infercache_requests_total and whether it streams. */
const METHODS = [
  ...Object.entries(inferCacheService(loadPackageDefinition())).map(([name, def]) => ({
    path: `/infercache.v1.InferCache/${name}`,
    label: name,
    streams: def.responseStream,
  })),
  ...['Check', 'List', 'Watch'].map((name) => ({
    path: `/grpc.health.v1.Health/${name}`,
    label: `grpc.health.v1.Health/${name}`,
    streams: name === 'Watch',
  })),
];

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

  it.each(['v1', 'v1alpha'])(
    'reflection %s answers bytes that are not its request with INVALID_ARGUMENT, and counts it',
    async (version) => {
      const service = `grpc.reflection.${version}.ServerReflection`;
      const streams = new grpc.Client(sidecar.grpcAddr, grpc.credentials.createInsecure());
      const identity = (b: Buffer) => b;
      const outcome = await new Promise<grpc.StatusObject>((resolve) => {
        const call = streams.makeBidiStreamRequest(`/${service}/ServerReflectionInfo`, identity, identity, {
          deadline: Date.now() + 3000,
        });
        call.on('data', () => {});
        call.on('error', () => {});
        call.on('status', resolve);
        call.write(NOT_A_MESSAGE);
        call.end();
      });
      streams.close();
      expect(outcome.code, outcome.details).toBe(grpc.status.INVALID_ARGUMENT);
      expect(outcome.details).toMatch(/^E_INVALID_ARGUMENT: the .* request is not a valid message: /);
      expect(Buffer.byteLength(outcome.details)).toBeLessThan(MAX_DETAILS_BYTES);
      const counted = metricValue(await sidecar.metrics(), 'infercache_requests_total', {
        method: `${service}/ServerReflectionInfo`,
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

  it('health Check, List and Watch still answer the messages they are sent', async () => {
    const serving = wire.number(1, 1);
    const check = await client.call('/grpc.health.v1.Health/Check', wire.bytes(1, ''));
    expect(check.code).toBe(grpc.status.OK);
    expect(check.response).toEqual(serving);
    // An unknown field is skipped, as protobuf does.
    const list = await client.call('/grpc.health.v1.Health/List', wire.number(7, 1));
    expect(list.code).toBe(grpc.status.OK);
    expect(list.response?.includes('infercache.v1.InferCache/iris')).toBe(true);
    // Watch sends the current status, then holds the stream open until the deadline.
    const watch = await client.stream('/grpc.health.v1.Health/Watch', wire.bytes(1, ''), 500);
    expect(watch.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(watch.messages).toEqual([serving]);
  });
});
