import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeModel } from '../../src/model/zoo/build.js';
import { buildIrisModel } from '../../src/model/zoo/iris.js';
import {
  DataType,
  encodeModel,
  floatTensor,
  type GraphSpec,
  int64Tensor,
  intAttr,
  node,
  valueInfo,
} from '../../src/model/zoo/onnx_graph.js';

/** Description of the `iris/2` fixture, so version tests can tell it from `iris/1`. */
const IRIS_V2_DESCRIPTION = 'Iris classifier, second version (same weights as version 1).';

// Each graph exercises one signature shape the registry and row cache must handle.
const GRAPHS: Record<string, GraphSpec> = {
  multi: {
    name: 'multi',
    inputs: [valueInfo('a', DataType.FLOAT, ['N', 3]), valueInfo('b', DataType.INT64, ['N', 1])],
    outputs: [valueInfo('sum', DataType.FLOAT, ['N', 3])],
    nodes: [
      node('Cast', ['b'], ['b_float'], [intAttr('to', DataType.FLOAT)]),
      node('Add', ['a', 'b_float'], ['sum']),
    ],
  },
  scalar: {
    name: 'scalar',
    inputs: [valueInfo('s', DataType.FLOAT, [])],
    outputs: [valueInfo('double', DataType.FLOAT, [])],
    initializers: [floatTensor('two', [], Float32Array.of(2))],
    nodes: [node('Mul', ['s', 'two'], ['double'])],
  },
  batchlast: {
    name: 'batchlast',
    inputs: [valueInfo('x', DataType.FLOAT, [3, 'N'])],
    outputs: [valueInfo('y', DataType.FLOAT, ['N'])],
    // Since opset 13 ReduceSum takes its axes as an input, not an attribute.
    initializers: [int64Tensor('axes', [1], [0])],
    nodes: [node('ReduceSum', ['x', 'axes'], ['y'], [intAttr('keepdims', 0)])],
  },
  fixed: {
    name: 'fixed',
    inputs: [valueInfo('x', DataType.FLOAT, [1, 4])],
    outputs: [valueInfo('y', DataType.FLOAT, [1, 4])],
    initializers: [floatTensor('three', [], Float32Array.of(3))],
    nodes: [node('Mul', ['x', 'three'], ['y'])],
  },
  strings: {
    name: 'strings',
    inputs: [valueInfo('s', DataType.STRING, ['N'])],
    outputs: [valueInfo('same', DataType.STRING, ['N'])],
    nodes: [node('Identity', ['s'], ['same'])],
  },
};

// Not a protobuf at all (0xff is an invalid field key), so onnxruntime must refuse it.
const GARBAGE = Uint8Array.from([0xff, 0xff, 0xff, 0xff, ...new TextEncoder().encode('not an onnx model\n')]);

/**
 * Writes the test model repository into `dir` as `<name>/<version>/model.onnx`. Only the iris
 * versions get a model.json; the rest exercise models dropped in without one.
 */
async function buildFixtureModels(dir: string): Promise<void> {
  for (const [name, spec] of Object.entries(GRAPHS)) await writeOnnx(dir, name, encodeModel(spec));
  await writeModel(dir, 'iris', 1, buildIrisModel());
  await writeModel(dir, 'iris', 2, buildIrisModel(IRIS_V2_DESCRIPTION));
  await writeOnnx(dir, 'broken', GARBAGE);
}

async function writeOnnx(dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const versionDir = join(dir, name, '1');
  await mkdir(versionDir, { recursive: true });
  await writeFile(join(versionDir, 'model.onnx'), bytes);
}

/** A fresh temporary directory holding the fixture models; remove it with `rm(dir, { recursive: true })`. */
export async function fixtureModelsDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'infercache-fixtures-'));
  await buildFixtureModels(dir);
  return dir;
}
