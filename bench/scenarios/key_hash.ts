import { rememberingHasher } from '../../src/cache/hash_memo.js';
import { KeyMemo } from '../../src/cache/key_memo.js';
import { cacheKey, createKeyHasher, type KeyHasher } from '../../src/cache/keys.js';
import { TinyLfuStore } from '../../src/cache/tiny_lfu.js';
import { type EntityColumnWire, entityRows } from '../../src/features/entity_keys.js';
import type { FeatureView } from '../../src/features/view.js';
import { type KeyContext, ROWS_PER_SLICE_MAX, rowKeysNow } from '../../src/predict/row_keys.js';
import { RowLayouts } from '../../src/predict/row_layout.js';
import { DType } from '../../src/tensor/dtypes.js';
import type { HostTensor } from '../../src/tensor/host_tensor.js';
import { keyReader } from '../../test/helpers/key_reader.js';
import type { ScenarioResult } from '../lib/report.js';
import { mulberry32, randomFloats } from '../lib/rows.js';

const ROWS = 4096;
const ROUNDS = 5;
// Rows looked up again per call, as a GetFeatures or Predict of 1,000 rows from L1 would.
const LOOKUP_ROWS = 1000;
const LOOKUP_CALLS = 200;

/**
 * What a collision-resistant key costs: the same canonical rows hashed with
 * the default XXH3-128, XXH3-128 keyed by a secret, and HMAC-SHA256-128, in
 * this process (no server). The row sizes are an iris row (16 bytes + key
 * header) and a heavy row (1 KiB + header).
 */
export async function keyHash(): Promise<ScenarioResult> {
  const rng = mulberry32(0x4a5);
  const sizes = { iris: 16 + 40, heavy: 1024 + 40 };
  const hashers: Record<string, KeyHasher> = {
    'xxh3-128': createKeyHasher('xxh3-128', ''),
    'xxh3-128 + secret': createKeyHasher('xxh3-128', 'deployment-secret'),
    'hmac-sha256-128': createKeyHasher('hmac-sha256-128', 'deployment-secret'),
  };
  const phases: ScenarioResult['phases'] = {};
  for (const [rowName, bytes] of Object.entries(sizes)) {
    const rows = Array.from({ length: ROWS }, () => randomFloats(rng, bytes / 4));
    for (const [hashName, hash] of Object.entries(hashers)) {
      for (const row of rows) hash(row); // Warm-up.
      let best = Number.POSITIVE_INFINITY;
      for (let round = 0; round < ROUNDS; round++) {
        const start = process.hrtime.bigint();
        for (const row of rows) hash(row);
        best = Math.min(best, Number(process.hrtime.bigint() - start) / ROWS);
      }
      phases[`${hashName}, ${rowName} row`] = { nsPerRow: best, rowBytes: bytes };
    }
  }
  Object.assign(phases, keyAndLookup());
  const ns = (name: string) => Number(phases[name]?.nsPerRow);
  return {
    name: 'key_hash',
    title: 'Key hashing cost per row: XXH3-128 vs keyed XXH3 vs HMAC-SHA256',
    settings: { rows: ROWS, rounds: ROUNDS, statistic: 'best round' },
    ratios: {
      'hmac/xxh3, iris row': { value: ns('hmac-sha256-128, iris row') / ns('xxh3-128, iris row') },
      'hmac/xxh3, heavy row': { value: ns('hmac-sha256-128, heavy row') / ns('xxh3-128, heavy row') },
      'keyed xxh3/xxh3, heavy row': { value: ns('xxh3-128 + secret, heavy row') / ns('xxh3-128, heavy row') },
      'key remembered/key built, iris row to L1 hit': {
        value: ns(`${IRIS_REMEMBERED}, to L1 hit`) / ns(`${IRIS_BUILT}, to L1 hit`),
      },
      'key remembered/key built, entity key to L1 hit': {
        value: ns(`${ENTITY_REMEMBERED}, to L1 hit`) / ns(`${ENTITY_BUILT}, to L1 hit`),
      },
      'by id (GetFeatures)/key built, entity key to L1 hit': {
        value: ns(`${ENTITY_BY_ID}, to L1 hit`) / ns(`${ENTITY_BUILT}, to L1 hit`),
      },
    },
    phases,
    notes: [
      'Includes turning the 128-bit digest into the 32-hex-digit key suffix.',
      `"to L1 hit": ${LOOKUP_CALLS} lookups of the same ${LOOKUP_ROWS} rows, each row's key made and looked up in an L1 store (W-TinyLFU) that holds it; best of ${ROUNDS} rounds, per row. ${IRIS_BUILT}: the hash remembered by the row's bytes and the key built from it, as the sidecar did before the key memo; ${IRIS_REMEMBERED}: the key remembered by the row's bytes (cache/key_memo.ts), nothing hashed. ${ENTITY_BUILT} / ${ENTITY_REMEMBERED}: an int64 entity key's hash remembered, then its key built, or remembered by that hash; ${ENTITY_BY_ID}: what GetFeatures does, from the request's int64 column checked into entity rows, each row's hash remembered by its id and its key by that hash (FeatureReader.hashes and keys).`,
    ],
  };
}

