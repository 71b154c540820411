import type { KeyMemo } from '../cache/key_memo.js';
import { cacheKey, hex128, type KeyHasher } from '../cache/keys.js';
import { DType } from '../tensor/dtypes.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { rowViews } from '../tensor/rows.js';
import { freshLayout, header, type RowLayout, type RowLayouts } from './row_layout.js';

export interface KeyContext {
  /** `{prefix}:p:{model}:{version}:` (cache/keys.ts keyScope). */
  readonly scope: string;
  /** Remembers each row's key (cache/key_memo.ts); each is built anew when absent. */
  readonly memo?: KeyMemo;
  readonly hasher: KeyHasher;
  /** The model file's digest: a file replaced under the same version gets new keys. */
  readonly digest: Buffer;
  /** The version's last row layout, kept (row_layout.ts); built per request when absent. */
  readonly layouts?: RowLayouts;
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

const latin1 = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/**
 * Writes the bytes each row's key is hashed over (the header, then the row
 * of every input) into one buffer reused for every row: a batch of 1,024
 * rows then allocates nothing per row (a Buffer.concat per row was most of
 * the garbage an all-hit batch made). Rows of a string input differ in
 * length, so inputs with strings are copied through their row views.
 */
class RowBytes {
  readonly layout: RowLayout;
  readonly #inputs: readonly (readonly [string, HostTensor])[];
  readonly #views: (Buffer[] | undefined)[];
  readonly #rowBytes: number[];
  /** Bytes past the header of the scratch (a string input's share grows it). */
  readonly #restBytes: number;
  /** Made at the first row(): a short row whose key the memo holds is never copied. */
  #scratch: Buffer | undefined;
  /** Bytes of a row past the header, when every row has this many (no string inputs). */
  readonly fixedRowBytes: number | undefined;

  constructor(ctx: KeyContext, inputs: readonly (readonly [string, HostTensor])[], rows: number) {
    this.#inputs = inputs;
    this.layout = ctx.layouts?.of(ctx.digest, inputs) ?? freshLayout(ctx.digest, inputs);
    let strings = false;
    for (const [, t] of inputs) if (t.dtype === DType.STRING) strings = true;
    this.#views = strings ? inputs.map(([, t]) => (t.dtype === DType.STRING ? rowViews(t) : undefined)) : [];
    // A string input's share is its mean row length: the scratch grows for longer rows.
    this.#rowBytes = inputs.map(([, t]) => (rows === 0 ? 0 : Math.ceil(t.data.length / rows)));
    let rowBytes = 0;
    for (const n of this.#rowBytes) rowBytes += n;
    this.#restBytes = rowBytes;
    this.fixedRowBytes = strings ? undefined : rowBytes;
  }

  #scratchWithHeader(): Buffer {
    const head = this.layout.header;
    const scratch = Buffer.allocUnsafe(head.length + this.#restBytes);
    head.copy(scratch, 0);
    this.#scratch = scratch;
    return scratch;
  }

  /**
   * Row `r`'s bytes past the header as a string (latin1: one character per
   * byte), read from the inputs where they are: no copy. Fixed-size rows only.
   */
  rest(r: number): string {
    let out = '';
    for (let i = 0; i < this.#inputs.length; i++) {
      const n = this.#rowBytes[i] as number;
      const data = (this.#inputs[i] as readonly [string, HostTensor])[1].data;
      out += latin1.call(data, r * n, (r + 1) * n);
    }
    return out;
  }

  /** The hashed bytes of row `r`, valid until the next call. */
  row(r: number): Uint8Array {
    let scratch = this.#scratch ?? this.#scratchWithHeader();
    let at = this.layout.header.length;
    for (let i = 0; i < this.#inputs.length; i++) {
      const views = this.#views[i];
      if (views === undefined) {
        const n = this.#rowBytes[i] as number;
        const data = (this.#inputs[i] as readonly [string, HostTensor])[1].data;
        scratch.set(data.subarray(r * n, (r + 1) * n), at);
        at += n;
      } else {
        const view = views[r] as Buffer;
        if (at + view.length > scratch.length) scratch = this.#grow(scratch, at + view.length, at);
        scratch.set(view, at);
        at += view.length;
      }
    }
    return at === scratch.length ? scratch : scratch.subarray(0, at);
  }

  /** A larger scratch keeping its first `used` bytes (the header and this row's inputs so far). */
  #grow(scratch: Buffer, size: number, used: number): Buffer {
    const bigger = Buffer.allocUnsafe(Math.max(size, scratch.length * 2));
    scratch.copy(bigger, 0, 0, used);
    this.#scratch = bigger;
    return bigger;
  }
}

/** One key per row (axis 0), for at most ROWS_PER_SLICE rows: no yield, so no await. */
export function rowKeysNow(
  ctx: KeyContext,
  inputs: readonly (readonly [string, HostTensor])[],
  rows: number,
): string[] {
  if (rows > ROWS_PER_SLICE) throw new RangeError(`${rows} rows hashed without a yield`);
  const keys: string[] = new Array(rows);
  const key = keyOfRow(ctx, new RowBytes(ctx, inputs, rows));
  for (let r = 0; r < rows; r++) keys[r] = key(r);
  return keys;
}

/** One key per row (axis 0). */
export async function rowKeys(
  ctx: KeyContext,
  inputs: readonly (readonly [string, HostTensor])[],
  rows: number,
): Promise<string[]> {
  const keys: string[] = new Array(rows);
  const key = keyOfRow(ctx, new RowBytes(ctx, inputs, rows));
  for (let r = 0; r < rows; r++) {
    if (r > 0 && r % ROWS_PER_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    keys[r] = key(r);
  }
  return keys;
}

// Rows of at most this many bytes past the header are remembered by those
// bytes (an iris row is 16): the lookup is then a Map probe of a short
// string and hashes nothing. Longer rows are remembered by their hash.
const MAX_REMEMBERED_ROW_BYTES = 64;

/**
 * The key of each row of `bytes`. With a memo, a short row's key is
 * remembered under its scope and header (which, with the row's own bytes,
 * are everything it is hashed over), and a longer row's under its hash.
 */
function keyOfRow(ctx: KeyContext, bytes: RowBytes): (r: number) => string {
  const { scope, hasher, memo } = ctx;
  if (memo === undefined) return (r) => cacheKey(scope, hasher(bytes.row(r)));
  const size = bytes.fixedRowBytes;
  if (size !== undefined && size <= MAX_REMEMBERED_ROW_BYTES) {
    const rows = bytes.layout.context(memo, scope);
    return (r) => {
      const rest = bytes.rest(r);
      return rows.get(rest) ?? rows.set(rest, cacheKey(scope, hasher(bytes.row(r))));
    };
  }
  const { raw } = hasher;
  if (raw === undefined) {
    const key = memo.scoped(scope);
    return (r) => key(hasher(bytes.row(r)));
  }
  // Remembered by the digest as a number: no hex string is made to find a
  // key again (a fifth of a 1 KiB row's way to its key). No scope holds a
  // newline, so this context is the scope's own.
  const keys = memo.context(`${scope}\nraw`);
  return (r) => {
    const digest = raw(bytes.row(r));
    return keys.get(digest) ?? keys.set(digest, cacheKey(scope, hex128(digest)));
  };
}

/** One key for a request cached as a whole. */
export function wholeKey(ctx: KeyContext, inputs: readonly (readonly [string, HostTensor])[]): string {
  const bytes = Buffer.concat([header(ctx.digest, inputs, false), ...inputs.map(([, t]) => t.data)]);
  return cacheKey(ctx.scope, ctx.hasher(bytes));
}
