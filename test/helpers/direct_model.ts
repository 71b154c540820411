import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

/** The shipped model file `models/<name>/<version>/model.onnx`. */
export function shippedModelPath(name: string, version = '1'): string {
  return fileURLToPath(new URL(`../../models/${name}/${version}/model.onnx`, import.meta.url));
}

/**
 * The model loaded with onnxruntime-node in the test process, one intra-op
 * thread and the sidecar's other session options: the reference a Predict
 * answer is compared with.
 */
export async function openDirect(path: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

/** Runs one float32 input through `session` and returns each output's raw bytes. */
export async function runDirectF32(
  session: ort.InferenceSession,
  input: string,
  dims: number[],
  values: ArrayLike<number>,
): Promise<Record<string, Buffer>> {
  const results = await session.run({ [input]: new ort.Tensor('float32', Float32Array.from(values), dims) });
  const out: Record<string, Buffer> = {};
  for (const [name, tensor] of Object.entries(results)) {
    const data = tensor.data as ArrayBufferView;
    out[name] = Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return out;
}
