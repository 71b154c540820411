import type { RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/redis_url.js';

/**
 * Options every connection of ours shares. Fail fast instead of queueing: a
 * command queued while disconnected would wait for a reconnect that may take
 * seconds, past any request's deadline. No retries per command: a cache miss
 * is cheaper than a retry. Each call's timeout is ours (node_gate.ts), so a
 * timeout is recognised by its class.
 */
export function clientOptions(target: RedisTarget, timeoutMs: number): RedisOptions {
  return {
    username: target.username,
    password: target.password,
    db: target.db,
    ...(target.tls ? { tls: {} } : {}),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(1000, timeoutMs * 10),
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000),
    lazyConnect: true,
  };
}

export const nodeKey = (host: string, port: number): string => `${host}:${port}`;
