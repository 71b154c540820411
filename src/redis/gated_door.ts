import type { RedisOptions } from 'ioredis';
import type { Logger } from '../ops/logger.js';
import type { RedisMetrics } from '../ops/metrics.js';
import type { KeyWrite, Links, LuaScript, RedisDoor, ScriptCall } from './door.js';
import { LinkSet } from './link_set.js';
import { type Direction, type GateOptions, isFailure, NodeGate, type Outcome } from './node_gate.js';
import type { LinkHandlers } from './node_link.js';
import { OutageLog } from './outage_log.js';
import type { RedisCall, RedisTransport } from './transport.js';

// Keys per MGET or DEL command: one huge command would hold the Redis event
// loop (and every other client) for its whole length; a few hundred keys per
// command cost the same round trip, as the commands of one node travel in
// one pipeline.
const KEYS_PER_COMMAND = 500;

/**
 * The Redis door over a transport: groups each batch by node (and, on a
 * cluster, by hash slot, since a multi-key command must stay within one
 * slot), sends one pipeline per node in parallel through that node's gate,
 * and puts the answers back in request order.
 */
export class GatedDoor implements RedisDoor {
  readonly #transport: RedisTransport;
  readonly #options: GateOptions;
  readonly #metrics: RedisMetrics;
  readonly #log: Logger;
  readonly #outages: OutageLog;
  readonly #gates = new Map<string, NodeGate>();
  readonly #linkOptions: RedisOptions;
  readonly #links = new Set<LinkSet>();

  constructor(
    transport: RedisTransport,
    options: GateOptions,
    metrics: RedisMetrics,
    log: Logger,
    linkOptions: RedisOptions = {},
  ) {
    this.#linkOptions = linkOptions;
    this.#transport = transport;
    this.#options = options;
    this.#metrics = metrics;
    this.#log = log;
    this.#outages = new OutageLog(log);
  }

  get mode(): 'single' | 'cluster' {
    return this.#transport.mode;
  }

  get connected(): boolean {
    return this.#transport.nodes().some((node) => this.#transport.isConnected(node));
  }

  async getMany(
    op: string,
    keys: readonly string[],
    signal?: AbortSignal,
  ): Promise<(Buffer | null | undefined)[]> {
    const out = new Array<Buffer | null | undefined>(keys.length).fill(null);
    if (keys.length === 0) return out;
    const { calls, members } = this.#multiKeyCalls('MGET', keys);
    const outcomes = await this.run(op, 'read', calls, signal);
    for (let c = 0; c < calls.length; c++) {
      const values = outcomes[c];
      const indexes = members[c] as number[];
      if (isFailure(values) || !Array.isArray(values)) {
        for (const i of indexes) out[i] = undefined;
        continue;
      }
      for (let j = 0; j < indexes.length; j++)
        out[indexes[j] as number] = (values[j] as Buffer | null) ?? null;
    }
    return out;
  }

  async setMany(op: string, writes: readonly KeyWrite[], signal?: AbortSignal): Promise<number> {
    const calls: RedisCall[] = writes.map((w) => ({
      key: w.key,
      name: 'SET',
      args: [w.key, w.value, 'PX', Math.max(1, Math.round(w.ttlMs))],
    }));
    const outcomes = await this.run(op, 'write', calls, signal);
    return outcomes.filter((o) => !isFailure(o)).length;
  }

  async deleteMany(op: string, keys: readonly string[], signal?: AbortSignal): Promise<number> {
    if (keys.length === 0) return 0;
    const { calls, members } = this.#multiKeyCalls('DEL', keys);
    const outcomes = await this.run(op, 'write', calls, signal);
    let acknowledged = 0;
    outcomes.forEach((o, c) => {
      if (!isFailure(o)) acknowledged += (members[c] as number[]).length;
    });
    return acknowledged;
  }

  slotOf(key: string): number {
    return this.#transport.slotOf(key);
  }

  async evalMany(
    op: string,
    script: LuaScript,
    calls: readonly ScriptCall[],
    signal?: AbortSignal,
  ): Promise<Outcome[]> {
    const bySha = calls.map((c) => ({
      key: c.key,
      name: 'EVALSHA',
      args: [script.sha, 1 + (c.keys?.length ?? 0), c.key, ...(c.keys ?? []), ...c.args],
    }));
    const outcomes = await this.run(op, 'write', bySha, signal);
    // A node that restarted (or never saw the script) answers NOSCRIPT;
    // EVAL sends the body once more and the node caches it again.
    const unknown = outcomes.flatMap((o, i) => (isFailure(o) && o.reason === 'noscript' ? [i] : []));
    if (unknown.length === 0) return outcomes;
    const byBody = unknown.map((i) => {
      const c = calls[i] as ScriptCall;
      return {
        key: c.key,
        name: 'EVAL',
        args: [script.source, 1 + (c.keys?.length ?? 0), c.key, ...(c.keys ?? []), ...c.args],
      };
    });
    const retried = await this.run(op, 'write', byBody, signal);
    unknown.forEach((i, j) => {
      outcomes[i] = retried[j];
    });
    return outcomes;
  }

  async run(
    op: string,
    direction: Direction,
    calls: readonly RedisCall[],
    signal?: AbortSignal,
  ): Promise<Outcome[]> {
    const out = new Array<Outcome>(calls.length);
    if (calls.length === 0) return out;
    const groups = new Map<string, number[]>();
    for (let i = 0; i < calls.length; i++) {
      const node = this.#transport.nodeOf((calls[i] as RedisCall).key);
      let group = groups.get(node);
      if (group === undefined) {
        group = [];
        groups.set(node, group);
      }
      group.push(i);
    }
    await Promise.all(
      [...groups].map(async ([node, indexes]) => {
        const replies = await this.#gate(node).run(
          op,
          direction,
          indexes.map((i) => calls[i] as RedisCall),
          signal,
        );
        for (let j = 0; j < indexes.length; j++) out[indexes[j] as number] = replies[j];
      }),
    );
    return out;
  }

  openLinks(handlers: LinkHandlers): Links {
    const links = new LinkSet(this.#transport, this.#linkOptions, handlers, this.#log);
    this.#links.add(links);
    return links;
  }

  async close(): Promise<void> {
    for (const links of this.#links) links.close();
    for (const gate of this.#gates.values()) gate.shutdown();
    await this.#transport.close();
  }

  #gate(node: string): NodeGate {
    let gate = this.#gates.get(node);
    if (gate === undefined) {
      gate = new NodeGate(node, this.#transport, this.#options, this.#metrics, this.#outages, this.#log);
      this.#gates.set(node, gate);
    }
    return gate;
  }

  /** Multi-key commands covering `keys`: one per hash slot and chunk; `members` maps back to indexes. */
  #multiKeyCalls(name: string, keys: readonly string[]): { calls: RedisCall[]; members: number[][] } {
    const bySlot = new Map<number, number[]>();
    for (let i = 0; i < keys.length; i++) {
      const slot = this.#transport.slotOf(keys[i] as string);
      let group = bySlot.get(slot);
      if (group === undefined) {
        group = [];
        bySlot.set(slot, group);
      }
      group.push(i);
    }
    const calls: RedisCall[] = [];
    const members: number[][] = [];
    for (const indexes of bySlot.values()) {
      for (let at = 0; at < indexes.length; at += KEYS_PER_COMMAND) {
        const chunk = indexes.slice(at, at + KEYS_PER_COMMAND);
        const chunkKeys = chunk.map((i) => keys[i] as string);
        calls.push({ key: chunkKeys[0], name, args: chunkKeys });
        members.push(chunk);
      }
    }
    return { calls, members };
  }
}
