import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, RejectedValue } from '../../src/cache/value_frame.js';
import { type FeatureRow, type FeatureValue, featureRowKind } from '../../src/features/feature_row.js';
import { type FeatureView, toFeatureView } from '../../src/features/view.js';
import type { FeatureTypeName } from '../../src/features/view_schema.js';

type Declared = [string, FeatureTypeName, number?];

/** A view with these features (name, type, dim), a 1 h max_age and a 2 h ttl. */
function viewOf(features: Declared[], more: { notFoundTtl?: number } = {}): FeatureView {
  return toFeatureView(
    {
      name: 'v',
      entities: [{ name: 'id', type: 'string' }],
      features: features.map(([name, type, dim]) => ({ name, type, ...(dim === undefined ? {} : { dim }) })),
      max_age: 3_600_000,
      ttl: 7_200_000,
      ...(more.notFoundTtl === undefined ? {} : { not_found_ttl: more.notFoundTtl }),
    },
    { l1TtlMs: 300_000, notFoundTtlMs: 5000 },
  );
}

const EVERY_TYPE: Declared[] = [
  ['f32', 'float32'],
  ['f64', 'float64'],
  ['i32', 'int32'],
  ['i64', 'int64'],
  ['big', 'int64'],
  ['flag', 'bool'],
  ['name', 'string'],
  ['blob', 'bytes'],
  ['vec', 'float32_vector', 3],
];

const EVENT_TIME = 1_700_000_000_123;
const row = (values: FeatureValue[], eventTime = EVENT_TIME): FeatureRow => ({
  eventTime,
  values,
  writtenAt: 1_700_000_001_000.5,
});

/** A row through the kind's payload and the L2 frame around it, read back by `reader`. */
function roundTrip(writer: FeatureView, value: FeatureRow, reader: FeatureView = writer): FeatureRow {
  const key = 'ic:f:v:1:{ab}cdef';
  const framed = encodeFrame(key, 'f', value.eventTime, featureRowKind(writer, 0).encode(value));
  const frame = decodeFrame(key, 'f', framed);
  return featureRowKind(reader, 0).decode(frame.payload, frame.time);
}

/** The RejectedValue reading `payload` under `reader` throws. */
function rejection(reader: FeatureView, payload: Buffer): RejectedValue {
  try {
    featureRowKind(reader, 0).decode(payload, EVENT_TIME);
  } catch (error) {
    expect(error).toBeInstanceOf(RejectedValue);
    return error as RejectedValue;
  }
  throw new Error('the row was accepted');
}

