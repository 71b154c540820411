import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { killOnExit, stopChild, stopOrContinue, waitForExit } from './children.js';
import { freePort } from './ports.js';
import { infoFields, type RedisReply, redisCommand, redisText } from './redis_command.js';
import { makeTempDir, removeTempDir } from './temp_dirs.js';

export interface RedisServerOptions {
  /** Port to use; a free one by default. */
  port?: number;
  /** How long to wait for the new server to answer after spawning (ms). */
  startTimeoutMs?: number;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '1mb', '--maxmemory-policy', 'noeviction']. */
  args?: string[];
  /** Allows DEBUG (SLEEP, SEGFAULT, ...), which Redis 7 refuses by default. */
  enableDebug?: boolean;
  /**
   * Working directory. Nothing is persisted, but a replica still writes the
   * RDB of its full sync there. A fresh temp dir by default, removed by stop().
   */
  dir?: string;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Process id while running, undefined while stopped. */
  readonly pid: number | undefined;
  /** SIGTERM, then wait for the exit (resuming a paused server first). Stopping a stopped server does nothing. */
  stop(): Promise<void>;
  /** SIGKILL, then wait for the exit: a crash, with no chance to close connections cleanly. */
  kill(): Promise<void>;
  /** Starts it again on the same port (e.g. to test reconnecting after an outage). */
  start(): Promise<void>;
  /** SIGSTOP: the kernel still accepts TCP connections for it, but nothing ever answers. */
  pause(): Promise<void>;
  /** SIGCONT: answers again, including the commands sent while paused. */
  resume(): Promise<void>;
  /** One command over a fresh connection, e.g. ['CONFIG', 'SET', 'maxmemory', '2mb']. */
  command(args: string[], timeoutMs?: number): Promise<RedisReply>;
  flushAll(): Promise<void>;
}

const BINARY = 'redis-server';
const TAIL_CHARS = 4000;

/** True when the server on `port` is up and is the process `pid`, not some other one on that port. */
async function answersAs(port: number, pid: number | undefined): Promise<boolean> {
  const info = await redisText(port, ['INFO', 'server'], 500);
  return infoFields(info).get('process_id') === String(pid);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function spawnAndWait(port: number, dir: string, opts: RedisServerOptions): Promise<ChildProcess> {
  mkdirSync(dir, { recursive: true });
  // No persistence: tests want an empty server after every (re)start.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', dir, '--daemonize', 'no');
  // A primary waits 5 s by default for more replicas before a full sync; here
  // that would only make every replica (and cluster failover test) 5 s slower.
  args.push('--repl-diskless-sync-delay', '0');
  if (opts.enableDebug) args.push('--enable-debug-command', 'yes');
  args.push(...(opts.args ?? []));
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
  const ownDir = opts.dir === undefined ? makeTempDir('redis-') : undefined;
  const dir = opts.dir ?? ownDir ?? '';
  let port = opts.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let paused = false;
  // A port picked by freePort() can be taken by someone else before redis binds
  // it; try a few fresh ones in that case (never when the caller chose the port).
  for (let attempt = 1; child === undefined; attempt++) {
    try {
      child = await spawnAndWait(port, dir, opts);
    } catch (err) {
      const inUse = err instanceof Error && err.message.includes('Address already in use');
      if (!inUse || opts.port !== undefined || attempt >= 3) {
        if (ownDir !== undefined) removeTempDir(ownDir);
        throw err;
      }
      port = await freePort();
    }
  }

  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const mustRun = (what: string): ChildProcess => {
    if (child === undefined || !running())
      throw new Error(`cannot ${what} ${BINARY} on port ${port}: not running`);
    return child;
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return running() ? child?.pid : undefined;
    },
    async stop() {
      const stopping = child;
      child = undefined;
      try {
        if (stopping === undefined) return;
        // A stopped process keeps SIGTERM pending until it continues: without
        // this, stop() would wait out the grace period and then SIGKILL.
        const alive = stopping.exitCode === null && stopping.signalCode === null;
        if (paused && alive) await stopOrContinue(stopping, 'SIGCONT');
        paused = false;
        await stopChild(stopping, 'SIGTERM', 10_000, BINARY);
      } finally {
        if (ownDir !== undefined) removeTempDir(ownDir);
      }
    },
    async kill() {
      const killing = child;
      child = undefined;
      paused = false;
      if (killing === undefined) return;
      // SIGKILL ends a stopped (paused) process too.
      killing.kill('SIGKILL');
      await waitForExit(killing);
    },
    async start() {
      if (running()) throw new Error(`${BINARY} on port ${port} is already running`);
      paused = false;
      child = await spawnAndWait(port, dir, opts);
    },
    async pause() {
      await stopOrContinue(mustRun('pause'), 'SIGSTOP');
      paused = true;
    },
    async resume() {
      await stopOrContinue(mustRun('resume'), 'SIGCONT');
      paused = false;
    },
    command(args, timeoutMs) {
      return redisCommand(port, args, timeoutMs);
    },
    async flushAll() {
      await redisCommand(port, ['FLUSHALL']);
    },
  };
}

/**
 * Starts a replica of `primary` (read-only, the Redis default) and waits until
 * it has finished its first sync (`master_link_status:up`).
 */
export async function startReplica(
  primary: RedisServer,
  opts: RedisServerOptions = {},
): Promise<RedisServer> {
  const replicaOf = ['--replicaof', '127.0.0.1', String(primary.port)];
  const replica = await startRedis({ ...opts, args: [...replicaOf, ...(opts.args ?? [])] });
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const info = infoFields(await redisText(replica.port, ['INFO', 'replication']));
    if (info.get('master_link_status') === 'up') return replica;
    await sleep(50);
  }
  await replica.stop();
  throw new Error(
    `replica on port ${replica.port} did not sync with port ${primary.port} within ${timeoutMs} ms`,
  );
}
