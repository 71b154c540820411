import { describe, expect, it } from 'vitest';
import { csvDecoder, jsonDecoder, type LoadRow } from '../../src/features/load_row.js';
import { toFeatureView } from '../../src/features/view.js';
import { viewSchema } from '../../src/features/view_schema.js';

const view = toFeatureView(
  viewSchema.parse({
    name: 'users',
    entities: [{ name: 'user_id', type: 'int64' }],
    features: [
      { name: 'score', type: 'float32' },
      { name: 'city', type: 'string' },
      { name: 'embedding', type: 'float32_vector', dim: 2 },
    ],
    max_age: '1h',
  }),
  { l1TtlMs: 60_000, notFoundTtlMs: 1000 },
);
const NOW = 1_700_000_000_000;

describe('rows checked against their view', () => {
  it('decodes a CSV row in the view order whatever the column order; an empty cell is null', () => {
    const decode = csvDecoder(view, ['city', 'user_id', 'embedding', 'score'], NOW);
    expect(decode(['Paris', '7', '1 2', '0.5'])).toEqual({
      ids: ['7'],
      eventTime: NOW,
      values: [0.5, 'Paris', Float32Array.from([1, 2])],
    });
    expect((decode(['', '8', '', '1']) as LoadRow).values).toEqual([1, null, null]);
  });

  it('leaves a feature missing from the header null, as PutFeatures does', () => {
    expect(csvDecoder(view, ['user_id', 'score'], NOW)(['1', '2'])).toMatchObject({
      values: [2, null, null],
    });
  });

  it('names the field and the problem of a bad row', () => {
    const decode = csvDecoder(view, ['user_id', 'score', 'embedding', 'event_time_ms'], NOW);
    expect(decode(['1', 'abc', '', ''])).toBe('score: "abc" is not a number');
    expect(decode(['', '1', '', ''])).toBe('no user_id');
    expect(decode(['1', '1', '1 2 3', ''])).toBe("embedding: 3 values; the vector's dim is 2");
    expect(decode(['1', '1', '', 'yesterday'])).toBe(
      'event_time_ms: "yesterday" is not a time in ms since the Unix epoch',
    );
    expect(decode(['1', '1'])).toBe('2 cells; the header has 4');
    expect(decode(['1', '1', '', '1690000000000'])).toMatchObject({ eventTime: 1_690_000_000_000 });
  });

  it('reads event_time as ISO-8601 with its zone, and refuses dates that do not exist', () => {
    const decode = csvDecoder(view, ['user_id', 'event_time'], NOW);
    expect(decode(['1', '2024-05-01T12:00:00Z'])).toMatchObject({ eventTime: Date.UTC(2024, 4, 1, 12) });
    expect(decode(['1', '2024-05-01T14:00:00.500+02:00'])).toMatchObject({
      eventTime: Date.UTC(2024, 4, 1, 12, 0, 0, 500),
    });
    expect(decode(['1', '2024-05-01'])).toMatchObject({ eventTime: Date.UTC(2024, 4, 1) });
    for (const bad of ['2024-02-30', '2024-13-01', '2024-05-01T12:00:00', 'May 1 2024']) {
      expect(decode(['1', bad]), bad).toMatch(/^event_time: .* is not an ISO-8601 time with its zone/);
    }
  });

  it('refuses a header with an unknown or repeated column, no join key, or both time columns', () => {
    expect(() => csvDecoder(view, ['user_id', 'scroe'], NOW)).toThrow(
      /unknown column "scroe"; view users has/,
    );
    expect(() => csvDecoder(view, ['user_id', 'score', 'score'], NOW)).toThrow(/"score" appears twice/);
    expect(() => csvDecoder(view, ['score'], NOW)).toThrow(/no column for join key user_id/);
    expect(() => csvDecoder(view, ['user_id', 'event_time', 'event_time_ms'], NOW)).toThrow(/not both/);
    expect(csvDecoder(view, ['\uFEFFuser_id'], NOW)(['3'])).toMatchObject({ ids: ['3'] });
  });

  it('decodes JSON lines: nulls, arrays, int64 ids as numbers or strings; refuses unknown fields', () => {
    const decode = jsonDecoder(view, NOW);
    expect(
      decode('{"user_id": "9007199254740993", "score": null, "embedding": [1, 2], "event_time_ms": 5}'),
    ).toEqual({
      ids: ['9007199254740993'],
      eventTime: 5,
      values: [null, null, Float32Array.from([1, 2])],
    });
    expect(decode('{"user_id": 1, "cty": "x"}')).toMatch(/^unknown field "cty"/);
    expect(decode('{"score": 1}')).toBe('no user_id');
    expect(decode('[1]')).toBe('not a JSON object');
    expect(decode('{"user_id": 1,')).toMatch(/^not JSON/);
    expect(decode('{"user_id": 1, "event_time_ms": 5, "event_time": "2024-01-01"}')).toMatch(/not both/);
  });
});
