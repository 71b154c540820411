import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, FRAME_HEADER_BYTES } from '../../src/cache/value_frame.js';
import { type Prediction, predictionKind } from '../../src/predict/prediction_kind.js';
import { DType } from '../../src/tensor/dtypes.js';
import type { HostTensor } from '../../src/tensor/host_tensor.js';
import { openDirect, runDirectF32, shippedModelPath } from '../helpers/direct_model.js';
import { metricValue } from '../helpers/metrics.js';
import { keysUnder, redisClient } from '../helpers/redis_keys.js';
import { eventually, IRIS_FEATURES, irisRequest, irisRows, rawOf, SRC } from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

// What another process (an older sidecar, a bug, an operator) may leave
// under a row's key in Redis. A sidecar that reads it must refuse it, count
// it, answer from the model and write a sound value back; never fail the call.

const HOUR_MS = 60 * 60_000;

// The iris model's outputs as the sidecar's prediction kind sees them; only
// its payload encoder is used here, to build values framed like real ones.
const iris = predictionKind(
  [
    { name: 'probabilities', dtype: DType.FLOAT32, dims: ['N', 3] },
    { name: 'label', dtype: DType.INT64, dims: ['N'] },
  ],
  true,
  { l1Ms: HOUR_MS, l2Ms: HOUR_MS, l2Jitter: 0 },
);

interface StoredRow {
  readonly key: string;
  /** The frame the sidecar wrote. */
  readonly sound: Buffer;
  readonly prediction: Prediction;
}

/** A framed prediction whose tensors are the sound ones, changed by `edit`. */
function reframed(row: StoredRow, edit: (tensors: HostTensor[]) => HostTensor[], time = Date.now()): Buffer {
  const tensors = edit(row.prediction.tensors.map((t) => ({ ...t })));
  return encodeFrame(row.key, 'p', time, iris.encode({ createdAt: time, tensors }));
}

const setOutput = (tensors: HostTensor[], i: number, t: Partial<HostTensor>): HostTensor[] => {
  tensors[i] = { ...(tensors[i] as HostTensor), ...t };
  return tensors;
};

interface BadValue {
  readonly what: string;
  readonly reason: 'schema' | 'future' | 'checksum' | 'format';
  readonly make: (row: StoredRow, other: StoredRow) => Buffer;
}

const BAD_VALUES: BadValue[] = [
  {
    what: 'a well-framed value whose probabilities have 4 classes',
    reason: 'schema',
    make: (row) => reframed(row, (t) => setOutput(t, 0, { dims: [4], data: Buffer.alloc(16) })),
  },
  {
    what: 'a well-framed value whose probabilities are float64',
    reason: 'schema',
    make: (row) => reframed(row, (t) => setOutput(t, 0, { dtype: DType.FLOAT64, data: Buffer.alloc(3 * 8) })),
  },
  {
    what: 'a well-framed value whose probabilities hold fewer bytes than their shape',
    reason: 'schema',
    make: (row) => reframed(row, (t) => setOutput(t, 0, { data: Buffer.alloc(8) })),
  },
  {
    what: 'a well-framed value without its label output',
    reason: 'schema',
    make: (row) => reframed(row, (t) => t.slice(0, 1)),
  },
  {
    what: 'a sound value computed an hour in the future',
    reason: 'future',
    make: (row) => reframed(row, (t) => t, Date.now() + HOUR_MS),
  },
  {
    what: "another row's sound value copied under this key",
    reason: 'checksum',
    make: (_row, other) => other.sound,
  },
  {
    what: 'the sound value cut short by one byte',
    reason: 'checksum',
    make: (row) => row.sound.subarray(0, row.sound.length - 1),
  },
  {
    what: 'the sound value with one byte of a probability flipped',
    reason: 'checksum',
    make: (row) => {
      // Payload: count, dtype, rank, one u32 dim, u32 length, then the three
      // floats; this flips a low bit of the second one, a value that would
      // still pass every schema check.
      const at = FRAME_HEADER_BYTES + 1 + 2 + 4 + 4 + 4;
      const flipped = Buffer.from(row.sound);
      flipped[at] = (flipped[at] as number) ^ 0x01;
      return flipped;
    },
  },
  {
    what: 'bytes that are no cached value at all',
    reason: 'format',
    make: () => Buffer.from('{"probabilities":[0.2,0.3,0.5],"label":2}'),
  },
];

