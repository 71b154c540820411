import { describe, expect, it } from 'vitest';
import { inferCacheService, loadPackageDefinition } from '../../../src/api/proto.js';
import { decodeBounded } from '../../../src/api/wire/bounded_decode.js';
import { ElementLimitError, MAX_ELEMENTS, WireError } from '../../../src/api/wire/proto_reader.js';
import { len, num } from '../../helpers/wire.js';

const PUT = 'infercache.v1.PutFeaturesRequest';
const method = inferCacheService(loadPackageDefinition()).PutFeatures;
const serialize = (req: object) => method?.requestSerialize(req) as Buffer;
/** protobufjs's reading through proto-loader, the shapes the handlers were written against. */
const reference = (bytes: Buffer) => method?.requestDeserialize(bytes);

/** `count` copies of `unit`, fast. */
const repeat = (unit: Buffer, count: number) => {
  const out = Buffer.allocUnsafe(unit.length * count);
  for (let i = 0; i < count; i++) unit.copy(out, i * unit.length);
  return out;
};

/** A PutFeaturesRequest of one feature column whose FeatureValues body is `values`. */
const putColumn = (values: Buffer) =>
  Buffer.concat([len(1, 'v'), len(3, Buffer.concat([len(1, 'f'), values]))]);

describe('decodeBounded', () => {
  it('reads what proto-loader reads: ids of both kinds, several columns, every value type', () => {
    const bytes = serialize({
      view: 'users',
      entities: {
        columns: [
          { name: 'user', int64_values: ['1', '-1', '9007199254740993'] },
          { name: 'shop', string_values: ['a', 'Ελλάδα', ''] },
        ],
      },
      features: [
        { name: 'score', type: 1, float32_values: [0.5, 1.5, 2.5] },
        { name: 'city', type: 6, bytes_values: [Buffer.from('x'), Buffer.alloc(0), Buffer.from('zz')] },
        { name: 'visits', type: 4, int64_values: ['3', '4', '5'], statuses: [1, 2, 1] },
      ],
      event_time_ms: ['1700000000000', '1700000000001', '1700000000002'],
    });
    expect(decodeBounded(PUT, bytes)).toEqual(reference(bytes));
  });

  it('counts every field, sub-message and packed value against the element budget, up to its last', () => {
    // view, features and its name: three elements, then one per bytes_values field.
    const strings = (n: number) => putColumn(repeat(len(9, 'a'), n));
    expect(() => decodeBounded(PUT, strings(MAX_ELEMENTS - 3))).not.toThrow();
    expect(() => decodeBounded(PUT, strings(MAX_ELEMENTS - 2))).toThrow(ElementLimitError);
    // Packed int64 values: those three, the packed field, then one per value.
    const packed = (n: number) => putColumn(len(7, Buffer.alloc(n, 1)));
    expect(() => decodeBounded(PUT, packed(MAX_ELEMENTS - 4))).not.toThrow();
    expect(() => decodeBounded(PUT, packed(MAX_ELEMENTS - 3))).toThrow(ElementLimitError);
    // Empty sub-messages, and fields the type does not have, cost an element each.
    expect(() => decodeBounded(PUT, repeat(len(3, Buffer.alloc(0)), MAX_ELEMENTS + 1))).toThrow(
      ElementLimitError,
    );
    expect(() => decodeBounded(PUT, repeat(num(99, 1), MAX_ELEMENTS + 1))).toThrow(ElementLimitError);
  });

  it('refuses 16 MiB of one-byte values with ElementLimitError', () => {
    // How promptly, with health probes alongside: request_cost.test.ts.
    const bytes = putColumn(repeat(len(9, 'a'), Math.floor((16 << 20) / 3)));
    expect(() => decodeBounded(PUT, bytes)).toThrow(ElementLimitError);
  });

  it('holds every string field to its limit before decoding it, naming the field and quoting none of it', () => {
    const MiB = 1 << 20;
    const refused = (bytes: Buffer) => {
      try {
        decodeBounded(PUT, bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(WireError);
        return (error as Error).message;
      }
      return 'decoded';
    };
    const column = (name: string, ids: string[]) => ({ columns: [{ name, string_values: ids }] });
    expect(refused(serialize({ view: 'v'.repeat(MiB) }))).toBe(`view is ${MiB} bytes; at most 128`);
    expect(refused(serialize({ view: 'v', features: [{ name: 'f'.repeat(129) }] }))).toBe(
      'features.name is 129 bytes; at most 128',
    );
    expect(refused(serialize({ view: 'v', entities: column('k'.repeat(MiB), []) }))).toBe(
      `entities.columns.name is ${MiB} bytes; at most 128`,
    );
    // A repeated field names the value: the row of an entity id.
    expect(refused(serialize({ view: 'v', entities: column('k', ['a', 'b', 'i'.repeat(257)]) }))).toBe(
      'entities.columns.string_values[2] is 257 bytes; at most 256',
    );
    expect(refused(putColumn(len(1, Buffer.from([0xc3, 0x28]))))).toBe('features.name is not valid UTF-8');
    // At their limits, and bytes (not strings) of any length, they decode.
    const longest = serialize({
      view: 'v'.repeat(128),
      entities: column('k'.repeat(128), ['€'.repeat(85)]),
      features: [{ name: 'f', bytes_values: [Buffer.alloc(MiB)] }],
    });
    expect(refused(longest)).toBe('decoded');
    const other = (type: string, bytes: Buffer) => () => decodeBounded(`infercache.v1.${type}`, bytes);
    expect(other('WarmRequest', len(1, 'v'.repeat(129)))).toThrow('view is 129 bytes; at most 128');
    expect(other('InvalidateRequest', len(2, len(1, 'v'.repeat(129))))).toThrow(
      'view.view is 129 bytes; at most 128',
    );
    expect(other('InvalidateRequest', len(1, len(2, 'v'.repeat(129))))).toThrow(
      'model.version is 129 bytes; at most 128',
    );
    expect(other('ActivateModelRequest', len(1, 'm'.repeat(129)))).toThrow('model is 129 bytes; at most 128');
  });

  it('throws a WireError for bytes that are not a message, at any cut of a valid one', () => {
    expect(() => decodeBounded(PUT, Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(WireError);
    const bytes = serialize({ view: 'users', features: [{ name: 'score', float32_values: [1] }] });
    for (let cut = 1; cut < bytes.length; cut++) {
      try {
        decodeBounded(PUT, bytes.subarray(0, cut));
      } catch (error) {
        expect(error, `cut at ${cut}`).toBeInstanceOf(WireError);
      }
    }
  });
});
