import { cacheKey, type KeyHasher } from '../cache/keys.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { rowViews } from '../tensor/rows.js';

export interface KeyContext {
  /** `{prefix}:p:{model}:{version}:` (cache/keys.ts keyScope). */
  readonly scope: string;
  readonly hasher: KeyHasher;
  /** The model file's digest: a file replaced under the same version gets new keys. */
  readonly digest: Buffer;
}

/**
 * What every hashed row starts with: the model digest, then for each input
 * its name (length-prefixed UTF-8), dtype, rank and dims (u32 LE). With the
 * shapes fixed here, the row bytes that follow are unambiguous (strings carry
 * their own lengths). Written by hand, not as JSON: it runs on every call.
 */
function header(
  ctx: KeyContext,
  inputs: readonly (readonly [string, HostTensor])[],
  dropAxis0: boolean,
): Buffer {
  const skip = dropAxis0 ? 1 : 0;
  let size = ctx.digest.length;
  for (const [name, t] of inputs) size += 2 + Buffer.byteLength(name) + 2 + 4 * (t.dims.length - skip);
  const out = Buffer.allocUnsafe(size);
  let at = ctx.digest.copy(out, 0);
  for (const [name, t] of inputs) {
    const nameLength = out.write(name, at + 2);
    out.writeUInt16LE(nameLength, at);
    at += 2 + nameLength;
    out[at++] = t.dtype;
    out[at++] = t.dims.length - skip;
    for (let d = skip; d < t.dims.length; d++) at = out.writeUInt32LE(t.dims[d] as number, at);
  }
  return out;
}

// Rows hashed between two yields to the event loop: hashing a large batch
// in one go would hold up every L1 hit queued behind it (a 512-row batch of
// the heavy model took ~2 ms), and a miss must never delay a hit.
const ROWS_PER_SLICE = 128;

/** Each input's row views (axis 0), for hashing and for stacking misses. */
export function inputRowViews(inputs: readonly (readonly [string, HostTensor])[]): Buffer[][] {
  return inputs.map(([, t]) => rowViews(t));
}

/** Most rows whose keys are hashed in one go, without yielding (see rowKeys). */
export const ROWS_PER_SLICE_MAX = ROWS_PER_SLICE;

/** One key per row (axis 0), for at most ROWS_PER_SLICE rows: no yield, so no await. */
export function rowKeysNow(
  ctx: KeyContext,
  inputs: readonly (readonly [string, HostTensor])[],
  views: readonly Buffer[][],
  rows: number,
): string[] {
  if (rows > ROWS_PER_SLICE) throw new RangeError(`${rows} rows hashed without a yield`);
  const keys: string[] = new Array(rows);
  const parts: Buffer[] = new Array(inputs.length + 1);
  parts[0] = header(ctx, inputs, true);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < views.length; i++) parts[i + 1] = (views[i] as Buffer[])[r] as Buffer;
    keys[r] = cacheKey(ctx.scope, ctx.hasher(Buffer.concat(parts)));
  }
  return keys;
}

/** One key per row (axis 0). */
export async function rowKeys(
  ctx: KeyContext,
  inputs: readonly (readonly [string, HostTensor])[],
  views: readonly Buffer[][],
  rows: number,
): Promise<string[]> {
  const keys: string[] = new Array(rows);
  const parts: Buffer[] = new Array(inputs.length + 1);
  parts[0] = header(ctx, inputs, true);
  for (let r = 0; r < rows; r++) {
    if (r > 0 && r % ROWS_PER_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    for (let i = 0; i < views.length; i++) parts[i + 1] = (views[i] as Buffer[])[r] as Buffer;
    keys[r] = cacheKey(ctx.scope, ctx.hasher(Buffer.concat(parts)));
  }
  return keys;
}

/** One key for a request cached as a whole. */
export function wholeKey(ctx: KeyContext, inputs: readonly (readonly [string, HostTensor])[]): string {
  const bytes = Buffer.concat([header(ctx, inputs, false), ...inputs.map(([, t]) => t.data)]);
  return cacheKey(ctx.scope, ctx.hasher(bytes));
}
