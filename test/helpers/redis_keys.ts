import { Redis } from 'ioredis';

/** A Redis client for looking at what a sidecar wrote; fails fast instead of queueing. */
export function redisClient(url: string): Redis {
  const client = new Redis(url, { enableOfflineQueue: true, maxRetriesPerRequest: 1, lazyConnect: false });
  client.on('error', () => {}); // Reported by the failing command.
  return client;
}

/** Every key under `prefix` (the sidecar's INFERCACHE_KEY_PREFIX), via SCAN. */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}
