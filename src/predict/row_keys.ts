import type { KeyMemo } from '../cache/key_memo.js';
import { cacheKey, hex128, type KeyHasher } from '../cache/keys.js';
import { DType } from '../tensor/dtypes.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { rowViews } from '../tensor/rows.js';

export interface KeyContext {
  /** `{prefix}:p:{model}:{version}:` (cache/keys.ts keyScope). */
  readonly scope: string;
  /** Remembers each row's key (cache/key_memo.ts); each is built anew when absent. */
  readonly memo?: KeyMemo;
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

const latin1 = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/**
 * Writes the bytes each row's key is hashed over (the header, then the row
 * of every input) into one buffer reused for every row: a batch of 1,024
 * rows then allocates nothing per row (a Buffer.concat per row was most of
 * the garbage an all-hit batch made). Rows of a string input differ in
 * length, so inputs with strings are copied through their row views.
 */
class RowBytes {
  readonly #inputs: readonly (readonly [string, HostTensor])[];
  readonly #views: (Buffer[] | undefined)[];
  readonly #rowBytes: number[];
  readonly #headerLength: number;
  #scratch: Buffer;
  /** Bytes of a row past the header, when every row has this many (no string inputs). */
  readonly fixedRowBytes: number | undefined;

  constructor(ctx: KeyContext, inputs: readonly (readonly [string, HostTensor])[], rows: number) {
    this.#inputs = inputs;
    this.#views = inputs.map(([, t]) => (t.dtype === DType.STRING ? rowViews(t) : undefined));
    // A string input's share is its mean row length: the scratch grows for longer rows.
    this.#rowBytes = inputs.map(([, t]) => (rows === 0 ? 0 : Math.ceil(t.data.length / rows)));
    const head = header(ctx, inputs, true);
    this.#headerLength = head.length;
    const rowBytes = this.#rowBytes.reduce((a, b) => a + b, 0);
    this.#scratch = Buffer.allocUnsafe(head.length + rowBytes);
    head.copy(this.#scratch, 0);
    this.fixedRowBytes = this.#views.every((v) => v === undefined) ? rowBytes : undefined;
  }

  /** The header, the bytes every row's start with, as a string. */
  header(): string {
    return latin1.call(this.#scratch, 0, this.#headerLength);
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
    let at = this.#headerLength;
    for (let i = 0; i < this.#inputs.length; i++) {
      const views = this.#views[i];
      if (views === undefined) {
        const n = this.#rowBytes[i] as number;
        const data = (this.#inputs[i] as readonly [string, HostTensor])[1].data;
        this.#scratch.set(data.subarray(r * n, (r + 1) * n), at);
        at += n;
      } else {
        const view = views[r] as Buffer;
        if (at + view.length > this.#scratch.length) this.#grow(at + view.length, at);
        this.#scratch.set(view, at);
        at += view.length;
      }
    }
    return at === this.#scratch.length ? this.#scratch : this.#scratch.subarray(0, at);
  }

  /** A larger scratch keeping its first `used` bytes (the header and this row's inputs so far). */
  #grow(size: number, used: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(size, this.#scratch.length * 2));
    this.#scratch.copy(bigger, 0, 0, used);
    this.#scratch = bigger;
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
    // No scope holds a newline (names and the key prefix are checked), so this context is one pair's.
    const rows = memo.context(`${scope}\n${bytes.header()}`);
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
  const bytes = Buffer.concat([header(ctx, inputs, false), ...inputs.map(([, t]) => t.data)]);
  return cacheKey(ctx.scope, ctx.hasher(bytes));
}
