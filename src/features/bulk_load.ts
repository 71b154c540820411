import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { InferCacheError, limitExceeded } from '../errors.js';
import type { LoadRow } from './load_row.js';
import type { RowFormat } from './row_file.js';
import { goodRows } from './row_stream.js';
import type { FeatureView } from './view.js';
import { type RowSink, WriteQueue } from './write_queue.js';

export interface LoadOptions {
  readonly format: RowFormat;
  /** Rows per write. */
  readonly batchSize: number;
  /** Batches written at once; reading waits while this many are in flight. */
  readonly inFlight: number;
  /** The event time of a row that gives none (ms since the Unix epoch). */
  readonly eventTime: number;
  /** More rejected rows than this stop the load (Infinity: never). */
  readonly maxRejects: number;
  /** Reasons kept for the summary; every rejected row is counted. */
  readonly maxReasons?: number;
  /** Called after each chunk of the file is read. */
  readonly onProgress?: (progress: LoadProgress) => void;
}

export interface LoadProgress {
  readonly rowsRead: number;
  readonly bytesRead: number;
  readonly fileBytes: number;
}

export interface LoadSummary {
  readonly view: string;
  readonly rowsRead: number;
  /** Rows stored: each is one key written (a key given twice counts twice). */
  readonly written: number;
  /** Rows not stored because the stored row has a newer event time. */
  readonly skippedOlder: number;
  readonly rejected: number;
  /** The first reasons, e.g. "row 17: score: \"abc\" is not a number". */
  readonly reasons: readonly string[];
  readonly seconds: number;
  /** Why the load stopped before the end of the file; rows written until then stay. */
  readonly failure?: InferCacheError;
}

const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Loads a CSV or JSON-lines file into a view: each row checked against the
 * view (a bad row is counted with its reason and skipped; the load goes on),
 * good rows written in batches of `batchSize`, at most `inFlight` batches at
 * a time. Memory stays bounded whatever the file's size: the file is read a
 * chunk at a time, and no chunk is read while the writes are behind.
 * Throws before writing anything when the file cannot be read or its header
 * does not fit the view; resolves with the summary otherwise, `failure`
 * saying why it stopped early (a write failed, too many rows rejected). The
 * rows before the stop are loaded.
 */
export async function bulkLoad(
  view: FeatureView,
  path: string,
  sink: RowSink,
  options: LoadOptions,
): Promise<LoadSummary> {
  const started = performance.now();
  const fileBytes = await fileSize(path);
  const input = createReadStream(path, { encoding: 'utf8', highWaterMark: READ_CHUNK_BYTES });
  const maxReasons = options.maxReasons ?? 5;
  const queue = new WriteQueue(sink, options.inFlight);
  let rowsRead = 0;
  let rejected = 0;
  const reasons: string[] = [];
  let stop: InferCacheError | undefined;

  const rows = goodRows(view, options.format, options.eventTime, input, (decoded, unit, n) => {
    rowsRead++;
    if (typeof decoded !== 'string') return true;
    rejected++;
    if (reasons.length < maxReasons) reasons.push(`${unit} ${n}: ${decoded}`);
    if (rejected <= options.maxRejects) return true;
    stop = limitExceeded(
      `more than ${options.maxRejects} rows rejected (--max-rejects); stopped at ${unit} ${n}`,
    );
    return false;
  });
  try {
    let batch: LoadRow[] = [];
    for await (const chunk of rows) {
      for (const row of chunk) {
        batch.push(row);
        if (batch.length >= options.batchSize) {
          await queue.add(batch);
          batch = [];
        }
      }
      options.onProgress?.({ rowsRead, bytesRead: input.bytesRead, fileBytes });
      if (queue.failure !== undefined) break;
    }
    if (batch.length > 0) await queue.add(batch);
  } catch (error) {
    stop ??=
      error instanceof InferCacheError
        ? error
        : new InferCacheError('E_UNAVAILABLE', `reading ${path}: ${(error as Error).message}`, {
            cause: error,
          });
  } finally {
    input.destroy();
    await queue.drain();
  }
  const failure = queue.failure ?? stop;
  // Nothing read: the file does not fit the view (its header) or cannot be read.
  if (rowsRead === 0 && failure !== undefined) throw failure;
  return {
    view: view.name,
    rowsRead,
    written: queue.written,
    skippedOlder: queue.skippedOlder,
    rejected,
    reasons,
    seconds: (performance.now() - started) / 1000,
    ...(failure === undefined ? {} : { failure }),
  };
}

async function fileSize(path: string): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error('not a file');
    return s.size;
  } catch (error) {
    throw new InferCacheError('E_INVALID_ARGUMENT', `cannot read ${path}: ${(error as Error).message}`);
  }
}
