import { describe, expect, it } from 'vitest';
import { idFromJson, idFromText, valueFromJson, valueFromText } from '../../src/features/load_values.js';
import type { FeatureSpec, JoinKey } from '../../src/features/view.js';

const spec = (type: FeatureSpec['type'], dim = 1): FeatureSpec => ({ name: 'x', type, dim });
const int64Key: JoinKey = { name: 'id', type: 'int64' };
const stringKey: JoinKey = { name: 'id', type: 'string' };

describe('values of a file to load', () => {
  it('reads decimal floats from text and refuses what only Number() would take', () => {
    const f64 = spec('float64');
    for (const [text, value] of [
      ['1.5', 1.5],
      ['-2', -2],
      ['.5', 0.5],
      ['-.25', -0.25],
      ['1e3', 1000],
      [' 3 ', 3],
      ['-Infinity', Number.NEGATIVE_INFINITY],
    ] as const) {
      expect(valueFromText(f64, text), text).toBe(value);
    }
    expect(valueFromText(f64, 'NaN')).toBeNaN();
    for (const text of ['abc', '0x10', '0b1', '0o7', '1_0', ' ', '1.2.3', '--1']) {
      expect(() => valueFromText(f64, text), text).toThrow(/is not a number/);
    }
  });

  it('rounds float32 values as float32 and refuses a finite value beyond its range', () => {
    expect(valueFromText(spec('float32'), '5.1')).toBe(Math.fround(5.1));
    expect(() => valueFromText(spec('float32'), '1e39')).toThrow(/outside the float32 range/);
    expect(valueFromJson(spec('float32'), 0.1)).toBe(Math.fround(0.1));
  });

  it('reads integers exactly: int32 within its range, int64 as a number where exact, else a bigint', () => {
    expect(valueFromText(spec('int32'), '-2147483648')).toBe(-(2 ** 31));
    expect(() => valueFromText(spec('int32'), '2147483648')).toThrow(/outside the int32 range/);
    expect(() => valueFromText(spec('int32'), '1.5')).toThrow(/is not an integer/);
    expect(valueFromText(spec('int64'), '42')).toBe(42);
    expect(valueFromText(spec('int64'), '9223372036854775807')).toBe(2n ** 63n - 1n);
    expect(() => valueFromText(spec('int64'), '9223372036854775808')).toThrow(/outside the int64 range/);
    expect(valueFromJson(spec('int64'), '-9223372036854775808')).toBe(-(2n ** 63n));
    expect(() => valueFromJson(spec('int64'), 2 ** 53)).toThrow(/give values beyond 2\^53 as strings/);
  });

  it('reads bools, strings and base64 bytes', () => {
    expect(['true', 'FALSE', '1', '0'].map((t) => valueFromText(spec('bool'), t))).toEqual([
      true,
      false,
      true,
      false,
    ]);
    expect(() => valueFromText(spec('bool'), 'yes')).toThrow(/is not a bool/);
    expect(() => valueFromJson(spec('bool'), 1)).toThrow(/is not true or false/);
    expect(valueFromText(spec('string'), 'a, "b"')).toBe('a, "b"');
    expect(() => valueFromJson(spec('string'), 5)).toThrow(/is not a string/);
    expect(valueFromText(spec('bytes'), 'AAEC')).toEqual(Buffer.from([0, 1, 2]));
    expect(() => valueFromText(spec('bytes'), 'not base64!')).toThrow(/is not base64/);
  });

  it('reads a vector as a JSON array or as numbers separated by spaces or semicolons, of the view dim', () => {
    const vec = spec('float32_vector', 3);
    const expected = Float32Array.from([1, 2.5, -3]);
    for (const text of ['[1, 2.5, -3]', '1 2.5 -3', '1;2.5;-3', ' 1 ; 2.5 ; -3 ']) {
      expect(valueFromText(vec, text), text).toEqual(expected);
    }
    expect(valueFromJson(vec, [1, 2.5, -3])).toEqual(expected);
    expect(() => valueFromText(vec, '1 2')).toThrow(/2 values; the vector's dim is 3/);
    expect(() => valueFromText(vec, '[1, 2')).toThrow(/is not a JSON array/);
    expect(() => valueFromText(vec, '1 x 3')).toThrow(/"x" is not a number/);
    expect(() => valueFromJson(vec, [1, '2', 3])).toThrow(/is not a number/);
  });

  it('writes int64 ids one way, so "+7" and "007" name the entity 7 names', () => {
    expect(['7', '+7', '007', ' 7 '].map((t) => idFromText(int64Key, t))).toEqual(['7', '7', '7', '7']);
    expect(idFromText(int64Key, '-9223372036854775808')).toBe('-9223372036854775808');
    expect(() => idFromText(int64Key, '9223372036854775808')).toThrow(/outside the int64 range/);
    expect(() => idFromText(int64Key, 'abc')).toThrow(/is not an int64/);
    expect(idFromJson(int64Key, 12)).toBe('12');
    expect(idFromJson(int64Key, '12345678901234567890'.slice(0, 19))).toBe('1234567890123456789');
    expect(() => idFromJson(int64Key, 2 ** 53 + 2)).toThrow(/give ids beyond 2\^53 as strings/);
  });

  it('refuses a string id longer than 256 bytes, as PutFeatures does', () => {
    expect(idFromText(stringKey, 'é'.repeat(128))).toBe('é'.repeat(128));
    expect(() => idFromText(stringKey, 'é'.repeat(129))).toThrow(/258 bytes; an id is at most 256/);
    expect(() => idFromJson(stringKey, 5)).toThrow(/is not a string/);
  });
});
