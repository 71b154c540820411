import { InferCacheError } from '../errors.js';
import type { Metrics } from '../ops/metrics.js';
import { joinRows, sliceRows, splitByRows } from './batch_rows.js';
import { Batcher, type BatchPolicy, type Queued } from './batcher.js';
import { type InferencePool, ModelRunError, type NamedTensor } from './pool.js';

/** One model run as a caller orders it. */
export interface RunOrder {
  /** Model name, for metrics and messages. */
  readonly model: string;
  readonly path: string;
  /** The session the run uses (model/session_release.ts sessionKey). */
  readonly sessionKey: string;
  readonly feeds: readonly NamedTensor[];
  readonly outputNames: readonly string[];
  /** Epoch ms; a run still waiting then is dropped, never started. */
  readonly deadline: number;
  /** Aborting drops the run while it waits; its reason is what the caller gets. */
  readonly signal: AbortSignal;
  /**
   * True when the model leaves some input shape undeclared: then only the
   * runtime checks the input, and its refusal is the caller's error.
   */
  readonly runtimeChecksInput: boolean;
  /**
   * Rows on axis 0, when the rows are independent (a row-cached model): a
   * run of more rows than the queue's limit is split into runs of at most
   * that many, queued one after the other, and the outputs joined; and the
   * rows may share a run with other calls' rows of the same session.
   */
  readonly rows?: number;
  /** The model's own batching, where it differs from the queue's defaults. */
  readonly batch?: Partial<BatchPolicy>;
}

/** Time as the queue sees it; tests drive it by hand. */
export interface QueueClock {
  now(): number;
  /** Calls `fn` after `ms`; the function returned cancels it. */
  later(fn: () => void, ms: number): () => void;
}

