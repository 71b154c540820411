import type { RedisOptions } from 'ioredis';
import type { Logger } from '../ops/logger.js';
import { type LinkHandlers, NodeLink } from './node_link.js';
import type { RedisTransport } from './transport.js';

// How often the set of nodes is compared with the topology (a cluster gains
// or loses masters on failover and resharding).
const RECONCILE_MS = 2000;

/** The coherence links of a door: one per node (per master of a cluster). */
export interface Links {
  /** Every link now, up or not. */
  all(): readonly NodeLink[];
  close(): void;
}

/** One NodeLink per node the transport knows, kept in step with the topology. */
export class LinkSet implements Links {
  readonly #links = new Map<string, NodeLink>();
  readonly #transport: RedisTransport;
  readonly #options: RedisOptions;
  readonly #handlers: LinkHandlers;
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout;

  constructor(transport: RedisTransport, options: RedisOptions, handlers: LinkHandlers, log: Logger) {
    this.#transport = transport;
    this.#options = options;
    this.#handlers = handlers;
    this.#log = log;
    this.#reconcile();
    this.#timer = setInterval(() => this.#reconcile(), RECONCILE_MS);
    this.#timer.unref();
  }

  all(): readonly NodeLink[] {
    return [...this.#links.values()];
  }

  close(): void {
    clearInterval(this.#timer);
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
  }

  #reconcile(): void {
    const nodes = new Set(this.#transport.nodes());
    for (const node of nodes) {
      if (this.#links.has(node)) continue;
      this.#links.set(node, new NodeLink(node, this.#options, this.#handlers, this.#log));
    }
    for (const [node, link] of this.#links) {
      if (nodes.has(node)) continue;
      link.close();
      this.#links.delete(node);
      this.#handlers.onDown(link);
    }
  }
}
