import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { baseEnv } from '../helpers/sidecar.js';

const mainJs = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
// A start that fails while the inference workers still load the shipped
// models aborted the process about one time in three before they were waited
// for: ten tries make a pass by luck unlikely (under 2%).
const TRIES = 10;

describe('a sidecar that cannot start', () => {
  let taken: Server;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it('exits with code 1 and says why when its gRPC port is taken, every time, never on a signal', {
    timeout: 120_000,
  }, async () => {
    const env = baseEnv();
    for (let i = 0; i < TRIES; i++) {
      const run = spawnSync(process.execPath, [mainJs, 'serve'], {
        env: {
          ...env,
          INFERCACHE_GRPC_ADDR: `127.0.0.1:${port}`,
          INFERCACHE_METRICS_ADDR: `127.0.0.1:${await freePort()}`,
          INFERCACHE_REDIS_URL: '',
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect({ try: i, code: run.status, signal: run.signal }).toEqual({ try: i, code: 1, signal: null });
      expect(run.stderr).not.toContain('terminate called');
      const fatal = run.stdout
        .split('\n')
        .filter((line) => line.includes('"failed to start"'))
        .map((line) => JSON.parse(line) as { err: { message: string } });
      expect(fatal).toHaveLength(1);
      expect(fatal[0]?.err.message).toContain(`127.0.0.1:${port}`);
    }
  });
});
