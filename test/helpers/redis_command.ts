import { spawn } from 'node:child_process';
import { connect } from 'node:net';

/**
 * A RESP2 reply: simple, bulk and integer replies as their text (`:3` comes
 * back as '3'), a nil bulk or array as null, an array as an array.
 */
export type RedisReply = string | null | RedisReply[];

/**
 * An error reply (`-OOM command not allowed ...`). `code` is its first word
 * (OOM, READONLY, MOVED, CLUSTERDOWN), so tests can match the kind of refusal
 * without matching the wording, which changes between Redis versions.
 */
class RedisReplyError extends Error {
  readonly code: string;
  constructor(
    readonly command: string,
    readonly reply: string,
  ) {
    super(`redis ${command} failed: ${reply}`);
    this.name = 'RedisReplyError';
    this.code = reply.split(' ', 1)[0] ?? '';
  }
}

type Parsed = { value: RedisReply; next: number } | { error: string; next: number };

/** Parses one reply starting at `at`; undefined while the reply is still incomplete. */
function parse(buf: Buffer, at: number): Parsed | undefined {
  const end = buf.indexOf('\r\n', at);
  if (end === -1) return undefined;
  const type = String.fromCharCode(buf[at] ?? 0);
  const line = buf.subarray(at + 1, end).toString('utf8');
  const next = end + 2;
  switch (type) {
    case '+':
    case ':':
      return { value: line, next };
    case '-':
      return { error: line, next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next };
      if (buf.length < next + length + 2) return undefined; // The rest of the bulk string is still coming.
      return { value: buf.subarray(next, next + length).toString('utf8'), next: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next };
      const items: RedisReply[] = [];
      let pos = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, pos);
        if (item === undefined) return undefined;
        // An error inside an array (EXEC) fails the whole command: tests here never expect one.
        if ('error' in item) return item;
        items.push(item.value);
        pos = item.next;
      }
      return { value: items, next: pos };
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}: ${line}`);
  }
}

/**
 * Sends one command to 127.0.0.1:`port` over a fresh socket and resolves with
 * its reply. A fresh socket per command keeps this independent of any client
 * library, and works against a server that clients cannot reach (paused,
 * behind a stalled proxy) by failing after `timeoutMs` instead of hanging.
 */
export function redisCommand(port: number, args: string[], timeoutMs = 2000): Promise<RedisReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no reply from redis on port ${port} to ${args[0]} within ${timeoutMs} ms`)),
    );
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`redis on port ${port} closed the connection`)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      let parsed: Parsed | undefined;
      try {
        parsed = parse(received, 0);
      } catch (err) {
        socket.destroy(err as Error);
        return;
      }
      if (parsed === undefined) return;
      socket.end();
      if ('error' in parsed) reject(new RedisReplyError(args[0] ?? '', parsed.error));
      else resolve(parsed.value);
    });
    // RESP array of bulk strings: the protocol form every command accepts.
    const parts = args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
    socket.write(`*${args.length}\r\n${parts}`);
  });
}

/** The reply as text, for commands that answer with one string (INFO, CLUSTER NODES, GET). */
export async function redisText(port: number, args: string[], timeoutMs?: number): Promise<string> {
  const reply = await redisCommand(port, args, timeoutMs);
  if (typeof reply !== 'string')
    throw new Error(`redis ${args[0]} answered ${JSON.stringify(reply)}, not text`);
  return reply;
}

/** The `field:value` lines of an INFO or CLUSTER INFO reply as a map. */
export function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/**
 * Runs the real `redis-cli -p PORT ARGS...` against 127.0.0.1, as an operator
 * or a batch job would; `input` goes to its stdin (with `-x`, the last
 * argument, binary-safe). Resolves with its stdout; rejects when it exits
 * non-zero or prints an error reply (redis-cli exits 0 on those).
 */
export function redisCli(port: number, args: string[], input?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', ['-p', String(port), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0 || stdout.startsWith('(error)') || stdout.startsWith('ERR')) {
        reject(new Error(`redis-cli ${args.join(' ')} exited ${code}: ${stdout}${stderr}`));
      } else resolve(stdout.trim());
    });
    child.stdin.end(input);
  });
}
