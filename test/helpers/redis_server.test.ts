import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './ports.js';
import { type RedisServer, startRedis } from './redis_server.js';
import { sharedRedisUrl } from './shared_redis.js';

describe('test redis-server helper', () => {
  const servers: RedisServer[] = [];
  const clients: Redis[] = [];
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
  });

  // Fail commands at once while the server is down instead of queueing them,
  // and reconnect fast so the test sees the restarted server promptly.
  function connect(url: string): Redis {
    const client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
      lazyConnect: true,
    });
    client.on('error', () => {}); // Expected while the server is stopped.
    clients.push(client);
    return client;
  }

  async function waitForPong(client: Redis): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (client.status === 'ready' && (await client.ping().catch(() => '')) === 'PONG') return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('redis did not answer PING after the restart');
  }

  it('a test Redis can be stopped and started again on the same port', async () => {
    const server = await startRedis();
    servers.push(server);
    const client = connect(server.url);
    await client.connect();
    await client.set('k', 'v');
    expect(await client.get('k')).toBe('v');

    await server.stop();
    await expect(client.get('k')).rejects.toThrow();

    await server.start();
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    await waitForPong(client);
    // Started without persistence, so the restart comes back empty.
    expect(await client.get('k')).toBeNull();
  });

  it('flushAll empties the test Redis', async () => {
    const server = await startRedis();
    servers.push(server);
    const client = connect(server.url);
    await client.connect();
    await client.set('k', 'v');
    await server.flushAll();
    expect(await client.dbsize()).toBe(0);
  });

  it('a port that is already taken makes startRedis fail with redis-server output', async () => {
    const taken = await startRedis();
    servers.push(taken);
    await expect(startRedis({ port: taken.port, startTimeoutMs: 5000 })).rejects.toThrow(/redis-server/);
  });

  it('the run-wide Redis from global setup answers PING', async () => {
    const client = connect(sharedRedisUrl());
    await client.connect();
    expect(await client.ping()).toBe('PONG');
  });

  it('freePort returns a port that can be listened on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
  });
});
