import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { killOnExit, stopChild } from './children.js';
import { freePort } from './ports.js';

export interface RedisServerOptions {
  /** Port to use; a free one by default. */
  port?: number;
  /** How long to wait for the new server to answer after spawning (ms). */
  startTimeoutMs?: number;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** SIGTERM, then wait for the exit. Stopping a stopped server does nothing. */
  stop(): Promise<void>;
  /** Starts it again on the same port (e.g. to test reconnecting after an outage). */
  start(): Promise<void>;
  flushAll(): Promise<void>;
}

const BINARY = 'redis-server';
const TAIL_CHARS = 4000;

/**
 * Sends one command over a fresh socket and resolves with the reply: the text
 * of a simple (+) or bulk ($) string reply, or the whole line otherwise.
 */
function command(port: number, args: string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply from redis on port ${port}`)));
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      const end = reply.indexOf('\r\n');
      if (end === -1) return;
      const line = reply.subarray(0, end).toString('utf8');
      let value = line;
      if (line.startsWith('$')) {
        const length = Number(line.slice(1));
        if (reply.length < end + 2 + length) return; // The rest of the bulk string is still coming.
        value = reply.subarray(end + 2, end + 2 + length).toString('utf8');
      } else if (line.startsWith('+')) {
        value = line.slice(1);
      }
      socket.end();
      if (line.startsWith('-')) reject(new Error(`redis ${args[0]} failed: ${line.slice(1)}`));
      else resolve(value);
    });
    // RESP array of bulk strings: the protocol form every command accepts.
    const parts = args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
    socket.write(`*${args.length}\r\n${parts}`);
  });
}

/** True when the server on `port` is up and is the process `pid`, not some other one on that port. */
async function answersAs(port: number, pid: number | undefined): Promise<boolean> {
  const info = await command(port, ['INFO', 'server'], 500);
  return new RegExp(`^process_id:${pid}\\r?$`, 'm').test(info);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function spawnAndWait(port: number, opts: RedisServerOptions): Promise<ChildProcess> {
  // No persistence: tests want an empty server after every (re)start.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--daemonize', 'no', ...(opts.args ?? []));
  const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-TAIL_CHARS);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });

  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (spawnError !== undefined) {
      const missing = (spawnError as NodeJS.ErrnoException).code === 'ENOENT';
      const hint = missing ? ' (is it installed? Debian: apt-get install -y redis-server)' : '';
      throw new Error(`could not start ${BINARY}${hint}: ${spawnError.message}`);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${BINARY} on port ${port} exited early (${child.exitCode ?? child.signalCode}):\n${output}`,
      );
    }
    try {
      if (await answersAs(port, child.pid)) return child;
    } catch {
      // Not listening yet; poll again.
    }
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`${BINARY} on port ${port} was not answering within ${timeoutMs} ms:\n${output}`);
}

/** Starts a private redis-server on 127.0.0.1 and waits until it answers. */
export async function startRedis(opts: RedisServerOptions = {}): Promise<RedisServer> {
  let port = opts.port ?? (await freePort());
  let child: ChildProcess | undefined;
  // A port picked by freePort() can be taken by someone else before redis binds
  // it; try a few fresh ones in that case (never when the caller chose the port).
  for (let attempt = 1; child === undefined; attempt++) {
    try {
      child = await spawnAndWait(port, opts);
    } catch (err) {
      const inUse = err instanceof Error && err.message.includes('Address already in use');
      if (!inUse || opts.port !== undefined || attempt >= 3) throw err;
      port = await freePort();
    }
  }

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child === undefined) return;
      const running = child;
      child = undefined;
      await stopChild(running, 'SIGTERM', 10_000, BINARY);
    },
    async start() {
      if (child !== undefined) throw new Error(`${BINARY} on port ${port} is already running`);
      child = await spawnAndWait(port, opts);
    },
    async flushAll() {
      await command(port, ['FLUSHALL']);
    },
  };
}
