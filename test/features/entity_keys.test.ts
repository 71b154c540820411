import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { toServiceError } from '../../src/api/status.js';
import { InferCacheError } from '../../src/errors.js';
import { type EntityColumnWire, entityRows } from '../../src/features/entity_keys.js';
import type { JoinKey } from '../../src/features/view.js';

const USER: JoinKey[] = [{ name: 'user_id', type: 'string' }];
const FLOWER: JoinKey[] = [{ name: 'flower_id', type: 'int64' }];
const COMPOSITE: JoinKey[] = [
  { name: 'shop', type: 'string' },
  { name: 'item', type: 'int64' },
];

const strings = (name: string, values: string[]): EntityColumnWire => ({
  name,
  string_values: values,
  int64_values: [],
});
const ints = (name: string, values: (string | number)[]): EntityColumnWire => ({
  name,
  string_values: [],
  int64_values: values,
});

/** The refusal `run` throws: an InferCacheError of `code`. */
function refusal(run: () => unknown, code: string): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InferCacheError);
    expect((error as InferCacheError).code).toBe(code);
    return (error as Error).message;
  }
  throw new Error('accepted');
}

const hex = (b: Buffer | undefined) => b?.toString('hex');

describe('entity keys', () => {
  it('encodes a string id as a type tag, its UTF-8 length (u32 LE) and its bytes', () => {
    const rows = entityRows(USER, [strings('user_id', ['ab', 'é'])], 10);
    expect(rows.count).toBe(2);
    expect(hex(rows.bytes[0])).toBe('01020000006162');
    expect(hex(rows.bytes[1])).toBe('0102000000c3a9');
  });

  it('encodes an int64 id as a type tag and 8 bytes little-endian, exactly beyond 2^53 and below 0', () => {
    const rows = entityRows(
      FLOWER,
      [ints('flower_id', ['1', '9007199254740993', '-1', '-9223372036854775808'])],
      10,
    );
    expect(rows.bytes.map(hex)).toEqual([
      '020100000000000000',
      '020100000000002000',
      '02ffffffffffffffff',
      '020000000000000080',
    ]);
    expect(rows.values(1)).toEqual([9007199254740993n]);
  });

  it('encodes every int64 id as its BigInt would be, on both sides of the shortcut for ids a double holds', () => {
    const reference = (v: string | number) => {
      const out = Buffer.alloc(9);
      out[0] = 2;
      out.writeBigInt64LE(BigInt.asIntN(64, BigInt(v)), 1);
      return out.toString('hex');
    };
    const edges = [
      '0',
      '-0',
      '7',
      '-7',
      '007',
      '-007',
      '4294967295',
      '4294967296',
      '-4294967296',
      '-4294967297',
    ];
    const digits15 = ['999999999999999', '-999999999999999', '100000000000000'];
    const past = [
      '1000000000000000',
      '9007199254740991',
      '-9007199254740993',
      '9223372036854775807',
      '+5',
      ' 5',
    ];
    const numbers = [0, -1, 2 ** 32, -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
    let seed = 0x2f6b;
    const random = Array.from({ length: 2000 }, () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const magnitude = Math.floor((seed / 2 ** 32) * 2 ** (1 + (seed % 53)));
      return String(seed & 1 ? -magnitude : magnitude);
    });
    const values = [...edges, ...digits15, ...past, ...numbers, ...random];
    const rows = entityRows(FLOWER, [ints('flower_id', values)], values.length);
    expect(rows.bytes.map(hex)).toEqual(values.map(reference));
  });

  it('never gives a string id and an int64 id the same bytes', () => {
    const s = entityRows(USER, [strings('user_id', ['1'])], 10);
    const i = entityRows(FLOWER, [ints('flower_id', ['1'])], 10);
    expect(hex(s.bytes[0])).not.toBe(hex(i.bytes[0]));
  });

  it('joins a composite key in the order of the view, whatever the order of the columns in the request', () => {
    const asDeclared = entityRows(COMPOSITE, [strings('shop', ['s1', 's2']), ints('item', ['7', '8'])], 10);
    const reversed = entityRows(COMPOSITE, [ints('item', ['7', '8']), strings('shop', ['s1', 's2'])], 10);
    expect(asDeclared.bytes.map(hex)).toEqual(reversed.bytes.map(hex));
    expect(hex(asDeclared.bytes[0])).toBe('01020000007331020700000000000000');
    expect(asDeclared.values(1)).toEqual(['s2', 8n]);
  });

  it('keeps composite keys apart where the plain concatenation of their parts is the same', () => {
    const keys: JoinKey[] = [
      { name: 'a', type: 'string' },
      { name: 'b', type: 'string' },
    ];
    const rows = entityRows(keys, [strings('a', ['ab', 'a']), strings('b', ['c', 'bc'])], 10);
    expect(hex(rows.bytes[0])).not.toBe(hex(rows.bytes[1]));
  });

  it('takes exactly the row limit and refuses one row more with RESOURCE_EXHAUSTED naming the limit', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `u${i}`);
    expect(entityRows(USER, [strings('user_id', ids)], 100).count).toBe(100);
    const message = refusal(
      () => entityRows(USER, [strings('user_id', [...ids, 'one-more'])], 100),
      'E_LIMIT_EXCEEDED',
    );
    expect(message).toBe('101 entity rows given; the limit is 100 (INFERCACHE_MAX_ENTITY_ROWS)');
    try {
      entityRows(USER, [strings('user_id', [...ids, 'one-more'])], 100);
    } catch (error) {
      expect(toServiceError(error).code).toBe(status.RESOURCE_EXHAUSTED);
    }
  });

  it('takes an id of 256 UTF-8 bytes and refuses one of 258, naming the row and the key', () => {
    expect(entityRows(USER, [strings('user_id', ['é'.repeat(128)])], 10).count).toBe(1);
    const message = refusal(
      () => entityRows(USER, [strings('user_id', ['ok', 'é'.repeat(129)])], 10),
      'E_INVALID_ARGUMENT',
    );
    expect(message).toBe('entities: row 1, "user_id" is 258 bytes; at most 256');
  });

  it('refuses ids given in the field of the other type', () => {
    expect(refusal(() => entityRows(USER, [ints('user_id', ['1'])], 10), 'E_INVALID_ARGUMENT')).toBe(
      'entities: join key "user_id" is string; give it in string_values',
    );
    expect(refusal(() => entityRows(FLOWER, [strings('flower_id', ['1'])], 10), 'E_INVALID_ARGUMENT')).toBe(
      'entities: join key "flower_id" is int64; give it in int64_values',
    );
  });

  it('refuses columns of unequal lengths, naming the short one', () => {
    const message = refusal(
      () => entityRows(COMPOSITE, [strings('shop', ['a', 'b', 'c']), ints('item', ['1', '2'])], 10),
      'E_INVALID_ARGUMENT',
    );
    expect(message).toBe('entities: column "item" has 2 values, expected 3');
  });

  it('refuses a missing, misnamed or extra join key column, naming the join keys', () => {
    expect(refusal(() => entityRows(COMPOSITE, [strings('shop', ['a'])], 10), 'E_INVALID_ARGUMENT')).toBe(
      'entities: 1 key columns given; the join keys are shop, item',
    );
    expect(
      refusal(
        () => entityRows(COMPOSITE, [strings('shop', ['a']), ints('sku', ['1'])], 10),
        'E_INVALID_ARGUMENT',
      ),
    ).toBe('entities: no column for join key "item" (join keys: shop, item)');
    expect(
      refusal(
        () => entityRows(USER, [strings('user_id', ['a']), strings('x', ['b'])], 10),
        'E_INVALID_ARGUMENT',
      ),
    ).toBe('entities: 2 key columns given; the join keys are user_id');
  });

  it('refuses an int64 id that is not an integer, naming the row', () => {
    expect(
      refusal(() => entityRows(FLOWER, [ints('flower_id', ['1', 'x7'])], 10), 'E_INVALID_ARGUMENT'),
    ).toBe('entities: row 1, "flower_id": "x7" is not an int64');
  });

  it('gives no rows for empty columns', () => {
    expect(entityRows(USER, [strings('user_id', [])], 10).count).toBe(0);
  });
});
