import type { Logger } from '../ops/logger.js';
import type { FailureReason } from './errors.js';

/**
 * One WARN line when a condition starts on a node (Redis unreachable, refusing
 * writes for lack of memory, read-only, timing out...) and one INFO line when
 * calls succeed again, however many calls fail in between: an outage of
 * minutes must not bury the log, and an SRE must still see it start and end.
 */
export class OutageLog {
  readonly #log: Logger;
  readonly #active = new Map<string, { since: number; failures: number }>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /** A call to `node` failed for `reason` (`detail` is the library's error message). */
  failure(node: string, direction: string, reason: FailureReason, detail: string): void {
    const id = `${node}|${direction}|${reason}`;
    const current = this.#active.get(id);
    if (current !== undefined) {
      current.failures++;
      return;
    }
    this.#active.set(id, { since: Date.now(), failures: 1 });
    this.#log.warn(
      { node, direction, reason, err: detail.slice(0, 200) },
      `Redis ${direction}s failing (${reason}): serving without L2 where needed until it recovers`,
    );
  }

  /** A call of `direction` to `node` succeeded: ends every condition of that node and direction. */
  success(node: string, direction: string): void {
    if (this.#active.size === 0) return;
    for (const [id, state] of this.#active) {
      const [n, d, reason] = id.split('|');
      if (n !== node || d !== direction) continue;
      this.#active.delete(id);
      this.#log.info(
        { node, direction, reason, failures: state.failures, seconds: (Date.now() - state.since) / 1000 },
        `Redis ${direction}s succeed again`,
      );
    }
  }
}
