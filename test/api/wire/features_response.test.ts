import { describe, expect, it } from 'vitest';
import { loadPackageDefinition } from '../../../src/api/proto.js';
import { encodeGetFeaturesResponse } from '../../../src/api/wire/features_response.js';
import type { FeatureValuesReply as FeatureValues } from '../../../src/cli/client.js';
import type { GetFeaturesResult } from '../../../src/features/feature_result.js';
import type { FeatureRow, FeatureValue } from '../../../src/features/feature_row.js';
import { HOUR, view } from '../../helpers/entity_fixtures.js';

// protobufjs (through proto-loader, as clients use it) is the reference decoder.
const GetFeatures = (
  loadPackageDefinition()['infercache.v1.InferCache'] as Record<
    string,
    { responseDeserialize(b: Buffer): unknown }
  >
).GetFeatures as { responseDeserialize(b: Buffer): unknown };

interface Decoded {
  features: FeatureValues[];
  views: { view: string; event_time_ms: string[]; sources: number[] }[];
}

const NOW = 1_700_000_000_000;
const FEATURES = [
  'f32 float32',
  'f64 float64',
  'i32 int32',
  'i64 int64',
  'b bool',
  's string',
  'by bytes',
  'v float32_vector 3',
];

describe('GetFeaturesResponse encoding', () => {
  it('decodes in protobufjs to every type packed in its field, zeros and statuses where rows have none', () => {
    const v = view('all', FEATURES, HOUR);
    const row = (values: FeatureValue[] | undefined, age: number): FeatureRow => ({
      eventTime: NOW - age,
      values,
      writtenAt: NOW - age,
    });
    const rows = [
      row([1.5, 2.25, -7, -(2n ** 63n), true, 'é', Uint8Array.of(1, 2), Float32Array.of(1, 2, 3)], 1000),
      row(undefined, 0),
      row([null, null, 2147483647, 2 ** 53 - 1, false, '', Uint8Array.of(), null], 2 * HOUR),
    ];
    const result: GetFeaturesResult = {
      refs: FEATURES.map((_, index) => ({ view: v, index })),
      views: [{ view: v, rows, sources: ['l1', 'none', 'l2'] }],
      entities: 3,
      now: NOW,
    };
    const res = GetFeatures.responseDeserialize(encodeGetFeaturesResponse(result)) as Decoded;
    const col = (name: string) => res.features.find((f) => f.name === `all:${name}`) as FeatureValues;
    expect(res.features.map((f) => f.name)).toEqual(FEATURES.map((f) => `all:${f.split(' ')[0]}`));
    expect(col('f32').float32_values).toEqual([1.5, 0, 0]);
    expect(col('f64').float64_values).toEqual([2.25, 0, 0]);
    expect(col('i32').int32_values).toEqual([-7, 0, 2147483647]);
    expect(col('i64').int64_values).toEqual([String(-(2n ** 63n)), '0', String(2 ** 53 - 1)]);
    expect(col('b').bool_values).toEqual([true, false, false]);
    expect(col('s').bytes_values.map((b) => Buffer.from(b).toString('utf8'))).toEqual(['é', '', '']);
    expect(col('by').bytes_values.map((b) => [...b])).toEqual([[1, 2], [], []]);
    expect(col('v').dim).toBe(3);
    expect(col('v').float32_values).toEqual([1, 2, 3, 0, 0, 0, 0, 0, 0]);
    expect(col('f32').type).toBe(1);
    expect(col('v').type).toBe(8);
    // PRESENT, NOT_FOUND, then OUTSIDE_MAX_AGE for a row past max_age (values still given).
    expect(col('f32').statuses).toEqual([1, 3, 4]);
    expect(col('i32').statuses).toEqual([1, 3, 4]);
    expect(res.views).toEqual([
      { view: 'all', event_time_ms: [String(NOW - 1000), '0', String(NOW - 2 * HOUR)], sources: [1, 4, 2] },
    ]);
  });

  it('marks a null value NULL_VALUE in a fresh row', () => {
    const v = view('one', ['x float32'], HOUR);
    const result: GetFeaturesResult = {
      refs: [{ view: v, index: 0 }],
      views: [{ view: v, rows: [{ eventTime: NOW, values: [null], writtenAt: NOW }], sources: ['l2'] }],
      entities: 1,
      now: NOW,
    };
    const res = GetFeatures.responseDeserialize(encodeGetFeaturesResponse(result)) as Decoded;
    expect(res.features[0]?.statuses).toEqual([2]);
    expect(res.features[0]?.float32_values).toEqual([0]);
  });

  it('marks every value of a row served stale on an origin failure STALE, its null ones too, values given', () => {
    const v = view('s', ['x float32', 'y int32'], HOUR);
    const old = (values: FeatureValue[]): FeatureRow => ({
      eventTime: NOW - 2 * HOUR,
      values,
      writtenAt: NOW,
    });
    const result: GetFeaturesResult = {
      refs: [
        { view: v, index: 0 },
        { view: v, index: 1 },
      ],
      views: [
        { view: v, rows: [old([1.5, null]), old([2.5, 7])], sources: ['l2', 'l1'], stale: new Set([0]) },
      ],
      entities: 2,
      now: NOW,
    };
    const res = GetFeatures.responseDeserialize(encodeGetFeaturesResponse(result)) as Decoded;
    expect(res.features[0]).toMatchObject({ float32_values: [1.5, 2.5], statuses: [5, 4] });
    expect(res.features[1]).toMatchObject({ int32_values: [0, 7], statuses: [5, 4] });
    expect(res.views[0]?.sources).toEqual([2, 1]);
  });

  it('answers features of two views, in the order asked, a feature asked twice twice, and only what was asked', () => {
    const a = view('a', ['x float32', 'y float64', 'z float32'], HOUR);
    const b = view('b', ['p float64', 'q int32'], HOUR);
    const fresh = (values: FeatureValue[]): FeatureRow => ({ eventTime: NOW, values, writtenAt: NOW });
    const old = (values: FeatureValue[]): FeatureRow => ({
      eventTime: NOW - 2 * HOUR,
      values,
      writtenAt: NOW,
    });
    const result: GetFeaturesResult = {
      refs: [
        { view: b, index: 0 },
        { view: a, index: 2 },
        { view: a, index: 1 },
        { view: b, index: 1 },
        { view: a, index: 2 },
      ],
      views: [
        {
          view: a,
          rows: [fresh([1, 2, 3]), old([4, null, 6]), fresh([7, 8, null])],
          sources: ['l1', 'l2', 'l1'],
        },
        {
          view: b,
          rows: [fresh([0.5, 9]), { eventTime: 0, values: undefined, writtenAt: NOW }, old([null, null])],
          sources: ['l1', 'none', 'l2'],
        },
      ],
      entities: 3,
      now: NOW,
    };
    const res = GetFeatures.responseDeserialize(encodeGetFeaturesResponse(result)) as Decoded;
    expect(res.features.map((f) => f.name)).toEqual(['b:p', 'a:z', 'a:y', 'b:q', 'a:z']);
    const [bp, az, ay, bq, az2] = res.features as FeatureValues[];
    expect(bp?.float64_values).toEqual([0.5, 0, 0]);
    expect(bp?.statuses).toEqual([1, 3, 4]);
    expect(az?.float32_values).toEqual([3, 6, 0]);
    expect(az?.statuses).toEqual([1, 4, 2]);
    expect(ay?.float64_values).toEqual([2, 0, 8]);
    expect(ay?.statuses).toEqual([1, 4, 1]);
    expect(bq?.int32_values).toEqual([9, 0, 0]);
    expect(bq?.statuses).toEqual([1, 3, 4]);
    expect(az2).toEqual(az);
  });
});
