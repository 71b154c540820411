import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type BuiltModel,
  DataType,
  encodeModel,
  floatTensor,
  int64Tensor,
  node,
  valueInfo,
} from '../../src/model/zoo/onnx_graph.js';
import type { ListModelsResponse, ModelInfo, PredictResponse } from './client.js';
import { f32Of, f32Tensor } from './requests.js';
import { makeTempDir } from './temp_dirs.js';

// ListModels' ModelVersion.State numbers, as the client decodes them.
export const STATE = { READY: 1, FAILED: 2, UNLOADED: 3 } as const;

/** Width of the `scale` model's rows. */
export const SCALE_WIDTH = 4;

/**
 * `scale`: x float32 [N, 4] -> y = x * factor. Each version gets its own
 * factor, so every row of an answer tells which version computed it.
 */
export function scaleModel(factor: number): BuiltModel {
  const onnx = encodeModel({
    name: 'scale',
    inputs: [valueInfo('x', DataType.FLOAT, ['N', SCALE_WIDTH])],
    outputs: [valueInfo('y', DataType.FLOAT, ['N', SCALE_WIDTH])],
    initializers: [floatTensor('k', [], Float32Array.of(factor))],
    nodes: [node('Mul', ['x', 'k'], ['y'])],
  });
  return { onnx, meta: { description: `scale by ${factor}` } };
}

/** `scale` with its input and output shapes left undeclared (any rank, any size). */
export function shapelessScaleModel(factor: number): BuiltModel {
  const anyShape = (name: string) => ({ name, type: { tensorType: { elemType: DataType.FLOAT } } });
  const onnx = encodeModel({
    name: 'shapeless',
    inputs: [anyShape('x')],
    outputs: [anyShape('y')],
    initializers: [floatTensor('k', [], Float32Array.of(factor))],
    nodes: [node('Mul', ['x', 'k'], ['y'])],
  });
  return { onnx, meta: { description: `scale by ${factor}, shapes undeclared` } };
}

/** A Predict of `rows` of a `scale` model (the current version unless `version` is given). */
export const scaleRequest = (model: string, rows: number[][], version = '') => ({
  model,
  version,
  inputs: { x: f32Tensor([rows.length, SCALE_WIDTH], rows.flat()) },
});

/** The rows of `res` that are not `rows` times the factor of the version `res` reports. */
export function inconsistentRows(res: PredictResponse, rows: number[][]): number[] {
  const factor = Number(res.version);
  const y = f32Of(res.outputs.y);
  return rows.flatMap((row, r) =>
    row.some((v, c) => y[r * SCALE_WIDTH + c] !== Math.fround(v * factor)) ? [r] : [],
  );
}

/**
 * A model that loads (its signature reads fine: x float32 [N, 5]) but whose
 * every run fails: a row of 5 values cannot be reshaped to 3.
 */
export function failingRunModel(): BuiltModel {
  const onnx = encodeModel({
    name: 'fails_to_run',
    inputs: [valueInfo('x', DataType.FLOAT, ['N', 5])],
    outputs: [valueInfo('y', DataType.FLOAT, ['M'])],
    initializers: [int64Tensor('shape', [1], [3])],
    nodes: [node('Reshape', ['x', 'shape'], ['y'])],
  });
  return { onnx, meta: { description: 'a model whose runs fail' } };
}

/** An empty models directory, removed at exit. */
export function emptyModelsDir(): string {
  return makeTempDir('versions-');
}

/**
 * Copies a version in as an operator should: written under `<version>.tmp/`,
 * then renamed, so a scan never sees half a file. `files` maps file names
 * (model.onnx, model.json) to their bytes.
 */
export async function installFiles(
  dir: string,
  name: string,
  version: string,
  files: Record<string, Uint8Array | string>,
): Promise<void> {
  const staging = join(dir, name, `${version}.tmp`);
  await mkdir(staging, { recursive: true });
  for (const [file, bytes] of Object.entries(files)) await writeFile(join(staging, file), bytes);
  await rename(staging, join(dir, name, version));
}

/** installFiles for a built model: its model.onnx and model.json. */
export function installVersion(dir: string, name: string, version: string, model: BuiltModel) {
  return installFiles(dir, name, version, {
    'model.json': `${JSON.stringify(model.meta)}\n`,
    'model.onnx': model.onnx,
  });
}

/** The model `name` in a ListModels answer, or a failure naming the models there are. */
export function modelIn(res: ListModelsResponse, name: string): ModelInfo {
  const found = res.models.find((m) => m.name === name);
  if (found === undefined) throw new Error(`no model ${name} (models: ${res.models.map((m) => m.name)})`);
  return found;
}

/** `[version, state]` of every version, newest first, as ListModels gives them. */
export const versionStates = (m: ModelInfo) => m.versions.map((v) => [v.version, v.state]);
