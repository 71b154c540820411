import type { Logger } from '../ops/logger.js';

/**
 * The connection story of one client, told in as few lines as possible: one
 * INFO when it connects, one WARN when it cannot (at start or later), one
 * INFO when it is back; reconnect attempts in between are silent.
 */
export class ConnectionLog {
  readonly #log: Logger;
  readonly #fields: Record<string, unknown>;
  #everConnected = false;
  #down = false;

  /** `redis` is the URL with its password redacted. */
  constructor(log: Logger, redis: string) {
    this.#log = log;
    this.#fields = { redis };
  }

  ready(): void {
    this.#log.info(this.#fields, this.#everConnected ? 'L2 reconnected' : 'L2 connected');
    this.#everConnected = true;
    this.#down = false;
  }

  error(error: Error): void {
    if (this.#down) return;
    this.#down = true;
    this.#log.warn(
      { ...this.#fields, err: error.message.slice(0, 200) },
      this.#everConnected
        ? 'L2 unreachable: serving from L1 and the model, reconnecting in the background'
        : 'Redis unreachable at start: serving from L1 and the model only, reconnecting in the background',
    );
  }
}
