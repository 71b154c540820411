import { mulberry32 } from '../../prng.js';
import {
  type BuiltModel,
  DataType,
  encodeModel,
  floatTensor,
  type NodeProto,
  node,
  valueInfo,
} from './onnx_graph.js';

const INPUT = 256;
const WIDTH = 1024;
const OUTPUT = 64;
// Tuned so one single-row run costs ~1.9 ms (median) on a 2-core Xeon with one intra-op
// thread (about 0.26 ms per hidden layer; 6 layers sat right at the 1.5 ms floor): heavy
// enough that a cache hit is clearly cheaper than inference, small enough (~5.5 MB) to build fast.
const HEAVY_HIDDEN_LAYERS = 7;
const SEED = 0x1f2e3d4c;

const HEAVY_DESCRIPTION =
  'Synthetic multilayer perceptron with random weights, used to make inference measurably expensive.';

// uniform(-1, 1) * sqrt(3 / fanIn) gives unit-variance weights per input, so with tanh the
// activations neither vanish nor saturate even though one matrix is applied repeatedly.
function uniformWeights(rand: () => number, fanIn: number, fanOut: number): Float32Array {
  const scale = Math.sqrt(3 / fanIn);
  const out = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < out.length; i++) out[i] = (rand() * 2 - 1) * scale;
  return out;
}

function smallBias(rand: () => number, size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (rand() * 2 - 1) * 0.1;
  return out;
}

export function buildHeavyModel(hiddenLayers = HEAVY_HIDDEN_LAYERS): BuiltModel {
  const rand = mulberry32(SEED);
  const initializers = [
    floatTensor('W_in', [INPUT, WIDTH], uniformWeights(rand, INPUT, WIDTH)),
    floatTensor('B_in', [WIDTH], smallBias(rand, WIDTH)),
    // Shared by every hidden layer: the cost is in the arithmetic, not in distinct weights.
    floatTensor('W_hidden', [WIDTH, WIDTH], uniformWeights(rand, WIDTH, WIDTH)),
    floatTensor('B_hidden', [WIDTH], smallBias(rand, WIDTH)),
    floatTensor('W_out', [WIDTH, OUTPUT], uniformWeights(rand, WIDTH, OUTPUT)),
    floatTensor('B_out', [OUTPUT], smallBias(rand, OUTPUT)),
  ];

  const nodes: NodeProto[] = [];
  const dense = (input: string, w: string, b: string, out: string, activation: boolean): void => {
    const pre = activation ? `${out}_pre` : out;
    nodes.push(node('MatMul', [input, w], [`${out}_mm`]), node('Add', [`${out}_mm`, b], [pre]));
    if (activation) nodes.push(node('Tanh', [pre], [out]));
  };
  dense('x', 'W_in', 'B_in', 'h0', true);
  for (let i = 1; i <= hiddenLayers; i++) dense(`h${i - 1}`, 'W_hidden', 'B_hidden', `h${i}`, true);
  dense(`h${hiddenLayers}`, 'W_out', 'B_out', 'y', false);

  const onnx = encodeModel({
    name: 'heavy',
    docString: HEAVY_DESCRIPTION,
    inputs: [valueInfo('x', DataType.FLOAT, ['N', INPUT])],
    outputs: [valueInfo('y', DataType.FLOAT, ['N', OUTPUT])],
    initializers,
    nodes,
  });
  return { onnx, meta: { description: HEAVY_DESCRIPTION } };
}
