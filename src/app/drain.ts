import type { Server as HttpServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import type { Health } from '../api/health.js';
import type { TieredCache } from '../cache/tiered.js';
import type { Logger } from '../ops/logger.js';

// How long shutdown waits for L2 writes in flight once calls have ended.
const FLUSH_WAIT_MS = 1000;

export interface DrainParts {
  readonly server: grpc.Server;
  readonly health: Health;
  readonly cache: TieredCache;
  readonly http: HttpServer | undefined;
  readonly drainDelayMs: number;
  readonly graceMs: number;
  /** Refuses new model runs and drops the waiting ones. */
  readonly stopRuns: () => void;
  /** Stops timers, the bus and the model scan; writes the L1 snapshot. */
  readonly stopBackground: () => Promise<void>;
  /** Workers, Redis: the last to go. */
  readonly close: () => Promise<unknown>;
  readonly log: Logger;
}

/**
 * Shutdown: health NOT_SERVING (and a delay for load balancers to see it),
 * calls in progress finish within the grace period and are cancelled past
 * it, L2 writes in flight get a moment, then everything closes.
 */
export async function drain(p: DrainParts, reason: string): Promise<void> {
  const { log } = p;
  log.info({ reason, graceMs: p.graceMs }, 'draining: health NOT_SERVING, finishing in-flight calls');
  p.health.draining();
  // Give load balancers and readiness probes time to see NOT_SERVING
  // while calls are still accepted.
  if (p.drainDelayMs > 0) await sleep(p.drainDelayMs);
  // Stop accepting calls and let the ones in progress finish, bounded by
  // the grace period; Watch streams are ended, as they never end alone.
  const stopped = new Promise<boolean>((resolve) => p.server.tryShutdown(() => resolve(true)));
  p.health.endWatches();
  const graceOver = new AbortController();
  const finished = await Promise.race([
    stopped,
    sleep(p.graceMs, false, { signal: graceOver.signal }).catch(() => false),
  ]);
  graceOver.abort();
  if (!finished) {
    // Cancelling the calls aborts their signals: their queued model runs
    // are dropped and their waits end, so the queue depth does not matter.
    log.warn({ graceMs: p.graceMs }, 'grace period over: cancelling the calls still running');
    p.server.forceShutdown();
  }
  p.stopRuns();
  await Promise.race([p.cache.flush(), sleep(FLUSH_WAIT_MS)]);
  // Runs already on a worker finish (at most one per worker): onnxruntime
  // cannot stop a run from outside, and ending the thread or the process
  // under it aborts the process. Every waiting run was dropped above.
  await p.stopBackground();
  await Promise.allSettled([
    p.close(),
    new Promise<void>((resolve) => (p.http ? p.http.close(() => resolve()) : resolve())),
  ]);
  log.info('stopped');
}
