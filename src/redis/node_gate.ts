import type { Logger } from '../ops/logger.js';
import type { RedisMetrics } from '../ops/metrics.js';
import { Circuit, type CircuitOptions } from './circuit.js';
import { classifyRedisError, type FailureReason, RedisTimeoutError } from './errors.js';
import type { OutageLog } from './outage_log.js';
import type { RedisCall, RedisReply, RedisTransport } from './transport.js';

export type Direction = 'read' | 'write';

/** What a failed command yields in place of its reply: one shared instance per reason. */
export class Failure {
  readonly reason: FailureReason;
  constructor(reason: FailureReason) {
    this.reason = reason;
  }
}
const FAILURES = new Map<FailureReason, Failure>();
export function failure(reason: FailureReason): Failure {
  let f = FAILURES.get(reason);
  if (f === undefined) {
    f = new Failure(reason);
    FAILURES.set(reason, f);
  }
  return f;
}
export const isFailure = (outcome: unknown): outcome is Failure => outcome instanceof Failure;

/** A command's reply, or a Failure. */
export type Outcome = unknown;

export interface GateOptions {
  readonly timeoutMs: number;
  readonly circuit: CircuitOptions;
}

// Reasons that say nothing about the node's health: a key that moved is
// answered by its new owner; a caller that gave up is not the node's fault.
const NOT_NODE_FAILURES: ReadonlySet<FailureReason> = new Set([
  'moved',
  'noscript',
  'cancelled',
  'circuit_open',
]);

/**
 * The failure door of one Redis node: every call to it passes here, where the
 * timeout, the circuit breaker (one for reads, one for writes), the metrics,
 * the error classification and the one-line-per-condition log are applied,
 * and where every command's own outcome inside a pipeline is looked at.
 * Nothing here throws: a failed command yields a Failure, already counted.
 */
export class NodeGate {
  readonly node: string;
  readonly #transport: RedisTransport;
  readonly #options: GateOptions;
  readonly #metrics: RedisMetrics;
  readonly #outages: OutageLog;
  readonly #circuits: Record<Direction, Circuit>;

  constructor(
    node: string,
    transport: RedisTransport,
    options: GateOptions,
    metrics: RedisMetrics,
    outages: OutageLog,
    log: Logger,
  ) {
    this.node = node;
    this.#transport = transport;
    this.#options = options;
    this.#metrics = metrics;
    this.#outages = outages;
    const circuit = (direction: Direction) =>
      new Circuit(
        options.circuit,
        { node, direction },
        (open) => metrics.circuitOpen.labels(node, direction).set(open ? 1 : 0),
        log,
      );
    this.#circuits = { read: circuit('read'), write: circuit('write') };
  }

  /** True while `direction` calls to this node are skipped without being sent. */
  circuitOpen(direction: Direction): boolean {
    return this.#circuits[direction].open;
  }

  /** Sends `calls` in one round trip; one outcome per call, a Failure where it failed. */
  async run(
    op: string,
    direction: Direction,
    calls: readonly RedisCall[],
    signal?: AbortSignal,
  ): Promise<Outcome[]> {
    if (signal?.aborted) return new Array<Outcome>(calls.length).fill(failure('cancelled'));
    if (!this.#transport.isConnected(this.node)) {
      // Counted, not logged: the connection itself logs its loss once.
      this.#count(op, 'unavailable', calls.length);
      return new Array<Outcome>(calls.length).fill(failure('unavailable'));
    }
    const circuit = this.#circuits[direction];
    if (circuit.open) return this.#failAll(op, direction, calls.length, 'circuit_open', 'circuit open');

    let replies: RedisReply[] | undefined;
    const stopTimer = this.#metrics.duration.labels(op).startTimer();
    // The attempt is judged on its own outcome, whoever still waits for it:
    // a caller that gives up (its deadline) must not count as a failure of
    // the node, nor may its leaving let a failed trial call pass for a good one.
    const judged = circuit
      .run(async () => {
        replies = await this.#withTimeout(this.#transport.exec(this.node, calls));
        // A pipeline resolves even when commands inside it failed: the
        // breaker must see those failures, or a trial write that timed out
        // would close the circuit while Redis is still down.
        for (const [error] of replies) {
          if (error !== null && !NOT_NODE_FAILURES.has(this.#reason(error))) throw error;
        }
      })
      .then(
        () => this.#outcomes(op, direction, replies as RedisReply[]),
        (error: unknown) =>
          // With the replies in hand each is counted; otherwise the whole call failed.
          replies !== undefined
            ? this.#outcomes(op, direction, replies)
            : this.#failAll(op, direction, calls.length, this.#reason(error), messageOf(error)),
      )
      .finally(stopTimer);
    if (signal === undefined) return judged;
    return leaveOnAbort(judged, signal, () => new Array<Outcome>(calls.length).fill(failure('cancelled')));
  }

  #failAll(op: string, direction: Direction, n: number, reason: FailureReason, detail: string): Outcome[] {
    this.#count(op, reason, n);
    if (!NOT_NODE_FAILURES.has(reason)) this.#outages.failure(this.node, direction, reason, detail);
    return new Array<Outcome>(n).fill(failure(reason));
  }

  shutdown(): void {
    this.#circuits.read.shutdown();
    this.#circuits.write.shutdown();
  }

  #outcomes(op: string, direction: Direction, replies: RedisReply[]): Outcome[] {
    const out = new Array<Outcome>(replies.length);
    let failed = 0;
    let moved = false;
    for (let i = 0; i < replies.length; i++) {
      const [error, value] = replies[i] as RedisReply;
      if (error === null) {
        out[i] = value;
        continue;
      }
      const reason = this.#reason(error);
      out[i] = failure(reason);
      this.#count(op, reason, 1);
      if (reason === 'moved') moved = true;
      if (NOT_NODE_FAILURES.has(reason)) continue;
      failed++;
      this.#outages.failure(this.node, direction, reason, error.message);
    }
    if (moved) this.#transport.refreshTopology();
    if (failed === 0) this.#outages.success(this.node, direction);
    return out;
  }

  #reason(error: unknown): FailureReason {
    const reason = classifyRedisError(error);
    // ioredis reports a connection lost mid-call with a plain Error; the
    // connection state, not the message, says what happened.
    if (reason === 'error' && !this.#transport.isConnected(this.node)) return 'unavailable';
    return reason;
  }

  #count(op: string, reason: FailureReason, n: number): void {
    if (n > 0) this.#metrics.errors.labels(op, reason).inc(n);
  }

  #withTimeout<T>(promise: Promise<T>): Promise<T> {
    const { timeoutMs } = this.#options;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RedisTimeoutError(timeoutMs)), timeoutMs);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** `promise`, or `fallback()` as soon as `signal` fires, whichever comes first. */
export function leaveOnAbort<T>(promise: Promise<T>, signal: AbortSignal, fallback: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    const onAbort = () => resolve(fallback());
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then((value) => {
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
  });
}