const realClock: QueueClock = {
  now: () => performance.now(),
  later: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

export interface QueueLimits {
  readonly maxQueue: number;
  readonly maxRunRows: number;
  /** Defaults for every model (a model's order may carry its own). */
  readonly batch: BatchPolicy;
}

interface Waiting extends Queued {
  readonly order: RunOrder;
  readonly resolve: (outputs: NamedTensor[]) => void;
  readonly reject: (error: unknown) => void;
  readonly onAbort: () => void;
}

/**
 * The bounded queue in front of the workers. Runs wait here, not inside the
 * worker pool, so a run whose caller gave up (cancelled, deadline passed,
 * server shutting down) is dropped before it costs a worker anything: with
 * 12 queued 8192-row runs and a 1 s grace, shutdown used to take 17 s while
 * the runs of cancelled calls still executed. Waiting runs of one model
 * version whose rows are independent are joined into one run when a worker
 * takes them (model/batcher.ts): one run of 64 rows of the heavy model costs
 * far less than 64 runs of one row (README, Performance).
 */
export class RunQueue {
  readonly #pool: Pick<InferencePool, 'workers' | 'run'>;
  readonly #limits: QueueLimits;
  readonly #metrics: Metrics['model'];
  readonly #clock: QueueClock;
  readonly #waiting = new Batcher<Waiting>();
  #running = 0;
  #closed = false;
  #cancelWake: (() => void) | undefined;

  constructor(
    pool: Pick<InferencePool, 'workers' | 'run'>,
    limits: QueueLimits,
    metrics: Metrics['model'],
    clock: QueueClock = realClock,
  ) {
    this.#pool = pool;
    this.#limits = limits;
    this.#metrics = metrics;
    this.#clock = clock;
  }

  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Runs the order, in pieces of at most maxRunRows rows when its rows are
   * independent: a run in progress cannot be stopped, so the pieces bound
   * how long a cancelled call or a shutdown waits for one. Pieces go one
   * after the other, each to the back of the queue, so other requests' runs
   * take turns between them; only the first is held to the queue limit (the
   * rest take the place of the one before).
   */
  async run(order: RunOrder): Promise<NamedTensor[]> {
    const rows = order.rows;
    const maxRunRows = this.#limits.maxRunRows;
    if (rows === undefined || rows <= maxRunRows) return this.#runOne(order, true);
    const outputs: NamedTensor[][] = [];
    for (let start = 0; start < rows; start += maxRunRows) {
      const end = Math.min(rows, start + maxRunRows);
      const feeds = order.feeds.map((f) => sliceRows(f, start, end, rows));
      outputs.push(await this.#runOne({ ...order, feeds, rows: end - start }, start === 0));
    }
    return joinRows(outputs);
  }

  #runOne(order: RunOrder, limited: boolean): Promise<NamedTensor[]> {
    const refuse = (error: InferCacheError) => {
      this.#metrics.inferenceErrors.labels(order.model, error.code).inc();
      return Promise.reject(error);
    };
    if (this.#closed) return refuse(new InferCacheError('E_SHUTTING_DOWN', 'the server is shutting down'));
    if (order.signal.aborted) return refuse(abortError(order.signal));
    if (limited && this.#waiting.size >= this.#limits.maxQueue) {
      return refuse(
        new InferCacheError(
          'E_OVERLOADED',
          `inference queue is full (${this.#limits.maxQueue} runs waiting)`,
        ),
      );
    }
    const policy = this.#policy(order);
    return new Promise<NamedTensor[]>((resolve, reject) => {
      const item: Waiting = {
        order,
        group: batchGroup(order, policy),
        rows: order.rows ?? 1,
        policy,
        queuedAt: this.#clock.now(),
        resolve,
        reject,
        onAbort: () => {
          if (!this.#waiting.delete(item)) return;
          this.#depthChanged();
          const error = abortError(order.signal);
          this.#metrics.inferenceErrors.labels(order.model, error.code).inc();
          reject(error);
        },
      };
      order.signal.addEventListener('abort', item.onAbort, { once: true });
      this.#waiting.add(item);
      this.#pump();
      this.#depthChanged();
    });
  }

  /** Refuses new runs and drops every waiting one; runs in progress finish. */
  close(): void {
    this.#closed = true;
    this.#cancelWake?.();
    for (const item of this.#waiting.drain()) {
      item.order.signal.removeEventListener('abort', item.onAbort);
      this.#metrics.inferenceErrors.labels(item.order.model, 'E_SHUTTING_DOWN').inc();
      item.reject(new InferCacheError('E_SHUTTING_DOWN', 'the server is shutting down'));
    }
    this.#depthChanged();
  }

  #depthChanged(): void {
    this.#metrics.queueDepth.set(this.#waiting.size);
  }

  /** The order's batching: the model's own over the defaults, never past maxRunRows. */
  #policy(order: RunOrder): BatchPolicy {
    const defaults = this.#limits.batch;
    return {
      maxRows: Math.min(order.batch?.maxRows ?? defaults.maxRows, this.#limits.maxRunRows),
      maxDelayMs: order.batch?.maxDelayMs ?? defaults.maxDelayMs,
    };
  }

  #pump(): void {
    this.#cancelWake?.();
    this.#cancelWake = undefined;
    const expired = (item: Waiting) => Date.now() >= item.order.deadline;
    while (this.#running < this.#pool.workers) {
      const taken = this.#waiting.take(this.#clock.now(), expired);
      if (taken === undefined) return;
      if (typeof taken === 'number') {
        this.#cancelWake = this.#clock.later(
          () => {
            this.#cancelWake = undefined;
            this.#pump();
            this.#depthChanged();
          },
          Math.max(0, taken - this.#clock.now()),
        );
        return;
      }
      for (const item of taken.expired) {
        item.order.signal.removeEventListener('abort', item.onAbort);
        this.#metrics.inferenceErrors.labels(item.order.model, 'E_DEADLINE_EXCEEDED').inc();
        item.reject(new InferCacheError('E_DEADLINE_EXCEEDED', 'deadline passed while the model run waited'));
      }
      if (taken.run.length > 0) this.#start(taken.run);
    }
  }

  #start(members: Waiting[]): void {
    const first = members[0] as Waiting;
    const { order } = first;
    const started = this.#clock.now();
    for (const m of members) {
      m.order.signal.removeEventListener('abort', m.onAbort);
      this.#metrics.queueWait.labels(order.model).observe((started - m.queuedAt) / 1000);
    }
    // One member runs its own feeds untouched (they are transferred, not copied).
    const alone = members.length === 1;
    const feeds = alone ? order.feeds : joinRows(members.map((m) => m.order.feeds));
    const rows = members.reduce((n, m) => n + m.rows, 0);
    this.#running++;
    this.#pool.run(order.sessionKey, order.path, feeds, order.outputNames).then(
      (outputs) => {
        this.#finish(order.model, started, rows, members.length);
        if (alone) return first.resolve(outputs);
        const parts = splitByRows(
          outputs,
          members.map((m) => m.rows),
        );
        // Outputs that do not split by rows: each call runs alone and gets its own answer.
        if (parts === undefined) return this.#runApart(members);
        members.forEach((m, i) => {
          m.resolve(parts[i] as NamedTensor[]);
        });
      },
      (error: unknown) => {
        this.#finish(order.model, started, rows, members.length);
        // One call's bad rows must not fail the others': each runs alone
        // and gets its own error (or answer). A session that cannot load
        // fails them all alike.
        if (!alone && error instanceof ModelRunError && error.stage === 'run') return this.#runApart(members);
        for (const m of members) {
          const mapped = mapRunError(m.order, error);
          this.#metrics.inferenceErrors.labels(m.order.model, mapped.code).inc();
          m.reject(mapped);
        }
      },
    );
  }

  /** The members of a failed batch, back at the head of the line to run one by one. */
  #runApart(members: readonly Waiting[]): void {
    this.#metrics.batchesRunApart.labels((members[0] as Waiting).order.model).inc();
    for (const m of members) {
      if (this.#closed || m.order.signal.aborted) {
        const error = this.#closed
          ? new InferCacheError('E_SHUTTING_DOWN', 'the server is shutting down')
          : abortError(m.order.signal);
        this.#metrics.inferenceErrors.labels(m.order.model, error.code).inc();
        m.reject(error);
        continue;
      }
      m.order.signal.addEventListener('abort', m.onAbort, { once: true });
      this.#waiting.addFirst(m);
    }
    this.#pump();
    this.#depthChanged();
  }

  #finish(model: string, started: number, rows: number, calls: number): void {
    this.#running--;
    this.#metrics.inferenceDuration.labels(model).observe((this.#clock.now() - started) / 1000);
    this.#metrics.inferenceBatchRows.labels(model).observe(rows);
    this.#metrics.batchCalls.labels(model).observe(calls);
    this.#pump();
    this.#depthChanged();
  }
}

/**
 * Runs may join when they use the same session for the same outputs and
 * their feeds differ only in rows: same names, dtypes and row shapes (a
 * dynamic axis after the batch axis can differ between calls).
 */
function batchGroup(order: RunOrder, policy: BatchPolicy): string | undefined {
  if (order.rows === undefined || order.rows < 1 || policy.maxRows <= 1) return undefined;
  const feeds = order.feeds.map((f) => `${f.name}:${f.dtype}:${f.dims.slice(1).join('x')}`);
  return [order.sessionKey, order.outputNames.join(','), order.runtimeChecksInput, ...feeds].join('\0');
}

function abortError(signal: AbortSignal): InferCacheError {
  const reason: unknown = signal.reason;
  if (reason instanceof InferCacheError) return reason;
  return new InferCacheError('E_CANCELLED', 'the call was cancelled');
}

function mapRunError(order: RunOrder, error: unknown): InferCacheError {
  if (error instanceof ModelRunError && error.stage === 'run' && order.runtimeChecksInput) {
    return new InferCacheError('E_INVALID_ARGUMENT', `the model refused the input: ${error.message}`, {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new InferCacheError('E_INFERENCE_FAILED', `model ${order.model} run failed: ${message}`, {
    cause: error,
  });
}
