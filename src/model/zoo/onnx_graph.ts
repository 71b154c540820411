import onnxProto from 'onnx-proto';
import type { ModelMetadata } from '../metadata.js';

// onnx-proto is a CommonJS bundle, so ESM only sees it as a default export.
const { onnx } = onnxProto;

export type TensorProto = onnxProto.onnx.ITensorProto;
export type ValueInfo = onnxProto.onnx.IValueInfoProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type Attribute = onnxProto.onnx.IAttributeProto;

export const DataType = {
  FLOAT: onnx.TensorProto.DataType.FLOAT,
  INT64: onnx.TensorProto.DataType.INT64,
  STRING: onnx.TensorProto.DataType.STRING,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

const IR_VERSION = 8;
const OPSET = 17;
const PRODUCER = 'infercache-zoo';

/** A fixed size, or a symbolic name such as "N" for a dimension chosen at run time. */
export type Dim = number | string;

export function floatTensor(name: string, dims: readonly number[], data: Float32Array): TensorProto {
  checkSize(name, dims, data.length);
  // Written through a DataView so the bytes are little-endian (as ONNX requires) on any host.
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true);
  return { name, dims: [...dims], dataType: DataType.FLOAT, rawData: raw };
}

export function int64Tensor(name: string, dims: readonly number[], data: readonly number[]): TensorProto {
  checkSize(name, dims, data.length);
  return { name, dims: [...dims], dataType: DataType.INT64, int64Data: [...data] };
}

function checkSize(name: string, dims: readonly number[], length: number): void {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (expected !== length) {
    throw new Error(`tensor ${name}: dims [${dims.join(',')}] need ${expected} values, got ${length}`);
  }
}

export function valueInfo(name: string, elemType: DataType, dims: readonly Dim[]): ValueInfo {
  // An explicit (possibly empty) shape is what makes a rank-0 tensor distinct from "unknown rank".
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

export function intAttr(name: string, i: number): Attribute {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

export function node(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attribute: readonly Attribute[] = [],
): NodeProto {
  const name = `${opType}_${outputs.join('_')}`;
  return { name, opType, input: [...inputs], output: [...outputs], attribute: [...attribute] };
}

/** What a zoo builder produces: the model bytes plus the contents of its model.json. */
export interface BuiltModel {
  onnx: Uint8Array;
  meta: {
    description: string;
    labels?: string[];
    entityInputs?: ModelMetadata['entityInputs'];
    embedding?: ModelMetadata['embedding'];
  };
}

export interface GraphSpec {
  name: string;
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  nodes: readonly NodeProto[];
  initializers?: readonly TensorProto[];
  docString?: string;
}

export function encodeModel(spec: GraphSpec): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: PRODUCER,
    docString: spec.docString ?? '',
    graph: {
      name: spec.name,
      input: [...spec.inputs],
      output: [...spec.outputs],
      node: [...spec.nodes],
      initializer: [...(spec.initializers ?? [])],
    },
  });
  const err = onnx.ModelProto.verify(model);
  if (err) throw new Error(`model ${spec.name}: ${err}`);
  return onnx.ModelProto.encode(model).finish();
}
