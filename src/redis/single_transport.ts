import { Redis } from 'ioredis';
import type { RedisTarget } from '../config/redis_url.js';
import type { Logger } from '../ops/logger.js';
import type { RedisMetrics } from '../ops/metrics.js';
import { clientOptions, nodeKey } from './client_options.js';
import { ConnectionLog } from './connection_log.js';
import type { RedisCall, RedisReply, RedisTransport } from './transport.js';

/** One Redis server (or a managed endpoint that behaves like one). */
export class SingleTransport implements RedisTransport {
  readonly mode = 'single';
  readonly #redis: Redis;
  readonly #node: string;

  constructor(target: RedisTarget, label: string, timeoutMs: number, metrics: RedisMetrics, log: Logger) {
    const address = target.nodes[0];
    if (address === undefined) throw new TypeError('no Redis node given');
    this.#node = nodeKey(address.host, address.port);
    this.#redis = new Redis({ ...clientOptions(target, timeoutMs), host: address.host, port: address.port });
    const connection = new ConnectionLog(log, label);
    const up = metrics.nodeUp.labels(this.#node);
    up.set(0);
    this.#redis.on('ready', () => {
      up.set(1);
      connection.ready();
    });
    this.#redis.on('error', (error: Error) => connection.error(error));
    this.#redis.on('close', () => up.set(0));
    this.#redis.connect().catch(() => {
      // Reported by the 'error' handler; ioredis keeps reconnecting on its own.
    });
  }

  nodeOf(): string {
    return this.#node;
  }

  slotOf(): number {
    return 0;
  }

  nodes(): string[] {
    return [this.#node];
  }

  isConnected(): boolean {
    return this.#redis.status === 'ready';
  }

  async exec(_node: string, calls: readonly RedisCall[]): Promise<RedisReply[]> {
    const pipeline = this.#redis.pipeline();
    for (const c of calls) pipeline.callBuffer(c.name, ...c.args);
    return ((await pipeline.exec()) ?? []) as RedisReply[];
  }

  refreshTopology(): void {}

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
