import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { RejectedValue } from '../../src/cache/value_frame.js';
import { checkValue, type FeatureRow, featureRowKind } from '../../src/features/feature_row.js';
import { nameBytes, readRowMap } from '../../src/features/row_map_reader.js';
import { type FeatureView, toFeatureView } from '../../src/features/view.js';
import type { FeatureTypeName } from '../../src/features/view_schema.js';
import { mulberry32 } from '../../src/prng.js';

// The options the sidecar reads rows with (feature_row.ts): the reference the reader must agree with.
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'auto' as unknown as 'bigint' });

function viewOf(features: [string, FeatureTypeName, number?][]): FeatureView {
  return toFeatureView(
    {
      name: 'v',
      entities: [{ name: 'id', type: 'string' }],
      features: features.map(([name, type, dim]) => ({ name, type, ...(dim === undefined ? {} : { dim }) })),
      max_age: 3_600_000,
    },
    { l1TtlMs: 300_000, notFoundTtlMs: 5000 },
  );
}

/** What msgpackr makes of a row's map, checked against the view: the answer readRowMap must give. */
function reference(view: FeatureView, map: Buffer): { values: unknown[] } | { reason: string } {
  try {
    const fields = packr.unpack(map) as Record<string, unknown>;
    if (typeof fields !== 'object' || fields === null || Object.getPrototypeOf(fields) !== Object.prototype) {
      return { reason: 'format' };
    }
    const values: unknown[] = new Array(view.features.length).fill(null);
    for (const name in fields) {
      const i = view.index.get(name);
      if (i !== undefined) values[i] = checkValue(view.features[i] as never, fields[name]);
    }
    return { values };
  } catch (error) {
    return { reason: error instanceof RejectedValue ? error.reason : 'format' };
  }
}

/** The row kind's answer for the same map (the write time in front, as stored). */
function decoded(view: FeatureView, map: Buffer): { values: unknown[] } | { reason: string } {
  try {
    const row: FeatureRow = featureRowKind(view, 0).decode(Buffer.concat([Buffer.alloc(8), map]), 1);
    return { values: [...(row.values ?? [])] };
  } catch (error) {
    expect(error).toBeInstanceOf(RejectedValue);
    return { reason: (error as RejectedValue).reason };
  }
}

// Hand-made msgpack, for forms msgpackr's packer does not choose but may read (str8 keys, map16 of few entries...).
const u8 = (...bytes: number[]) => Buffer.from(bytes);
const be = (size: 2 | 4 | 8, v: number | bigint) => {
  const b = Buffer.alloc(size);
  if (size === 2) b.writeUInt16BE(Number(v));
  else if (size === 4) b.writeUInt32BE(Number(v));
  else b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(v)));
  return b;
};
const fixstr = (s: string) => Buffer.concat([u8(0xa0 | Buffer.byteLength(s)), Buffer.from(s)]);
const str8 = (s: string) => Buffer.concat([u8(0xd9, Buffer.byteLength(s)), Buffer.from(s)]);
const fixmap = (...entries: Buffer[][]) => Buffer.concat([u8(0x80 | entries.length), ...entries.flat()]);
const map16 = (...entries: Buffer[][]) => Buffer.concat([u8(0xde), be(2, entries.length), ...entries.flat()]);

const INT_VIEW = viewOf([
  ['a', 'int64'],
  ['b', 'int32'],
  ['c', 'float64'],
]);

