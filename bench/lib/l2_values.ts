import type { CacheKind } from '../../src/cache/kind.js';
import type { Hit } from '../../src/cache/tiered.js';
import { SETTINGS } from '../../src/config/schema.js';
import type { Prediction } from '../../src/predict/prediction_kind.js';
import { DType } from '../../src/tensor/dtypes.js';
import type { OurCode } from './dist.js';
import { envInt } from './env.js';
import { mulberry32, randomFloats } from './rows.js';

/** The shape of the L2 batch scenarios (single server and cluster alike). */
export const L2_BATCH = {
  keys: 1000,
  rounds: 7,
  /** Timed calls per contender per round (BENCH_L2_ITERATIONS). */
  iterations: envInt('BENCH_L2_ITERATIONS', 200, 1),
  /** Turns per round: a multiple of 2n for n = 3 and 4 contenders (see alternate.ts turnOrder). */
  turns: 24,
  warmup: 300,
} as const;

/** The heavy model's output: y float32 [N, 64], so 256 bytes of payload per cached row. */
export const HEAVY_OUTPUT_FLOATS = 64;

/** The prediction kind the sidecar makes for the heavy model's rows, with the default lifetimes. */
export function heavyRowKind(code: OurCode): CacheKind<Prediction> {
  return code.predictionKind([{ name: 'y', dtype: DType.FLOAT32, dims: ['N', HEAVY_OUTPUT_FLOATS] }], true, {
    l1Ms: SETTINGS.l1TtlMs.default,
    l2Ms: SETTINGS.l2TtlMs.default,
    l2Jitter: SETTINGS.l2TtlJitter.default,
  });
}

export interface L2Entries {
  readonly keys: string[];
  /** Each key's value as L2 stores it: the kind's payload in a value frame. */
  readonly frames: Buffer[];
}

/**
 * `count` heavy-model rows under keys of the sidecar's format (v2: a `{hh}`
 * hash tag, so a batch spans at most 256 cluster slots), with random outputs.
 * Hashes come from a seeded PRNG: the same keys, so the same slots, every run.
 */
export function heavyEntries(
  code: OurCode,
  kind: CacheKind<Prediction>,
  count: number,
  seed: number,
): L2Entries {
  const rand = mulberry32(seed);
  const hex = () => ((rand() * 2 ** 32) >>> 0).toString(16).padStart(8, '0');
  const scope = code.keyScope('benchl2', 'p', 'heavy', '1');
  const createdAt = Date.now();
  const keys: string[] = [];
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const key = code.cacheKey(scope, hex() + hex() + hex() + hex());
    const value: Prediction = {
      createdAt,
      tensors: [
        { dtype: DType.FLOAT32, dims: [HEAVY_OUTPUT_FLOATS], data: randomFloats(rand, HEAVY_OUTPUT_FLOATS) },
      ],
    };
    keys.push(key);
    frames.push(code.encodeFrame(key, kind.id, createdAt, kind.encode(value)));
  }
  return { keys, frames };
}

/**
 * The baseline's decoding: what the cache does with each value read (frame
 * check, then the kind's decode against the model's outputs), no more, into
 * a fresh array per call as getMany's answers are (an array kept across
 * calls would keep the last batch alive, a GC cost the cache does not pay).
 * Returns how many values decoded.
 */
export function decoder(code: OurCode, kind: CacheKind<Prediction>) {
  const { decodeFrame } = code;
  return (keys: readonly string[], values: readonly (Buffer | null | undefined)[]): number => {
    const out = new Array<Prediction | undefined>(keys.length);
    let hits = 0;
    for (let i = 0; i < keys.length; i++) {
      const bytes = values[i];
      if (bytes == null) continue;
      const frame = decodeFrame(keys[i] as string, kind.id, bytes);
      out[i] = kind.decode(frame.payload, frame.time);
      hits++;
    }
    return hits;
  };
}

/** How many of a getMany's answers are L2 hits. */
export function l2Hits(hits: readonly (Hit<Prediction> | undefined)[]): number {
  let n = 0;
  for (const h of hits) if (h?.tier === 'l2') n++;
  return n;
}
