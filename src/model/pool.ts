import { Piscina } from 'piscina';
import type { DType } from '../tensor/dtypes.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { exactBuffer, type RunResult, type RunTask, type WorkerSettings } from './run_task.js';

export interface PoolOptions {
  readonly workers: number;
  readonly intraOpThreads: number;
  /** Sessions every worker creates at start (key: model/session_release.ts sessionKey). */
  readonly preload: readonly { readonly key: string; readonly path: string }[];
}

export interface NamedTensor extends HostTensor {
  readonly name: string;
}

/** A model run that a worker reported as failed, with the stage that failed. */
export class ModelRunError extends Error {
  readonly stage: 'load' | 'run';
  constructor(stage: 'load' | 'run', message: string) {
    super(message);
    this.name = 'ModelRunError';
    this.stage = stage;
  }
}

/**
 * A fixed pool of worker threads that own the ONNX sessions (see
 * session_worker.ts). It holds no queue of its own: model/run_queue.ts hands
 * it at most one run per worker, so waiting runs stay where they can still be
 * cancelled.
 */
export class InferencePool {
  readonly #piscina: Piscina<RunTask, RunResult>;
  readonly workers: number;

  constructor(options: PoolOptions) {
    const workerData: WorkerSettings = { intraOpThreads: options.intraOpThreads, preload: options.preload };
    this.workers = options.workers;
    this.#piscina = new Piscina({
      filename: new URL('./session_worker.js', import.meta.url).href,
      minThreads: options.workers,
      maxThreads: options.workers,
      // One task per worker at a time: a session run already uses the
      // worker's intra-op threads, so a second concurrent run only contends.
      concurrentTasksPerWorker: 1,
      maxQueue: options.workers,
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData,
    });
  }

  /**
   * Runs one model on the feeds; resolves with the named outputs in order.
   * A feed whose buffer is exactly its own ArrayBuffer is transferred to the
   * worker (detached here), so callers must not read feeds after this call.
   * Rejects with ModelRunError when the worker reports a failure.
   */
  async run(
    sessionKey: string,
    modelPath: string,
    feeds: readonly NamedTensor[],
    outputNames: readonly string[],
  ): Promise<NamedTensor[]> {
    const wire = feeds.map((f) => ({
      name: f.name,
      dtype: f.dtype,
      dims: f.dims,
      data: exactBuffer(f.data),
    }));
    const result = await this.#piscina.run(
      { sessionKey, modelPath, feeds: wire, outputNames },
      { transferList: wire.map((w) => w.data) },
    );
    if (!result.ok) throw new ModelRunError(result.stage, result.message);
    return result.outputs.map((o) => ({
      name: o.name,
      dtype: o.dtype as DType,
      dims: o.dims,
      data: Buffer.from(o.data),
    }));
  }

  /** Waits for the runs in progress, then stops the workers. */
  async close(): Promise<void> {
    await this.#piscina.close({ force: false });
  }
}
