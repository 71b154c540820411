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
  readonly modelPath: string;
  readonly feeds: readonly WireTensor[];
  readonly outputNames: readonly string[];
  /** Epoch ms; a task still queued past it is dropped rather than run. */
  readonly deadline: number;
}

/** What a worker throws for a task whose deadline passed in the queue. */
export const DEADLINE_PASSED = 'deadline passed while queued';

export interface RunResult {
  readonly outputs: readonly WireTensor[];
}

export interface WorkerSettings {
  readonly intraOpThreads: number;
  readonly preload: readonly string[];
}

/** An ArrayBuffer holding exactly these bytes: the view's own, or a copy. */
export function exactBuffer(view: Uint8Array): ArrayBuffer {
  const { buffer, byteOffset, byteLength } = view;
  if (buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength) return buffer;
  return buffer.slice(byteOffset, byteOffset + byteLength) as ArrayBuffer;
}
