import { DType, dtypeSize } from './dtypes.js';
import { elementCount, type HostTensor } from './host_tensor.js';
import { stringOffsets } from './strings.js';

/**
 * Splits a tensor along axis 0 into one byte view per row (no copies).
 * Strings need their element offsets walked; every other dtype is arithmetic.
 */
export function rowViews(tensor: HostTensor): Buffer[] {
  const rows = tensor.dims[0] ?? 0;
  const perRow = elementCount(tensor.dims.slice(1));
  const views: Buffer[] = new Array(rows);
  if (tensor.dtype === DType.STRING) {
    const offsets = stringOffsets(tensor.data, rows * perRow);
    for (let r = 0; r < rows; r++) {
      views[r] = tensor.data.subarray(offsets[r * perRow], offsets[(r + 1) * perRow]);
    }
    return views;
  }
  const rowBytes = perRow * dtypeSize(tensor.dtype);
  for (let r = 0; r < rows; r++) views[r] = tensor.data.subarray(r * rowBytes, (r + 1) * rowBytes);
  return views;
}

/**
 * Rows that share dtype and row dims, as one tensor with a leading batch
 * axis whose bytes are joined only when `data` is read. The Predict encoder
 * reads `rows` instead and copies each row straight into the response: one
 * copy of the answer rather than two, and no answer-sized buffer in between
 * (256 KiB per 1,024-row answer of the heavy model, which the collector
 * must account for as outside memory).
 */
export class StackedRows implements HostTensor {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly rows: readonly Uint8Array[];
  /** The bytes of all rows. */
  readonly byteLength: number;
  declare readonly data: Buffer;

  constructor(name: string, dtype: DType, rowDims: readonly number[], rows: readonly Uint8Array[]) {
    this.name = name;
    this.dtype = dtype;
    this.dims = [rows.length, ...rowDims];
    this.rows = rows;
    let length = 0;
    for (const row of rows) length += row.length;
    this.byteLength = length;
    // An own, enumerable getter: a copy made with `{ ...tensor }` reads the joined bytes too.
    let data: Buffer | undefined;
    Object.defineProperty(this, 'data', {
      enumerable: true,
      get: () => {
        if (data === undefined) data = Buffer.concat(rows, length);
        return data;
      },
    });
  }
}

/** Stacks rows that share dtype and row dims into one tensor with a leading batch axis. */
export function stackRows(dtype: DType, rowDims: readonly number[], rows: readonly Uint8Array[]): HostTensor {
  return { dtype, dims: [rows.length, ...rowDims], data: Buffer.concat(rows) };
}
