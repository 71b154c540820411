/** One command: its name and arguments; `key` routes it on a cluster (undefined: any node). */
export interface RedisCall {
  readonly key: string | undefined;
  readonly name: string;
  readonly args: readonly (string | Buffer | number)[];
}

/**
 * One command's outcome, as ioredis's `pipeline.exec()` gives it: the error,
 * or null and the reply. exec() resolves (it does not reject) when commands
 * inside it fail, so each pair must be looked at.
 */
export type RedisReply = [Error | null, unknown];

/**
 * The raw link to Redis, below the failure door: groups nothing, counts
 * nothing, retries nothing. The real one is ioredis (single node or
 * cluster); tests wrap it in chaos (throw, delay, hang).
 */
export interface RedisTransport {
  readonly mode: 'single' | 'cluster';
  /** The node that owns `key` ("host:port"); any node for undefined. */
  nodeOf(key: string | undefined): string;
  /** The hash slot of `key` on a cluster (multi-key commands stay within one); 0 on a single node. */
  slotOf(key: string): number;
  /** Every node this transport knows (masters of a cluster). */
  nodes(): string[];
  /** Whether commands to `node` can be sent now. */
  isConnected(node: string): boolean;
  /** Sends the calls to `node` in one round trip; every call's key must live on that node. */
  exec(node: string, calls: readonly RedisCall[]): Promise<RedisReply[]>;
  /** Called when a node's slot ownership looks stale (a MOVED reply). */
  refreshTopology(): void;
  close(): Promise<void>;
}
