import { infoFields, type RedisReply, redisCommand, redisText } from './redis_command.js';

/** Redis Cluster has a fixed 16384 hash slots. */
const SLOT_COUNT = 16384;
// Short: a node that cannot answer within this is as good as down for a probe.
const PROBE_TIMEOUT_MS = 1000;

/** One line of CLUSTER NODES, as the node asked sees the cluster. */
export interface ClusterNodeView {
  readonly id: string;
  readonly port: number;
  readonly role: 'master' | 'replica';
  /** For a replica, the id of its master. */
  readonly masterId: string | undefined;
  /** Flagged `fail` by a majority of masters (or `fail?` by the node asked). */
  readonly failing: boolean;
}

/** Parses CLUSTER NODES: `<id> <ip:port@busport> <flags> <master-id|-> <ping> <pong> <epoch> <link> <slots>...`. */
export async function clusterNodes(port: number): Promise<ClusterNodeView[]> {
  const text = await redisText(port, ['CLUSTER', 'NODES'], PROBE_TIMEOUT_MS);
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', address = '', flagList = '', master = '-'] = line.split(' ');
      const flags = flagList.split(',');
      return {
        id,
        port: Number(address.split('@')[0]?.split(':').pop()),
        role: flags.includes('master') ? 'master' : 'replica',
        masterId: master === '-' ? undefined : master,
        failing: flags.includes('fail') || flags.includes('fail?'),
      };
    });
}

/** A slot range and the port of the master serving it, from CLUSTER SLOTS. */
interface SlotRange {
  readonly first: number;
  readonly last: number;
  readonly masterPort: number;
}

export async function slotRanges(port: number): Promise<SlotRange[]> {
  const reply = await redisCommand(port, ['CLUSTER', 'SLOTS'], PROBE_TIMEOUT_MS);
  const ranges: SlotRange[] = [];
  for (const entry of Array.isArray(reply) ? reply : []) {
    // [first, last, [ip, port, id, ...] of the master, then the replicas]
    if (!Array.isArray(entry) || !Array.isArray(entry[2])) throw new Error(`odd CLUSTER SLOTS entry`);
    ranges.push({ first: Number(entry[0]), last: Number(entry[1]), masterPort: Number(entry[2][1]) });
  }
  return ranges;
}

/** The ROLE reply; its first element is 'master' or 'slave' (Redis 7.0 still says slave). */
export async function roleOf(port: number): Promise<RedisReply[]> {
  const reply = await redisCommand(port, ['ROLE'], PROBE_TIMEOUT_MS);
  if (!Array.isArray(reply)) throw new Error(`ROLE on port ${port} answered ${JSON.stringify(reply)}`);
  return reply;
}

type Role = ClusterNodeView['role'];

/** A node's own role; throws for a replica without a working link to its master, not fit to serve yet. */
async function ownRole(port: number): Promise<Role> {
  const role = await roleOf(port);
  if (role[0] === 'master') return 'master';
  // A replica's ROLE: ['slave', master ip, master port, 'connect' | 'connecting' | 'sync' | 'connected', offset]
  if (role[3] !== 'connected') throw new Error(`replica in state ${role[3]}`);
  return 'replica';
}

/**
 * Why node `port` is not yet fit to serve, or undefined when it is: its state
 * is ok, it knows `nodeCount` nodes, routes every slot to a running master,
 * serves slots if a master, and sees every running node in its own role.
 * cluster_state:ok alone is not enough: right after a master dies the
 * survivors report ok (and route its slots to it) until node-timeout has
 * passed, and a former master restarting after a failover reports ok at once,
 * as an empty master, before it turns into a replica of its successor.
 */
async function problemOf(
  port: number,
  roles: ReadonlyMap<number, Role>,
  nodeCount: number,
): Promise<string | undefined> {
  const info = infoFields(await redisText(port, ['CLUSTER', 'INFO'], PROBE_TIMEOUT_MS));
  if (info.get('cluster_state') !== 'ok') {
    return `node ${port} reports cluster_state:${info.get('cluster_state')}`;
  }
  if (info.get('cluster_slots_ok') !== String(SLOT_COUNT)) {
    return `node ${port} sees ${info.get('cluster_slots_ok')} of ${SLOT_COUNT} slots ok`;
  }
  if (Number(info.get('cluster_known_nodes')) < nodeCount) {
    return `node ${port} knows ${info.get('cluster_known_nodes')} of ${nodeCount} nodes`;
  }
  let covered = 0;
  let owned = 0;
  for (const range of await slotRanges(port)) {
    if (roles.get(range.masterPort) !== 'master') {
      return `node ${port} routes slots ${range.first}-${range.last} to ${range.masterPort}, not a running master`;
    }
    covered += range.last - range.first + 1;
    if (range.masterPort === port) owned += range.last - range.first + 1;
  }
  if (covered !== SLOT_COUNT) return `node ${port} routes ${covered} of ${SLOT_COUNT} slots`;
  if (roles.get(port) === 'master' && owned === 0) return `master ${port} serves no slots`;
  for (const view of await clusterNodes(port)) {
    const actual = roles.get(view.port);
    if (actual !== undefined && actual !== view.role) {
      return `node ${port} sees ${view.port} as a ${view.role}`;
    }
  }
  return undefined;
}

/** The first reason the cluster, seen from every port in `live`, is not fit to serve; undefined when it is. */
export async function clusterProblem(
  live: ReadonlySet<number>,
  nodeCount: number,
): Promise<string | undefined> {
  let port: number | undefined;
  try {
    const roles = new Map<number, Role>();
    for (port of live) roles.set(port, await ownRole(port));
    for (port of live) {
      const problem = await problemOf(port, roles, nodeCount);
      if (problem !== undefined) return problem;
    }
  } catch (err) {
    return `node ${port}: ${(err as Error).message}`;
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `problem` until it returns undefined; rejects with its last answer after `timeoutMs`. */
export async function waitUntil(
  problem: () => Promise<string | undefined>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < deadline) {
    last = await problem();
    if (last === undefined) return;
    await sleep(50);
  }
  throw new Error(`${what} within ${timeoutMs} ms: ${last}`);
}
