import { Piscina } from 'piscina';
import { InferCacheError } from '../errors.js';
import type { DType } from '../tensor/dtypes.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import {
  DEADLINE_PASSED,
  exactBuffer,
  type RunResult,
  type RunTask,
  type WorkerSettings,
} from './run_task.js';

export interface PoolOptions {
  readonly workers: number;
  readonly intraOpThreads: number;
  /** Model runs waiting for a worker; past it a run is refused (overload). */
  readonly maxQueue: number;
  readonly preload: readonly string[];
}

export interface NamedTensor extends HostTensor {
  readonly name: string;
}

/** A fixed pool of worker threads that own the ONNX sessions (see session_worker.ts). */
export class InferencePool {
  readonly #piscina: Piscina<RunTask, RunResult>;

  constructor(options: PoolOptions) {
    const workerData: WorkerSettings = { intraOpThreads: options.intraOpThreads, preload: options.preload };
    this.#piscina = new Piscina({
      filename: new URL('./session_worker.js', import.meta.url).href,
      minThreads: options.workers,
      maxThreads: options.workers,
      // One task per worker at a time: a session run already uses the
      // worker's intra-op threads, so a second concurrent run only contends.
      concurrentTasksPerWorker: 1,
      maxQueue: options.maxQueue,
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData,
    });
  }

  /**
   * Runs one model on the feeds; resolves with the named outputs in order.
   * A feed whose buffer is exactly its own ArrayBuffer is transferred to the
   * worker (detached here), so callers must not read feeds after this call.
   */
  async run(
    modelPath: string,
    feeds: readonly NamedTensor[],
    outputNames: readonly string[],
    deadline: number,
  ): Promise<NamedTensor[]> {
    const wire = feeds.map((f) => ({
      name: f.name,
      dtype: f.dtype,
      dims: f.dims,
      data: exactBuffer(f.data),
    }));
    let result: RunResult;
    try {
      result = await this.#piscina.run(
        { modelPath, feeds: wire, outputNames, deadline },
        { transferList: wire.map((w) => w.data) },
      );
    } catch (error) {
      if (error instanceof Error && /queue is at limit/i.test(error.message)) {
        throw new InferCacheError(
          'E_OVERLOADED',
          `inference queue is full (${this.#piscina.options.maxQueue} runs waiting)`,
        );
      }
      // Inputs whose shape the model does not declare are checked by the
      // runtime only; its complaint is about the caller's input, not a fault.
      const message = error instanceof Error ? error.message : String(error);
      if (message.includes(DEADLINE_PASSED)) {
        throw new InferCacheError('E_DEADLINE_EXCEEDED', `model run not started: ${DEADLINE_PASSED}`);
      }
      if (
        /invalid rank|invalid dimensions|unexpected input data type|input.*(missing|not found)/i.test(message)
      ) {
        throw new InferCacheError('E_INVALID_ARGUMENT', `the model refused the input: ${message}`, {
          cause: error,
        });
      }
      throw new InferCacheError('E_INFERENCE_FAILED', `model run failed: ${message}`, { cause: error });
    }
    return result.outputs.map((o) => ({
      name: o.name,
      dtype: o.dtype as DType,
      dims: o.dims,
      data: Buffer.from(o.data),
    }));
  }

  get queueSize(): number {
    return this.#piscina.queueSize;
  }

  async close(): Promise<void> {
    await this.#piscina.close({ force: false });
  }
}
