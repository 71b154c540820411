import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SETTINGS } from '../../src/config/schema.js';
import { killOnExit, stopChild } from '../../test/helpers/children.js';
import { type RedisServer, startRedis } from '../../test/helpers/redis_server.js';
import { type Sidecar, startSidecar } from '../../test/helpers/sidecar.js';
import { progress } from './log.js';

/**
 * The sidecar's default intra-op thread count (cores - 1, leaving one for the
 * event loop), set explicitly on every sidecar and on the raw ORT baseline so
 * the two always run with the same count.
 */
export const INFERENCE_THREADS = SETTINGS.inferenceThreads.default;

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const bareServerTs = fileURLToPath(new URL('../bare_server.ts', import.meta.url));
const bareModelServerTs = fileURLToPath(new URL('../bare_model_server.ts', import.meta.url));
const cpuProfilePreload = new URL('./cpu_profile.mjs', import.meta.url).href;
const sidecars = new Set<Sidecar>();
const others = new Map<ChildProcess, string>();
let redis: RedisServer | undefined;

/** The bench's private redis-server on a free port (a user's machine may have none, or a precious one). */
export async function startBenchRedis(): Promise<RedisServer> {
  progress('starting a private redis-server');
  redis = await startRedis();
  return redis;
}

/**
 * A sidecar from dist/ via the test helper (free ports, SIGKILL if we die).
 * BENCH_CPU_PROF=<dir> makes every sidecar write a V8 CPU profile of its main thread there on exit.
 */
export async function startBenchSidecar(
  label: string,
  redisUrl: string,
  env: Record<string, string> = {},
  keyPrefix?: string,
): Promise<Sidecar> {
  progress(`  starting sidecar (${label})`);
  const profDir = process.env.BENCH_CPU_PROF;
  if (profDir) mkdirSync(profDir, { recursive: true });
  // Node flags for the sidecars only (the bare servers keep Node's defaults).
  const nodeOptions = [
    ...(profDir ? [`--import=${cpuProfilePreload}`] : []),
    ...(process.env.BENCH_SIDECAR_NODE_OPTIONS ? [process.env.BENCH_SIDECAR_NODE_OPTIONS] : []),
  ].join(' ');
  const options = {
    redisUrl,
    keyPrefix,
    readyTimeoutMs: 60_000,
    env: {
      INFERCACHE_INFERENCE_THREADS: String(INFERENCE_THREADS),
      // The product default; the test helper raises it to 1 s against flaky tests.
      INFERCACHE_L2_TIMEOUT_MS: String(SETTINGS.l2TimeoutMs.default),
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
      ...(profDir ? { BENCH_CPU_PROF: profDir } : {}),
      // The inference workers' nice value (INFERCACHE_INFERENCE_NICE), to compare settings in one checkout.
      ...(process.env.BENCH_INFERENCE_NICE
        ? { INFERCACHE_INFERENCE_NICE: process.env.BENCH_INFERENCE_NICE }
        : {}),
      ...env,
    },
  };
  // The free ports the helper picks can be taken by another process before
  // the sidecar binds them (tests of other checkouts run on the same machine).
  for (let attempt = 1; ; attempt++) {
    try {
      const sidecar = await startSidecar(options);
      sidecars.add(sidecar);
      return sidecar;
    } catch (error) {
      const taken = error instanceof Error && error.message.includes('EADDRINUSE');
      if (!taken || attempt >= 3) throw error;
      progress(`  a port was taken before the sidecar bound it; starting it again`);
    }
  }
}

/** SIGTERM: a graceful exit is what lets --cpu-prof write its profile. */
export async function stopBenchSidecar(sidecar: Sidecar): Promise<void> {
  sidecars.delete(sidecar);
  await sidecar.stop('SIGTERM');
}

export interface BareServer {
  readonly addr: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * A grpc-js server in its own process (like the sidecar) whose Predict
 * answers the encoded `response` bytes as they are (bench/bare_server.ts).
 */
export async function startBareServer(response: Buffer): Promise<BareServer> {
  progress('  starting the bare grpc-js server');
  const file = join(mkdtempSync(join(tmpdir(), 'infercache-bare-')), 'response.bin');
  writeFileSync(file, response);
  return startBare(bareServerTs, { BENCH_BARE_RESPONSE_FILE: file });
}

/**
 * A grpc-js server in its own process that runs the heavy model with
 * onnxruntime-node on the rows it is sent (bench/bare_model_server.ts).
 */
export async function startBareModelServer(env: Record<string, string>): Promise<BareServer> {
  progress('  starting the bare grpc-js + onnxruntime server');
  return startBare(bareModelServerTs, env);
}

async function startBare(script: string, env: Record<string, string>): Promise<BareServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  others.set(child, 'bare server');
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`bare server not listening within 30 s\n${stderr}`)),
      30_000,
    );
    child.once('exit', (code) => reject(new Error(`bare server exited (${code})\n${stderr}`)));
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const line = out.split('\n')[0];
      if (line === undefined || !out.includes('\n')) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  return {
    addr: `127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      others.delete(child);
      await stopChild(child, 'SIGTERM', 5000, 'bare server');
    },
  };
}

/** Stops every child still running, whatever happened before; never throws. */
export async function stopAllChildren(): Promise<void> {
  const stops: Promise<unknown>[] = [...sidecars].map((s) => stopBenchSidecar(s));
  for (const [child, name] of others) stops.push(stopChild(child, 'SIGTERM', 5000, name));
  others.clear();
  await Promise.allSettled(stops);
  await redis?.stop().catch(() => undefined);
  redis = undefined;
}
