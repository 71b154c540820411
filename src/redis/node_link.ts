import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../ops/logger.js';

const HEARTBEAT_MS = 1000;
const HEARTBEAT_TIMEOUT_MS = 2000;

/** A message that arrived on a link: a channel and its payload (an array of keys for tracking). */
export type LinkPayload = Buffer | Buffer[] | null;

export interface LinkHandlers {
  /**
   * Runs on every (re)connect of a link, before it counts as up: arm what
   * the connection must do (CLIENT TRACKING, SUBSCRIBE). A connection's
   * state on the server is lost with it, so it is armed again each time.
   */
  onReady(link: NodeLink): Promise<void>;
  onMessage(channel: string, payload: LinkPayload, link: NodeLink): void;
  /** The link lost its connection: whatever it was told of may have been missed. */
  onDown(link: NodeLink): void;
}

/**
 * One dedicated connection to one Redis node, for what cannot share the
 * command connections: subscriptions (a subscribed connection takes no other
 * commands) and client-side-cache tracking (state that lives and dies with
 * its connection). ioredis's own resubscribe is off: onReady arms the
 * connection itself, in order, after every reconnect.
 */
export class NodeLink {
  readonly node: string;
  readonly #redis: Redis;
  readonly #log: Logger;
  readonly #handlers: LinkHandlers;
  readonly #heartbeat: NodeJS.Timeout;
  #up = false;
  #pinging = false;

  constructor(node: string, options: RedisOptions, handlers: LinkHandlers, log: Logger) {
    this.node = node;
    this.#log = log;
    this.#handlers = handlers;
    const [host, port] = splitNode(node);
    // RESP2, which is all ioredis 5 speaks; client tracking depends on it
    // (coherence/tracking.ts says why; test/redis/node_link.test.ts checks it).
    this.#redis = new Redis({
      ...options,
      host,
      port,
      autoResubscribe: false,
      // Arming commands are sent from the 'ready' handler, when the
      // connection is up: the offline queue only bridges that moment.
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
    });
    this.#redis.on('ready', () => {
      handlers.onReady(this).then(
        () => {
          this.#up = true;
        },
        (error: unknown) => {
          this.#log.warn(
            { node, err: (error as Error).message },
            'could not arm a coherence connection; retrying',
          );
          // A fresh connection re-runs onReady.
          this.#redis.disconnect(true);
        },
      );
    });
    this.#redis.on('close', () => {
      if (this.#up) handlers.onDown(this);
      this.#up = false;
    });
    this.#redis.on('error', () => {
      // The connection log of the command connections tells of outages once.
    });
    this.#redis.on('messageBuffer', (channel: Buffer, payload: LinkPayload) =>
      handlers.onMessage(channel.toString(), payload, this),
    );
    this.#redis.connect().catch(() => {});
    this.#heartbeat = setInterval(() => this.#beat(), HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  /**
   * A connection that is open but silent (a stalled network path, a paused
   * server) sends no 'close': without a heartbeat, messages published
   * meanwhile would count as delivered. A PING unanswered in time takes
   * the link down and reconnects it, which re-arms it and catches up.
   */
  #beat(): void {
    if (!this.#up || this.#pinging) return;
    this.#pinging = true;
    const timer = setTimeout(() => {
      if (!this.#up) return;
      this.#up = false;
      this.#handlers.onDown(this);
      this.#redis.disconnect(true);
    }, HEARTBEAT_TIMEOUT_MS);
    this.#redis.ping().then(
      () => {
        clearTimeout(timer);
        this.#pinging = false;
      },
      () => {
        clearTimeout(timer);
        this.#pinging = false;
      },
    );
  }

  get up(): boolean {
    return this.#up;
  }

  /** A command on this connection (before it subscribes), e.g. CLIENT ID, CLIENT TRACKING. */
  command(name: string, ...args: (string | number)[]): Promise<unknown> {
    return this.#redis.call(name, ...args);
  }

  async subscribe(...channels: string[]): Promise<void> {
    await this.#redis.subscribe(...channels);
  }

  close(): void {
    clearInterval(this.#heartbeat);
    this.#up = false;
    this.#redis.disconnect();
  }
}

function splitNode(node: string): [string, number] {
  const at = node.lastIndexOf(':');
  return [node.slice(0, at), Number(node.slice(at + 1))];
}
