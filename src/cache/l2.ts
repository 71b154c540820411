import { Redis } from 'ioredis';
import { redactUrl } from '../config/redact.js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import { type CircuitOptions, L2Circuit } from './l2_circuit.js';

export interface L2Options {
  readonly url: string;
  readonly timeoutMs: number;
  readonly maxPendingWrites: number;
  readonly circuit: CircuitOptions;
}

export interface L2Write {
  readonly key: string;
  readonly value: Buffer;
  readonly ttlMs: number;
}

/**
 * The shared Redis tier. Every Redis call goes through `#guard`, the one door
 * that applies the timeout, the circuit breaker, the metric and the log line, and turns failure
 * into "no answer": a Redis outage degrades to L1 plus the model, it never
 * fails a request or waits past the command timeout.
 */
export class L2Cache {
  readonly #redis: Redis;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #maxPendingWrites: number;
  readonly #pending = new Set<Promise<void>>();
  readonly #circuit: L2Circuit;
  #pendingRows = 0;
  #everConnected = false;
  #outageLogged = false;

  constructor(options: L2Options, metrics: Metrics, log: Logger) {
    this.#metrics = metrics;
    this.#log = log.child({ component: 'l2' });
    this.#maxPendingWrites = options.maxPendingWrites;
    this.#circuit = new L2Circuit(options.circuit, metrics, this.#log);
    this.#redis = new Redis(options.url, {
      // Fail fast instead of queueing: a queued command would wait for a
      // reconnect that may take seconds, past any request's deadline.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.timeoutMs,
      connectTimeout: Math.max(1000, options.timeoutMs * 10),
      retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000),
      lazyConnect: true,
    });
    this.#redis.on('ready', () => this.#onReady(options.url));
    this.#redis.on('error', (error: Error) => this.#onError(options.url, error));
    this.#redis.on('close', () => this.#onClose());
    metrics.l2Connected.set(0);
    this.#redis.connect().catch(() => {
      // Reported by the 'error' handler; ioredis keeps reconnecting on its own.
    });
  }

  get connected(): boolean {
    return this.#redis.status === 'ready';
  }

  /** One MGET for all keys; null where missing or when Redis cannot answer. */
  async getMany(keys: readonly string[]): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return [];
    const result = await this.#guard('mget', () => this.#redis.mgetBuffer(...keys));
    return result ?? new Array<null>(keys.length).fill(null);
  }

  /**
   * Writes in one pipeline without making the caller wait. Bounded: past
   * `maxPendingWrites` rows in flight, new writes are dropped and counted.
   */
  writeMany(writes: readonly L2Write[]): void {
    if (writes.length === 0) return;
    if (!this.connected || this.#circuit.open || this.#pendingRows + writes.length > this.#maxPendingWrites) {
      this.#metrics.l2DroppedWrites.inc(writes.length);
      return;
    }
    this.#pendingRows += writes.length;
    const pipeline = this.#redis.pipeline();
    for (const w of writes) pipeline.set(w.key, w.value, 'PX', w.ttlMs);
    const done = this.#guard('set', () => pipeline.exec()).then(() => {
      this.#pendingRows -= writes.length;
      this.#pending.delete(done);
    });
    this.#pending.add(done);
  }

  /** Waits for queued writes (bounded by the command timeout), then disconnects. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
    this.#circuit.shutdown();
    this.#redis.disconnect();
    this.#metrics.l2Connected.set(0);
  }

  async #guard<T>(op: string, call: () => Promise<T>): Promise<T | undefined> {
    if (!this.connected) {
      this.#metrics.l2Errors.labels(op, 'unavailable').inc();
      return undefined;
    }
    if (this.#circuit.open) {
      this.#metrics.l2Errors.labels(op, 'circuit_open').inc();
      return undefined;
    }
    const stop = this.#metrics.l2Duration.labels(op).startTimer();
    try {
      return await this.#circuit.run(call);
    } catch (error) {
      const reason = failureReason(error);
      this.#metrics.l2Errors.labels(op, reason).inc();
      this.#log.debug({ op, reason, err: String(error) }, 'L2 operation failed');
      return undefined;
    } finally {
      stop();
    }
  }

  #onReady(url: string): void {
    this.#metrics.l2Connected.set(1);
    this.#log.info({ redis: redactUrl(url) }, this.#everConnected ? 'L2 reconnected' : 'L2 connected');
    this.#everConnected = true;
    this.#outageLogged = false;
  }

  #onError(url: string, error: Error): void {
    // One WARN line per outage, not one per reconnect attempt.
    if (this.#outageLogged) return;
    this.#outageLogged = true;
    this.#log.warn(
      { redis: redactUrl(url), err: error.message },
      this.#everConnected
        ? 'L2 unreachable: serving from L1 and the model, reconnecting in the background'
        : 'Redis unreachable at start: serving from L1 and the model only, reconnecting in the background',
    );
  }

  #onClose(): void {
    this.#metrics.l2Connected.set(0);
  }
}

function failureReason(error: unknown): 'timeout' | 'circuit_open' | 'error' {
  // opossum refuses with EOPENBREAKER while half-open and its one trial call is out.
  if ((error as { code?: unknown }).code === 'EOPENBREAKER') return 'circuit_open';
  return /timed out/i.test(String(error)) ? 'timeout' : 'error';
}
