import { describe, expect, it } from 'vitest';
import { signatureFromMetadata } from '../../src/model/signature.js';
import { validateInputs } from '../../src/model/validate.js';
import { DType } from '../../src/tensor/dtypes.js';
import type { HostTensor } from '../../src/tensor/host_tensor.js';
import { encodeStrings } from '../../src/tensor/strings.js';

const meta = (name: string, type: string, shape: (number | string)[]) => ({
  name,
  isTensor: true,
  type,
  shape,
});
const f32 = (dims: number[]): HostTensor => ({
  dtype: DType.FLOAT32,
  dims,
  data: Buffer.alloc(4 * dims.reduce((a, b) => a * b, 1)),
});
const limits = { maxBatchRows: 100 };

describe('signature', () => {
  it('caches rows one by one when every input and output shares a named symbol on axis 0', () => {
    const sig = signatureFromMetadata(
      [meta('a', 'float32', ['N', 3]), meta('b', 'int64', ['N', 1])],
      [meta('y', 'float32', ['N', 3])],
      true,
    );
    expect(sig.rowCacheable).toBe(true);
    expect(sig.inputs.map((i) => i.dims)).toEqual([
      ['N', 3],
      ['N', 1],
    ]);
  });

  it.each([
    ['a scalar input', [meta('s', 'float32', [])], [meta('y', 'float32', [])]],
    ['a fixed first axis', [meta('x', 'float32', [1, 4])], [meta('y', 'float32', [1, 4])]],
    ['the batch axis last', [meta('x', 'float32', [3, 'N'])], [meta('y', 'float32', ['N'])]],
    ['an unnamed dynamic axis', [meta('x', 'float32', [-1, 4])], [meta('y', 'float32', [-1, 4])]],
    ['outputs on another symbol', [meta('x', 'float32', ['N', 4])], [meta('y', 'float32', ['M', 4])]],
  ])('caches requests whole for %s', (_name, inputs, outputs) => {
    expect(signatureFromMetadata(inputs, outputs, true).rowCacheable).toBe(false);
  });

  it('caches whole when model.json turns row caching off', () => {
    expect(
      signatureFromMetadata([meta('x', 'float32', ['N', 4])], [meta('y', 'float32', ['N'])], false)
        .rowCacheable,
    ).toBe(false);
  });

  it('refuses a model whose input is not a tensor', () => {
    expect(() => signatureFromMetadata([{ name: 'm', isTensor: false }], [], true)).toThrow(
      /m: type non-tensor/,
    );
  });
});

describe('input validation', () => {
  const sig = signatureFromMetadata(
    [meta('a', 'float32', ['N', 3]), meta('b', 'float32', ['N', 1])],
    [meta('y', 'float32', ['N', 3])],
    true,
  );
  const inputs = (a: HostTensor, b: HostTensor | undefined = f32([a.dims[0] ?? 1, 1])) =>
    new Map(b ? [['a', a] as const, ['b', b] as const] : [['a', a] as const]);

  it('returns the row count of a good batch', () => {
    expect(validateInputs('m', sig, inputs(f32([5, 3])), limits)).toBe(5);
  });

  it.each([
    ['a missing input', () => new Map([['a', f32([1, 3])]]), /missing input "b": expected float32 \[N, 1\]/],
    [
      'an extra input',
      () => new Map([...inputs(f32([1, 3])), ['c', f32([1])]]),
      /no input "c" \(inputs: a, b\)/,
    ],
    [
      'a wrong dtype',
      () => inputs({ ...f32([1, 3]), dtype: DType.INT32 }),
      /input "a": dtype int32 given, expected float32/,
    ],
    ['a wrong rank', () => inputs(f32([3])), /input "a": shape \[3\] given, expected float32 \[N, 3\]/],
    ['a wrong fixed axis', () => inputs(f32([1, 4])), /input "a": axis 1 is 4, expected 3/],
    [
      'batch sizes that disagree',
      () => inputs(f32([2, 3]), f32([3, 1])),
      /input "b": axis 0 \(N\) is 3 but input "a" has N=2/,
    ],
    [
      'bytes that do not match the shape',
      () => inputs({ ...f32([1, 3]), data: Buffer.alloc(8) }),
      /input "a": 8 bytes given, shape \[1, 3\] of float32 needs 12/,
    ],
    ['zero rows', () => inputs(f32([0, 3])), /0 rows/],
  ])('refuses %s, naming the input and what was expected', (_name, make, message) => {
    expect(() => validateInputs('m', sig, make(), limits)).toThrow(message);
  });

  it('refuses more rows than the limit, saying the limit', () => {
    expect(() => validateInputs('m', sig, inputs(f32([101, 3])), limits)).toThrow(
      expect.objectContaining({ code: 'E_LIMIT_EXCEEDED', message: expect.stringMatching(/limit is 100/) }),
    );
  });

  it('checks that string data holds exactly the elements of its shape', () => {
    const s = signatureFromMetadata([meta('s', 'string', ['N'])], [meta('o', 'string', ['N'])], true);
    const good = { dtype: DType.STRING, dims: [2], data: encodeStrings(['x', 'yz']) };
    expect(validateInputs('m', s, new Map([['s', good]]), limits)).toBe(2);
    const short = { ...good, dims: [3] };
    expect(() => validateInputs('m', s, new Map([['s', short]]), limits)).toThrow(/does not hold 3 elements/);
  });
});