describe('feature rows', () => {
  it('read back every type exactly: int64 beyond 2^53, the extremes of int32, float32, unicode, bytes, vectors', () => {
    const view = viewOf(EVERY_TYPE);
    const values: FeatureValue[] = [
      Math.fround(0.1),
      -1.0000000000000002,
      -(2 ** 31),
      42,
      9007199254740993n,
      true,
      'Grüße, 世界 🌍',
      Uint8Array.from([0, 255, 7]),
      Float32Array.from([1.5, -0, 3.25]),
    ];
    const back = roundTrip(view, row(values));
    expect(back.eventTime).toBe(EVENT_TIME);
    expect(back.writtenAt).toBe(1_700_000_001_000.5);
    expect(back.values?.slice(0, 7)).toEqual(values.slice(0, 7));
    expect(typeof back.values?.[4]).toBe('bigint');
    expect(Buffer.from(back.values?.[7] as Uint8Array).toString('hex')).toBe('00ff07');
    expect(back.values?.[8]).toBeInstanceOf(Float32Array);
    expect(Array.from(back.values?.[8] as Float32Array)).toEqual([1.5, -0, 3.25]);
  });

  it('hold bytes and vectors read from L2 in buffers of their own, not views of the reply', () => {
    const view = viewOf([
      ['blob', 'bytes'],
      ['vec', 'float32_vector', 2],
    ]);
    const kind = featureRowKind(view, 0);
    // The payload inside a larger buffer, as a Redis reply sits in its socket chunk.
    const payload = Buffer.from(kind.encode(row([Uint8Array.from([1, 2, 3]), Float32Array.from([1, 2])])));
    const chunk = Buffer.concat([Buffer.alloc(1000), payload, Buffer.alloc(1000)]);
    const values = kind.decode(chunk.subarray(1000, 1000 + payload.length), EVENT_TIME).values ?? [];
    for (const v of values) expect((v as Uint8Array).buffer).not.toBe(chunk.buffer);
    expect(Array.from(values[0] as Uint8Array)).toEqual([1, 2, 3]);
    expect((values[0] as Uint8Array).buffer.byteLength).toBe(3);
  });

  it('read back the int64 extremes and an int32 of 2^31 − 1', () => {
    const view = viewOf([
      ['min', 'int64'],
      ['max', 'int64'],
      ['i32', 'int32'],
    ]);
    const back = roundTrip(view, row([-(2n ** 63n), 2n ** 63n - 1n, 2 ** 31 - 1]));
    expect(back.values).toEqual([-(2n ** 63n), 2n ** 63n - 1n, 2 ** 31 - 1]);
  });

  it('read back null values as null, of every type', () => {
    const view = viewOf(EVERY_TYPE);
    const nulls = EVERY_TYPE.map(() => null);
    expect(roundTrip(view, row(nulls)).values).toEqual(nulls);
  });

  it('carry the event time in the frame, big-endian at byte 8, where the write script reads it', () => {
    const view = viewOf([['f', 'float64']]);
    const framed = encodeFrame('k', 'f', EVENT_TIME, featureRowKind(view, 0).encode(row([1])));
    expect(framed.readDoubleBE(8)).toBe(EVENT_TIME);
  });

  it('read a row written before the view gained a feature: the new feature is null', () => {
    const before = viewOf([
      ['a', 'int32'],
      ['b', 'string'],
    ]);
    const after = viewOf([
      ['a', 'int32'],
      ['new', 'float32_vector', 2],
      ['b', 'string'],
    ]);
    expect(roundTrip(before, row([1, 'x']), after).values).toEqual([1, null, 'x']);
  });

  it('read a row written before the view dropped a feature: the dropped value is ignored', () => {
    const before = viewOf([
      ['a', 'int32'],
      ['gone', 'bytes'],
      ['b', 'string'],
    ]);
    const after = viewOf([
      ['b', 'string'],
      ['a', 'int32'],
    ]);
    expect(roundTrip(before, row([1, Uint8Array.from([9]), 'x']), after).values).toEqual(['x', 1]);
  });

  it.each<[string, Declared, FeatureValue, Declared]>([
    ['a string where the reader wants an int32', ['age', 'string'], '42', ['age', 'int32']],
    ['a fraction where the reader wants an int64', ['n', 'float64'], 1.5, ['n', 'int64']],
    ['an int32 beyond its range', ['n', 'int64'], 2 ** 31, ['n', 'int32']],
    ['a number where the reader wants a bool', ['b', 'int32'], 1, ['b', 'bool']],
    ['bytes where the reader wants a string', ['s', 'bytes'], Uint8Array.from([65]), ['s', 'string']],
    ['a string where the reader wants bytes', ['s', 'string'], 'A', ['s', 'bytes']],
    [
      'a vector of another dimension',
      ['v', 'float32_vector', 3],
      Float32Array.from([1, 2, 3]),
      ['v', 'float32_vector', 4],
    ],
    ['a number where the reader wants a float', ['f', 'bool'], true, ['f', 'float64']],
  ])('refuse %s as schema', (_what, written, value, read) => {
    const writer = viewOf([written]);
    const payload = Buffer.from(featureRowKind(writer, 0).encode(row([value])));
    const error = rejection(viewOf([read]), payload);
    expect(error.reason).toBe('schema');
    expect(error.message).toContain(`feature "${read[0]}"`);
  });

  it('refuse bytes that are not a row as format', () => {
    const view = viewOf([['a', 'int32']]);
    expect(rejection(view, Buffer.alloc(4)).reason).toBe('format');
    const notMsgpack = Buffer.concat([Buffer.alloc(8), Buffer.from([0xc1])]);
    expect(rejection(view, notMsgpack).reason).toBe('format');
    const notAMap = Buffer.concat([Buffer.alloc(8), Buffer.from([0x93, 1, 2, 3])]);
    expect(rejection(view, notAMap).reason).toBe('format');
    // A timestamp extension decodes to a Date: an object, but no row.
    const aDate = Buffer.concat([Buffer.alloc(8), Buffer.from([0xd6, 0xff, 0, 0, 0, 1])]);
    expect(rejection(view, aDate).reason).toBe('format');
  });

  it('keep a remembered NOT_FOUND in L1 only, for the view not_found_ttl', () => {
    const kind = featureRowKind(viewOf([['a', 'int32']], { notFoundTtl: 750 }), 0.1);
    expect(kind.ttl({ eventTime: 0, values: undefined, writtenAt: 0 })).toEqual({ l1Ms: 750, l2Ms: 0 });
  });

  it('keep a row in L2 for the view ttl, spread by the jitter, and in L1 for at most the ttl', () => {
    const kind = featureRowKind(viewOf([['a', 'int32']]), 0.1);
    const ttls = Array.from({ length: 50 }, () => kind.ttl(row([1])));
    for (const ttl of ttls) {
      expect(ttl.l1Ms).toBe(300_000);
      expect(ttl.l2Ms).toBeGreaterThanOrEqual(7_200_000 * 0.9);
      expect(ttl.l2Ms).toBeLessThanOrEqual(7_200_000 * 1.1);
      expect(ttl.l2FloorMs).toBeCloseTo(7_200_000 * 0.9);
    }
    expect(new Set(ttls.map((t) => t.l2Ms)).size).toBeGreaterThan(1);
  });

  it('cost more L1 bytes the more they hold', () => {
    const view = viewOf([['s', 'string']]);
    const kind = featureRowKind(view, 0);
    expect(kind.sizeOf(row(['x'.repeat(1000)]))).toBeGreaterThan(kind.sizeOf(row(['x'])) + 1000);
    expect(kind.sizeOf(row([null]))).toBeGreaterThan(0);
  });
});
