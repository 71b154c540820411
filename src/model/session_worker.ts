import { getPriority, setPriority } from 'node:os';
import * as ort from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import { DType, dtypeName } from '../tensor/dtypes.js';
import { decodeStrings, encodeStrings } from '../tensor/strings.js';
import {
  exactBuffer,
  type RunResult,
  type RunTask,
  type WireTensor,
  type WorkerReady,
  type WorkerSettings,
} from './run_task.js';
import { SESSIONS_CHANNEL, WORKER_READY_CHANNEL } from './session_release.js';

/**
 * Runs ONNX sessions off the event loop. onnxruntime-node's run() blocks the
 * thread that calls it for the whole run, so sessions live here, in worker
 * threads, and the main thread only hashes, looks up and moves bytes.
 */
const settings = workerData as WorkerSettings;

// Runs below the event loop. On Linux a thread's nice value is its own
// (setpriority on the calling thread, which is what pid 0 names here), so
// when the cores are busy the thread answering hits is scheduled first and
// model runs take what is left; with a core idle nothing changes. Set before
// any session is made: ONNX Runtime's intra-op threads inherit it. Linux
// only: elsewhere pid 0 names the whole process, event loop included.
if (settings.nice > 0 && process.platform === 'linux') {
  try {
    setPriority(0, Math.min(19, getPriority(0) + settings.nice));
  } catch {
    // Left as it is; the pool reports the priority each worker has.
  }
}

interface Loaded {
  readonly session: Promise<ort.InferenceSession>;
  runs: number;
  retiring: boolean;
}

/** Sessions by key (the file's path and digest: a file replaced in place loads afresh). */
const sessions = new Map<string, Loaded>();

function session(key: string, path: string): Loaded {
  let s = sessions.get(key);
  if (s === undefined) {
    const created = ort.InferenceSession.create(path, {
      intraOpNumThreads: settings.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    // A failed load is not cached, so a fixed file can load on the next call.
    created.catch(() => sessions.delete(key));
    s = { session: created, runs: 0, retiring: false };
    sessions.set(key, s);
  }
  return s;
}

/** Frees a session's native memory once no run of this worker uses it. */
function retire(key: string): void {
  const s = sessions.get(key);
  if (s === undefined) return;
  s.retiring = true;
  if (s.runs > 0) return;
  sessions.delete(key);
  s.session.then((loaded) => loaded.release()).catch(() => {});
}

// The registry tells every worker which sessions to drop (an unloaded model
// version): one message reaches all of them, whichever runs what.
const releases = new BroadcastChannel(SESSIONS_CHANNEL);
releases.onmessage = (event: { data: unknown }) => {
  const release = (event.data as { release?: unknown } | null)?.release;
  if (typeof release === 'string') retire(release);
};
releases.unref();

await Promise.allSettled(settings.preload.map((p) => session(p.key, p.path).session));
// The pool waits for this before stopping the workers (InferencePool.close).
const ready = new BroadcastChannel(WORKER_READY_CHANNEL);
ready.postMessage({ token: settings.readyToken, priority: getPriority(0) } satisfies WorkerReady);
ready.close();

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

// Cancelling a run in progress would mean killing this worker and its loaded
// sessions, so cancellation and deadlines are applied while a run is queued
// (model/run_queue.ts); a run that started finishes.
export default async function run(task: RunTask) {
  const loaded = session(task.sessionKey, task.modelPath);
  loaded.runs++;
  try {
    return await runOn(loaded, task);
  } finally {
    loaded.runs--;
    if (loaded.retiring) retire(task.sessionKey);
  }
}

async function runOn(loaded: Loaded, task: RunTask) {
  let s: ort.InferenceSession;
  try {
    s = await loaded.session;
  } catch (error) {
    return { ok: false, stage: 'load', message: message(error) } satisfies RunResult;
  }
  let outputs: WireTensor[];
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const f of task.feeds) feeds[f.name] = toOrt(f);
    const results = await s.run(feeds, [...task.outputNames]);
    outputs = task.outputNames.map((name) => fromOrt(name, results[name] as ort.Tensor));
  } catch (error) {
    return { ok: false, stage: 'run', message: message(error) } satisfies RunResult;
  }
  const value: RunResult = { ok: true, outputs };
  // Transfer the output buffers back instead of copying them.
  return move({
    [transferableSymbol]: outputs.map((o) => o.data),
    [valueSymbol]: value,
  } as unknown as ArrayBuffer);
}

function toOrt(t: WireTensor): ort.Tensor {
  const dims = [...t.dims];
  const bytes = new Uint8Array(t.data);
  switch (t.dtype) {
    case DType.STRING:
      return new ort.Tensor(
        'string',
        decodeStrings(
          bytes,
          dims.reduce((a, b) => a * b, 1),
        ),
        dims,
      );
    case DType.FLOAT32:
      return new ort.Tensor('float32', new Float32Array(t.data), dims);
    case DType.FLOAT64:
      return new ort.Tensor('float64', new Float64Array(t.data), dims);
    case DType.INT8:
      return new ort.Tensor('int8', new Int8Array(t.data), dims);
    case DType.UINT8:
      return new ort.Tensor('uint8', bytes, dims);
    case DType.BOOL:
      return new ort.Tensor('bool', bytes, dims);
    case DType.INT16:
      return new ort.Tensor('int16', new Int16Array(t.data), dims);
    case DType.UINT16:
      return new ort.Tensor('uint16', new Uint16Array(t.data), dims);
    case DType.FLOAT16:
      return new ort.Tensor('float16', new Uint16Array(t.data), dims);
    case DType.INT32:
      return new ort.Tensor('int32', new Int32Array(t.data), dims);
    case DType.UINT32:
      return new ort.Tensor('uint32', new Uint32Array(t.data), dims);
    case DType.INT64:
      return new ort.Tensor('int64', new BigInt64Array(t.data), dims);
    case DType.UINT64:
      return new ort.Tensor('uint64', new BigUint64Array(t.data), dims);
    default:
      throw new TypeError(`unsupported dtype ${t.dtype}`);
  }
}

function fromOrt(name: string, tensor: ort.Tensor): WireTensor {
  const dims = tensor.dims.map(Number);
  const dtype = Object.values(DType).find((d) => dtypeName(d) === tensor.type);
  if (dtype === undefined) throw new TypeError(`output ${name}: unsupported type ${tensor.type}`);
  if (dtype === DType.STRING) {
    return { name, dtype, dims, data: exactBuffer(encodeStrings(tensor.data as string[])) };
  }
  const data = tensor.data as ArrayBufferView;
  return {
    name,
    dtype,
    dims,
    data: exactBuffer(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
  };
}
