import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferCacheService, loadPackageDefinition } from '../../src/api/proto.js';
import { metricValue } from '../helpers/metrics.js';
import { callFromThread, HEALTH_CHECK, PREDICT, rawClient, wire } from '../helpers/raw_call.js';
import { heavyRequest, heavyRows } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const MiB = 1024 * 1024;
const DEFAULT_MAX_MESSAGE_BYTES = 16 * MiB;

/** `count` copies of `unit`, fast. */
const repeat = (unit: Buffer, count: number) => {
  const out = Buffer.allocUnsafe(unit.length * count);
  for (let i = 0; i < count; i++) unit.copy(out, i * unit.length);
  return out;
};
const budget = DEFAULT_MAX_MESSAGE_BYTES - 1024;

const PUT_FEATURES = '/infercache.v1.InferCache/PutFeatures';

/** A PutFeaturesRequest of the default views' iris_flowers with `body` after the view. */
const putFeatures = (body: Buffer) => Buffer.concat([wire.bytes(1, 'iris_flowers'), body]);

/** A worst request: the method it goes to, and its bytes. */
interface Worst {
  readonly path: string;
  readonly request: () => Buffer;
}
const toPredict = (request: () => Buffer): Worst => ({ path: PREDICT, request });
const toPutFeatures = (request: () => Buffer): Worst => ({ path: PUT_FEATURES, request });

/** The requests that cost the most per byte: tiny elements, each one a field. */
const WORST: Record<string, Worst> = {
  'one-byte strings': toPredict(() =>
    wire.predict(
      'strings',
      's',
      Buffer.concat([
        wire.number(1, 8),
        wire.bytes(2, wire.varint(1)),
        repeat(wire.bytes(9, 'a'), Math.floor(budget / 3)),
      ]),
    ),
  ),
  'unpacked int32 values': toPredict(() =>
    wire.predict(
      'multi',
      'b',
      Buffer.concat([wire.number(1, 6), repeat(wire.number(6, 1), Math.floor(budget / 2))]),
    ),
  ),
  'packed one-byte varints': toPredict(() =>
    wire.predict('multi', 'b', Buffer.concat([wire.number(1, 7), wire.bytes(7, Buffer.alloc(budget, 1))])),
  ),
  'thousands of inputs': toPredict(() => {
    const entry = Buffer.concat([wire.bytes(1, 'x'), wire.bytes(2, wire.number(1, 1))]);
    return Buffer.concat([wire.bytes(1, 'multi'), repeat(wire.bytes(3, entry), 200_000)]);
  }),
  'unknown fields': toPredict(() =>
    Buffer.concat([wire.bytes(1, 'iris'), repeat(wire.number(99, 1), Math.floor(budget / 3))]),
  ),
  'raw rows past the row limit': toPredict(
    () =>
      inferCacheService(loadPackageDefinition()).Predict?.requestSerialize(
        heavyRequest(heavyRows(Math.floor(budget / 1024) - 4)),
      ) as Buffer,
  ),
  // Requests decoded by protobufjs after decodeBounded's walk (bounded_decode.ts).
  'PutFeatures of one-byte bytes_values': toPutFeatures(() =>
    putFeatures(
      wire.bytes(
        3,
        Buffer.concat([wire.bytes(1, 'species'), repeat(wire.bytes(9, 'a'), Math.floor(budget / 3) - 8)]),
      ),
    ),
  ),
  'PutFeatures of one-byte entity ids': toPutFeatures(() =>
    putFeatures(
      wire.bytes(
        2,
        wire.bytes(
          1,
          Buffer.concat([wire.bytes(1, 'flower_id'), repeat(wire.bytes(2, 'a'), Math.floor(budget / 3) - 8)]),
        ),
      ),
    ),
  ),
};

