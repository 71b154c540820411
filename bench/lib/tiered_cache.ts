import { pino } from 'pino';
import type { TieredCache } from '../../src/cache/tiered.js';
import { SETTINGS } from '../../src/config/schema.js';
import type { OurCode } from './dist.js';

export interface BenchCache {
  readonly cache: TieredCache;
  close(): Promise<void>;
}

/**
 * The sidecar's cache stack, in this process: the Redis door createRedisDoor
 * builds from the default settings, behind a TieredCache whose L1 gives
 * predictions a share of 0 (L1 off for them), so every prediction lookup goes to L2.
 * Logs go to stderr (stdout carries the report).
 */
export function benchTieredCache(code: OurCode, url: string, mode: 'single' | 'cluster'): BenchCache {
  const metrics = code.createMetrics();
  // Errors only: a Redis timeout under load is counted per call (shortCalls), not logged.
  const log = pino({ level: 'error', base: { service: 'infercache-bench' } }, pino.destination(2));
  const door = code.createRedisDoor(
    {
      url,
      mode,
      timeoutMs: SETTINGS.l2TimeoutMs.default,
      circuit: {
        resetMs: SETTINGS.l2BreakerResetMs.default,
        errorThresholdPct: SETTINGS.l2BreakerThresholdPct.default,
      },
    },
    metrics.redis,
    log,
  );
  const l1 = new code.L1Cache(
    { maxBytes: SETTINGS.l1MaxBytes.default, shares: { p: 0, f: 0.5, e: 0.5 } },
    metrics.cache,
    metrics.l1Sources,
  );
  const cache = new code.TieredCache(
    l1,
    door,
    { maxPendingWrites: SETTINGS.l2MaxPendingWrites.default },
    metrics.cache,
  );
  return { cache, close: () => door.close() };
}
