import type { NamedTensor } from '../../model/pool.js';
import { DType } from '../../tensor/dtypes.js';
import { elementCount } from '../../tensor/host_tensor.js';
import { StackedRows } from '../../tensor/rows.js';
import { stringOffsets } from '../../tensor/strings.js';
import { ProtoWriter } from './proto_writer.js';

/** What a PredictResponse holds, with its enums as their wire numbers. */
export interface PredictAnswer {
  readonly model: string;
  readonly version: string;
  readonly outputs: readonly NamedTensor[];
  readonly rowSources: readonly number[];
  readonly rowCached: boolean;
  readonly rowStatuses: readonly number[];
}

/**
 * infercache.v1.PredictResponse straight from the outputs' bytes, with every
 * tensor as `raw` (strings as `string_data`, which has no raw form): the
 * answer of every Predict that did not ask for typed outputs. protobufjs
 * would first convert a plain object (proto-loader's fromObject), then write
 * it; this is one pass and one buffer. Field numbers are those of
 * proto/infercache/v1/infercache.proto, checked against protobufjs's
 * decoding by test/api/wire/predict_response.test.ts.
 */
export function encodePredictResponse(answer: PredictAnswer): Buffer {
  let hint = 64 + answer.model.length + answer.version.length + 2 * answer.rowSources.length;
  for (const o of answer.outputs) hint += 32 + o.name.length + byteLength(o) + 10 * o.dims.length;
  const w = new ProtoWriter(hint);
  w.string(1, answer.model).string(2, answer.version);
  for (const o of answer.outputs) {
    // A map<string, Tensor> entry: key = 1, value = 2.
    w.message(3, (entry) => {
      entry.string(1, o.name).message(2, (t) => writeTensor(t, o));
    });
  }
  return w.packed(4, answer.rowSources).bool(5, answer.rowCached).packed(6, answer.rowStatuses).finish();
}

/** A tensor's bytes, without joining the rows of a stacked one. */
function byteLength(t: NamedTensor): number {
  return t instanceof StackedRows ? t.byteLength : t.data.length;
}

// infercache.v1.Tensor: dtype = 1, shape = 2, raw = 3, string_data = 9.
function writeTensor(w: ProtoWriter, t: NamedTensor): void {
  w.uint(1, t.dtype).packed(2, t.dims);
  if (t.dtype !== DType.STRING) {
    if (t instanceof StackedRows) w.bytesOf(3, t.rows, t.byteLength);
    else w.bytes(3, t.data);
    return;
  }
  const data = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const count = elementCount(t.dims);
  const offsets = stringOffsets(data, count);
  for (let i = 0; i < count; i++) {
    w.element(9, data.subarray((offsets[i] as number) + 4, offsets[i + 1]));
  }
}
