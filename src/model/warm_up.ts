import { DType, dtypeSize } from '../tensor/dtypes.js';
import { elementCount } from '../tensor/host_tensor.js';
import { encodeStrings } from '../tensor/strings.js';
import type { NamedTensor } from './pool.js';
import type { Signature } from './signature.js';

/**
 * Inputs for a warm-up run: one row of zeros (empty strings) per input,
 * every dynamic axis set to 1. The name of the first input that leaves its
 * shape undeclared, if one does: no input can be built that the model is
 * sure to take, and there is no warm-up run.
 */
export function warmUpFeeds(signature: Signature): NamedTensor[] | { readonly undeclared: string } {
  const feeds: NamedTensor[] = [];
  for (const spec of signature.inputs) {
    if (spec.dims === undefined) return { undeclared: spec.name };
    const dims = spec.dims.map((d) => (typeof d === 'number' ? d : 1));
    const count = elementCount(dims);
    const data =
      spec.dtype === DType.STRING
        ? encodeStrings(new Array<string>(count).fill(''))
        : Buffer.alloc(count * dtypeSize(spec.dtype));
    feeds.push({ name: spec.name, dtype: spec.dtype, dims, data });
  }
  return feeds;
}
