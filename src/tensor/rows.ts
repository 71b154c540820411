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

/** Stacks rows that share dtype and row dims into one tensor with a leading batch axis. */
export function stackRows(dtype: DType, rowDims: readonly number[], rows: readonly Uint8Array[]): HostTensor {
  return { dtype, dims: [rows.length, ...rowDims], data: Buffer.concat(rows) };
}
