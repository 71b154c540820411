import type { ContextMemo, KeyMemo } from '../cache/key_memo.js';
import type { HostTensor } from '../tensor/host_tensor.js';

type Inputs = readonly (readonly [string, HostTensor])[];

const latin1 = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/**
 * What every hashed row starts with: the model digest, then for each input
 * its name (length-prefixed UTF-8), dtype, rank and dims (u32 LE). With the
 * shapes fixed here, the row bytes that follow are unambiguous (strings carry
 * their own lengths). Written by hand, not as JSON: it runs on every call
 * whose layout is new (RowLayouts).
 */
export function header(digest: Buffer, inputs: Inputs, dropAxis0: boolean): Buffer {
  const skip = dropAxis0 ? 1 : 0;
  let size = digest.length;
  for (const [name, t] of inputs) size += 2 + Buffer.byteLength(name) + 2 + 4 * (t.dims.length - skip);
  const out = Buffer.allocUnsafe(size);
  let at = digest.copy(out, 0);
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

/** The header of a row's bytes (axis 0 dropped), and the key memo's context for short rows of that layout. */
export interface RowLayout {
  readonly header: Buffer;
  /** The memo of the rows of this layout under `scope`, remembered by their bytes past the header. */
  context(memo: KeyMemo, scope: string): ContextMemo;
}

/** A layout built for one request only (no RowLayouts at hand). */
export function freshLayout(digest: Buffer, inputs: Inputs): RowLayout {
  const head = header(digest, inputs, true);
  return { header: head, context: (memo, scope) => memo.context(contextName(scope, head)) };
}

// No scope holds a newline (names and the key prefix are checked), so this names one scope and header.
function contextName(scope: string, head: Buffer): string {
  return `${scope}\n${latin1.call(head, 0, head.length)}`;
}

interface Kept {
  readonly digest: Buffer;
  readonly names: readonly string[];
  readonly dtypes: readonly number[];
  readonly dims: readonly (readonly number[])[];
  readonly layout: RowLayout;
}

/**
 * The row layout a model version was last called with, kept: a request
 * shaped like the one before (the same input names, dtypes and dims past
 * axis 0) builds no header buffer, no latin1 string of it, no context
 * string, and no Map lookup hashing that string. About a fifth of what a
 * single-row L1 hit of ours cost beyond gRPC (its profile: RowBytes, header,
 * and the memo's context lookup). One per model version (the digest is in
 * the header); the context is kept for the last scope it was asked for (a
 * scope changes when an invalidation moves a generation).
 */
export class RowLayouts {
  #kept: Kept | undefined;

  of(digest: Buffer, inputs: Inputs): RowLayout {
    const kept = this.#kept;
    if (kept !== undefined && kept.digest === digest && same(kept, inputs)) return kept.layout;
    const head = header(digest, inputs, true);
    let last: { memo: KeyMemo; scope: string; context: ContextMemo } | undefined;
    const layout: RowLayout = {
      header: head,
      context: (memo, scope) => {
        if (last === undefined || last.memo !== memo || last.scope !== scope) {
          last = { memo, scope, context: memo.context(contextName(scope, head)) };
        }
        return last.context;
      },
    };
    this.#kept = {
      digest,
      names: inputs.map(([name]) => name),
      dtypes: inputs.map(([, t]) => t.dtype),
      dims: inputs.map(([, t]) => [...t.dims]),
      layout,
    };
    return layout;
  }
}

function same(kept: Kept, inputs: Inputs): boolean {
  if (kept.names.length !== inputs.length) return false;
  for (let i = 0; i < inputs.length; i++) {
    const [name, t] = inputs[i] as readonly [string, HostTensor];
    const dims = kept.dims[i] as readonly number[];
    if (kept.names[i] !== name || kept.dtypes[i] !== t.dtype || dims.length !== t.dims.length) return false;
    for (let d = 1; d < dims.length; d++) if (dims[d] !== t.dims[d]) return false;
  }
  return true;
}
