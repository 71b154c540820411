import { describe, expect, it } from 'vitest';
import { InferCacheError } from '../../src/errors.js';
import { ModelRunError, type NamedTensor } from '../../src/model/pool.js';
import { type QueueClock, type RunOrder, RunQueue } from '../../src/model/run_queue.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { DType } from '../../src/tensor/dtypes.js';
import { metricValue } from '../helpers/metrics.js';

// The run queue's batching with a fake pool: runs are held until the test
// lets them finish, so what joins what is decided by the order of calls,
// never by time.

const COLS = 2;

interface HeldRun {
  readonly sessionKey: string;
  readonly feeds: readonly NamedTensor[];
  readonly rows: number;
  finish(): void;
}

/** One worker; a run multiplies its input by 10, or fails as `fail` says. */
class FakePool {
  readonly workers = 1;
  readonly runs: HeldRun[] = [];
  fail: (feeds: readonly NamedTensor[]) => Error | undefined = () => undefined;
  /** Answers for a batch as a model whose rows are not independent would (one row for all). */
  collapse = false;

  run(sessionKey: string, _path: string, feeds: readonly NamedTensor[]): Promise<NamedTensor[]> {
    return new Promise((resolve, reject) => {
      const x = feeds[0] as NamedTensor;
      const rows = x.dims[0] as number;
      this.runs.push({
        sessionKey,
        feeds,
        rows,
        finish: () => {
          const error = this.fail(feeds);
          if (error !== undefined) return reject(error);
          const values = floats(x).map((v) => v * 10);
          const kept = this.collapse && rows > 1 ? values.slice(0, COLS) : values;
          resolve([{ name: 'y', dtype: DType.FLOAT32, dims: [kept.length / COLS, COLS], data: f32(kept) }]);
        },
      });
    });
  }

  /** Finishes the oldest run not yet finished, and lets the queue take the next. */
  async finishNext(): Promise<void> {
    const run = this.runs[this.#finished++];
    if (run === undefined) throw new Error('no run to finish');
    run.finish();
    await flush();
  }
  #finished = 0;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));
const f32 = (values: readonly number[]) => Buffer.from(Float32Array.from(values).buffer);
const floats = (t: NamedTensor) =>
  Array.from(new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)));

/** Rows whose values start at `first`: row r is [first + 2r, first + 2r + 1]. */
function rowsFrom(first: number, rows: number): number[] {
  return Array.from({ length: rows * COLS }, (_, i) => first + i);
}

function setup(
  opts: {
    maxQueue?: number;
    maxRows?: number;
    maxDelayMs?: number;
    maxRunRows?: number;
    clock?: QueueClock;
  } = {},
) {
  const pool = new FakePool();
  const metrics = createMetrics();
  const queue = new RunQueue(
    pool,
    {
      maxQueue: opts.maxQueue ?? 100,
      maxRunRows: opts.maxRunRows ?? 1024,
      batch: { maxRows: opts.maxRows ?? 64, maxDelayMs: opts.maxDelayMs ?? 0 },
    },
    metrics.model,
    ...(opts.clock ? [opts.clock] : []),
  );
  const order = (first: number, rows: number | undefined, extra: Partial<RunOrder> = {}): RunOrder => {
    const n = rows ?? 1;
    return {
      model: 'm',
      path: '/m.onnx',
      sessionKey: 'm#1',
      feeds: [{ name: 'x', dtype: DType.FLOAT32, dims: [n, COLS], data: f32(rowsFrom(first, n)) }],
      outputNames: ['y'],
      deadline: Date.now() + 600_000,
      signal: new AbortController().signal,
      runtimeChecksInput: true,
      ...(rows === undefined ? {} : { rows }),
      ...extra,
    };
  };
  const metric = async (name: string, labels: Record<string, string> = {}) =>
    metricValue(await metrics.registry.metrics(), name, { model: 'm', ...labels });
  // Calls that are meant to fail are awaited only after the run that fails
  // them, so each gets a handler at once (no unhandled rejection meanwhile).
  const run = (o: RunOrder) => {
    const call = queue.run(o);
    call.catch(() => {});
    return call;
  };
  const metricsText = () => metrics.registry.metrics();
  return { pool, queue: { run, close: () => queue.close() }, order, metric, metricsText };
}

