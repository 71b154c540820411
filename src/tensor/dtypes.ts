/**
 * Element types. The numbers are ONNX TensorProto.DataType numbers and equal
 * the proto's DataType enum, so they cross the API unchanged.
 */
export const DType = {
  FLOAT32: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  FLOAT64: 11,
  UINT32: 12,
  UINT64: 13,
} as const;

export type DType = (typeof DType)[keyof typeof DType];

interface DTypeInfo {
  /** Name onnxruntime-node uses for the type. */
  readonly ort: string;
  /** Bytes per element; 0 for variable-length strings. */
  readonly size: number;
}

const INFO: Record<DType, DTypeInfo> = {
  [DType.FLOAT32]: { ort: 'float32', size: 4 },
  [DType.UINT8]: { ort: 'uint8', size: 1 },
  [DType.INT8]: { ort: 'int8', size: 1 },
  [DType.UINT16]: { ort: 'uint16', size: 2 },
  [DType.INT16]: { ort: 'int16', size: 2 },
  [DType.INT32]: { ort: 'int32', size: 4 },
  [DType.INT64]: { ort: 'int64', size: 8 },
  [DType.STRING]: { ort: 'string', size: 0 },
  [DType.BOOL]: { ort: 'bool', size: 1 },
  [DType.FLOAT16]: { ort: 'float16', size: 2 },
  [DType.FLOAT64]: { ort: 'float64', size: 8 },
  [DType.UINT32]: { ort: 'uint32', size: 4 },
  [DType.UINT64]: { ort: 'uint64', size: 8 },
};

const BY_ORT_NAME = new Map<string, DType>(
  (Object.entries(INFO) as [string, DTypeInfo][]).map(([num, info]) => [info.ort, Number(num) as DType]),
);

export function isDType(value: number): value is DType {
  return Object.hasOwn(INFO, value);
}

export function dtypeSize(dtype: DType): number {
  return INFO[dtype].size;
}

export function dtypeName(dtype: DType): string {
  return INFO[dtype].ort;
}

/** The DType for an onnxruntime type name, or undefined for one we cannot carry. */
export function dtypeFromOrt(name: string): DType | undefined {
  return BY_ORT_NAME.get(name);
}
