import { describe, expect, it } from 'vitest';
import { KeyMemo } from '../../src/cache/key_memo.js';
import { createKeyHasher, type KeyHasher } from '../../src/cache/keys.js';
import { type KeyContext, rowKeys, rowKeysNow } from '../../src/predict/row_keys.js';
import { RowLayouts } from '../../src/predict/row_layout.js';
import { DType } from '../../src/tensor/dtypes.js';
import type { HostTensor } from '../../src/tensor/host_tensor.js';
import { encodeStrings } from '../../src/tensor/strings.js';

const ctx: KeyContext = {
  scope: 'ic:p:m:1:g0.0:',
  hasher: createKeyHasher('xxh3-128', ''),
  digest: Buffer.alloc(32, 7),
};

/** A request of `rows` rows: a float32 [rows, 3] input and a string [rows, 2] input. */
function inputs(floats: number[][], strings: string[][]): [string, HostTensor][] {
  return [
    [
      'x',
      {
        dtype: DType.FLOAT32,
        dims: [floats.length, 3],
        data: Buffer.from(new Float32Array(floats.flat()).buffer),
      },
    ],
    ['s', { dtype: DType.STRING, dims: [strings.length, 2], data: encodeStrings(strings.flat()) }],
  ];
}

describe('row keys', () => {
  // Strings of growing length: each row is longer than the one before it.
  const floats = Array.from({ length: 300 }, (_, r) => [r, r / 3, -r]);
  const strings = Array.from({ length: 300 }, (_, r) => [`a${'b'.repeat(r)}`, r % 2 === 0 ? '' : 'é']);

  it('gives each row of a batch the key that row has when sent alone', async () => {
    const keys = await rowKeys(ctx, inputs(floats, strings), floats.length);
    expect(new Set(keys).size).toBe(floats.length);
    // Every row: the scratch buffer grows at a few rows only (each longer than any before).
    for (let r = 0; r < floats.length; r++) {
      const alone = rowKeysNow(ctx, inputs([floats[r] as number[]], [strings[r] as string[]]), 1);
      expect(keys[r], `row ${r}`).toBe(alone[0]);
    }
  });

  it('gives the same keys whether hashed at once or with yields', async () => {
    const some = inputs(floats.slice(0, 100), strings.slice(0, 100));
    expect(rowKeysNow(ctx, some, 100)).toEqual(await rowKeys(ctx, some, 100));
  });

  it('sets apart rows that differ only in where a string ends', () => {
    const a = rowKeysNow(ctx, inputs([[1, 2, 3]], [['ab', 'c']]), 1);
    const b = rowKeysNow(ctx, inputs([[1, 2, 3]], [['a', 'bc']]), 1);
    expect(a[0]).not.toBe(b[0]);
  });

  it('starts every key with the scope and a two-hex-digit cluster hash tag', () => {
    const [key] = rowKeysNow(ctx, inputs([[1, 2, 3]], [['x', 'y']]), 1);
    expect(key).toMatch(/^ic:p:m:1:g0\.0:\{[0-9a-f]{2}\}[0-9a-f]{30}$/);
  });

  describe('with a key memo', () => {
    /** A float32 [rows, width] input named `name`. */
    const floatInput = (name: string, rows: number[][]): [string, HostTensor][] => [
      [
        name,
        {
          dtype: DType.FLOAT32,
          dims: [rows.length, (rows[0] as number[]).length],
          data: Buffer.from(new Float32Array(rows.flat()).buffer),
        },
      ],
    ];
    const counted = () => {
      const plain = ctx.hasher;
      let calls = 0;
      const hasher: KeyHasher = (bytes) => {
        calls++;
        return plain(bytes);
      };
      return { hasher, calls: () => calls };
    };
    // 4 floats: remembered by the row's bytes; 40 floats (160 bytes): by the row's hash.
    const short = Array.from({ length: 200 }, (_, r) => [r, r / 7, -r, 1]);
    const long = Array.from({ length: 200 }, (_, r) => Array.from({ length: 40 }, (_, c) => r * c));

    it('gives every row the key it has without one, for short rows, long rows and strings', async () => {
      const memo = new KeyMemo(1024);
      const withMemo: KeyContext = { ...ctx, memo };
      for (let round = 0; round < 2; round++) {
        for (const rows of [short, long]) {
          const x = floatInput('x', rows);
          expect(await rowKeys(withMemo, x, rows.length)).toEqual(await rowKeys(ctx, x, rows.length));
          expect(rowKeysNow(withMemo, floatInput('x', rows.slice(0, 3)), 3)).toEqual(
            rowKeysNow(ctx, floatInput('x', rows.slice(0, 3)), 3),
          );
        }
        const mixed = inputs(floats.slice(0, 50), strings.slice(0, 50));
        expect(await rowKeys(withMemo, mixed, 50)).toEqual(await rowKeys(ctx, mixed, 50));
      }
    });

    it("keeps a version's last row layout: the same keys as without, whatever changed from the request before", async () => {
      const layouts = new RowLayouts();
      const memo = new KeyMemo(1024);
      const kept: KeyContext = { ...ctx, memo, layouts };
      const fresh: KeyContext = { ...ctx, memo: new KeyMemo(1024) };
      const wide = short.map((row) => [...row, 5]);
      const int32 = (name: string, rows: number[][]): [string, HostTensor][] => [
        [
          name,
          {
            dtype: DType.INT32,
            dims: [rows.length, (rows[0] as number[]).length],
            data: Buffer.from(new Int32Array(rows.flat()).buffer),
          },
        ],
      ];
      // Each request changes one thing the key covers: the layout kept must not be reused for it.
      const requests: [KeyContext, [string, HostTensor][]][] = [
        [kept, floatInput('x', short)],
        [kept, floatInput('x', short)],
        [kept, floatInput('x', wide)],
        [kept, floatInput('x', short)],
        [kept, floatInput('y', short)],
        [kept, floatInput('x', short)],
        [kept, int32('x', short)],
        [kept, floatInput('x', short)],
        [{ ...kept, scope: 'ic:p:m:1:g1.0:' }, floatInput('x', short)],
        [kept, floatInput('x', short)],
        [{ ...kept, digest: Buffer.alloc(32, 9) }, floatInput('x', short)],
        [kept, floatInput('x', long)],
        [kept, inputs(floats.slice(0, 20), strings.slice(0, 20))],
        [kept, floatInput('x', short)],
      ];
      const seen = new Set<string>();
      for (const [c, x] of requests) {
        const rows = (x[0] as [string, HostTensor])[1].dims[0] as number;
        const keys = await rowKeys(c, x, rows);
        expect(keys).toEqual(await rowKeys({ ...c, memo: fresh.memo, layouts: undefined }, x, rows));
        for (const key of keys) seen.add(key);
      }
      // 7 distinct requests of 200 rows and one of 20 (repeats of the first add nothing).
      expect(seen.size).toBe(7 * 200 + 20);
    });

    it('hashes a short row it has seen no more, and keeps apart the same bytes under another input name, scope or model file', async () => {
      const { hasher, calls } = counted();
      const memo = new KeyMemo(1024);
      const withMemo: KeyContext = { ...ctx, hasher, memo };
      const first = await rowKeys(withMemo, floatInput('x', short), short.length);
      expect(calls()).toBe(short.length);
      expect(await rowKeys(withMemo, floatInput('x', short), short.length)).toEqual(first);
      expect(calls()).toBe(short.length);
      // The same row bytes, with anything else the key covers changed: new keys, each hashed.
      const others: KeyContext[] = [
        { ...withMemo, scope: 'ic:p:m:2:g0.0:' },
        { ...withMemo, digest: Buffer.alloc(32, 8) },
      ];
      const seen = new Set(first);
      for (const other of others) {
        for (const key of await rowKeys(other, floatInput('x', short), short.length)) seen.add(key);
      }
      for (const key of await rowKeys(withMemo, floatInput('y', short), short.length)) seen.add(key);
      expect(seen.size).toBe(4 * short.length);
      expect(calls()).toBe(4 * short.length);
    });

    it("finds a long row's key by its raw digest, where the hasher has one, with no hex string made: the same keys", async () => {
      const plain = ctx.hasher;
      let rawCalls = 0;
      const rawOnly: KeyHasher = Object.assign(
        (): string => {
          throw new Error('the hex form was asked for');
        },
        {
          raw: (bytes: Uint8Array) => {
            rawCalls++;
            return plain.raw?.(bytes) as bigint;
          },
        },
      );
      const withMemo: KeyContext = { ...ctx, hasher: rawOnly, memo: new KeyMemo(1024) };
      const x = floatInput('x', long);
      const expected = await rowKeys(ctx, x, long.length);
      expect(await rowKeys(withMemo, x, long.length)).toEqual(expected);
      expect(await rowKeys(withMemo, x, long.length)).toEqual(expected);
      expect(rawCalls).toBe(2 * long.length);
    });

    it('hashes a long row every time (its key, not its hash, is what it remembers)', async () => {
      const { hasher, calls } = counted();
      const withMemo: KeyContext = { ...ctx, hasher, memo: new KeyMemo(1024) };
      await rowKeys(withMemo, floatInput('x', long), long.length);
      await rowKeys(withMemo, floatInput('x', long), long.length);
      expect(calls()).toBe(2 * long.length);
    });
  });
});
