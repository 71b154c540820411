import type { ServiceError } from '@grpc/grpc-js';
import { mulberry32 } from '../../src/prng.js';
import type { PredictRequest, Tensor, TensorInput } from './client.js';

// Request builders and response readers shared by the end-to-end suites.
// Numbers match the proto enums (api/proto.ts decodes enums as numbers).

export const DT = {
  FLOAT32: 1,
  INT64: 7,
  STRING: 8,
  FLOAT64: 11,
} as const;

export const SRC = { L1: 1, L2: 2, MODEL: 3 } as const;

type CacheControlInput = NonNullable<PredictRequest['cache']>;

export const IRIS_FEATURES = 4;
export const IRIS_CLASSES = 3;
export const HEAVY_IN = 256;
export const HEAVY_OUT = 64;

/** Little-endian float32 bytes of `values`. */
export function f32Raw(values: ArrayLike<number>): Buffer {
  const a = Float32Array.from(values as ArrayLike<number>);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** A float32 tensor, as raw bytes (the default) or in float_data. */
export function f32Tensor(
  shape: number[],
  values: ArrayLike<number>,
  form: 'raw' | 'typed' = 'raw',
): TensorInput {
  return form === 'raw'
    ? { dtype: DT.FLOAT32, shape, raw: f32Raw(values) }
    : { dtype: DT.FLOAT32, shape, float_data: Array.from(values as ArrayLike<number>) };
}

// Every call hands out rows never handed out before in this process, so tests
// sharing one sidecar (and its L1) cannot see each other's cached rows.
let nextSeed = 1;

/** `n` fresh iris rows of plausible measurements (cm), exactly representable as float32. */
export function irisRows(n: number): number[][] {
  const rand = mulberry32(nextSeed++ * 7919);
  // The ranges of the iris data set: sepal length, sepal width, petal length, petal width.
  const ranges = [
    [4.3, 3.6],
    [2.0, 2.4],
    [1.0, 5.9],
    [0.1, 2.4],
  ] as const;
  return Array.from({ length: n }, () => ranges.map(([min, span]) => Math.fround(min + rand() * span)));
}

/** `n` fresh rows for the heavy model, flattened row-major ([n, 256]). */
export function heavyRows(n: number): Float32Array {
  const rand = mulberry32(nextSeed++ * 104729);
  return Float32Array.from({ length: n * HEAVY_IN }, () => rand() * 2 - 1);
}

export interface RequestOptions {
  version?: string;
  cache?: CacheControlInput;
  form?: 'raw' | 'typed';
  typedOutputs?: boolean;
}

export function irisRequest(rows: number[][], opts: RequestOptions = {}): PredictRequest {
  return {
    model: 'iris',
    version: opts.version ?? '',
    inputs: { features: f32Tensor([rows.length, IRIS_FEATURES], rows.flat(), opts.form) },
    ...(opts.cache ? { cache: opts.cache } : {}),
    ...(opts.typedOutputs ? { typed_outputs: true } : {}),
  };
}

export function heavyRequest(data: Float32Array, opts: RequestOptions = {}): PredictRequest {
  return {
    model: 'heavy',
    version: opts.version ?? '',
    inputs: { x: f32Tensor([data.length / HEAVY_IN, HEAVY_IN], data, opts.form) },
    ...(opts.cache ? { cache: opts.cache } : {}),
  };
}

/** Little-endian int64 bytes of `values`. */
function i64Raw(values: readonly bigint[]): Buffer {
  const a = BigInt64Array.from(values);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * The `multi` fixture (a: float32 [N, 3], b: int64 [N, 1] -> sum = a + b).
 * `order` sets the order the inputs are put in the request's map.
 */
export function multiRequest(
  a: number[][],
  b: bigint[],
  opts: RequestOptions & { order?: 'ab' | 'ba' } = {},
): PredictRequest {
  const ta = f32Tensor([a.length, 3], a.flat(), opts.form);
  const tb: TensorInput =
    opts.form === 'typed'
      ? { dtype: DT.INT64, shape: [b.length, 1], int64_data: b.map(String) }
      : { dtype: DT.INT64, shape: [b.length, 1], raw: i64Raw(b) };
  return {
    model: 'multi',
    inputs: opts.order === 'ba' ? { b: tb, a: ta } : { a: ta, b: tb },
    ...(opts.cache ? { cache: opts.cache } : {}),
  };
}

/** Little-endian float32 bytes as numbers. */
export function f32FromBytes(bytes: Uint8Array): Float32Array {
  const copy = Buffer.from(bytes);
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
}

/** The float32 values of a response tensor (raw or float_data). */
export function f32Of(t: Tensor | undefined): Float32Array {
  if (t === undefined) throw new Error('no such output tensor');
  if (t.float_data.length > 0) return Float32Array.from(t.float_data);
  return f32FromBytes(t.raw);
}

/** The int64 values of a response tensor (raw or int64_data). */
export function i64Of(t: Tensor | undefined): bigint[] {
  if (t === undefined) throw new Error('no such output tensor');
  if (t.int64_data.length > 0) return t.int64_data.map((v) => BigInt(v));
  const copy = Buffer.from(t.raw);
  return Array.from(new BigInt64Array(copy.buffer, copy.byteOffset, copy.byteLength / 8));
}

/** The bytes of a response tensor's `raw` field (a copy, safe to keep). */
export function rawOf(t: Tensor | undefined): Buffer {
  if (t === undefined) throw new Error('no such output tensor');
  return Buffer.from(t.raw);
}

/** Awaits a call that must fail and returns its gRPC error. */
export async function grpcError(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('the call succeeded; expected a gRPC error');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}