describe('the cost of a request is bounded by its size', () => {
  let sidecar: Sidecar;
  let caller: ReturnType<typeof rawClient>;
  let prober: ReturnType<typeof rawClient>;
  beforeAll(async () => {
    sidecar = await startSidecar({ redisUrl: '', env: { INFERCACHE_INFERENCE_THREADS: '1' } });
    caller = rawClient(sidecar.grpcAddr);
    // Another connection, as a kubelet's health probe would use.
    prober = rawClient(sidecar.grpcAddr);
    await prober.call(HEALTH_CHECK, wire.bytes(1, ''));
  });
  afterAll(async () => {
    caller.close();
    prober.close();
    await stopAllSidecars();
  });

  /** Sends `request` while probing health from another connection; the slowest probe's ms and the outcome. */
  async function sendWhileProbing(path: string, request: Buffer) {
    let done = false;
    const probes: number[] = [];
    const probing = (async () => {
      while (!done) {
        const o = await prober.call(HEALTH_CHECK, wire.bytes(1, ''), 5000);
        expect(o.code).toBe(grpc.status.OK);
        probes.push(o.ms);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const outcome = await callFromThread(sidecar.grpcAddr, path, request);
    done = true;
    await probing;
    expect(probes.length).toBeGreaterThan(0);
    return { outcome, slowest: Math.max(...probes) };
  }

  // The aim is a probe answered within 100 ms while the worst request is
  // handled, but the slowest probe is mostly the machine's: measured over 23
  // runs of this file on the shared 2-core test machine (184 tries), it was
  // at most 86 ms at a load average of 5, 127-141 ms at 4-9, 266 ms beside
  // two other test files, and 425 ms once at 12; 30 tries went over 100 ms,
  // 5 over 250, 1 over 300. Hence 300 ms, which it takes three slow tries in
  // a row to miss. A request decoded without its limits stalls far longer:
  // without decodeBounded's walk, PutFeatures held the probes 1.4-2.3 s.
  const FROZEN_MS = 300;

  it.each(Object.keys(WORST))(
    'refuses %s without freezing: health checks on another connection keep answering',
    async (name) => {
      const worst = WORST[name] as Worst;
      const request = worst.request();
      expect(request.length).toBeLessThanOrEqual(DEFAULT_MAX_MESSAGE_BYTES);
      const rssBefore = metricValue(await sidecar.metrics(), 'infercache_process_resident_memory_bytes') ?? 0;
      // Up to three tries: on a 2-core machine shared with other test files,
      // the OS alone can hold a process off the CPU for a while. A request
      // that blocks the event loop (the original defect froze it for 40 s)
      // fails every try.
      const slowest: number[] = [];
      for (let attempt = 0; attempt < 3 && !(Math.min(...slowest) < FROZEN_MS); attempt++) {
        const { outcome, slowest: ms } = await sendWhileProbing(worst.path, request);
        expect([grpc.status.INVALID_ARGUMENT, grpc.status.RESOURCE_EXHAUSTED]).toContain(outcome.code);
        expect(Buffer.byteLength(outcome.details)).toBeLessThan(300);
        slowest.push(ms);
      }
      expect(Math.min(...slowest), `slowest health probe per try (ms): ${slowest.join(', ')}`).toBeLessThan(
        FROZEN_MS,
      );
      const rssAfter = metricValue(await sidecar.metrics(), 'infercache_process_resident_memory_bytes') ?? 0;
      // The original defect: 32 MiB of tiny elements took 3.7 GB that stayed.
      expect(rssAfter - rssBefore).toBeLessThan(8 * DEFAULT_MAX_MESSAGE_BYTES);
    },
  );

  it('answers a message that does not decode with INVALID_ARGUMENT, and counts it', async () => {
    const outcome = await caller.call(PREDICT, Buffer.from([0xff, 0xff, 0xff, 0xff]));
    expect(outcome.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(outcome.details).toMatch(/the Predict request is not a valid message/);
    const body = await sidecar.metrics();
    expect(
      metricValue(body, 'infercache_requests_total', { method: 'Predict', code: 'INVALID_ARGUMENT' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('refuses a message over the size limit with RESOURCE_EXHAUSTED, and counts it', async () => {
    const outcome = await caller.call(PREDICT, Buffer.alloc(DEFAULT_MAX_MESSAGE_BYTES + 1));
    expect(outcome.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const body = await sidecar.metrics();
    expect(
      metricValue(body, 'infercache_requests_total', { method: 'Predict', code: 'RESOURCE_EXHAUSTED' }),
    ).toBeGreaterThanOrEqual(1);
  });
});