const IRIS_BUILT = 'iris row, hash remembered, key built';
const IRIS_REMEMBERED = 'iris row, key remembered';
const ENTITY_BUILT = 'entity key, hash remembered, key built';
const ENTITY_REMEMBERED = 'entity key, key remembered';
const ENTITY_BY_ID = 'entity id, by id (GetFeatures)';

/**
 * What it costs to go from a row to its L1 hit: the key made (hashed and
 * built, or remembered) and looked up, for rows hit again and again.
 */
function keyAndLookup(): Record<string, { nsPerRow: number; rowBytes: number }> {
  const rng = mulberry32(0x6b6d);
  const hasher = createKeyHasher('xxh3-128', '');
  const scope = 'ic:p:iris:1:g0.0:';
  const iris: [string, HostTensor][] = [
    ['features', { dtype: DType.FLOAT32, dims: [LOOKUP_ROWS, 4], data: randomFloats(rng, LOOKUP_ROWS * 4) }],
  ];
  const built: KeyContext = { scope, hasher: rememberingHasher(hasher), digest: Buffer.alloc(32, 7) };
  // As the sidecar keys a version's rows: the key memo, and its last row layout kept.
  const remembered: KeyContext = { ...built, hasher, memo: new KeyMemo(), layouts: new RowLayouts() };
  // Rows in slices, as the synchronous path takes them.
  const slices = Array.from({ length: Math.ceil(LOOKUP_ROWS / ROWS_PER_SLICE_MAX) }, (_, i) => {
    const from = i * ROWS_PER_SLICE_MAX;
    const n = Math.min(ROWS_PER_SLICE_MAX, LOOKUP_ROWS - from);
    const data = (iris[0] as [string, HostTensor])[1].data.subarray(from * 16, (from + n) * 16);
    return {
      n,
      inputs: [['features', { dtype: DType.FLOAT32, dims: [n, 4], data }]] as [string, HostTensor][],
    };
  });
  const irisKeys = (ctx: KeyContext) => slices.flatMap((sl) => rowKeysNow(ctx, sl.inputs, sl.n));
  const entities = Array.from({ length: LOOKUP_ROWS }, (_, i) => {
    const b = Buffer.alloc(9);
    b[0] = 1;
    b.writeBigInt64LE(BigInt(1_000_000 + i * 7919), 1);
    return b;
  });
  const entityHasher = rememberingHasher(hasher);
  const entityScope = 'ic:f:view:g0:';
  const memo = new KeyMemo();
  const entityKeys = (remember: boolean) => {
    const key = remember ? memo.scoped(entityScope) : (h: string) => cacheKey(entityScope, h);
    return entities.map((e) => key(entityHasher(e)));
  };
  // GetFeatures as it is: the request's int64 column checked into entity rows,
  // each row's hash remembered by its id, its key by that hash (FeatureReader).
  const view = { name: 'view', joinKeys: [{ name: 'id', type: 'int64' }] } as unknown as FeatureView;
  const reader = keyReader({ hasher, views: [view] });
  const column: EntityColumnWire[] = [
    { name: 'id', string_values: [], int64_values: entities.map((_, i) => 1_000_000 + i * 7919) },
  ];
  const byId = () => {
    const rows = entityRows(view.joinKeys, column, LOOKUP_ROWS);
    return reader.keys(view, rows, reader.hashes(rows));
  };
  const cases: Record<string, { keys: () => string[]; rowBytes: number }> = {
    [IRIS_BUILT]: { keys: () => irisKeys(built), rowBytes: 16 },
    [IRIS_REMEMBERED]: { keys: () => irisKeys(remembered), rowBytes: 16 },
    [ENTITY_BUILT]: { keys: () => entityKeys(false), rowBytes: 9 },
    [ENTITY_REMEMBERED]: { keys: () => entityKeys(true), rowBytes: 9 },
    [ENTITY_BY_ID]: { keys: byId, rowBytes: 9 },
  };
  const out: Record<string, { nsPerRow: number; rowBytes: number }> = {};
  for (const [name, c] of Object.entries(cases)) {
    const store = new TinyLfuStore<object>({ maxBytes: 64 * 1024 * 1024 });
    const value = {};
    for (const key of c.keys()) store.set(key, value, 100, 3_600_000);
    let hits = 0;
    const call = () => {
      for (const key of c.keys()) if (store.get(key) !== undefined) hits++;
    };
    for (let i = 0; i < LOOKUP_CALLS; i++) call(); // Warm-up.
    let best = Number.POSITIVE_INFINITY;
    for (let round = 0; round < ROUNDS; round++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < LOOKUP_CALLS; i++) call();
      best = Math.min(best, Number(process.hrtime.bigint() - start) / (LOOKUP_CALLS * LOOKUP_ROWS));
    }
    if (hits !== (ROUNDS + 1) * LOOKUP_CALLS * LOOKUP_ROWS) throw new Error(`${name}: ${hits} hits`);
    out[`${name}, to L1 hit`] = { nsPerRow: best, rowBytes: c.rowBytes };
  }
  return out;
}
