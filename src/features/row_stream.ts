import { invalidArgument } from '../errors.js';
import { csvDecoder, type Decoded, jsonDecoder, type LoadRow } from './load_row.js';
import { csvRecords, jsonLines, type RowFormat } from './row_file.js';
import type { FeatureView } from './view.js';

/**
 * Told of every record as it is decoded, with where it is ("row" counts a
 * CSV's data rows, header excluded; "line" is a JSON-lines file's line);
 * answers whether to keep reading.
 */
export type RecordObserver = (decoded: Decoded, unit: 'row' | 'line', n: number) => boolean;

const NOT_BLANK = /\S/;

/**
 * The good rows of a file's text, a chunk at a time; every record, good or
 * not, goes to `observe`. Stops right after the record `observe` says no to.
 * Throws (invalid argument) for a CSV whose header does not fit the view.
 */
export async function* goodRows(
  view: FeatureView,
  format: RowFormat,
  eventTime: number,
  text: AsyncIterable<string>,
  observe: RecordObserver,
): AsyncGenerator<LoadRow[]> {
  if (format === 'jsonl') {
    const decode = jsonDecoder(view, eventTime);
    let line = 0;
    for await (const chunk of jsonLines(text)) {
      const rows: LoadRow[] = [];
      for (const record of chunk.records) {
        line++;
        if (!NOT_BLANK.test(record)) continue;
        const decoded = decode(record);
        if (typeof decoded !== 'string') rows.push(decoded);
        if (!observe(decoded, 'line', line)) return yield rows;
      }
      yield rows;
    }
    return;
  }
  let decode: ((cells: readonly string[]) => Decoded) | undefined;
  let row = 0;
  for await (const chunk of csvRecords(text)) {
    const rows: LoadRow[] = [];
    for (let i = 0; i < chunk.records.length; i++) {
      const cells = chunk.records[i] as string[];
      const malformed = chunk.malformed.get(i);
      if (decode === undefined) {
        if (malformed !== undefined) throw invalidArgument(`header: ${malformed}`);
        decode = csvDecoder(view, cells, eventTime);
        continue;
      }
      row++;
      const decoded = malformed ?? decode(cells);
      if (typeof decoded !== 'string') rows.push(decoded);
      if (!observe(decoded, 'row', row)) return yield rows;
    }
    yield rows;
  }
  if (decode === undefined) throw invalidArgument('the file is empty: a CSV file starts with a header row');
}
