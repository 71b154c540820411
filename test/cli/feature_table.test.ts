import { describe, expect, it } from 'vitest';
import type { GetFeaturesReply } from '../../src/cli/client.js';
import { entityTable, tableText } from '../../src/cli/feature_table.js';
import { HOUR, view } from '../helpers/entity_fixtures.js';

const NOW = 1_700_000_000_000;

describe('the features get table', () => {
  it('shows a row served stale on an origin failure as stale, with its values, age and tier', () => {
    const v = view('users', ['score float64'], HOUR);
    const reply: GetFeaturesReply = {
      features: [
        {
          name: 'users:score',
          type: 2,
          dim: 0,
          float32_values: [],
          float64_values: [0.5, 1.5, 0],
          int32_values: [],
          int64_values: [],
          bool_values: [],
          bytes_values: [],
          statuses: [1, 5, 3],
        },
      ],
      views: [
        {
          view: 'users',
          event_time_ms: [String(NOW - 1000), String(NOW - 2 * HOUR), '0'],
          sources: [1, 2, 4],
        },
      ],
    };
    const table = entityTable(v, [['1'], ['2'], ['3']], reply, NOW);
    expect(table.map((r) => [r.features.score, r.source])).toEqual([
      [{ value: 0.5, status: 'present' }, 'l1'],
      [{ value: 1.5, status: 'stale' }, 'l2'],
      [{ value: null, status: 'not_found' }, 'none'],
    ]);
    expect(
      tableText(v, table)
        .trimEnd()
        .split('\n')
        .map((l) => l.split(/\s+/)),
    ).toEqual([
      ['flower_id', 'score', 'status', 'age', 'source'],
      ['1', '0.5', 'present', '1s', 'l1'],
      ['2', '1.5', 'stale', '2h00m', 'l2'],
      ['3', '-', 'not_found', '-', 'none'],
    ]);
  });
});
