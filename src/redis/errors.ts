import { ReplyError } from 'ioredis';

/**
 * Why a Redis operation gave no answer. Part of the metrics contract
 * (`infercache_l2_errors_total{reason}`):
 * - timeout: no reply within the command timeout
 * - unavailable: not connected, connection lost, cluster down or reconfiguring
 * - circuit_open: skipped because the node's circuit is open
 * - oom: the server refused a write under `maxmemory` (noeviction)
 * - readonly: the server is a replica and refuses writes
 * - moved: the key's slot lives on another node (topology changed)
 * - noscript: the node does not know a script yet (sent again in full)
 * - auth: not authenticated or not permitted
 * - cancelled: the caller stopped waiting (deadline or cancellation)
 * - error: anything else the server or client reported
 */
export type FailureReason =
  | 'timeout'
  | 'unavailable'
  | 'circuit_open'
  | 'oom'
  | 'readonly'
  | 'moved'
  | 'noscript'
  | 'auth'
  | 'cancelled'
  | 'error';

/** Our own timeout, so a timeout is recognised by its class and not by a message. */
export class RedisTimeoutError extends Error {
  readonly code = 'ETIMEDOUT_REDIS';
  constructor(timeoutMs: number) {
    super(`no reply from Redis within ${timeoutMs} ms`);
    this.name = 'RedisTimeoutError';
  }
}

// A Redis error reply starts with its error code: "the first word after the
// '-', up to the first space or newline" (RESP specification). These are the
// codes Redis 7 sends for the conditions we tell apart.
const REPLY_CODES: Record<string, FailureReason> = {
  OOM: 'oom',
  READONLY: 'readonly',
  MOVED: 'moved',
  ASK: 'moved',
  NOSCRIPT: 'noscript',
  TRYAGAIN: 'unavailable',
  CLUSTERDOWN: 'unavailable',
  MASTERDOWN: 'unavailable',
  LOADING: 'unavailable',
  BUSY: 'unavailable',
  NOAUTH: 'auth',
  WRONGPASS: 'auth',
  NOPERM: 'auth',
};

// Node's system errors for a connection that went away mid-call.
const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTCONN',
]);

/** The reply error code (e.g. "OOM"), for a Redis error reply; undefined otherwise. */
export function replyCode(error: unknown): string | undefined {
  if (!(error instanceof ReplyError)) return undefined;
  const message = (error as Error).message;
  const end = message.search(/[ \r\n]/);
  return end === -1 ? message : message.slice(0, end);
}

/**
 * Classifies by class and code, never by message text: our own errors by
 * class, Redis replies by their protocol error code, system errors by errno
 * code, opossum's refusal by its code.
 */
export function classifyRedisError(error: unknown): FailureReason {
  if (error instanceof RedisTimeoutError) return 'timeout';
  const code = replyCode(error);
  if (code !== undefined) return REPLY_CODES[code] ?? 'error';
  const errno = (error as { code?: unknown } | null)?.code;
  if (errno === 'EOPENBREAKER') return 'circuit_open';
  if (typeof errno === 'string' && CONNECTION_CODES.has(errno)) return 'unavailable';
  return 'error';
}
