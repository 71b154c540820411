import type { ServiceDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { loadPackageDefinition } from '../../../src/api/proto.js';
import { decodeGetFeaturesRequest } from '../../../src/api/wire/get_features_request.js';
import { ElementLimitError, WireError } from '../../../src/api/wire/proto_reader.js';
import { len, num, tag, varint, WIRE } from '../../helpers/wire.js';

const method = (loadPackageDefinition()['infercache.v1.InferCache'] as ServiceDefinition).GetFeatures;
const serialize = (req: object) => method?.requestSerialize(req) as Buffer;
/** protobufjs's reading of the same bytes (int64 as decimal strings). */
const reference = (bytes: Buffer) =>
  method?.requestDeserialize(bytes) as {
    features: string[];
    entities: { columns: { name: string; string_values: string[]; int64_values: string[] }[] } | null;
  };

describe('GetFeaturesRequest decoding', () => {
  it('reads what protobufjs reads: references, string and int64 ids of every size, several columns', () => {
    const ids = ['0', '1', '-1', '4294967295', '4294967296', '9007199254740993', '-9223372036854775808'];
    const bytes = serialize({
      features: ['users', 'users:age', 'orders:*'],
      entities: {
        columns: [
          { name: 'user', int64_values: ids },
          { name: 'country', string_values: ['fr', 'Ελλάδα', ''] },
        ],
      },
    });
    const ours = decodeGetFeaturesRequest(bytes);
    const theirs = reference(bytes);
    expect(ours.features).toEqual(theirs.features);
    expect(
      ours.entities.map((c) => ({
        name: c.name,
        string_values: [...c.string_values],
        int64_values: c.int64_values.map(String),
      })),
    ).toEqual(theirs.entities?.columns);
  });

  it('reads int64 ids sent unpacked, skips unknown fields, and merges an entities field given twice', () => {
    const column = (name: string, ...values: number[]) =>
      len(1, Buffer.concat([len(1, name), ...values.map((v) => num(3, v))]));
    const bytes = Buffer.concat([len(1, 'v'), num(9, 7), len(2, column('a', 5, 6)), len(2, column('b', 7))]);
    const call = decodeGetFeaturesRequest(bytes);
    expect(call.features).toEqual(['v']);
    expect(call.entities.map((c) => [c.name, [...c.int64_values]])).toEqual([
      ['a', [5, 6]],
      ['b', [7]],
    ]);
  });

  it('answers an empty request with nothing, for the reader to refuse', () => {
    expect(decodeGetFeaturesRequest(Buffer.alloc(0))).toEqual({ features: [], entities: [] });
  });

  it('refuses a reference longer than two names, quoting none of it, and a field of the wrong wire type', () => {
    const long = 'v'.repeat(100_000);
    const refused = (() => {
      try {
        decodeGetFeaturesRequest(serialize({ features: [long] }));
      } catch (error) {
        return error;
      }
    })() as Error;
    expect(refused).toBeInstanceOf(WireError);
    expect(refused.message).toBe('a feature reference is 100000 bytes; at most 257');
    expect(() => decodeGetFeaturesRequest(Buffer.concat([tag(1, WIRE.VARINT), varint(1)]))).toThrow(
      'features has wire type 0',
    );
    expect(() => decodeGetFeaturesRequest(Buffer.concat([tag(2, WIRE.VARINT), varint(1)]))).toThrow(
      'entities has wire type 0',
    );
  });

  it('counts every id against the element budget', () => {
    const ids = Array.from({ length: 2_100_000 }, () => '1');
    const bytes = serialize({ features: ['v'], entities: { columns: [{ name: 'id', int64_values: ids }] } });
    expect(() => decodeGetFeaturesRequest(bytes)).toThrow(ElementLimitError);
  });
});
