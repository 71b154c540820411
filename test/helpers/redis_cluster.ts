import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { clusterNodes, clusterProblem, roleOf, slotRanges, waitUntil } from './cluster_state.js';
import { freePort } from './ports.js';
import { redisCommand, redisText } from './redis_command.js';
import { type RedisServer, startRedis } from './redis_server.js';
import { makeTempDir, removeTempDir } from './temp_dirs.js';

export interface RedisClusterOptions {
  /** Masters sharing the 16384 slots; redis-cli refuses fewer than 3. */
  masters?: number;
  /** Replicas per master: 0 by default, 1 for failover tests. */
  replicasPerMaster?: number;
  /**
   * cluster-node-timeout. A master unreachable this long is flagged failing,
   * and its replica takes over soon after. Redis defaults to 15 s, far too
   * slow for tests; much below 1 s risks false failovers on a loaded machine.
   */
  nodeTimeoutMs?: number;
  /** How long to wait for the cluster to form (ms). */
  startTimeoutMs?: number;
  /** Extra redis-server arguments for every node, e.g. ['--cluster-require-full-coverage', 'no']. */
  args?: string[];
}

/** One node as the cluster sees it now. */
export interface ClusterNode {
  readonly port: number;
  readonly id: string;
  readonly role: 'master' | 'replica';
  /** For a replica, the port of its master. */
  readonly masterPort: number | undefined;
  /** Undefined while the process is not running (killed). */
  readonly pid: number | undefined;
  /** Flagged failing (fail or fail?) by the node asked. */
  readonly failing: boolean;
}

