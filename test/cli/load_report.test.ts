import { describe, expect, it } from 'vitest';
import { summaryLine } from '../../src/cli/load_report.js';

const base = { view: 'users', rowsRead: 1000, written: 990, skippedOlder: 3, seconds: 0.5 };

describe('the summary line of a load', () => {
  it('gives the counts, the rate and the time, and the reasons when rows were rejected', () => {
    expect(summaryLine({ ...base, rejected: 0, reasons: [] }, 'u.csv')).toBe(
      'users from u.csv: read 1000 rows, written 990, skipped older 3, rejected 0; 2000 rows/s, 0.50 s',
    );
    expect(
      summaryLine({ ...base, rejected: 2, reasons: ['row 4: no user_id', 'row 9: bad'] }, 'u.csv'),
    ).toContain('rejected 2 (row 4: no user_id; row 9: bad); ');
  });

  it('says when it shows only the first of the reasons', () => {
    const reasons = ['row 1: a', 'row 2: b'];
    expect(summaryLine({ ...base, rejected: 7, reasons }, 'u.csv')).toContain(
      'rejected 7 (first 2: row 1: a; row 2: b); ',
    );
  });
});