/** What a caller gets: its own rows, times 10. */
const answer = (first: number, rows: number) => rowsFrom(first, rows).map((v) => v * 10);
const outputOf = async (p: Promise<NamedTensor[]>) => floats((await p)[0] as NamedTensor);
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof InferCacheError ? e.code : String(e)),
  );

describe('the run queue joins rows of concurrent calls', () => {
  it('joins the calls queued while the worker was busy into one run and gives each caller its own rows, in order', async () => {
    const { pool, queue, order, metric } = setup();
    const blocker = queue.run(order(0, 1));
    const b = queue.run(order(100, 2));
    const c = queue.run(order(200, 1));
    const d = queue.run(order(300, 3));
    await flush();
    expect(pool.runs.map((r) => r.rows)).toEqual([1]);
    await pool.finishNext();
    expect(pool.runs.map((r) => r.rows)).toEqual([1, 6]);
    expect(floats(pool.runs[1]?.feeds[0] as NamedTensor)).toEqual([
      ...rowsFrom(100, 2),
      ...rowsFrom(200, 1),
      ...rowsFrom(300, 3),
    ]);
    await pool.finishNext();
    expect(await outputOf(blocker)).toEqual(answer(0, 1));
    expect(await outputOf(b)).toEqual(answer(100, 2));
    expect(await outputOf(c)).toEqual(answer(200, 1));
    expect(await outputOf(d)).toEqual(answer(300, 3));
    expect((await b)[0]?.dims).toEqual([2, COLS]);
    expect(await metric('infercache_inference_batch_calls_sum')).toBe(4);
    expect(await metric('infercache_inference_batch_calls_count')).toBe(2);
    expect(await metric('infercache_inference_batch_rows_sum')).toBe(7);
  });

  it('never puts more rows in one run than the batch bound; a call over the bound runs alone', async () => {
    const { pool, queue, order } = setup({ maxRows: 4 });
    const calls = [queue.run(order(0, 1))];
    for (const [first, rows] of [
      [10, 1],
      [20, 2],
      [30, 2],
      [40, 5],
      [50, 1],
      [60, 1],
    ] as const)
      calls.push(queue.run(order(first, rows)));
    await flush();
    for (let i = 0; i < 5; i++) await pool.finishNext();
    // In arrival order: 1+2 (the next 2 would make 5), 2, 5 alone, 1+1.
    expect(pool.runs.map((r) => r.rows)).toEqual([1, 3, 2, 5, 2]);
    await Promise.all(calls);
  });

  it('caps a batch at the rows of one run (INFERCACHE_MAX_RUN_ROWS) even when the batch bound is larger', async () => {
    const { pool, queue, order } = setup({ maxRows: 64, maxRunRows: 3 });
    const calls = [queue.run(order(0, 1))];
    for (let i = 1; i <= 5; i++) calls.push(queue.run(order(i * 10, 1)));
    await flush();
    for (let i = 0; i < 3; i++) await pool.finishNext();
    expect(pool.runs.map((r) => r.rows)).toEqual([1, 3, 2]);
    await Promise.all(calls);
  });

  it('uses the batch bound a model sets for itself over the default', async () => {
    const { pool, queue, order } = setup({ maxRows: 64 });
    const calls = [queue.run(order(0, 1, { batch: { maxRows: 2 } }))];
    for (let i = 1; i <= 4; i++) calls.push(queue.run(order(i * 10, 1, { batch: { maxRows: 2 } })));
    await flush();
    for (let i = 0; i < 3; i++) await pool.finishNext();
    expect(pool.runs.map((r) => r.rows)).toEqual([1, 2, 2]);
    await Promise.all(calls);
  });

  it('keeps apart calls to other sessions, with other row shapes, or whose rows are not independent', async () => {
    const { pool, queue, order } = setup();
    const blocker = queue.run(order(0, 1));
    const a = queue.run(order(10, 1));
    const otherSession = queue.run(order(20, 1, { sessionKey: 'm#2' }));
    const whole = queue.run(order(30, undefined));
    const wide = order(40, 1);
    const wider = queue.run({
      ...wide,
      feeds: [{ ...(wide.feeds[0] as NamedTensor), dims: [1, 1, COLS] }],
    });
    const b = queue.run(order(50, 1));
    await flush();
    for (let i = 0; i < 5; i++) await pool.finishNext();
    expect(pool.runs.map((r) => [r.sessionKey, r.rows, r.feeds[0]?.dims.length])).toEqual([
      ['m#1', 1, 2],
      ['m#1', 2, 2],
      ['m#2', 1, 2],
      ['m#1', 1, 2],
      ['m#1', 1, 3],
    ]);
    expect(await outputOf(b)).toEqual(answer(50, 1));
    await Promise.all([blocker, a, otherSession, whole, wider]);
  });

  it("drops a cancelled call's rows from a batch that has not started; the other calls still run", async () => {
    const { pool, queue, order } = setup();
    const blocker = queue.run(order(0, 1));
    const gone = new AbortController();
    const b = queue.run(order(100, 2));
    const cancelled = queue.run(order(200, 1, { signal: gone.signal }));
    const d = queue.run(order(300, 1));
    await flush();
    gone.abort();
    expect(await codeOf(cancelled)).toBe('E_CANCELLED');
    await pool.finishNext();
    expect(pool.runs.map((r) => r.rows)).toEqual([1, 3]);
    await pool.finishNext();
    expect(await outputOf(b)).toEqual(answer(100, 2));
    expect(await outputOf(d)).toEqual(answer(300, 1));
    await blocker;
  });

  it('drops from a batch the rows of a call whose deadline passed while it waited; the other calls still run', async () => {
    const { pool, queue, order, metric } = setup();
    const blocker = queue.run(order(0, 1));
    const b = queue.run(order(100, 1));
    const late = queue.run(order(200, 4, { deadline: Date.now() - 1 }));
    const d = queue.run(order(300, 1));
    await flush();
    await pool.finishNext();
    expect(await codeOf(late)).toBe('E_DEADLINE_EXCEEDED');
    expect(pool.runs.map((r) => r.rows)).toEqual([1, 2]);
    await pool.finishNext();
    expect(await outputOf(b)).toEqual(answer(100, 1));
    expect(await outputOf(d)).toEqual(answer(300, 1));
    await blocker;
    expect(await metric('infercache_inference_errors_total', { reason: 'E_DEADLINE_EXCEEDED' })).toBe(1);
  });

  it('refuses a call past the queue bound with E_OVERLOADED, whatever batch it could have joined', async () => {
    const { pool, queue, order, metricsText } = setup({ maxQueue: 2 });
    const blocker = queue.run(order(0, 1));
    await flush();
    const waiting = [queue.run(order(10, 1)), queue.run(order(20, 1))];
    expect(metricValue(await metricsText(), 'infercache_inference_queue_depth')).toBe(2);
    const refused = queue.run(order(30, 1));
    await expect(refused).rejects.toThrow(/inference queue is full \(2 runs waiting\)/);
    expect(await codeOf(refused)).toBe('E_OVERLOADED');
    await pool.finishNext();
    await pool.finishNext();
    await Promise.all([blocker, ...waiting]);
  });

  it("runs a failed batch's calls one by one, so one call's bad rows fail that call only", async () => {
    const { pool, queue, order, metric } = setup();
    pool.fail = (feeds) =>
      floats(feeds[0] as NamedTensor).includes(-1) ? new ModelRunError('run', 'bad value -1') : undefined;
    const blocker = queue.run(order(0, 1));
    const b = queue.run(order(100, 1));
    const bad = queue.run({
      ...order(0, 1),
      feeds: [{ ...(order(0, 1).feeds[0] as NamedTensor), data: f32([-1, 5]) }],
    });
    const d = queue.run(order(300, 2));
    await flush();
    for (let i = 0; i < 5; i++) await pool.finishNext();
    expect(pool.runs.map((r) => r.rows)).toEqual([1, 4, 1, 1, 2]);
    expect(await outputOf(b)).toEqual(answer(100, 1));
    expect(await outputOf(d)).toEqual(answer(300, 2));
    await expect(bad).rejects.toThrow(/the model refused the input: bad value -1/);
    expect(await codeOf(bad)).toBe('E_INVALID_ARGUMENT');
    expect(await metric('infercache_inference_batches_run_apart_total')).toBe(1);
    await blocker;
  });

  it('fails every call of a batch whose session cannot load with that error', async () => {
    const { pool, queue, order } = setup();
    const blocker = queue.run(order(0, 1));
    const calls = [queue.run(order(10, 1)), queue.run(order(20, 1))];
    await flush();
    await pool.finishNext();
    pool.fail = () => new ModelRunError('load', 'no such file');
    await pool.finishNext();
    expect(pool.runs.map((r) => r.rows)).toEqual([1, 2]);
    for (const call of calls) await expect(call).rejects.toThrow(/model m run failed: no such file/);
    await blocker;
  });

  it('runs call by call a batch whose outputs do not have a row per input row', async () => {
    const { pool, queue, order } = setup();
    pool.collapse = true;
    const blocker = queue.run(order(0, 1));
    const b = queue.run(order(100, 1));
    const c = queue.run(order(200, 1));
    await flush();
    for (let i = 0; i < 4; i++) await pool.finishNext();
    expect(pool.runs.map((r) => r.rows)).toEqual([1, 2, 1, 1]);
    expect(await outputOf(b)).toEqual(answer(100, 1));
    expect(await outputOf(c)).toEqual(answer(200, 1));
    await blocker;
  });

  it('holds a partial batch for the delay while the worker is free, and starts a full one at once', async () => {
    let now = 0;
    const timers: { at: number; fn: () => void; live: boolean }[] = [];
    const clock: QueueClock = {
      now: () => now,
      later: (fn, ms) => {
        const timer = { at: now + ms, fn, live: true };
        timers.push(timer);
        return () => {
          timer.live = false;
        };
      },
    };
    const { pool, queue, order } = setup({ maxRows: 4, maxDelayMs: 5, clock });
    const first = [queue.run(order(0, 1)), queue.run(order(10, 2))];
    await flush();
    expect(pool.runs).toHaveLength(0);
    first.push(queue.run(order(20, 1)));
    await flush();
    expect(pool.runs.map((r) => r.rows)).toEqual([4]);
    await pool.finishNext();
    const late = queue.run(order(30, 1));
    await flush();
    expect(pool.runs).toHaveLength(1);
    const pending = timers.filter((t) => t.live);
    expect(pending.map((t) => t.at)).toEqual([5]);
    now = 5;
    pending[0]?.fn();
    await flush();
    expect(pool.runs.map((r) => r.rows)).toEqual([4, 1]);
    await pool.finishNext();
    expect(await outputOf(late)).toEqual(answer(30, 1));
    await Promise.all(first);
  });

  it('rejects every waiting call with E_SHUTTING_DOWN on close', async () => {
    const { pool, queue, order } = setup();
    const blocker = queue.run(order(0, 1));
    const waiting = [queue.run(order(10, 1)), queue.run(order(20, 1))];
    await flush();
    queue.close();
    for (const call of waiting) expect(await codeOf(call)).toBe('E_SHUTTING_DOWN');
    await pool.finishNext();
    await blocker;
    expect(pool.runs).toHaveLength(1);
  });
});
