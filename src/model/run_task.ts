/**
 * The messages between the pool and a session worker. Tensor data crosses as
 * exactly-sized ArrayBuffers so it can be transferred, not copied.
 */
export interface WireTensor {
  readonly name: string;
  readonly dtype: number;
  readonly dims: readonly number[];
  readonly data: ArrayBuffer;
}

export interface RunTask {
  /** Which session: the file's path and digest. */
  readonly sessionKey: string;
  readonly modelPath: string;
  readonly feeds: readonly WireTensor[];
  readonly outputNames: readonly string[];
}

/**
 * A worker answers with outputs or with what failed, as data: an error
 * thrown across the thread boundary would arrive as a bare message, and the
 * pool would have to guess its kind from the text.
 * - load: the session could not be created from the file
 * - run: onnxruntime refused or failed the run
 */
export type RunResult =
  | { readonly ok: true; readonly outputs: readonly WireTensor[] }
  | { readonly ok: false; readonly stage: 'load' | 'run'; readonly message: string };

export interface WorkerSettings {
  readonly intraOpThreads: number;
  /** Added to the worker thread's nice value when it starts (0: left as it is). */
  readonly nice: number;
  /** What the worker posts on WORKER_READY_CHANNEL once started: its pool's, so pools in one process tell theirs apart. */
  readonly readyToken: string;
  /** Sessions to create when a worker starts. */
  readonly preload: readonly { readonly key: string; readonly path: string }[];
}

/** What a worker posts on WORKER_READY_CHANNEL once started. */
export interface WorkerReady {
  readonly token: string;
  /** The worker thread's nice value once it lowered its priority (or tried to). */
  readonly priority: number;
}

/** An ArrayBuffer holding exactly these bytes: the view's own, or a copy. */
export function exactBuffer(view: Uint8Array): ArrayBuffer {
  const { buffer, byteOffset, byteLength } = view;
  if (buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength) return buffer;
  return buffer.slice(byteOffset, byteOffset + byteLength) as ArrayBuffer;
}
