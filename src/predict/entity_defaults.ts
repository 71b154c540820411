import type { FeatureValue } from '../features/feature_row.js';
import type { FeatureSpec } from '../features/view.js';

type Raw = number | boolean | string | readonly number[];

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A default from model.json as a value of the feature's type, as if it had
 * been stored: a float32 is rounded to float32, an int64 beyond 2^53 is a
 * bigint (given as decimal text), a vector is a Float32Array of its dim.
 * `fail` says what is wrong with it.
 */
export function defaultOf(
  spec: FeatureSpec,
  raw: Raw,
  fail: (why: string) => never,
): Exclude<FeatureValue, null> {
  const want = (what: string) => fail(`has default ${shown(raw)}; type ${spec.type} needs ${what}`);
  switch (spec.type) {
    case 'float32':
      return typeof raw === 'number' ? Math.fround(raw) : want('a number');
    case 'float64':
      return typeof raw === 'number' ? raw : want('a number');
    case 'int32':
      return typeof raw === 'number' && Number.isInteger(raw) && raw >= -(2 ** 31) && raw < 2 ** 31
        ? raw
        : want('an integer from -2^31 to 2^31-1');
    case 'int64':
      return int64Of(raw) ?? want('an integer (decimal text beyond 2^53)');
    case 'bool':
      return typeof raw === 'boolean' ? raw : want('true or false');
    case 'string':
      return typeof raw === 'string' ? raw : want('a string');
    case 'float32_vector':
      return Array.isArray(raw) && raw.length === spec.dim
        ? Float32Array.from(raw)
        : want(`an array of ${spec.dim} numbers`);
    case 'bytes':
      return fail('is bytes, which no model input takes');
  }
}

function int64Of(raw: Raw): number | bigint | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
  if (typeof raw !== 'string' || !/^-?\d{1,19}$/.test(raw)) return undefined;
  const n = BigInt(raw);
  if (n < INT64_MIN || n > INT64_MAX) return undefined;
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

function shown(raw: Raw): string {
  const text = JSON.stringify(raw);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
