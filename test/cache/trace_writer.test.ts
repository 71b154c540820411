import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LAST_LINE_ROOM, TraceWriter } from '../../src/cache/trace_writer.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { memoryLog, WARN } from '../helpers/memory_log.js';
import { metricValue } from '../helpers/metrics.js';

/** A file whose writes finish only when released (or at once, once it is fast). */
class SlowFile extends Writable {
  text = '';
  #pending: (() => void)[] = [];
  #fast = false;

  constructor() {
    super({ highWaterMark: 16 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error) => void): void {
    this.text += chunk.toString('latin1');
    if (this.#fast) done();
    else this.#pending.push(done);
  }

  /** Finishes the writes waiting, and every later one at once. */
  fast(): void {
    this.#fast = true;
    for (const done of this.#pending.splice(0)) done();
  }

  release(): void {
    for (const done of this.#pending.splice(0)) done();
  }
}

/** Line `i`: 10 bytes. */
const line = (i: number) => `${String(i).padStart(9, '0')}\n`;

function writer(file: Writable, maxBytes = 1_000_000) {
  const metrics = createMetrics();
  const { log, lines: logs } = memoryLog();
  const w = new TraceWriter(
    file,
    'test.trace',
    { maxBytes, chunkBytes: 100, bufferBytes: 200 },
    metrics.trace,
    log,
  );
  const metric = async (name: string, labels: Record<string, string> = {}) =>
    metricValue(await metrics.registry.metrics(), name, labels);
  return { w, logs, metric };
}

describe('the trace writer', () => {
  it('holds lines while the file is busy, drops and counts what its buffer cannot hold, and writes the rest in order', async () => {
    const file = new SlowFile();
    const { w, metric } = writer(file);
    const kept: number[] = [];
    // 10 lines make a chunk, which goes to the file and keeps it busy; 20 more fill the buffer.
    for (let i = 0; i < 40; i++) if (w.append(line(i))) kept.push(i);
    expect(kept).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(file.text).toBe(kept.slice(0, 10).map(line).join(''));
    expect(await metric('infercache_trace_dropped_total', { reason: 'backpressure' })).toBe(10);

    file.release(); // 'drain': the buffer goes out, and there is room again.
    expect(w.append(line(40))).toBe(true);
    const closing = w.close();
    file.fast();
    await closing;
    expect(file.text).toBe([...kept, 40].map(line).join(''));
    expect(await metric('infercache_trace_written_bytes_total')).toBe(310);
  });

  it('stops at its size bound: nothing past it, one warning, every later line counted as dropped', async () => {
    const file = new SlowFile();
    file.fast();
    const { w, logs, metric } = writer(file, 95);
    let kept = 0;
    for (let i = 0; i < 20; i++) if (w.append(line(i))) kept++;
    await w.close();
    expect(kept).toBe(9);
    expect(file.text.length).toBe(90);
    expect(logs.filter((l) => l.level === WARN).map((l) => l.msg)).toEqual([
      'trace file reached its size bound: recording stopped',
    ]);
    expect(await metric('infercache_trace_dropped_total', { reason: 'max_bytes' })).toBe(11);
  });

  it('ends the file with its last line when the bound is reached, room kept for it under the bound', async () => {
    const file = new SlowFile();
    file.fast();
    const metrics = createMetrics();
    let made = 0;
    const lastLine = () => `# end after ${++made} call\n`;
    const w = new TraceWriter(
      file,
      'test.trace',
      { maxBytes: 95 + LAST_LINE_ROOM, lastLine },
      metrics.trace,
      memoryLog().log,
    );
    for (let i = 0; i < 20; i++) w.append(line(i));
    await w.close();
    expect(file.text).toBe(`${Array.from({ length: 9 }, (_, i) => line(i)).join('')}# end after 1 call\n`);
  });

  it('ends the file with its last line on close', async () => {
    const file = new SlowFile();
    file.fast();
    const w = new TraceWriter(
      file,
      'test.trace',
      { maxBytes: 1000, lastLine: () => '# end\n' },
      createMetrics().trace,
      memoryLog().log,
    );
    w.append(line(1));
    await w.close();
    w.append(line(2));
    await w.close();
    expect(file.text).toBe(`${line(1)}# end\n`);
  });

  it('stops recording on a write error, with one warning, counting what it drops', async () => {
    const file = new Writable({
      write: (_chunk, _encoding, done) => done(Object.assign(new Error('no space left'), { code: 'ENOSPC' })),
    });
    const { w, logs, metric } = writer(file);
    for (let i = 0; i < 10; i++) w.append(line(i));
    await new Promise((resolve) => setImmediate(resolve));
    expect(w.append(line(10))).toBe(false);
    await w.close();
    const warnings = logs.filter((l) => l.level === WARN);
    expect(warnings.map((l) => [l.msg, l.err])).toEqual([
      ['trace file write failed: recording stopped', 'no space left'],
    ]);
    // The 10 lines of the chunk that failed, and the one after.
    expect(await metric('infercache_trace_dropped_total', { reason: 'error' })).toBe(11);
    expect(await metric('infercache_trace_written_bytes_total')).toBe(0);
  });

  it('writes a quiet trace within its flush interval, before any chunk fills', async () => {
    const file = new SlowFile();
    file.fast();
    const metrics = createMetrics();
    const w = new TraceWriter(
      file,
      'test.trace',
      { maxBytes: 1000, flushMs: 20 },
      metrics.trace,
      memoryLog().log,
    );
    w.append(line(1));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(file.text).toBe(line(1));
    await w.close();
  });
});
