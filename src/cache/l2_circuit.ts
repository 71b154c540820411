import CircuitBreaker from 'opossum';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';

export interface CircuitOptions {
  /** How long the circuit stays open before one trial call (ms). */
  readonly resetMs: number;
  /** Share of failed calls, in percent, over the last second that opens it. */
  readonly errorThresholdPct: number;
}

/**
 * The circuit breaker in front of Redis. The command timeout alone bounds
 * one call, but a Redis that is connected and slow would still cost every
 * request that timeout; once most recent calls fail, the open circuit skips
 * L2 at once until a trial call after `resetMs` succeeds.
 */
export class L2Circuit {
  readonly #breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;

  constructor(options: CircuitOptions, metrics: Metrics, log: Logger) {
    this.#breaker = new CircuitBreaker((call: () => Promise<unknown>) => call(), {
      // ioredis's commandTimeout already bounds each call.
      timeout: false,
      errorThresholdPercentage: options.errorThresholdPct,
      resetTimeout: options.resetMs,
      // Judge on the last second, not opossum's default ten: a Redis that
      // turns slow after hours of health should be cut off in about a second.
      rollingCountTimeout: 1000,
      rollingCountBuckets: 10,
      volumeThreshold: 5,
    });
    metrics.l2CircuitOpen.set(0);
    this.#breaker.on('open', () => {
      metrics.l2CircuitOpen.set(1);
      log.warn({ resetMs: options.resetMs }, 'L2 circuit open: Redis calls are failing, skipping L2 for now');
    });
    this.#breaker.on('halfOpen', () => log.info('L2 circuit half-open: trying Redis again'));
    this.#breaker.on('close', () => {
      metrics.l2CircuitOpen.set(0);
      log.info('L2 circuit closed: Redis answers again');
    });
  }

  /** True while calls are being refused without reaching Redis. */
  get open(): boolean {
    return this.#breaker.opened;
  }

  run<T>(call: () => Promise<T>): Promise<T> {
    return this.#breaker.fire(call) as Promise<T>;
  }

  shutdown(): void {
    this.#breaker.shutdown();
  }
}
