import { type DType, dtypeFromOrt } from '../tensor/dtypes.js';

/** A fixed axis size, or a symbol ("N"; "?" when unnamed) for a dynamic one. */
export type Dim = number | string;

export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  /** Undefined when the model does not declare a shape (any rank accepted). */
  readonly dims: readonly Dim[] | undefined;
}

export interface Signature {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Whether axis 0 is a batch axis whose rows can be cached one by one. */
  readonly rowCacheable: boolean;
}

/** What onnxruntime-node reports for one input or output. */
export interface OrtValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: readonly (number | string)[];
}

/** Builds the signature from the session's own metadata. */
export function signatureFromMetadata(
  inputs: readonly OrtValueMetadata[],
  outputs: readonly OrtValueMetadata[],
  allowRows: boolean,
): Signature {
  const spec = (m: OrtValueMetadata): TensorSpec => {
    const dtype = m.isTensor && m.type !== undefined ? dtypeFromOrt(m.type) : undefined;
    if (dtype === undefined) throw new Error(`${m.name}: type ${m.type ?? 'non-tensor'} is not supported`);
    // onnxruntime reports an undeclared shape as [], the same as a scalar's;
    // treat both as "any rank" and let the runtime check it.
    const dims =
      m.shape === undefined || m.shape.length === 0
        ? undefined
        : m.shape.map((d) =>
            typeof d === 'number' && d >= 0 ? d : typeof d === 'string' && d !== '' ? d : '?',
          );
    return { name: m.name, dtype, dims };
  };
  const inSpecs = inputs.map(spec);
  const outSpecs = outputs.map(spec);
  return { inputs: inSpecs, outputs: outSpecs, rowCacheable: allowRows && hasBatchAxis(inSpecs, outSpecs) };
}

/**
 * Rows can be cached one by one only when every input and every output has
 * the same named dynamic symbol on axis 0: then row i of the outputs depends
 * on row i of the inputs by the model's own declaration. Anything else (a
 * scalar, a fixed or unnamed first axis, a batch axis elsewhere) is cached as
 * one whole entry, which is always safe.
 */
export function hasBatchAxis(inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): boolean {
  const first = inputs[0]?.dims?.[0];
  if (typeof first !== 'string' || first === '?') return false;
  return [...inputs, ...outputs].every(
    (t) => t.dims !== undefined && t.dims.length >= 1 && t.dims[0] === first,
  );
}

export function formatDims(dims: readonly Dim[] | undefined): string {
  return dims === undefined ? '[any]' : `[${dims.join(', ')}]`;
}
