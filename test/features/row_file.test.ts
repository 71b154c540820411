import { describe, expect, it } from 'vitest';
import { csvRecords, formatOf, jsonLines } from '../../src/features/row_file.js';

async function* pieces(text: string, size: number): AsyncGenerator<string> {
  for (let at = 0; at < text.length; at += size) yield text.slice(at, at + size);
}

async function allCsv(text: string, size: number) {
  const records: string[][] = [];
  const malformed: [number, string][] = [];
  for await (const chunk of csvRecords(pieces(text, size))) {
    for (const [i, why] of chunk.malformed) malformed.push([records.length + i, why]);
    records.push(...chunk.records);
  }
  return { records, malformed };
}

const CSV = 'id,name,vec\n1,"a, ""quoted"" name",1;2\n\n2,"two\nlines",3;4\n3,plain,5;6';

describe('reading a file of rows', () => {
  it('reads quoted CSV fields (commas, doubled quotes, line breaks) whatever the chunking', async () => {
    const expected = [
      ['id', 'name', 'vec'],
      ['1', 'a, "quoted" name', '1;2'],
      ['2', 'two\nlines', '3;4'],
      ['3', 'plain', '5;6'],
    ];
    for (const size of [1, 2, 7, 1000]) {
      const { records, malformed } = await allCsv(CSV, size);
      expect(records, `pieces of ${size}`).toEqual(expected);
      expect(malformed).toEqual([]);
    }
  });

  it('reads CRLF line endings and keeps ";" inside a cell rather than guessing it is the delimiter', async () => {
    const { records } = await allCsv('a,b\r\n1;2;3,x\r\n4;5;6,y\r\n', 5);
    expect(records).toEqual([
      ['a', 'b'],
      ['1;2;3', 'x'],
      ['4;5;6', 'y'],
    ]);
  });

  it('marks a record with a broken quote as malformed', async () => {
    const { records, malformed } = await allCsv('a,b\n1,"open\n', 100);
    expect(records).toHaveLength(2);
    expect(malformed).toEqual([[1, expect.stringMatching(/^malformed CSV/)]]);
  });

  it('gives JSON lines one by one, a last line without a line break included', async () => {
    const lines: string[] = [];
    for await (const chunk of jsonLines(pieces('{"a":1}\n\n{"a":2}\r\n{"a":3}', 3)))
      lines.push(...chunk.records);
    expect(lines).toEqual(['{"a":1}', '', '{"a":2}\r', '{"a":3}']);
  });

  it('tells the format by extension, or refuses to guess', () => {
    expect(formatOf('rows.CSV')).toBe('csv');
    expect(formatOf('rows.jsonl')).toBe('jsonl');
    expect(formatOf('rows.ndjson')).toBe('jsonl');
    expect(formatOf('rows.txt', 'csv')).toBe('csv');
    expect(() => formatOf('rows.txt')).toThrow(/give --format csv or jsonl/);
  });
});
