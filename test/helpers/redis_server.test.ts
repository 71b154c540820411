import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './ports.js';
import { type RedisServer, startRedis, startReplica } from './redis_server.js';
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

  it('a paused server accepts connections but answers nothing until resumed', async () => {
    const server = await startRedis();
    servers.push(server);
    await server.command(['SET', 'k', 'v']);
    await server.pause();
    await expect(server.command(['PING'], 300)).rejects.toThrow(/no reply/);
    const sentWhilePaused = server.command(['GET', 'k'], 5000);
    await server.resume();
    expect(await sentWhilePaused).toBe('v');
  });

  it('stop() ends a paused server at once', async () => {
    const server = await startRedis();
    await server.pause();
    const started = Date.now();
    await server.stop();
    // Without SIGCONT first, SIGTERM stays pending and stop() waits 10 s, then rejects.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.pid).toBeUndefined();
  });

  it('a killed server can be started again, as a new process', async () => {
    const server = await startRedis();
    servers.push(server);
    const firstPid = server.pid;
    await server.kill();
    await expect(server.command(['PING'])).rejects.toThrow(/ECONNREFUSED/);
    await server.start();
    expect(server.pid).not.toBe(firstPid);
    expect(await server.command(['INFO', 'server'])).toContain(`process_id:${server.pid}`);
  });

  it('command() returns integers as text, arrays as arrays and nil as null', async () => {
    const server = await startRedis({ args: ['--maxmemory', '3mb'] });
    servers.push(server);
    expect(await server.command(['INCR', 'n'])).toBe('1');
    expect(await server.command(['CONFIG', 'GET', 'maxmemory'])).toEqual([
      'maxmemory',
      String(3 * 1024 * 1024),
    ]);
    expect(await server.command(['GET', 'missing'])).toBeNull();
    await expect(server.command(['NOSUCHCOMMAND'])).rejects.toMatchObject({ code: 'ERR' });
  });

  it('a full noeviction server refuses SET with OOM', async () => {
    const server = await startRedis({ args: ['--maxmemory', '1mb', '--maxmemory-policy', 'noeviction'] });
    servers.push(server);
    // An empty Redis 7.0 uses about 900 KB, so a few 16 KB values fill the rest.
    const value = 'x'.repeat(16 * 1024);
    let stored = 0;
    const fill = async () => {
      for (; stored < 100; stored++) await server.command(['SET', `k${stored}`, value]);
    };
    await expect(fill()).rejects.toMatchObject({ code: 'OOM' });
    expect(stored).toBeGreaterThan(0);
    expect(await server.command(['STRLEN', 'k0'])).toBe(String(value.length));
  });

  it('a replica serves the data of its primary and refuses writes with READONLY', async () => {
    const primary = await startRedis();
    servers.push(primary);
    await primary.command(['SET', 'before', '1']);
    const replica = await startReplica(primary);
    servers.push(replica);
    expect(await replica.command(['GET', 'before'])).toBe('1');
    await expect(replica.command(['SET', 'k', 'v'])).rejects.toMatchObject({ code: 'READONLY' });
  });

  it('DEBUG works only with enableDebug', async () => {
    const plain = await startRedis();
    const debug = await startRedis({ enableDebug: true });
    servers.push(plain, debug);
    await expect(plain.command(['DEBUG', 'SLEEP', '0'])).rejects.toThrow(/DEBUG command not allowed/);
    expect(await debug.command(['DEBUG', 'SLEEP', '0'])).toBe('OK');
  });

  it('a paused server is killed when the test process exits', async () => {
    const serverModule = fileURLToPath(new URL('./redis_server.ts', import.meta.url));
    const script = `const { startRedis } = await import(${JSON.stringify(serverModule)});
      const server = await startRedis(); await server.pause(); console.log(server.pid); process.exit(0);`;
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    const pid = Number(stdout.trim());
    expect(pid).toBeGreaterThan(0);
    // Dead, or a zombie left for init to reap: either way not stopped ('T') or running.
    const state = () => {
      try {
        return /^\d+ \(.*\) (\S)/s.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
      } catch {
        return 'gone';
      }
    };
    expect(['gone', 'Z', 'X']).toContain(state());
  });
});
