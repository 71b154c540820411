import { describe, expect, it } from 'vitest';
import { loadPackageDefinition } from '../../../src/api/proto.js';
import { encodePredictResponse } from '../../../src/api/wire/predict_response.js';
import { DType } from '../../../src/tensor/dtypes.js';
import { StackedRows } from '../../../src/tensor/rows.js';
import { encodeStrings } from '../../../src/tensor/strings.js';

// protobufjs (through proto-loader, as clients use it) is the reference decoder.
const Predict = (
  loadPackageDefinition()['infercache.v1.InferCache'] as Record<
    string,
    { responseDeserialize(b: Buffer): unknown }
  >
).Predict as { responseDeserialize(b: Buffer): unknown };
const decode = (bytes: Buffer) => Predict.responseDeserialize(bytes) as Record<string, unknown>;

describe('PredictResponse encoding', () => {
  it('decodes in protobufjs to every field as given: raw tensors, sources, statuses', () => {
    const probabilities = Buffer.from(new Float32Array([0.25, 0.5, 0.25, 1, 0, 0]).buffer);
    const label = Buffer.from(new BigInt64Array([2n, -1n]).buffer);
    const bytes = encodePredictResponse({
      model: 'iris',
      version: '12',
      outputs: [
        { name: 'probabilities', dtype: DType.FLOAT32, dims: [2, 3], data: probabilities },
        { name: 'label', dtype: DType.INT64, dims: [2], data: label },
      ],
      rowSources: [1, 3],
      rowCached: true,
      rowStatuses: [1, 2],
    });
    const res = decode(bytes) as {
      outputs: Record<string, { dtype: number; shape: string[]; raw: Buffer }>;
    } & Record<string, unknown>;
    expect(res.model).toBe('iris');
    expect(res.version).toBe('12');
    expect(res.row_sources).toEqual([1, 3]);
    expect(res.row_cached).toBe(true);
    expect(res.row_statuses).toEqual([1, 2]);
    expect(Object.keys(res.outputs).sort()).toEqual(['label', 'probabilities']);
    expect(res.outputs.probabilities?.dtype).toBe(DType.FLOAT32);
    expect(res.outputs.probabilities?.shape).toEqual(['2', '3']);
    expect(Buffer.from(res.outputs.probabilities?.raw ?? [])).toEqual(probabilities);
    expect(Buffer.from(res.outputs.label?.raw ?? [])).toEqual(label);
  });

  it('writes the rows of a stacked tensor in place, as the same bytes as the joined tensor, without joining them', () => {
    // Rows as L1 hands them out: views into larger buffers, of 1,000 bytes (a two-byte length prefix).
    const backing = Buffer.alloc(4000);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 31) & 0xff;
    const rows = [backing.subarray(1000, 2000), backing.subarray(0, 1000), backing.subarray(3000, 4000)];
    const stacked = new StackedRows('y', DType.FLOAT32, [250], rows);
    const answer = (outputs: Parameters<typeof encodePredictResponse>[0]['outputs']) =>
      encodePredictResponse({
        model: 'm',
        version: '1',
        outputs,
        rowSources: [1, 1, 1],
        rowCached: true,
        rowStatuses: [],
      });
    // The encoder never reads `data`: that would join the rows into a buffer of their own first.
    const unjoinable = new Proxy(stacked, {
      get: (target, key) => {
        if (key === 'data') throw new Error('the rows were joined');
        return Reflect.get(target, key);
      },
    });
    const viaRows = answer([unjoinable]);
    const joined = Buffer.concat(rows);
    expect(viaRows).toEqual(answer([{ name: 'y', dtype: DType.FLOAT32, dims: [3, 250], data: joined }]));
    const res = decode(viaRows) as { outputs: Record<string, { raw: Buffer; shape: string[] }> };
    expect(res.outputs.y?.shape).toEqual(['3', '250']);
    expect(Buffer.from(res.outputs.y?.raw ?? [])).toEqual(joined);
    // Whoever reads `data` (typed outputs, a copy made by spreading) gets the rows joined.
    expect(stacked.data).toEqual(joined);
    expect({ ...stacked }.data).toEqual(joined);
    expect(stacked.dims).toEqual([3, 250]);
  });

  it('writes strings as string_data, empty ones too, and a tensor past 127 bytes with a longer length prefix', () => {
    const words = ['', 'setosa', 'é', 'x'.repeat(300)];
    const bytes = encodePredictResponse({
      model: 'm',
      version: '1',
      outputs: [
        { name: 'names', dtype: DType.STRING, dims: [4], data: encodeStrings(words) },
        { name: 'big', dtype: DType.UINT8, dims: [200], data: Buffer.alloc(200, 7) },
      ],
      rowSources: [],
      rowCached: false,
      rowStatuses: [],
    });
    const res = decode(bytes) as {
      outputs: Record<string, { string_data: Buffer[]; raw: Buffer; shape: string[] }>;
    };
    expect(res.outputs.names?.string_data.map((b) => Buffer.from(b).toString('utf8'))).toEqual(words);
    expect(Buffer.from(res.outputs.big?.raw ?? [])).toEqual(Buffer.alloc(200, 7));
    expect(res.outputs.big?.shape).toEqual(['200']);
  });

  it('leaves out fields at their default, as proto3 does', () => {
    const bytes = encodePredictResponse({
      model: '',
      version: '',
      outputs: [],
      rowSources: [],
      rowCached: false,
      rowStatuses: [],
    });
    expect(bytes.length).toBe(0);
  });
});