describe('readRowMap reads a stored row as msgpackr does', () => {
  it.each<[string, Buffer]>([
    ['uint64 2^53 (a number)', fixmap([fixstr('a'), u8(0xcf), be(8, 2n ** 53n)])],
    ['uint64 2^53 + 1 (a bigint)', fixmap([fixstr('a'), u8(0xcf), be(8, 2n ** 53n + 1n)])],
    ['int64 −2^53 − 1 (a bigint)', fixmap([fixstr('a'), u8(0xd3), be(8, -(2n ** 53n) - 1n)])],
    ['int64 −2^53 (a number)', fixmap([fixstr('a'), u8(0xd3), be(8, -(2n ** 53n))])],
    ['int64 −7 in 8 bytes', fixmap([fixstr('a'), u8(0xd3), be(8, -7n)])],
    [
      'uint8, uint16, uint32',
      fixmap(
        [fixstr('a'), u8(0xcc, 200)],
        [fixstr('b'), u8(0xcd), be(2, 60000)],
        [fixstr('c'), u8(0xce), be(4, 4e9)],
      ),
    ],
    [
      'int8, int16, int32',
      fixmap(
        [fixstr('a'), u8(0xd0, 0x80)],
        [fixstr('b'), u8(0xd1, 0x80, 0)],
        [fixstr('c'), u8(0xd2), be(4, 0x80000000)],
      ),
    ],
    ['negative and positive fixints', fixmap([fixstr('a'), u8(0xe0)], [fixstr('b'), u8(0x7f)])],
    ['float32 and float64', fixmap([fixstr('c'), u8(0xca, 0x3f, 0xc0, 0, 0)], [fixstr('a'), u8(0xc0)])],
    ['a str8 key', fixmap([str8('b'), u8(0x05)])],
    ['a map16 of two entries', map16([fixstr('b'), u8(0x05)], [fixstr('a'), u8(0x06)])],
    [
      'keys out of order, one unknown, one repeated',
      fixmap([fixstr('zz'), u8(1)], [fixstr('b'), u8(2)], [fixstr('b'), u8(3)]),
    ],
    ['a non-string key', fixmap([u8(0x01), u8(2)])],
    ['an array value', fixmap([fixstr('a'), u8(0x91, 1)])],
    ['a timestamp extension value', fixmap([fixstr('a'), u8(0xd6, 0xff, 0, 0, 0, 1)])],
    ['bytes after the map', Buffer.concat([fixmap([fixstr('a'), u8(1)]), u8(0)])],
    ['a map cut short', fixmap([fixstr('a'), u8(0xcb, 0, 0)])],
    ['a map that says it has more entries than it holds', u8(0x82, 0xa1, 0x61, 1)],
    ['a uint64 where an int32 is wanted', fixmap([fixstr('b'), u8(0xcf), be(8, 5n)])],
    ['not a map', u8(0x93, 1, 2, 3)],
    ['nothing', Buffer.alloc(0)],
  ])('%s', (_what, map) => {
    expect(decoded(INT_VIEW, map)).toEqual(reference(INT_VIEW, map));
  });

  it('strings and bytes of every length field, and keys the view renamed', () => {
    const view = viewOf([
      ['s', 'string'],
      ['blob', 'bytes'],
      ['vec', 'float32_vector', 2],
    ]);
    const long = 'é'.repeat(40_000);
    const vec = Buffer.from(Float32Array.from([1.5, -2]).buffer);
    const maps = [
      fixmap([fixstr('s'), u8(0xd9, 2), Buffer.from('hi')], [fixstr('blob'), u8(0xc4, 1, 9)]),
      fixmap(
        [fixstr('s'), u8(0xda), be(2, 3), Buffer.from('abc')],
        [fixstr('blob'), u8(0xc5), be(2, 2), u8(1, 2)],
      ),
      fixmap([fixstr('s'), u8(0xdb), be(4, Buffer.byteLength(long)), Buffer.from(long)]),
      fixmap([fixstr('blob'), u8(0xc6), be(4, 3), u8(7, 8, 9)], [fixstr('vec'), u8(0xc4, 8), vec]),
      fixmap([fixstr('vec'), u8(0xc4, 4), vec.subarray(0, 4)]),
      fixmap([fixstr('s'), u8(0xa2), Buffer.from('ok')], [fixstr('renamed'), u8(0xc3)]),
    ];
    for (const map of maps) expect(decoded(view, map)).toEqual(reference(view, map));
  });

  it('agrees with msgpackr on 2,000 random rows of every type, in and out of view order', () => {
    const types: [string, FeatureTypeName, number?][] = Array.from({ length: 24 }, (_, i) => {
      const t: FeatureTypeName[] = ['float32', 'float64', 'int32', 'int64', 'bool', 'string', 'bytes'];
      return [`feature_${i}_${'x'.repeat(i)}`, t[i % t.length] as FeatureTypeName];
    });
    types.push(['vector', 'float32_vector', 4]);
    const view = viewOf(types);
    const rand = mulberry32(7);
    const randomValue = (type: FeatureTypeName): unknown => {
      if (rand() < 0.1) return null;
      const scale = 10 ** Math.floor(rand() * 20);
      switch (type) {
        case 'float32':
        case 'float64':
          return (rand() - 0.5) * scale;
        case 'int32':
          return Math.floor((rand() - 0.5) * 2 ** 32);
        case 'int64':
          return rand() < 0.5
            ? Math.floor((rand() - 0.5) * scale)
            : BigInt.asIntN(64, BigInt(Math.floor(rand() * 2 ** 53)) * 4099n);
        case 'bool':
          return rand() < 0.5;
        case 'string':
          return 'ab€😀'.repeat(Math.floor(rand() * 30));
        case 'bytes':
          return Buffer.alloc(Math.floor(rand() * 300), 3);
        default:
          return Buffer.from(Float32Array.from([rand(), rand(), rand(), rand()]).buffer);
      }
    };
    let fast = 0;
    for (let r = 0; r < 2000; r++) {
      const chosen = types.filter(() => rand() < 0.8);
      if (rand() < 0.3) chosen.reverse();
      const map: Record<string, unknown> = {};
      for (const [name, type] of chosen) map[name] = randomValue(type);
      if (rand() < 0.1) map.unknown_feature = 'ignored';
      // A value of the wrong type now and then: both must refuse it the same way.
      if (rand() < 0.05) map[types[0]?.[0] as string] = 'not a float';
      const bytes = packr.pack(map);
      expect(decoded(view, bytes)).toEqual(reference(view, bytes));
      if (readRowMap(view, nameBytes(view), bytes, 0, new Array(view.features.length).fill(null))) fast++;
    }
    // The fast path takes the rows the sidecar writes: every one of these.
    expect(fast).toBe(2000);
  });
});
