import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { killOnExit, stopChild } from './children.js';
import { createClient, type InferCacheClient } from './client.js';
import { freePort } from './ports.js';

export interface SidecarOptions {
  /** INFERCACHE_REDIS_URL; '' runs with L1 only. */
  redisUrl: string;
  modelsDir?: string;
  /** INFERCACHE_KEY_PREFIX; a unique one per sidecar by default. */
  keyPrefix?: string;
  /** Extra or overriding environment variables. */
  env?: Record<string, string>;
  /** How long to wait for Health Check("") to answer SERVING (ms). */
  readyTimeoutMs?: number;
}

/** One parsed pino line. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface Sidecar {
  readonly grpcAddr: string;
  readonly metricsUrl: string;
  readonly keyPrefix: string;
  readonly proc: ChildProcess;
  readonly client: InferCacheClient;
  /** The JSON lines logged on stdout so far. */
  logs(): LogLine[];
  /** Resolves with the first line (already logged or not) matching `pred`. */
  waitForLog(pred: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** The body of GET /metrics. */
  metrics(): Promise<string>;
  /** Sends `signal`, waits for the exit and resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL, without waiting. */
  kill(): void;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainJs = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const TAIL_LINES = 40;
const running = new Set<Sidecar>();
let sidecarCount = 0;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stops every sidecar still running; use as `afterAll(stopAllSidecars)`. */
export async function stopAllSidecars(): Promise<void> {
  await Promise.allSettled([...running].map((s) => s.stop('SIGKILL')));
}

/** This process's environment without the developer's own INFERCACHE_* settings, which must not leak into tests. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('INFERCACHE_')) env[key] = value;
  }
  return env;
}

/**
 * Spawns `node dist/cli/main.js serve` and waits until it reports SERVING.
 * A port taken by another process between choosing and binding it (another
 * test worker) is retried on new ports; any other failure is thrown.
 */
export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSidecarOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error) || !err.message.includes('EADDRINUSE')) throw err;
    }
  }
}

async function startSidecarOnce(opts: SidecarOptions): Promise<Sidecar> {
  if (!existsSync(mainJs)) throw new Error(`${mainJs} does not exist: run \`npm run build\` first`);
  const grpcAddr = `127.0.0.1:${await freePort()}`;
  const metricsAddr = `127.0.0.1:${await freePort()}`;
  sidecarCount += 1;
  const keyPrefix =
    // The key format adds its own ':' after the prefix, and the setting allows
    // only [A-Za-z0-9_.-]{1,32} (at most 7 + 7 + 1 + 4 + 1 + 8 = 28 chars here).
    opts.keyPrefix ?? `ictest-${process.pid}-${sidecarCount}-${randomBytes(4).toString('hex')}`;
  const env: Record<string, string> = {
    ...baseEnv(),
    INFERCACHE_GRPC_ADDR: grpcAddr,
    INFERCACHE_METRICS_ADDR: metricsAddr,
    INFERCACHE_REDIS_URL: opts.redisUrl,
    // Tests run on a loaded 2-core machine; a short L2 timeout would make them flaky.
    INFERCACHE_L2_TIMEOUT_MS: '1000',
    INFERCACHE_KEY_PREFIX: keyPrefix,
    INFERCACHE_LOG_LEVEL: 'info',
    // No L1 snapshot files left behind by test sidecars (a test that wants one sets it).
    INFERCACHE_L1_SNAPSHOT: 'off',
    ...(opts.modelsDir === undefined ? {} : { INFERCACHE_MODELS_DIR: opts.modelsDir }),
    ...opts.env,
  };

  const proc = spawn(process.execPath, [mainJs, 'serve'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(proc);

  const lines: LogLine[] = [];
  const rawTail: string[] = [];
  const listeners = new Set<(line: LogLine) => void>();
  const remember = (text: string) => {
    rawTail.push(text);
    if (rawTail.length > TAIL_LINES) rawTail.shift();
  };
  let partial = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) {
      if (text.trim() === '') continue;
      remember(text);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue; // Not a log line (e.g. a stray console.log); it stays in the tail.
      }
      lines.push(line);
      for (const listener of listeners) listener(line);
    }
  });
  let stderr = '';
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  let spawnError: Error | undefined;
  proc.once('error', (err) => {
    spawnError = err;
  });
  // 'close' comes after stdout is drained, so no log line is lost when it fires.
  let closed = false;
  proc.once('close', () => {
    closed = true;
  });
  const tail = () =>
    `--- stdout (last ${TAIL_LINES} lines) ---\n${rawTail.join('\n')}\n--- stderr ---\n${stderr}`;

  const client = createClient(grpcAddr);

  const sidecar: Sidecar = {
    grpcAddr,
    metricsUrl: `http://${metricsAddr}/metrics`,
    keyPrefix,
    proc,
    client,
    logs: () => [...lines],
    waitForLog(pred, timeoutMs = 10_000) {
      const found = lines.find(pred);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const finish = (err: Error | undefined, line?: LogLine) => {
          clearTimeout(timer);
          listeners.delete(onLine);
          proc.off('close', onClose);
          if (err) reject(err);
          else resolve(line as LogLine);
        };
        const onLine = (line: LogLine) => {
          if (pred(line)) finish(undefined, line);
        };
        const onClose = () => finish(new Error(`sidecar exited before logging the expected line\n${tail()}`));
        const timer = setTimeout(
          () => finish(new Error(`sidecar logged no matching line within ${timeoutMs} ms\n${tail()}`)),
          timeoutMs,
        );
        listeners.add(onLine);
        if (closed) onClose();
        else proc.once('close', onClose);
      });
    },
    async metrics() {
      const res = await fetch(sidecar.metricsUrl);
      const body = await res.text();
      if (!res.ok) throw new Error(`GET ${sidecar.metricsUrl} answered ${res.status}: ${body.slice(0, 500)}`);
      return body;
    },
    async stop(signal = 'SIGTERM') {
      running.delete(sidecar);
      client.close();
      // Graceful shutdown drains in-flight calls; 20 s is generous even on a busy box.
      return stopChild(proc, signal, 20_000, 'sidecar');
    },
    kill() {
      running.delete(sidecar);
      client.close();
      proc.kill('SIGKILL');
    },
  };
  running.add(sidecar);

  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer yet';
  for (;;) {
    if (spawnError !== undefined || closed || proc.exitCode !== null) {
      sidecar.kill();
      const why = spawnError?.message ?? `exit code ${proc.exitCode ?? proc.signalCode}`;
      throw new Error(`sidecar exited before becoming ready (${why})\n${tail()}`);
    }
    if (Date.now() >= deadline) {
      sidecar.kill();
      throw new Error(`sidecar not SERVING within ${timeoutMs} ms (last: ${lastError})\n${tail()}`);
    }
    try {
      const status = await client.health('', { deadlineMs: 1000 });
      if (status === 'SERVING') return sidecar;
      lastError = `status ${status}`;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await sleep(100);
  }
}
