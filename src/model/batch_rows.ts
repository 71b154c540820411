import { rowViews } from '../tensor/rows.js';
import type { NamedTensor } from './pool.js';

/** Rows [start, end) of a tensor with `rows` rows on axis 0 (strings walked, others sliced). */
export function sliceRows(t: NamedTensor, start: number, end: number, rows: number): NamedTensor {
  const views = rowViews(t);
  if (views.length !== rows) throw new RangeError(`${t.name} has ${views.length} rows, expected ${rows}`);
  const first = views[start] as Buffer;
  const last = views[end - 1] as Buffer;
  const from = first.byteOffset - t.data.byteOffset;
  const to = last.byteOffset - t.data.byteOffset + last.length;
  // A copy: pieces go to the worker by transfer, which detaches their buffers.
  return { ...t, dims: [end - start, ...t.dims.slice(1)], data: Buffer.from(t.data.subarray(from, to)) };
}

/**
 * Tensor lists of the same names and order (the outputs of consecutive
 * pieces, or the feeds of calls run together), joined along axis 0. Every
 * encoding concatenates row-wise, strings included (each element carries its
 * own length prefix), so the bytes are simply laid end to end.
 */
export function joinRows(pieces: readonly (readonly NamedTensor[])[]): NamedTensor[] {
  const first = pieces[0] as readonly NamedTensor[];
  return first.map((o, j) => {
    const parts = pieces.map((p) => p[j] as NamedTensor);
    const rows = parts.reduce((n, p) => n + (p.dims[0] ?? 0), 0);
    return { ...o, dims: [rows, ...o.dims.slice(1)], data: Buffer.concat(parts.map((p) => p.data)) };
  });
}

/**
 * The outputs of one run cut back into consecutive parts of `counts` rows
 * each (at least one); undefined when an output does not have exactly their sum of rows (a
 * model whose rows are not independent after all). The parts are views of
 * the run's buffers, not copies: nothing transfers them again, and the cache
 * copies each row it keeps (predict/split_rows.ts).
 */
export function splitByRows(
  outputs: readonly NamedTensor[],
  counts: readonly number[],
): NamedTensor[][] | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  const views = outputs.map((o) => (o.dims[0] === total ? rowViews(o) : undefined));
  if (views.some((v) => v === undefined || v.length !== total)) return undefined;
  const parts: NamedTensor[][] = [];
  let start = 0;
  for (const count of counts) {
    const end = start + count;
    parts.push(
      outputs.map((o, j) => {
        const rows = views[j] as Buffer[];
        const from = (rows[start] as Buffer).byteOffset - o.data.byteOffset;
        const last = rows[end - 1] as Buffer;
        const to = last.byteOffset - o.data.byteOffset + last.length;
        return { ...o, dims: [count, ...o.dims.slice(1)], data: o.data.subarray(from, to) };
      }),
    );
    start = end;
  }
  return parts;
}
