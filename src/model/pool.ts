import { randomUUID } from 'node:crypto';
import { Piscina } from 'piscina';
import type { DType } from '../tensor/dtypes.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import {
  exactBuffer,
  type RunResult,
  type RunTask,
  type WorkerReady,
  type WorkerSettings,
} from './run_task.js';
import { WORKER_READY_CHANNEL } from './session_release.js';

// How long close() waits for workers still loading their sessions.
const START_WAIT_MS = 60_000;

export interface PoolOptions {
  readonly workers: number;
  readonly intraOpThreads: number;
  /** Added to each worker thread's nice value (INFERCACHE_INFERENCE_NICE). */
  readonly nice: number;
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
  readonly #started: Promise<number[]>;
  readonly workers: number;

  constructor(options: PoolOptions) {
    const readyToken = randomUUID();
    const workerData: WorkerSettings = {
      intraOpThreads: options.intraOpThreads,
      nice: options.nice,
      readyToken,
      preload: options.preload,
    };
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
    this.#started = workersStarted(options.workers, readyToken);
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

  /** Resolves, once every worker has started, with each worker thread's nice value. */
  started(): Promise<readonly number[]> {
    return this.#started;
  }

  /**
   * Waits for the workers to finish starting and for the runs in progress,
   * then stops the workers. A worker stopped while onnxruntime still loads a
   * session in it aborts the whole process (a native exception with no
   * JavaScript left to catch it): a sidecar that failed to start (its port
   * taken, say) right after creating the pool exited on SIGABRT instead of
   * with its error.
   */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, START_WAIT_MS);
    });
    await Promise.race([this.#started, waited]);
    clearTimeout(timer);
    await this.#piscina.close({ force: false });
  }
}

/**
 * Resolves once `workers` workers of the pool `token` names have said they
 * started (session_worker.ts), with the nice value each reported.
 */
function workersStarted(workers: number, token: string): Promise<number[]> {
  const channel = new BroadcastChannel(WORKER_READY_CHANNEL);
  // Not what keeps the process alive: the workers are.
  (channel as unknown as { unref(): void }).unref();
  const priorities: number[] = [];
  return new Promise((resolve) => {
    channel.onmessage = (event: { data: unknown }) => {
      const ready = event.data as WorkerReady | null;
      if (ready?.token !== token) return;
      priorities.push(ready.priority);
      if (priorities.length < workers) return;
      channel.close();
      resolve(priorities);
    };
  });
}
