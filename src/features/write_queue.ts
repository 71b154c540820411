import { InferCacheError } from '../errors.js';
import type { LoadRow } from './load_row.js';

/** What became of a batch: rows stored, rows kept out by a newer stored row, and why others failed. */
export interface SinkResult {
  readonly written: number;
  readonly skippedOlder: number;
  readonly failure?: InferCacheError;
}

/** Where loaded rows go: Redis directly, or a sidecar's PutFeatures. */
export interface RowSink {
  /** Stores a batch; a batch that failed whole may reject. Writing rows again is safe. */
  write(rows: readonly LoadRow[]): Promise<SinkResult>;
}

/**
 * Batches on their way to a sink, at most `limit` at once: add() waits for a
 * free slot, which is what holds the reading of the file back. After a
 * failed write nothing more is sent; the writes already out are awaited.
 */
export class WriteQueue {
  written = 0;
  skippedOlder = 0;
  failure: InferCacheError | undefined;
  readonly #sink: RowSink;
  readonly #limit: number;
  readonly #pending = new Set<Promise<void>>();

  constructor(sink: RowSink, limit: number) {
    this.#sink = sink;
    this.#limit = limit;
  }

  async add(rows: readonly LoadRow[]): Promise<void> {
    while (this.#pending.size >= this.#limit) await Promise.race(this.#pending);
    if (this.failure !== undefined) return;
    const write = this.#sink.write(rows).then(
      (done) => {
        this.written += done.written;
        this.skippedOlder += done.skippedOlder;
        if (done.failure !== undefined) this.failure ??= done.failure;
      },
      (error: unknown) => {
        this.failure ??=
          error instanceof InferCacheError
            ? error
            : new InferCacheError('E_UNAVAILABLE', error instanceof Error ? error.message : String(error), {
                cause: error,
              });
      },
    );
    const tracked: Promise<void> = write.finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** Resolves when every batch sent has been answered. */
  async drain(): Promise<void> {
    await Promise.all(this.#pending);
  }
}
