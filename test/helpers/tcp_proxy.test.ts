import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from './ports.js';
import { redisCommand } from './redis_command.js';
import { sharedRedisUrl } from './shared_redis.js';
import { startTcpProxy, type TcpProxy } from './tcp_proxy.js';

const prefix = `tcpproxy-test:${process.pid}:`;

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('test TCP proxy', () => {
  const redisPort = Number(new URL(sharedRedisUrl()).port);
  let proxy: TcpProxy;
  const clients: Redis[] = [];
  beforeEach(async () => {
    proxy = await startTcpProxy(redisPort);
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.disconnect();
    await proxy.close();
  });
  afterAll(async () => {
    const keys = await redisCommand(redisPort, ['KEYS', `${prefix}*`]);
    if (Array.isArray(keys) && keys.length > 0) await redisCommand(redisPort, ['DEL', ...(keys as string[])]);
  });

  // No reconnecting and no retries: each test sees exactly what one connection sees.
  function connectThroughProxy(): Redis {
    const client = new Redis(proxy.url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => {}); // Asserted through the commands and events instead.
    clients.push(client);
    return client;
  }

  it('forwards commands to the target and counts the connections through it', async () => {
    const client = connectThroughProxy();
    await client.set(`${prefix}k`, 'v');
    expect(await redisCommand(redisPort, ['GET', `${prefix}k`])).toBe('v');
    expect(proxy.connections).toBe(1);
    await client.quit();
    await waitFor(() => proxy.connections === 0, 'the closed connection to be dropped');
  });

  it('a stall silences the proxy while direct clients still get answers', async () => {
    const client = connectThroughProxy();
    await client.set(`${prefix}held`, 'v');
    proxy.stall();
    const held = client.get(`${prefix}held`);
    // A new connection is accepted, then hears nothing; nor does the open one.
    await expect(redisCommand(proxy.port, ['PING'], 300)).rejects.toThrow(/no reply/);
    expect(await Promise.race([held, 'no answer yet'])).toBe('no answer yet');
    expect(await redisCommand(redisPort, ['PING'])).toBe('PONG');
    proxy.restore();
    expect(await held).toBe('v');
  });

  it('bytes held by a stall arrive whole and in order after restore', async () => {
    const client = connectThroughProxy();
    await client.ping();
    proxy.stall();
    // Far more than the socket buffers hold, so restoring exercises backpressure.
    const big = 'x'.repeat(8 * 1024 * 1024);
    const pipeline = client.pipeline().set(`${prefix}big`, big).del(`${prefix}n`);
    for (let i = 0; i < 500; i++) pipeline.incr(`${prefix}n`);
    const replies = pipeline.get(`${prefix}big`).exec();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await redisCommand(redisPort, ['EXISTS', `${prefix}big`])).toBe('0');
    proxy.restore();
    const results = (await replies) ?? [];
    expect(results.every(([err]) => err === null)).toBe(true);
    const counts = results.slice(2, -1).map(([, n]) => n);
    expect(counts).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(String(results.at(-1)?.[1]).length).toBe(big.length);
  });

  it('a cut resets open connections and new ones until restored', async () => {
    const client = connectThroughProxy();
    await client.ping();
    const closed = new Promise((resolve) => client.once('close', resolve));
    const errors: string[] = [];
    client.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message));
    proxy.cut();
    await closed;
    expect(errors).toContain('ECONNRESET');
    expect(proxy.connections).toBe(0);
    await expect(redisCommand(proxy.port, ['PING'])).rejects.toMatchObject({ code: 'ECONNRESET' });

    proxy.restore();
    expect(await redisCommand(proxy.port, ['PING'])).toBe('PONG');
  });

  it('a connection opened while the target is down is reset', async () => {
    await proxy.close();
    proxy = await startTcpProxy(await freePort()); // Nothing listens there.
    const socket = connect({ host: '127.0.0.1', port: proxy.port });
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve));
    expect(error.code).toBe('ECONNRESET');
  });
});
