import { describe, expect, it } from 'vitest';
import { MAX_DETAILS_BYTES } from '../../../src/api/status.js';
import { decodePredictRequest } from '../../../src/api/wire/predict_request.js';
import { ElementLimitError, WireError } from '../../../src/api/wire/proto_reader.js';
import { InferCacheError } from '../../../src/errors.js';
import { DType } from '../../../src/tensor/dtypes.js';
import type { HostTensor } from '../../../src/tensor/host_tensor.js';
import { fixed, len, num, requestWith, serializeRequest, tag, varint, WIRE } from '../../helpers/wire.js';

const bytesOf = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);
const request = (inputs: Record<string, object>, more: object = {}) =>
  serializeRequest({ model: 'm', inputs, ...more });
const input = (bytes: Buffer, name = 'x') => decodePredictRequest(bytes).inputs.get(name) as HostTensor;
const B = (s: string) => Buffer.from(s, 'utf8');
/** A Tensor message: float32 of shape [0]. */
const EMPTY_F32 = Buffer.concat([num(1, DType.FLOAT32), num(2, 0)]);

describe('PredictRequest decoding', () => {
  it('reads the model, version, cache control and typed_outputs', () => {
    const call = decodePredictRequest(
      serializeRequest({
        model: 'iris',
        version: '2',
        inputs: {},
        cache: { bypass: true, no_store: true, max_age_ms: 4_000_000_000 },
        typed_outputs: true,
      }),
    );
    expect(call).toEqual({
      model: 'iris',
      version: '2',
      inputs: new Map(),
      cache: { bypass: true, noStore: true, maxAgeMs: 4_000_000_000 },
      typedOutputs: true,
    });
    const plain = decodePredictRequest(serializeRequest({ model: 'iris' }));
    expect([plain.version, plain.cache, plain.typedOutputs]).toEqual([
      '',
      { bypass: false, noStore: false, maxAgeMs: 0 },
      false,
    ]);
  });

  it('merges repeated cache fields, as protobuf merges a repeated message', () => {
    const bytes = Buffer.concat([
      len(1, 'm'),
      len(4, Buffer.concat([num(1, 1), num(3, 500)])),
      len(4, num(2, 1)),
      len(4, num(3, 700)),
    ]);
    expect(decodePredictRequest(bytes).cache).toEqual({ bypass: true, noStore: true, maxAgeMs: 700 });
  });

  it("refuses a request without a model with 'model is required'", () => {
    expect(() => decodePredictRequest(serializeRequest({ version: '1' }))).toThrow(InferCacheError);
    expect(() => decodePredictRequest(Buffer.alloc(0))).toThrow('model is required');
  });

  it.each([
    ['a model name', (s: Buffer) => len(1, s), 128],
    ['a version', (s: Buffer) => Buffer.concat([len(1, 'm'), len(2, s)]), 128],
    ['an input name', (s: Buffer) => requestWith(EMPTY_F32, s), 256],
  ] as [string, (s: Buffer) => Buffer, number][])(
    'refuses %s over its limit by its length alone, in a short message',
    (_name, build, limit) => {
      const ok = build(Buffer.alloc(limit, 'a'));
      expect(() => decodePredictRequest(ok)).not.toThrow();
      // A megabyte of bytes that are not even UTF-8: refused for the length before any decoding.
      const huge = build(Buffer.alloc(1 << 20, 0xff));
      let message = '';
      try {
        decodePredictRequest(huge);
      } catch (error) {
        expect(error).toBeInstanceOf(WireError);
        message = (error as Error).message;
      }
      expect(message).toMatch(new RegExp(`is ${1 << 20} bytes; at most ${limit}`));
      // Short enough for a status detail, which is capped at MAX_DETAILS_BYTES.
      expect(Buffer.byteLength(message)).toBeLessThan(MAX_DETAILS_BYTES - 100);
      expect(() => decodePredictRequest(build(Buffer.alloc(limit + 1, 'a')))).toThrow(WireError);
    },
  );

  it('refuses names that are not valid UTF-8', () => {
    const bad = Buffer.from([0x61, 0xc3, 0x28]);
    expect(() => decodePredictRequest(len(1, bad))).toThrow(/model is not valid UTF-8/);
    expect(() => decodePredictRequest(Buffer.concat([len(1, 'm'), len(2, bad)]))).toThrow(
      /version is not valid UTF-8/,
    );
    const entry = Buffer.concat([len(1, 'm'), len(3, len(1, bad))]);
    expect(() => decodePredictRequest(entry)).toThrow(/input name is not valid UTF-8/);
  });

  it('takes 1024 inputs and refuses the 1025th; a name given again replaces its tensor and counts as an entry', () => {
    const scalar = { dtype: DType.FLOAT32, shape: [0] };
    const inputs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`in${i}`, scalar]));
    expect(decodePredictRequest(request(inputs(1024))).inputs.size).toBe(1024);
    expect(() => decodePredictRequest(request(inputs(1025)))).toThrow(/more than 1024 inputs given/);
    // Refused for the count before its tensor is read.
    const past = Buffer.concat([
      request(inputs(1024)),
      len(3, Buffer.concat([len(1, 'extra'), len(2, num(1, 99))])),
    ]);
    expect(() => decodePredictRequest(past)).toThrow(/more than 1024 inputs given/);
    // A repeated name replaces its tensor, but every entry counts: each is
    // a tensor to read, so 1025 entries of one name are refused too.
    const again = (n: number) =>
      Buffer.concat([
        len(1, 'm'),
        ...Array.from({ length: n }, (_, i) =>
          len(3, Buffer.concat([len(1, 'x'), len(2, Buffer.concat([num(1, (i % 2) + 1), num(2, 0)]))])),
        ),
      ]);
    const decoded = decodePredictRequest(again(1024));
    expect(decoded.inputs.size).toBe(1);
    expect(decoded.inputs.get('x')?.dtype).toBe(DType.UINT8);
    expect(() => decodePredictRequest(again(1025))).toThrow(/more than 1024 inputs given/);
  });

  it('skips unknown fields of every wire type, at every level', () => {
    const unknown = (field: number) =>
      Buffer.concat([
        num(field, 5),
        Buffer.concat([tag(field, WIRE.FIXED64), Buffer.alloc(8)]),
        len(field, 'zz'),
        fixed(field, 1, 4),
      ]);
    const tensor = Buffer.concat([
      num(1, DType.FLOAT32),
      unknown(15),
      num(2, 1),
      len(4, bytesOf(new Float32Array([3]))),
    ]);
    const entry = Buffer.concat([unknown(7), len(1, 'x'), len(2, tensor), unknown(3)]);
    const bytes = Buffer.concat([
      unknown(99),
      len(1, 'm'),
      len(3, entry),
      len(4, Buffer.concat([unknown(9), num(1, 1)])),
      unknown(16),
    ]);
    const call = decodePredictRequest(bytes);
    expect(call.model).toBe('m');
    expect(call.cache.bypass).toBe(true);
    expect(input(bytes).data.equals(bytesOf(new Float32Array([3])))).toBe(true);
  });

  it('throws a WireError for a field of the wrong wire type or an unsupported one', () => {
    expect(() => decodePredictRequest(num(1, 5))).toThrow(WireError);
    expect(() => decodePredictRequest(Buffer.concat([len(1, 'm'), tag(20, 3)]))).toThrow(
      /unsupported wire type 3/,
    );
    expect(() => decodePredictRequest(requestWith(len(1, 'x')))).toThrow(/dtype has wire type 2/);
    // Repeated varint fields come packed (LEN) or one varint each, nothing else: these four
    // bytes read as varints would pass for a valid int64 tensor of shape [1].
    for (const [field, name] of [
      [2, 'shape'],
      [6, 'int32_data'],
      [7, 'int64_data'],
      [8, 'uint64_data'],
    ] as const) {
      const tensor = Buffer.concat([
        num(1, DType.INT64),
        tag(field, WIRE.FIXED32),
        Buffer.from([1, 0x3a, 1, 5]),
      ]);
      expect(() => decodePredictRequest(requestWith(tensor)), name).toThrow(
        new RegExp(`${name} has wire type 5`),
      );
    }
  });

  it('throws a WireError for a truncated message, and nothing but its own errors at any cut', () => {
    const whole = request(
      {
        x: { dtype: DType.INT64, shape: [2], int64_data: ['-1', '300'] },
        y: { dtype: DType.STRING, shape: [1], string_data: [B('abc')] },
      },
      { version: '7', cache: { max_age_ms: 1000 }, typed_outputs: true },
    );
    expect(() => decodePredictRequest(whole)).not.toThrow();
    for (let cut = 1; cut < whole.length; cut++) {
      try {
        decodePredictRequest(whole.subarray(0, cut));
      } catch (error) {
        expect(
          error instanceof WireError || error instanceof InferCacheError,
          `cut at ${cut}: ${error}`,
        ).toBe(true);
      }
    }
    expect(() => decodePredictRequest(whole.subarray(0, 2))).toThrow(/length past the end of the message/);
    expect(() =>
      decodePredictRequest(Buffer.concat([len(1, 'm'), tag(2, WIRE.LEN), Buffer.from([0x80])])),
    ).toThrow(/truncated varint/);
    expect(() => decodePredictRequest(Buffer.concat([len(1, 'm'), varint(0)]))).toThrow(/field number 0/);
  });
});

