import { invalidArgument, limitExceeded, quote } from '../errors.js';
import { DType, dtypeName, dtypeSize } from '../tensor/dtypes.js';
import { elementCount, type HostTensor } from '../tensor/host_tensor.js';
import { stringOffsets } from '../tensor/strings.js';
import { formatDims, type Signature, type TensorSpec } from './signature.js';

export interface InputLimits {
  readonly maxBatchRows: number;
}

/**
 * Checks named inputs against the model's signature before anything is
 * hashed, cached or run. Every message names the input and what was expected.
 * Returns the number of rows (axis 0) when the model is row-cacheable, else 1.
 */
export function validateInputs(
  model: string,
  signature: Signature,
  inputs: ReadonlyMap<string, HostTensor>,
  limits: InputLimits,
): number {
  for (const name of inputs.keys()) {
    if (!signature.inputs.some((s) => s.name === name)) {
      const names = signature.inputs.map((s) => s.name);
      const expected = names.length > 8 ? `${names.slice(0, 8).join(', ')}, ...` : names.join(', ');
      throw invalidArgument(`model ${model} has no input ${quote(name)} (inputs: ${expected})`);
    }
  }
  const symbols = new Map<string, { size: number; input: string }>();
  for (const spec of signature.inputs) {
    const tensor = inputs.get(spec.name);
    if (tensor === undefined) {
      throw invalidArgument(`missing input "${spec.name}": expected ${describe(spec)}`);
    }
    checkShape(spec, tensor, symbols);
  }
  // The row limit before the data checks, which walk the data.
  const rows = signature.rowCacheable ? (inputs.get(signature.inputs[0]?.name ?? '')?.dims[0] ?? 0) : 1;
  if (rows > limits.maxBatchRows) {
    throw limitExceeded(`request has ${rows} rows; the limit is ${limits.maxBatchRows} (maxBatchRows)`);
  }
  if (rows === 0) throw invalidArgument('request has 0 rows; send at least one');
  for (const spec of signature.inputs) checkData(spec, inputs.get(spec.name) as HostTensor);
  return rows;
}

function checkShape(
  spec: TensorSpec,
  tensor: HostTensor,
  symbols: Map<string, { size: number; input: string }>,
): void {
  const where = `input "${spec.name}"`;
  if (tensor.dtype !== spec.dtype) {
    throw invalidArgument(`${where}: dtype ${dtypeName(tensor.dtype)} given, expected ${describe(spec)}`);
  }
  if (spec.dims !== undefined) {
    if (tensor.dims.length !== spec.dims.length) {
      throw invalidArgument(`${where}: shape [${tensor.dims.join(', ')}] given, expected ${describe(spec)}`);
    }
    spec.dims.forEach((want, axis) => {
      const got = tensor.dims[axis] as number;
      if (typeof want === 'number') {
        if (got !== want) {
          throw invalidArgument(
            `${where}: axis ${axis} is ${got}, expected ${want} (shape ${describe(spec)})`,
          );
        }
      } else if (want !== '?') {
        const bound = symbols.get(want);
        if (bound === undefined) symbols.set(want, { size: got, input: spec.name });
        else if (bound.size !== got) {
          throw invalidArgument(
            `${where}: axis ${axis} (${want}) is ${got} but input "${bound.input}" has ${want}=${bound.size}`,
          );
        }
      }
    });
  }
}

function checkData(spec: TensorSpec, tensor: HostTensor): void {
  const where = `input "${spec.name}"`;
  const count = elementCount(tensor.dims);
  if (tensor.dtype === DType.STRING) {
    try {
      const offsets = stringOffsets(tensor.data, count);
      if (offsets[count] !== tensor.data.length) throw new RangeError('trailing bytes');
    } catch {
      throw invalidArgument(`${where}: string data does not hold ${count} elements`);
    }
    return;
  }
  const want = count * dtypeSize(tensor.dtype);
  if (tensor.data.length !== want) {
    throw invalidArgument(
      `${where}: ${tensor.data.length} bytes given, shape [${tensor.dims.join(', ')}] of ${dtypeName(tensor.dtype)} needs ${want}`,
    );
  }
}

function describe(spec: TensorSpec): string {
  return `${dtypeName(spec.dtype)} ${formatDims(spec.dims)}`;
}
