import { wire } from '../../test/helpers/raw_call.js';
import { HEAVY_COLS, mulberry32, randomFloats } from './rows.js';

const KiB = 1024;
const IRIS_ROW_BYTES = 16;
const HEAVY_ROW_BYTES = HEAVY_COLS * 4;
const DT_FLOAT32 = 1;
const DT_INT32 = 6;
const DT_INT64 = 7;
const DT_STRING = 8;

/** `count` copies of `unit`, by doubling (a copy per unit takes seconds at 64 MiB). */
function repeat(unit: Buffer, count: number): Buffer {
  const total = unit.length * count;
  const out = Buffer.allocUnsafe(total);
  if (total === 0) return out;
  let filled = unit.copy(out, 0);
  while (filled < total) filled += out.copy(out, filled, 0, Math.min(filled, total - filled));
  return out;
}

/** A Tensor message: dtype, packed shape, then `data` as is (already encoded fields). */
function tensor(dtype: number, shape: readonly number[], data: Buffer): Buffer {
  return Buffer.concat([wire.number(1, dtype), wire.bytes(2, Buffer.concat(shape.map(wire.varint))), data]);
}

/** A float32 `raw` tensor of `rows` rows of `rowBytes` bytes for `model`'s input `name`. */
function rawRequest(model: string, name: string, rows: number, rowBytes: number, raw: Buffer): Buffer {
  return wire.predict(model, name, tensor(DT_FLOAT32, [rows, rowBytes / 4], wire.bytes(3, raw)));
}

export interface CostCase {
  /** What the request is made of. */
  readonly name: string;
  /** A fresh request each call (the valid one carries new rows, so every send is a miss). */
  readonly build: () => Buffer;
  /** True for the contrast: a request the sidecar serves. */
  readonly valid: boolean;
}

/**
 * The requests that cost the most per byte, each as large as a message
 * limit of `limitBytes` allows (1 KiB kept for the framing around the
 * repeated part), plus for contrast the largest valid raw request of the
 * heavy model (at most `maxBatchRows` rows of 1 KiB). Models are those of
 * the test fixtures (`strings`, `multi`, `iris`) and `heavy`.
 */
export function costCases(limitBytes: number, maxBatchRows: number): CostCase[] {
  const budget = limitBytes - KiB;
  const validRows = Math.min(maxBatchRows, Math.floor(budget / HEAVY_ROW_BYTES));
  const rand = mulberry32(0xc057);
  const inputEntry = wire.bytes(
    3,
    Buffer.concat([
      wire.bytes(1, 'b'),
      wire.bytes(2, tensor(DT_INT64, [1, 1], wire.bytes(3, Buffer.alloc(8)))),
    ]),
  );
  // 200,000 where the limit allows (about 4.4 MB); fewer under a 4 MiB limit.
  const inputEntries = Math.min(200_000, Math.floor(budget / inputEntry.length));
  return [
    {
      name: 'one-byte string_data elements',
      valid: false,
      build: () =>
        wire.predict(
          'strings',
          's',
          tensor(DT_STRING, [1], repeat(wire.bytes(9, 'a'), Math.floor(budget / 3))),
        ),
    },
    {
      name: 'unpacked int32 values',
      valid: false,
      build: () =>
        wire.predict(
          'multi',
          'b',
          tensor(DT_INT32, [1, 1], repeat(wire.number(6, 1), Math.floor(budget / 2))),
        ),
    },
    {
      name: 'packed one-byte varints',
      valid: false,
      build: () =>
        wire.predict('multi', 'b', tensor(DT_INT64, [1, 1], wire.bytes(7, Buffer.alloc(budget - 16, 1)))),
    },
    {
      name: 'unknown fields',
      valid: false,
      build: () => Buffer.concat([wire.bytes(1, 'iris'), repeat(wire.number(99, 1), Math.floor(budget / 3))]),
    },
    {
      // Map entries may repeat a name (the last one wins), so a cap on
      // distinct inputs alone does not stop this: every entry is a whole
      // tensor to read, the costliest elements there are.
      name: `${inputEntries.toLocaleString('en')} inputs, one name, each a valid tensor`,
      valid: false,
      build: () => Buffer.concat([wire.bytes(1, 'multi'), repeat(inputEntry, inputEntries)]),
    },
    {
      name: 'raw rows past the row limit',
      valid: false,
      build: () => {
        const rows = Math.floor((budget - 64) / IRIS_ROW_BYTES);
        return rawRequest(
          'iris',
          'features',
          rows,
          IRIS_ROW_BYTES,
          Buffer.alloc(rows * IRIS_ROW_BYTES, 0x3f),
        );
      },
    },
    {
      name: `valid raw request, ${validRows} heavy rows`,
      valid: true,
      build: () =>
        rawRequest('heavy', 'x', validRows, HEAVY_ROW_BYTES, randomFloats(rand, validRows * HEAVY_COLS)),
    },
  ];
}
