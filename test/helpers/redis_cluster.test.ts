import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisCluster, startRedisCluster } from './redis_cluster.js';
import { redisCommand } from './redis_command.js';

// One 3+3 cluster for the whole file (forming one takes about 2 s); the tests
// run in order and the one that kills a master comes last.
describe('test Redis Cluster helper', () => {
  let cluster: RedisCluster;
  const clients: Cluster[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster({ replicasPerMaster: 1 });
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await cluster?.stop();
  });

  function connect(): Cluster {
    const client = new Cluster([...cluster.seedNodes], { redisOptions: { commandTimeout: 2000 } });
    client.on('error', () => {}); // Reported through the failing command instead.
    clients.push(client);
    return client;
  }

  it('forms three masters that own slots, each followed by one replica', async () => {
    const nodes = await cluster.nodes();
    const masters = nodes.filter((n) => n.role === 'master').map((n) => n.port);
    const replicas = nodes.filter((n) => n.role === 'replica');
    expect(masters).toHaveLength(3);
    expect(replicas.map((r) => r.masterPort).sort()).toEqual([...masters].sort());
    for (const node of nodes) {
      expect(node.id).toMatch(/^[0-9a-f]{40}$/);
      expect(node.pid).toBeGreaterThan(0);
      expect(node.failing).toBe(false);
    }
    const ports = cluster.seedNodes.map((s) => s.port);
    expect(ports.sort()).toEqual(nodes.map((n) => n.port).sort());
    expect(cluster.seedUrls).toBe(`redis://${cluster.seedNodes.map((s) => `127.0.0.1:${s.port}`).join(',')}`);
  });

  it('a key written on the master for its slot is read back by the cluster client', async () => {
    const master = await cluster.masterForKey('greeting');
    expect(await redisCommand(master, ['SET', 'greeting', 'hello'])).toBe('OK');
    expect(await connect().get('greeting')).toBe('hello');
    // Any other master redirects instead of serving it.
    const other = (await cluster.nodes()).find((n) => n.role === 'master' && n.port !== master);
    await expect(redisCommand(other?.port ?? 0, ['GET', 'greeting'])).rejects.toMatchObject({
      code: 'MOVED',
    });
  });

  it('a paused node answers nothing until resumed', async () => {
    const replica = (await cluster.nodes()).find((n) => n.role === 'replica');
    const port = replica?.port ?? 0;
    await cluster.pauseNode(port);
    await expect(redisCommand(port, ['PING'], 300)).rejects.toThrow(/no reply/);
    await cluster.resumeNode(port);
    expect(await redisCommand(port, ['PING'])).toBe('PONG');
    await cluster.waitUntilServing();
  });

  it('flushAll empties every master', async () => {
    const client = connect();
    await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => client.set(k, k)));
    await cluster.flushAll();
    const masters = (await cluster.nodes()).filter((n) => n.role === 'master');
    const sizes = await Promise.all(masters.map((n) => redisCommand(n.port, ['DBSIZE'])));
    expect(sizes).toEqual(['0', '0', '0']);
  });

  it('killing a master hands its slots to its replica, and the old master rejoins as a replica', async () => {
    const oldMaster = await cluster.masterForKey('survivor');
    const replica = (await cluster.nodes()).find((n) => n.masterPort === oldMaster)?.port;
    await redisCommand(oldMaster, ['SET', 'survivor', 'still here']);
    // WAIT until the replica has the write, so the failover cannot lose it.
    expect(await redisCommand(oldMaster, ['WAIT', '1', '2000'])).toBe('1');

    await cluster.killNode(oldMaster);
    const newMaster = await cluster.waitForFailover(oldMaster);
    expect(newMaster).toBe(replica);
    expect(await cluster.masterForKey('survivor')).toBe(newMaster);
    expect(await connect().get('survivor')).toBe('still here');

    await cluster.restartNode(oldMaster);
    const rejoined = (await cluster.nodes()).find((n) => n.port === oldMaster);
    expect(rejoined).toMatchObject({ role: 'replica', masterPort: newMaster });
  });
});

describe('starting a test Redis Cluster', () => {
  it('fails with the redis-cli output when the cluster cannot form', async () => {
    // redis-cli refuses fewer than 3 masters.
    await expect(startRedisCluster({ masters: 2 })).rejects.toThrow(/at least 3 master/);
  });
});