describe('PredictRequest entities (field 6)', () => {
  const column = (...fields: Buffer[]) => len(1, Buffer.concat(fields));
  const withEntities = (...columns: Buffer[]) => Buffer.concat([len(1, 'm'), len(6, Buffer.concat(columns))]);
  /** A packed int64_values field of `n` one-byte ids. */
  const packedIds = (n: number) => len(3, Buffer.alloc(n, 7));

  it('decodes the columns as protobufjs writes them: packed int64 ids, exact past 2^53, and strings', () => {
    const call = decodePredictRequest(
      serializeRequest({
        model: 'iris',
        entities: {
          columns: [
            { name: 'flower_id', int64_values: ['1', '-2', '4294967296', '9007199254740993'] },
            { name: 'user', string_values: ['a', 'ünï'] },
          ],
        },
      }),
    );
    expect(call.entities).toEqual([
      { name: 'flower_id', string_values: [], int64_values: [1, '-2', '4294967296', '9007199254740993'] },
      { name: 'user', string_values: ['a', 'ünï'], int64_values: [] },
    ]);
    expect(call.inputs.size).toBe(0);
  });

  it('reads unpacked ids, and merges an entities field given twice as protobuf does', () => {
    const bytes = Buffer.concat([
      withEntities(column(len(1, 'a'), num(3, 7), num(3, 8), packedIds(2))),
      len(6, column(len(1, 'b'), len(2, 'x'), len(2, 'y'))),
    ]);
    expect(decodePredictRequest(bytes).entities).toEqual([
      { name: 'a', string_values: [], int64_values: [7, 8, 7, 7] },
      { name: 'b', string_values: ['x', 'y'], int64_values: [] },
    ]);
  });

  it('tells an absent entities field from an empty one', () => {
    expect(decodePredictRequest(serializeRequest({ model: 'm' })).entities).toBeUndefined();
    expect(decodePredictRequest(withEntities()).entities).toEqual([]);
  });

  it('refuses inputs and entities together', () => {
    const both = Buffer.concat([requestWith(EMPTY_F32), len(6, column(len(1, 'a'), num(3, 1)))]);
    expect(() => decodePredictRequest(both)).toThrow(InferCacheError);
    expect(() => decodePredictRequest(both)).toThrow(/give either inputs or entities, not both/);
  });

  it('refuses a string id over 256 bytes and a column name over 128 by their length alone, and a ninth column', () => {
    expect(decodePredictRequest(withEntities(column(len(2, Buffer.alloc(256, 'a'))))).entities).toHaveLength(
      1,
    );
    expect(() => decodePredictRequest(withEntities(column(len(2, Buffer.alloc(1 << 20, 0xff)))))).toThrow(
      new RegExp(`an entity id is ${1 << 20} bytes; at most 256`),
    );
    expect(() => decodePredictRequest(withEntities(column(len(1, Buffer.alloc(129, 'a')))))).toThrow(
      /entity key column name is 129 bytes; at most 128/,
    );
    expect(() => decodePredictRequest(withEntities(column(len(2, Buffer.from([0xc3, 0x28])))))).toThrow(
      /an entity id is not valid UTF-8/,
    );
    const columns = (n: number) => Array.from({ length: n }, (_, i) => column(len(1, `k${i}`)));
    expect(decodePredictRequest(withEntities(...columns(8))).entities).toHaveLength(8);
    expect(() => decodePredictRequest(withEntities(...columns(9)))).toThrow(/more than 8 key columns given/);
  });

  it('counts every id against the request element budget, packed or not', () => {
    // Elements before the ids: the model, entities, column, name and int64_values tags.
    const limit = 2 ** 18;
    expect(
      decodePredictRequest(withEntities(column(len(1, 'a'), packedIds(limit - 5)))).entities?.[0]
        ?.int64_values,
    ).toHaveLength(limit - 5);
    expect(() => decodePredictRequest(withEntities(column(len(1, 'a'), packedIds(limit - 4))))).toThrow(
      ElementLimitError,
    );
    const unpacked = Buffer.concat(Array.from({ length: limit }, () => num(3, 1)));
    expect(() => decodePredictRequest(withEntities(column(unpacked)))).toThrow(ElementLimitError);
    const strings = Buffer.concat(Array.from({ length: limit }, () => len(2, 'x')));
    expect(() => decodePredictRequest(withEntities(column(strings)))).toThrow(ElementLimitError);
  });

  it('throws a WireError for a field of the wrong wire type, and nothing but its own errors at any cut', () => {
    expect(() => decodePredictRequest(Buffer.concat([len(1, 'm'), num(6, 1)]))).toThrow(
      /entities has wire type 0/,
    );
    expect(() => decodePredictRequest(withEntities(num(1, 1)))).toThrow(/entities.columns has wire type 0/);
    expect(() => decodePredictRequest(withEntities(column(fixed(3, 1, 4))))).toThrow(
      /int64_values has wire type 5/,
    );
    expect(() => decodePredictRequest(withEntities(column(num(2, 1))))).toThrow(
      /string_values has wire type 0/,
    );
    const whole = withEntities(
      column(len(1, 'flower_id'), packedIds(3), num(3, -5), len(2, 'abc'), num(9, 1)),
    );
    expect(decodePredictRequest(whole).entities?.[0]?.int64_values).toEqual([7, 7, 7, '-5']);
    for (let cut = 1; cut < whole.length; cut++) {
      try {
        decodePredictRequest(whole.subarray(0, cut));
      } catch (error) {
        expect(
          error instanceof WireError || error instanceof InferCacheError,
          `cut at ${cut}: ${error}`,
        ).toBe(true);
      }
    }
  });
});
