import type { Links } from './link_set.js';
import type { Direction, Outcome } from './node_gate.js';
import type { LinkHandlers } from './node_link.js';
import type { RedisCall } from './transport.js';

export type { Links } from './link_set.js';
export { type Direction, type Failure, isFailure, type Outcome } from './node_gate.js';
export type { LinkHandlers, LinkPayload, NodeLink } from './node_link.js';

export interface KeyWrite {
  readonly key: string;
  readonly value: Buffer;
  readonly ttlMs: number;
}

/** A Lua script called by its SHA-1, sent in full only where a node does not know it yet. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

export interface ScriptCall {
  readonly key: string;
  /**
   * Further keys, each in `key`'s hash slot (slotOf): the script sees
   * KEYS[1] = key, then these. One call for many keys is one command
   * instead of many, for the client and for Redis.
   */
  readonly keys?: readonly string[];
  readonly args: readonly (string | Buffer | number)[];
}

/**
 * The one door to Redis. Every connection the sidecar opens to Redis is
 * owned behind it, and every call goes through a node's failure door
 * (node_gate.ts). No method rejects: a failed call yields a miss, a Failure or
 * a smaller count, and is already counted and logged. Batches go out as one
 * round trip per node, in parallel; answers come back in request order.
 * `op` names the operation in metrics (e.g. "mget", "set", "features_put").
 */
export interface RedisDoor {
  readonly mode: 'none' | 'single' | 'cluster';
  /** Whether at least one node can be called now. */
  readonly connected: boolean;
  /**
   * One value per key, in order: null for a missing key, undefined for one
   * whose node did not answer (a miss that says nothing of the key).
   */
  getMany(op: string, keys: readonly string[], signal?: AbortSignal): Promise<(Buffer | null | undefined)[]>;
  /** SET key value PX ttl for each; resolves with how many were written. */
  setMany(op: string, writes: readonly KeyWrite[], signal?: AbortSignal): Promise<number>;
  /** DEL for each key; resolves with how many deletions were acknowledged. */
  deleteMany(op: string, keys: readonly string[], signal?: AbortSignal): Promise<number>;
  /**
   * The hash slot of `key`: keys of one slot can go in one script call
   * (ScriptCall.keys). 0 on a single server, where any keys can.
   */
  slotOf(key: string): number;
  /** Runs a script per call (its key, then its further keys); one reply per call, a Failure where it failed. */
  evalMany(
    op: string,
    script: LuaScript,
    calls: readonly ScriptCall[],
    signal?: AbortSignal,
  ): Promise<Outcome[]>;
  /**
   * Dedicated connections for coherence, one per node (per master of a
   * cluster), kept in step with the topology: subscriptions and tracking.
   */
  openLinks(handlers: LinkHandlers): Links;
  /** Any commands, grouped by the node of their key; one outcome per call. */
  run(
    op: string,
    direction: Direction,
    calls: readonly RedisCall[],
    signal?: AbortSignal,
  ): Promise<Outcome[]>;
  close(): Promise<void>;
}