export interface RedisCluster {
  /** Every node as a seed list: 'redis://127.0.0.1:P1,127.0.0.1:P2,...'. */
  readonly seedUrls: string;
  /** The same seeds as ioredis's Cluster takes them. */
  readonly seedNodes: ReadonlyArray<{ host: string; port: number }>;
  /** The current topology, from CLUSTER NODES on a running node. */
  nodes(): Promise<ClusterNode[]>;
  /** Port of the master serving `key`'s hash slot now. */
  masterForKey(key: string): Promise<number>;
  /** SIGKILL one node: a crash. */
  killNode(port: number): Promise<void>;
  /** Starts a killed node again with its saved cluster config: a former master rejoins as a replica. */
  restartNode(port: number): Promise<void>;
  /**
   * SIGSTOP one node: its port accepts connections but nothing answers. A
   * master paused past nodeTimeoutMs is failed over like a dead one, and
   * turns into a replica of its successor once resumed.
   */
  pauseNode(port: number): Promise<void>;
  resumeNode(port: number): Promise<void>;
  /** Resolves with the port of the replica that took over from `oldMasterPort`, once every running node agrees. */
  waitForFailover(oldMasterPort: number, timeoutMs?: number): Promise<number>;
  /** Until every running node reports ok and routes every slot to a running master. */
  waitUntilServing(timeoutMs?: number): Promise<void>;
  /** FLUSHALL on every master. */
  flushAll(): Promise<void>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

async function startNode(
  dir: string,
  nodeTimeoutMs: number,
  startTimeoutMs: number,
  extra: string[],
): Promise<RedisServer> {
  // The bus port is chosen apart from the client port: the default (port +
  // 10000) is above 65535 for most ports the kernel hands out.
  for (let attempt = 1; ; attempt++) {
    const busPort = await freePort();
    try {
      return await startRedis({
        dir,
        startTimeoutMs,
        args: [
          ['--cluster-enabled', 'yes'],
          ['--cluster-config-file', join(dir, 'nodes.conf')],
          ['--cluster-port', String(busPort)],
          ['--cluster-node-timeout', String(nodeTimeoutMs)],
          extra,
        ].flat(),
      });
    } catch (err) {
      const inUse = err instanceof Error && err.message.includes('Address already in use');
      if (!inUse || attempt >= 3) throw err;
    }
  }
}

async function createCluster(servers: RedisServer[], replicas: number, timeoutMs: number): Promise<void> {
  const args = ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`)];
  args.push('--cluster-replicas', String(replicas), '--cluster-yes');
  try {
    await run('redis-cli', args, { timeout: timeoutMs });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    const hint = e.code === 'ENOENT' ? ' (is it installed? Debian: apt-get install -y redis-tools)' : '';
    throw new Error(
      `redis-cli --cluster create failed${hint}: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`,
    );
  }
}

/**
 * Starts a Redis Cluster on 127.0.0.1 (each node in its own directory under a
 * fresh temp dir, removed by stop()), forms it with `redis-cli --cluster
 * create` and waits until every node serves every slot.
 */
export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 0;
  const nodeTimeoutMs = opts.nodeTimeoutMs ?? 1000;
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  const dir = makeTempDir('cluster-');
  const started = await Promise.allSettled(
    Array.from({ length: masters * (1 + replicas) }, (_, i) =>
      startNode(join(dir, `node-${i}`), nodeTimeoutMs, startTimeoutMs, opts.args ?? []),
    ),
  );
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stopAll = async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    removeTempDir(dir);
  };
  const byPort = new Map(servers.map((s) => [s.port, s]));
  const paused = new Set<number>();
  const live = () =>
    new Set(servers.filter((s) => s.pid !== undefined && !paused.has(s.port)).map((s) => s.port));
  const anyLive = (): number => {
    const [port] = live();
    if (port === undefined) throw new Error('no cluster node is running and unpaused');
    return port;
  };
  const server = (port: number): RedisServer => {
    const found = byPort.get(port);
    if (found === undefined) throw new Error(`no cluster node on port ${port}`);
    return found;
  };

  // Replica port -> master port, as of the last time the cluster was serving:
  // after a master dies, this says which replicas may take over from it.
  let masterOf = new Map<number, number>();
  const nodes = async (): Promise<ClusterNode[]> => {
    const views = await clusterNodes(anyLive());
    const portOf = new Map(views.map((v) => [v.id, v.port]));
    return views.map((v) => ({
      port: v.port,
      id: v.id,
      role: v.role,
      masterPort: v.masterId === undefined ? undefined : portOf.get(v.masterId),
      pid: byPort.get(v.port)?.pid,
      failing: v.failing,
    }));
  };
  const recordReplicas = async () => {
    masterOf = new Map(
      (await nodes()).flatMap((n) => (n.masterPort === undefined ? [] : [[n.port, n.masterPort]])),
    );
  };
  const waitUntilServing = async (timeoutMs = startTimeoutMs) => {
    await waitUntil(() => clusterProblem(live(), servers.length), timeoutMs, 'the cluster was not serving');
    await recordReplicas();
  };

  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    await createCluster(servers, replicas, startTimeoutMs);
    await waitUntilServing();
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    seedUrls: `redis://${servers.map((s) => `127.0.0.1:${s.port}`).join(',')}`,
    seedNodes: servers.map((s) => ({ host: '127.0.0.1', port: s.port })),
    nodes,
    async masterForKey(key) {
      const port = anyLive();
      const slot = Number(await redisText(port, ['CLUSTER', 'KEYSLOT', key]));
      const range = (await slotRanges(port)).find((r) => r.first <= slot && slot <= r.last);
      if (range === undefined) throw new Error(`no master serves slot ${slot} (key ${JSON.stringify(key)})`);
      return range.masterPort;
    },
    async killNode(port) {
      await server(port).kill();
      paused.delete(port);
    },
    async restartNode(port) {
      await server(port).start();
      await waitUntilServing();
    },
    async pauseNode(port) {
      await server(port).pause();
      paused.add(port);
    },
    async resumeNode(port) {
      await server(port).resume();
      paused.delete(port);
    },
    async waitForFailover(oldMasterPort, timeoutMs = startTimeoutMs) {
      const candidates = [...masterOf].filter(([, master]) => master === oldMasterPort).map(([port]) => port);
      if (candidates.length === 0) throw new Error(`the master on port ${oldMasterPort} has no replica`);
      let promoted: number | undefined;
      const problem = async () => {
        for (const port of candidates) {
          if (live().has(port) && (await roleOf(port).catch(() => []))[0] === 'master') promoted = port;
        }
        if (promoted === undefined) return `no replica of ${oldMasterPort} has taken over`;
        return clusterProblem(live(), servers.length);
      };
      await waitUntil(problem, timeoutMs, `the cluster did not fail over from ${oldMasterPort}`);
      if (promoted === undefined) throw new Error('unreachable: waitUntil resolved without a new master');
      await recordReplicas();
      return promoted;
    },
    waitUntilServing,
    async flushAll() {
      const masterPorts = (await nodes()).filter((n) => n.role === 'master' && live().has(n.port));
      await Promise.all(masterPorts.map((n) => redisCommand(n.port, ['FLUSHALL'])));
    },
    stop: stopAll,
  };
}
