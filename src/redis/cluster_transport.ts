import calculateSlot from 'cluster-key-slot';
import { Cluster, type Redis } from 'ioredis';
import type { RedisTarget } from '../config/redis_url.js';
import type { Logger } from '../ops/logger.js';
import type { RedisMetrics } from '../ops/metrics.js';
import { clientOptions, nodeKey } from './client_options.js';
import { ConnectionLog } from './connection_log.js';
import { replyCode } from './errors.js';
import type { RedisCall, RedisReply, RedisTransport } from './transport.js';

// Reply codes saying the key's slot is served elsewhere now (or during a migration).
const REDIRECTS = new Set(['MOVED', 'ASK']);

/** A Redis error reply redirecting the call to another node, by its reply code (errors.ts). */
const redirected = (error: Error): boolean => REDIRECTS.has(replyCode(error) ?? '');

/** Node id for keys whose slot has no known owner yet (topology still loading). */
const UNASSIGNED = 'unassigned';

/**
 * A Redis Cluster, through ioredis's Cluster client: it discovers the slot
 * map from the seed nodes, refreshes it on MOVED replies and topology
 * changes, and a read-only pipeline that meets MOVED/ASK is re-sent to the
 * right node. We group each batch by the slot owner ourselves (from the same
 * slot map), so every pipeline stays on one node, as ioredis requires.
 */
export class ClusterTransport implements RedisTransport {
  readonly mode = 'cluster';
  readonly #cluster: Cluster;
  readonly #instances = new Map<string, Redis>();

  constructor(target: RedisTarget, label: string, timeoutMs: number, metrics: RedisMetrics, log: Logger) {
    const options = clientOptions(target, timeoutMs);
    this.#cluster = new Cluster(
      target.nodes.map((n) => ({ host: n.host, port: n.port })),
      {
        redisOptions: options,
        enableOfflineQueue: false,
        lazyConnect: true,
        scaleReads: 'master',
        // Bounded by our own per-call timer anyway; these keep ioredis from
        // sitting on a command for long while the cluster reconfigures.
        maxRedirections: 4,
        retryDelayOnFailover: 50,
        retryDelayOnClusterDown: 50,
        retryDelayOnTryAgain: 50,
        slotsRefreshTimeout: Math.max(1000, timeoutMs * 10),
        slotsRefreshInterval: 5000,
        clusterRetryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000),
      },
    );
    const connection = new ConnectionLog(log, label);
    this.#cluster.on('+node', (redis: Redis) => {
      const key = nodeKey(redis.options.host ?? '', redis.options.port ?? 0);
      this.#instances.set(key, redis);
      const up = metrics.nodeUp.labels(key);
      up.set(redis.status === 'ready' ? 1 : 0);
      redis.on('ready', () => up.set(1));
      redis.on('close', () => up.set(0));
      // ioredis connects to a node on its first command, and the gate sends
      // nothing to a node that is not connected: connect every node at once.
      if (redis.status === 'wait') redis.connect().catch(() => {});
    });
    this.#cluster.on('-node', (redis: Redis) => {
      const key = nodeKey(redis.options.host ?? '', redis.options.port ?? 0);
      if (this.#instances.get(key) === redis) this.#instances.delete(key);
      metrics.nodeUp.labels(key).set(0);
    });
    this.#cluster.on('ready', () => connection.ready());
    this.#cluster.on('error', (error: Error) => connection.error(error));
    this.#cluster.connect().catch(() => {
      // Reported by the 'error' handler; ioredis keeps retrying on its own.
    });
  }

  nodeOf(key: string | undefined): string {
    const slots = this.#cluster.slots;
    if (key === undefined) return slots.find((s) => s?.[0] !== undefined)?.[0] ?? UNASSIGNED;
    return slots[calculateSlot(key)]?.[0] ?? UNASSIGNED;
  }

  slotOf(key: string): number {
    return calculateSlot(key);
  }

  nodes(): string[] {
    return [...this.#instances.keys()];
  }

  isConnected(node: string): boolean {
    if (this.#cluster.status !== 'ready') return false;
    return this.#instances.get(node)?.status === 'ready';
  }

  /**
   * One pipeline on the node's own connection: every call's key lives there
   * by the slot map the batch was grouped with. ioredis's Cluster.pipeline()
   * would work out each command's slot again and route it through the
   * cluster's queue, about 1.3x the cost of the node's own pipeline (bench:
   * l2_batch_cluster). A call the node answers with MOVED or ASK (its slot
   * moved since) is sent again through the cluster client, which follows
   * the redirection, and the slot map is refreshed.
   */
  async exec(node: string, calls: readonly RedisCall[]): Promise<RedisReply[]> {
    const redis = this.#instances.get(node);
    if (redis === undefined || redis.status !== 'ready') return this.#viaCluster(calls);
    const pipeline = redis.pipeline();
    for (const c of calls) pipeline.callBuffer(c.name, ...c.args);
    const replies = ((await pipeline.exec()) ?? []) as RedisReply[];
    // No array unless some call was redirected: the common pipeline allocates nothing more.
    let moved: number[] | undefined;
    for (let i = 0; i < replies.length; i++) {
      const error = (replies[i] as RedisReply)[0];
      if (error !== null && redirected(error)) {
        moved ??= [];
        moved.push(i);
      }
    }
    if (moved === undefined) return replies;
    this.#cluster.refreshSlotsCache();
    const again = await Promise.all(
      moved.map((i) => {
        const c = calls[i] as RedisCall;
        return this.#cluster.callBuffer(c.name, ...c.args).then(
          (value: unknown): RedisReply => [null, value],
          (error: Error): RedisReply => [error, undefined],
        );
      }),
    );
    moved.forEach((i, j) => {
      replies[i] = again[j] as RedisReply;
    });
    return replies;
  }

  async #viaCluster(calls: readonly RedisCall[]): Promise<RedisReply[]> {
    const pipeline = this.#cluster.pipeline();
    for (const c of calls) pipeline.callBuffer(c.name, ...c.args);
    return ((await pipeline.exec()) ?? []) as RedisReply[];
  }

  refreshTopology(): void {
    this.#cluster.refreshSlotsCache();
  }

  async close(): Promise<void> {
    this.#cluster.disconnect();
  }
}
