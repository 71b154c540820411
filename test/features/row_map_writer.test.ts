import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { FeatureValue } from '../../src/features/feature_row.js';
import { nameBytes, readRowMap } from '../../src/features/row_map_reader.js';
import { writeRowMap } from '../../src/features/row_map_writer.js';
import { type FeatureView, toFeatureView } from '../../src/features/view.js';
import type { FeatureTypeName } from '../../src/features/view_schema.js';
import { mulberry32 } from '../../src/prng.js';

// The options the sidecar reads rows with: what any reader of a stored row gets.
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'auto' as unknown as 'bigint' });

function viewOf(features: [string, FeatureTypeName][]): FeatureView {
  return toFeatureView(
    {
      name: 'v',
      entities: [{ name: 'id', type: 'string' }],
      features: features.map(([name, type]) => ({ name, type })),
      max_age: 3_600_000,
    },
    { l1TtlMs: 300_000, notFoundTtlMs: 5000 },
  );
}

/** What msgpackr reads a value back as: small bigints come back as numbers, views as bytes. */
function asRead(v: FeatureValue): unknown {
  if (typeof v === 'bigint') return v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v;
  if (v instanceof Uint8Array || v instanceof Float32Array)
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  return v;
}
const readBack = (x: unknown) => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x);

/** Writes `values` as a row of `view`, then reads it with msgpackr and with readRowMap; both must agree with the values. */
function roundTrip(view: FeatureView, values: FeatureValue[]): void {
  const bytes = writeRowMap(nameBytes(view), values, 3);
  const map = packr.unpack(bytes.subarray(3)) as Record<string, unknown>;
  expect(Object.keys(map)).toEqual(view.features.map((f) => f.name));
  view.features.forEach((f, i) => {
    const got = readBack(map[f.name]);
    const want = asRead(values[i] ?? null);
    expect(Object.is(got, want) || got === want, `${f.name}: ${String(got)} vs ${String(want)}`).toBe(true);
  });
  const raw: unknown[] = new Array(view.features.length).fill(null);
  // True only when the map ends exactly where the bytes do: the size was computed exactly.
  expect(readRowMap(view, nameBytes(view), bytes, 3, raw)).toBe(true);
  expect(raw.map(readBack)).toEqual(values.map(asRead));
}

describe('writeRowMap writes rows any msgpack reader reads back exactly', () => {
  it('integers at every encoding boundary, -0, non-integers, NaN and the infinities', () => {
    const numbers = [
      0,
      -0,
      1,
      127,
      128,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 53,
      -1,
      -32,
      -33,
      -128,
      -129,
      -32768,
      -32769,
      -(2 ** 31),
      -(2 ** 31) - 1,
      0.5,
      -1.25e-300,
      3.4e38,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ];
    const view = viewOf(numbers.map((_, i) => [`n${i}`, 'float64']));
    roundTrip(view, numbers);
  });

  it('bigints both sides of 2^53 and at the int64 extremes, booleans and nulls', () => {
    const values: FeatureValue[] = [
      2n ** 53n,
      2n ** 53n + 1n,
      -(2n ** 63n),
      2n ** 63n - 1n,
      -5n,
      true,
      false,
      null,
    ];
    const types: FeatureTypeName[] = ['int64', 'int64', 'int64', 'int64', 'int64', 'bool', 'bool', 'string'];
    roundTrip(viewOf(types.map((t, i) => [`x${i}`, t])), values);
  });

  it('strings and bytes at every length-field boundary, vectors, and maps of 15, 16 and 300 features', () => {
    const lengths = [0, 31, 32, 255, 256, 65535, 65536];
    const strings = lengths.map((n) => 'é'.repeat(Math.ceil(n / 2)).slice(0, n));
    const bytes = lengths.map((n) => Buffer.alloc(n, 7));
    roundTrip(viewOf(strings.map((_, i) => [`s${i}`, 'string'])), strings);
    roundTrip(viewOf(bytes.map((_, i) => [`b${i}`, 'bytes'])), bytes);
    roundTrip(viewOf([['v', 'float32_vector']]), [Float32Array.from([1.5, -0, 3.25])]);
    for (const n of [15, 16, 300]) {
      const name = (i: number) => `feature_${i}_${'y'.repeat(i % 40)}`;
      roundTrip(
        viewOf(Array.from({ length: n }, (_, i) => [name(i), 'int32'])),
        Array.from({ length: n }, (_, i) => i * 1000 - 7),
      );
    }
  });

  it('agrees with msgpackr on 1,000 random rows', () => {
    const rand = mulberry32(11);
    const view = viewOf([
      ['f', 'float32'],
      ['d', 'float64'],
      ['i', 'int32'],
      ['l', 'int64'],
      ['b', 'bool'],
      ['s', 'string'],
      ['y', 'bytes'],
    ]);
    for (let r = 0; r < 1000; r++) {
      const scale = 10 ** Math.floor(rand() * 12);
      const maybe = <T>(v: T): T | null => (rand() < 0.1 ? null : v);
      roundTrip(view, [
        maybe(Math.fround((rand() - 0.5) * scale)),
        maybe((rand() - 0.5) * scale),
        maybe(Math.floor((rand() - 0.5) * 2 ** 32)),
        maybe(
          rand() < 0.5 ? Math.floor((rand() - 0.5) * scale) : BigInt(Math.floor(rand() * 2 ** 53)) * 1025n,
        ),
        maybe(rand() < 0.5),
        maybe('ab€😀'.repeat(Math.floor(rand() * 20))),
        maybe(Buffer.alloc(Math.floor(rand() * 300), 9)),
      ]);
    }
  });
});
