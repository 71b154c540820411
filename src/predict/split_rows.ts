import type { NamedTensor } from '../model/pool.js';
import { rowViews } from '../tensor/rows.js';
import type { Prediction } from './prediction_kind.js';

/** Cuts a batch's outputs into one cache entry per row. */
export function splitRows(outputs: readonly NamedTensor[], createdAt: number): Prediction[] {
  const perOutput = outputs.map((o) => ({ o, rows: rowViews(o) }));
  const count = outputs[0]?.dims[0] ?? 0;
  const entries: Prediction[] = new Array(count);
  for (let r = 0; r < count; r++) {
    entries[r] = {
      createdAt,
      // Copy each row out of the batch buffer, so a cached row does not pin
      // the whole batch in memory (L1 counts only the row's bytes).
      tensors: perOutput.map(({ o, rows }) => ({
        dtype: o.dtype,
        dims: o.dims.slice(1),
        data: Buffer.from(rows[r] as Buffer),
      })),
    };
  }
  return entries;
}
