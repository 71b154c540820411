import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { killOnExit } from '../helpers/children.js';
import { freePort } from '../helpers/ports.js';
import { redisClient } from '../helpers/redis_keys.js';
import { type RedisServer, startRedis } from '../helpers/redis_server.js';
import { irisRequest, irisRows, SRC } from '../helpers/requests.js';
import { startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainJs = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `serve` with the given flags and INFERCACHE_* env, on free ports, and
 * waits for it to exit. A config it should refuse must not start serving:
 * after `timeoutMs` it is killed and the test fails.
 */
async function serve(flags: string[], env: Record<string, string>, timeoutMs = 20_000): Promise<Exit> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('INFERCACHE_')));
  const child = spawn(process.execPath, [mainJs, 'serve', ...flags], {
    cwd: repoRoot,
    env: {
      ...clean,
      INFERCACHE_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
      INFERCACHE_METRICS_ADDR: `127.0.0.1:${await freePort()}`,
      INFERCACHE_REDIS_URL: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('infercache serve configuration', () => {
  const redisServers: RedisServer[] = [];
  afterAll(async () => {
    await stopAllSidecars();
    await Promise.all(redisServers.map((r) => r.stop()));
  });

  /** A private Redis that requires `password` (set after start: the helper's readiness probe does not AUTH). */
  async function passwordRedis(password: string): Promise<RedisServer> {
    const redis = await startRedis();
    redisServers.push(redis);
    const client = redisClient(redis.url);
    try {
      await client.config('SET', 'requirepass', password);
    } finally {
      client.disconnect();
    }
    return redis;
  }

  it('refuses a malformed INFERCACHE_L1_MAX_BYTES, naming the variable', async () => {
    const run = await serve([], { INFERCACHE_L1_MAX_BYTES: 'abc' });
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.stderr).toMatch(/INFERCACHE_L1_MAX_BYTES="abc"/);
    expect(run.stdout).not.toMatch(/infercache serving/);
  });

  it('refuses a malformed --grpc-addr flag, naming the flag and the expected form', async () => {
    const run = await serve(['--grpc-addr', 'nonsense'], {});
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.stderr).toMatch(/--grpc-addr="nonsense": expected host:port/);
  });

  it('names every bad setting at once', async () => {
    const run = await serve(['--max-batch-rows', '0'], { INFERCACHE_KEY_HASH: 'md5' });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/--max-batch-rows="0"/);
    expect(run.stderr).toMatch(/INFERCACHE_KEY_HASH="md5"/);
  });

  // Not refused: Kubernetes injects INFERCACHE_SERVICE_HOST and friends when
  // a Service shares the name, so an unknown variable is a warning that names it.
  it('warns about an unknown INFERCACHE_ variable, naming it, and still serves', async () => {
    const sidecar = await startSidecar({ redisUrl: '', env: { INFERCACHE_FOO: '1' } });
    const warning = await sidecar.waitForLog((l) => l.level === 40 && /name no setting/.test(String(l.msg)));
    expect(warning.variables).toEqual(['INFERCACHE_FOO']);
    expect(
      sidecar.logs().filter((l) => l.level === 40 && /name no setting/.test(String(l.msg))),
    ).toHaveLength(1);
    expect((await sidecar.client.predict(irisRequest(irisRows(1)))).row_sources).toEqual([SRC.MODEL]);
  });

  it('never logs the key secret or the Redis password, though it uses both', async () => {
    const redis = await passwordRedis('hunter2');
    const url = `redis://:hunter2@127.0.0.1:${redis.port}`;
    const sidecar = await startSidecar({ redisUrl: url, env: { INFERCACHE_KEY_SECRET: 'topsecret' } });

    const effective = await sidecar.waitForLog((l) => l.msg === 'effective configuration');
    const config = effective.config as Record<string, unknown>;
    expect(config.keySecret).toBe('[redacted]');
    expect(config.redisUrl).toBe(`redis://:redacted@127.0.0.1:${redis.port}`);

    // It did authenticate with the password, and serves through L2.
    await sidecar.waitForLog((l) => l.msg === 'L2 connected');
    const rows = irisRows(1);
    expect((await sidecar.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.MODEL]);
    expect((await sidecar.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.L1]);
    expect(await sidecar.stop()).toBe(0);

    const everything = JSON.stringify(sidecar.logs());
    expect(everything).not.toMatch(/topsecret/);
    expect(everything).not.toMatch(/hunter2/);
  });

  it('does not log the Redis password when Redis refuses it either', async () => {
    const redis = await passwordRedis('hunter2');
    const sidecar = await startSidecar({ redisUrl: `redis://:wrongpass@127.0.0.1:${redis.port}` });
    const warning = await sidecar.waitForLog((l) => l.level === 40 && /unreachable/i.test(String(l.msg)));
    expect(String(warning.redis)).toBe(`redis://:redacted@127.0.0.1:${redis.port}`);
    expect(JSON.stringify(sidecar.logs())).not.toMatch(/wrongpass/);
  });
});
