import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../ops/logger.js';
import type { TraceMetrics } from '../ops/metrics.js';

/** Why a line was not written: the file was busy and the buffer full, the file reached its bound, or it failed. */
type DropReason = 'backpressure' | 'max_bytes' | 'error';

export interface TraceWriterOptions {
  /** The file's bound in bytes: no line goes past it, and none is written after the first that would. */
  readonly maxBytes: number;
  /** Lines held in memory while the file is busy, in bytes; past it new lines are dropped. */
  readonly bufferBytes?: number;
  /** Lines go to the file in chunks of about this many bytes... */
  readonly chunkBytes?: number;
  /** ...and at least this often, so a quiet trace still reaches the disk. */
  readonly flushMs?: number;
  /**
   * The line that ends the file, made when it ends (at its bound, or on
   * close): at most LAST_LINE_ROOM bytes, for which room is kept.
   */
  readonly lastLine?: () => string;
}

const KiB = 1024;
/** Bytes kept free under the bound for the last line. */
export const LAST_LINE_ROOM = 128;
const CLOSE_WAIT_MS = 2000;

/**
 * A line file written from the hit path without slowing it: append() only
 * pushes a string onto an array; the lines go to the stream in chunks, one
 * chunk at a time (the next waits for 'drain'), so a slow disk makes the
 * buffer fill rather than the stream's own queue grow. A full buffer drops
 * lines, counted by reason, never grows. Lines must be ASCII: their lengths
 * are their bytes.
 */
export class TraceWriter {
  readonly #stream: Writable;
  readonly #path: string;
  readonly #maxBytes: number;
  /** What the lines before the last may take: the bound less the room kept for the last. */
  readonly #linesBytes: number;
  readonly #bufferBytes: number;
  readonly #chunkBytes: number;
  readonly #metrics: TraceMetrics;
  readonly #dropped: Record<DropReason, { inc(n?: number): void }>;
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout;
  readonly #lastLine: (() => string) | undefined;
  #lines: string[] = [];
  /** Bytes in #lines. */
  #buffered = 0;
  /** Bytes written or buffered: what the file will hold. */
  #taken = 0;
  /** A chunk is in the stream and it asked for a wait ('drain'). */
  #busy = false;
  #state: 'open' | 'full' | 'failed' | 'closed' = 'open';

  constructor(
    stream: Writable,
    path: string,
    options: TraceWriterOptions,
    metrics: TraceMetrics,
    log: Logger,
  ) {
    this.#stream = stream;
    this.#path = path;
    this.#lastLine = options.lastLine;
    this.#maxBytes = options.maxBytes;
    this.#linesBytes = options.maxBytes - (options.lastLine === undefined ? 0 : LAST_LINE_ROOM);
    this.#chunkBytes = options.chunkBytes ?? 64 * KiB;
    this.#bufferBytes = Math.max(options.bufferBytes ?? 1024 * KiB, 2 * this.#chunkBytes);
    this.#metrics = metrics;
    // Children found once: after the bound, every traced lookup counts a drop.
    this.#dropped = {
      backpressure: metrics.dropped.labels('backpressure'),
      max_bytes: metrics.dropped.labels('max_bytes'),
      error: metrics.dropped.labels('error'),
    };
    this.#log = log;
    stream.on('error', (error) => this.#fail(error));
    stream.on('drain', () => {
      this.#busy = false;
      if (this.#buffered >= this.#chunkBytes) this.#flush();
    });
    this.#timer = setInterval(() => this.#flush(), options.flushMs ?? 1000);
    this.#timer.unref();
  }

  /** Queues `line` (ending in a newline); false when it was dropped. */
  append(line: string): boolean {
    if (this.#state !== 'open') {
      if (this.#state === 'full') this.#drop('max_bytes');
      else if (this.#state === 'failed') this.#drop('error');
      return false;
    }
    if (this.#taken + line.length > this.#linesBytes) {
      this.#state = 'full';
      this.#end();
      this.#log.warn(
        { file: this.#path, maxBytes: this.#maxBytes },
        'trace file reached its size bound: recording stopped',
      );
      this.#drop('max_bytes');
      this.#flush();
      return false;
    }
    if (this.#buffered + line.length > this.#bufferBytes) {
      this.#drop('backpressure');
      return false;
    }
    this.#lines.push(line);
    this.#buffered += line.length;
    this.#taken += line.length;
    if (this.#buffered >= this.#chunkBytes) this.#flush();
    return true;
  }

  /** Writes what is buffered and closes the file; waits at most a couple of seconds for a slow disk. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const failed = this.#state === 'failed';
    if (this.#state === 'open') this.#end();
    this.#state = 'closed';
    clearInterval(this.#timer);
    if (failed) return;
    // Written even while busy: the stream queues it, and the buffer is bounded.
    if (this.#buffered > 0) this.#write();
    const ended = new Promise<void>((resolve) => this.#stream.end(resolve));
    const gaveUp = new AbortController();
    await Promise.race([ended, sleep(CLOSE_WAIT_MS, undefined, { signal: gaveUp.signal }).catch(() => {})]);
    gaveUp.abort();
  }

  /** Buffers the last line, whatever the buffer holds: it is one line, and room was kept for it. */
  #end(): void {
    if (this.#lastLine === undefined) return;
    const line = this.#lastLine();
    this.#lines.push(line);
    this.#buffered += line.length;
    this.#taken += line.length;
  }

  #flush(): void {
    if (this.#busy || this.#buffered === 0 || this.#state === 'failed' || this.#state === 'closed') return;
    this.#write();
  }

  #write(): void {
    const chunk = this.#lines.join('');
    const lines = this.#lines.length;
    this.#lines = [];
    this.#buffered = 0;
    const ok = this.#stream.write(chunk, (error) => {
      if (error) this.#dropped.error.inc(lines);
      else this.#metrics.writtenBytes.inc(chunk.length);
    });
    this.#busy = !ok;
  }

  #drop(reason: DropReason): void {
    this.#dropped[reason].inc();
  }

  #fail(error: Error): void {
    if (this.#state === 'failed') return;
    this.#log.warn({ file: this.#path, err: error.message }, 'trace file write failed: recording stopped');
    this.#state = 'failed';
    this.#dropped.error.inc(this.#lines.length);
    this.#lines = [];
    this.#buffered = 0;
  }
}
