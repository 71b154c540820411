import type { Logger } from '../ops/logger.js';
import type { LinkPayload, NodeLink } from '../redis/door.js';

export type TrackingMode = 'bcast' | 'off' | 'refused';

/**
 * Redis server-assisted client-side caching, for writers that bypass the
 * sidecar (a batch job writing feature rows straight into Redis): each
 * coherence link asks its node to report every change under the tracked
 * prefixes (CLIENT TRACKING ON REDIRECT <itself> BCAST PREFIX ...) and
 * subscribes to __redis__:invalidate, where the node sends the keys.
 *
 * Known traps, handled here:
 * - Tracking lives and dies with its connection, and over RESP2 a redirect
 *   target is not told when the tracking connection goes away: the same
 *   connection tracks and receives, and every re-arm after a reconnect
 *   drops the tracked prefixes from L1 (changes may have been missed).
 * - Over RESP2 Redis sends a redirect target's invalidations only once it
 *   is subscribed to __redis__:invalidate, and drops them until then. So
 *   the drop waits for the SUBSCRIBE's answer: dropped at the re-arm, a
 *   row read into L1 before the SUBSCRIBE (L1 takes values while it is
 *   not read) and changed meanwhile would stay stale for its L1 TTL.
 * - RESP3 delivers invalidations as push messages that ioredis drops; we
 *   use ioredis 5, which speaks RESP2 only (ioredis 6 would need the
 *   protocol pinned to 2).
 * - Managed offerings may refuse REDIRECT or BCAST: the refusal is logged
 *   once, `mode` says 'refused' (and the metric), and feature rows are then
 *   stale by at most their L1 TTL.
 * - On a cluster tracking is per node: there is one link per master.
 */
export class Tracking {
  readonly #prefixes: readonly string[];
  readonly #enabled: boolean;
  readonly #onKeys: (keys: string[]) => void;
  readonly #onLost: () => void;
  readonly #log: Logger;
  readonly #armedBefore = new Set<string>();
  #mode: TrackingMode;
  #refusalLogged = false;

  constructor(
    prefixes: readonly string[],
    enabled: boolean,
    handlers: { onKeys: (keys: string[]) => void; onLost: () => void },
    log: Logger,
  ) {
    this.#prefixes = prefixes;
    this.#enabled = enabled;
    this.#mode = enabled ? 'bcast' : 'off';
    this.#onKeys = handlers.onKeys;
    this.#onLost = handlers.onLost;
    this.#log = log;
  }

  get mode(): TrackingMode {
    return this.#mode;
  }

  /**
   * Arms tracking on a (re)connected link, then subscribes it (`subscribe`,
   * which must take __redis__:invalidate), and only once that is answered
   * tells of the changes a re-armed node may not have reported.
   */
  async arm(link: NodeLink, subscribe: () => Promise<void>): Promise<void> {
    if (!this.#enabled) {
      await subscribe();
      return;
    }
    try {
      const id = String(await link.command('CLIENT', 'ID'));
      const prefixes = this.#prefixes.flatMap((p) => ['PREFIX', p]);
      await link.command('CLIENT', 'TRACKING', 'ON', 'REDIRECT', id, 'BCAST', ...prefixes);
      this.#mode = 'bcast';
    } catch (error) {
      this.#mode = 'refused';
      if (!this.#refusalLogged) {
        this.#refusalLogged = true;
        this.#log.warn(
          { node: link.node, err: (error as Error).message.slice(0, 200) },
          'Redis refused client tracking: writes that bypass the sidecar reach L1 only when entries expire (L1 TTL)',
        );
      }
      await subscribe();
      return;
    }
    await subscribe();
    // Changes made while this node's tracking was down were never reported.
    if (this.#armedBefore.has(link.node)) this.#onLost();
    this.#armedBefore.add(link.node);
  }

  /** A message on __redis__:invalidate: the keys changed, or null when the node was flushed. */
  onInvalidate(payload: LinkPayload): void {
    if (payload === null) {
      this.#onLost();
      return;
    }
    const keys = Array.isArray(payload) ? payload.map((k) => k.toString()) : [payload.toString()];
    this.#onKeys(keys);
  }
}
