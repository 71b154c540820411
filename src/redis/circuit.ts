import CircuitBreaker from 'opossum';
import type { Logger } from '../ops/logger.js';

export interface CircuitOptions {
  /** How long the circuit stays open before one trial call (ms). */
  readonly resetMs: number;
  /** Share of failed calls, in percent, over the last second that opens it. */
  readonly errorThresholdPct: number;
}

/**
 * The circuit breaker of one Redis node and one direction (reads or writes).
 * The command timeout bounds one call, but a Redis that is connected and slow
 * would still cost every request that timeout; once most recent calls fail,
 * the open circuit skips the node at once until a trial call after `resetMs`
 * succeeds. Reads and writes have their own circuits: a server that refuses
 * writes (out of memory, read-only replica) can still serve hits.
 *
 * Logging: one WARN line when the circuit first opens, one INFO line when it
 * closes again; the open/half-open flapping of failed trials in between is
 * counted, not logged (a stall of 8 s used to log 7 WARN lines). The
 * condition that opened it has its own WARN line (outage_log.ts).
 */
export class Circuit {
  readonly #breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  #outageSince: number | undefined;
  #failedTrials = 0;

  constructor(
    options: CircuitOptions,
    labels: { node: string; direction: string },
    onState: (open: boolean) => void,
    log: Logger,
  ) {
    this.#breaker = new CircuitBreaker((call: () => Promise<unknown>) => call(), {
      // Our own timer (node_gate.ts) already bounds each call.
      timeout: false,
      errorThresholdPercentage: options.errorThresholdPct,
      resetTimeout: options.resetMs,
      // Judge on the last second, not opossum's default ten: a Redis that
      // turns slow after hours of health should be cut off in about a second.
      rollingCountTimeout: 1000,
      rollingCountBuckets: 10,
      volumeThreshold: 5,
    });
    onState(false);
    this.#breaker.on('open', () => {
      onState(true);
      if (this.#outageSince !== undefined) {
        this.#failedTrials++;
        return;
      }
      this.#outageSince = Date.now();
      log.warn(
        { ...labels, resetMs: options.resetMs },
        'Redis circuit open: calls are failing, skipping them for now',
      );
    });
    this.#breaker.on('close', () => {
      onState(false);
      const since = this.#outageSince;
      if (since === undefined) return;
      log.info(
        { ...labels, seconds: (Date.now() - since) / 1000, failedTrials: this.#failedTrials },
        'Redis circuit closed: calls succeed again',
      );
      this.#outageSince = undefined;
      this.#failedTrials = 0;
    });
  }

  /** True while calls are refused without reaching Redis (not while one trial call is allowed). */
  get open(): boolean {
    return this.#breaker.opened;
  }

  /** Runs `call`; it must reject for the failure to count. */
  run<T>(call: () => Promise<T>): Promise<T> {
    return this.#breaker.fire(call) as Promise<T>;
  }

  shutdown(): void {
    this.#breaker.shutdown();
  }
}