describe('a bad value in L2 is refused, recomputed and replaced', () => {
  const keyPrefix = `l2values-${randomBytes(6).toString('hex')}`;
  let writer: Sidecar;
  let reader: Sidecar;
  let checker: Sidecar;
  let redis: Redis;
  let model: InferenceSession;
  let other: StoredRow;

  const started = async () => {
    const s = await startSidecar({ redisUrl: sharedRedisUrl(), keyPrefix });
    await s.waitForLog((l) => l.msg === 'L2 connected');
    return s;
  };
  const rejected = async (s: Sidecar, reason: string) =>
    metricValue(await s.metrics(), 'infercache_cache_rejected_values_total', { kind: 'p', reason }) ?? 0;

  /** Has the writer compute `row` and returns what it stored under the row's key. */
  async function stored(row: number[]): Promise<StoredRow> {
    const before = new Set(await keysUnder(redis, keyPrefix));
    const res = await writer.client.predict(irisRequest([row]));
    expect(res.row_sources).toEqual([SRC.MODEL]);
    const key = await eventually('the row in L2', async () => {
      const added = (await keysUnder(redis, keyPrefix)).filter((k) => !before.has(k));
      return added.length === 1 ? added[0] : undefined;
    });
    const sound = (await redis.getBuffer(key)) as Buffer;
    const frame = decodeFrame(key, 'p', sound);
    return { key, sound, prediction: iris.decode(frame.payload, frame.time) };
  }

  beforeAll(async () => {
    redis = redisClient(sharedRedisUrl());
    [writer, reader, checker, model] = await Promise.all([
      started(),
      started(),
      started(),
      openDirect(shippedModelPath('iris')),
    ]);
    other = await stored(irisRows(1)[0] as number[]);
  });
  afterAll(async () => {
    await stopAllSidecars();
    redis?.disconnect();
    await model?.release();
  });

  /** Puts `make`'s value under a fresh row's key, then reads the row through a sidecar that never saw it. */
  async function refusedAndReplaced({ reason, make }: BadValue): Promise<void> {
    const row = irisRows(1)[0] as number[];
    const original = await stored(row);
    const bad = make(original, other);
    await redis.set(original.key, bad, 'PX', HOUR_MS);
    const direct = await runDirectF32(model, 'features', [1, IRIS_FEATURES], row);
    const rejectedBefore = await rejected(reader, reason);

    const res = await reader.client.predict(irisRequest([row]));
    expect(res.row_sources).toEqual([SRC.MODEL]);
    expect(rawOf(res.outputs.probabilities)).toEqual(direct.probabilities);
    expect(rawOf(res.outputs.label)).toEqual(direct.label);
    expect(res.outputs.probabilities?.shape).toEqual(['1', '3']);
    expect(await rejected(reader, reason)).toBe(rejectedBefore + 1);

    // The reader wrote the row back: a sidecar that never saw it reads it from L2.
    await eventually('a sound value under the key', async () => {
      const now = await redis.getBuffer(original.key);
      return now !== null && !now.equals(bad) ? true : undefined;
    });
    const again = await checker.client.predict(irisRequest([row]));
    expect(again.row_sources).toEqual([SRC.L2]);
    expect(rawOf(again.outputs.probabilities)).toEqual(direct.probabilities);
    expect(rawOf(again.outputs.label)).toEqual(direct.label);
    for (const r of ['format', 'checksum', 'schema', 'future']) expect(await rejected(checker, r)).toBe(0);
  }

  for (const bad of BAD_VALUES) {
    it(`answers from the model over ${bad.what}, counted as ${bad.reason}`, () => refusedAndReplaced(bad));
  }
});
