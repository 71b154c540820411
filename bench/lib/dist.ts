import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type CacheKeys = typeof import('../../src/cache/keys.js');
type L1 = typeof import('../../src/cache/l1.js');
type Tiered = typeof import('../../src/cache/tiered.js');
type ValueFrame = typeof import('../../src/cache/value_frame.js');
type Metrics = typeof import('../../src/ops/metrics.js');
type PredictionKind = typeof import('../../src/predict/prediction_kind.js');
type CreateDoor = typeof import('../../src/redis/create_door.js');

/** The modules of ours that the L2 scenarios time in this process. */
export interface OurCode {
  readonly cacheKey: CacheKeys['cacheKey'];
  readonly keyScope: CacheKeys['keyScope'];
  readonly L1Cache: L1['L1Cache'];
  readonly TieredCache: Tiered['TieredCache'];
  readonly encodeFrame: ValueFrame['encodeFrame'];
  readonly decodeFrame: ValueFrame['decodeFrame'];
  readonly createMetrics: Metrics['createMetrics'];
  readonly predictionKind: PredictionKind['predictionKind'];
  readonly createRedisDoor: CreateDoor['createRedisDoor'];
}

const distDir = new URL('../../dist/', import.meta.url);

/** A module of dist/ by its path there; a missing build is said plainly. */
export async function load<T>(path: string): Promise<T> {
  const url = new URL(path, distDir);
  if (!existsSync(fileURLToPath(url)))
    throw new Error(`${fileURLToPath(url)} is missing: run \`npm run build\``);
  return (await import(url.href)) as T;
}

/**
 * Our code as it ships: the build in dist/ (tsc's output), the same files
 * the sidecars run, typed by their src/ sources. Not src/ through tsx: tsx
 * keeps function names by wrapping each arrow function in a helper that
 * sets its name, which for the closures made on every call (the value
 * decoder's error helpers, say) is an Object.defineProperty per call. Timed
 * through tsx, that took 13-16% of the busy time of both sides of l2_batch,
 * in the decoding they share, which pulled the ratios towards 1.
 */
export async function ourCode(): Promise<OurCode> {
  const [keys, l1, tiered, frame, metrics, kind, door] = await Promise.all([
    load<CacheKeys>('cache/keys.js'),
    load<L1>('cache/l1.js'),
    load<Tiered>('cache/tiered.js'),
    load<ValueFrame>('cache/value_frame.js'),
    load<Metrics>('ops/metrics.js'),
    load<PredictionKind>('predict/prediction_kind.js'),
    load<CreateDoor>('redis/create_door.js'),
  ]);
  return {
    cacheKey: keys.cacheKey,
    keyScope: keys.keyScope,
    L1Cache: l1.L1Cache,
    TieredCache: tiered.TieredCache,
    encodeFrame: frame.encodeFrame,
    decodeFrame: frame.decodeFrame,
    createMetrics: metrics.createMetrics,
    predictionKind: kind.predictionKind,
    createRedisDoor: door.createRedisDoor,
  };
}
