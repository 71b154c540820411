/**
 * One scenario in a process of its own, started by bench/run.ts:
 * `scenario_child.ts <name> <result file>`, with the run's redis-server on
 * BENCH_REDIS_PORT. Writes the scenario's result as JSON to the file (or,
 * when the scenario fails, its name and error, as run.ts reports a failed
 * scenario), stops whatever the scenario started, and exits 0. It exits 1
 * only when it could not run the scenario at all.
 */
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { RedisServer } from '../test/helpers/redis_server.js';
import { stopAllChildren } from './lib/procs.js';
import type { FailedScenario, ScenarioResult } from './lib/report.js';
import { SCENARIOS } from './scenarios/index.js';

/**
 * The run's redis-server as a scenario sees it: its address, and a flush.
 * It belongs to the parent run, so stopping or restarting it is refused.
 */
function attached(port: number): RedisServer {
  const refuse = (what: string) => () => {
    throw new Error(`the bench's redis-server belongs to the run: a scenario cannot ${what} it`);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: undefined,
    stop: refuse('stop'),
    kill: refuse('kill'),
    start: refuse('start'),
    pause: refuse('pause'),
    resume: refuse('resume'),
    command: refuse('send a raw command to'),
    async flushAll() {
      const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
      try {
        await client.connect();
        await client.flushall();
      } finally {
        client.disconnect();
      }
    },
  };
}

async function main(): Promise<void> {
  const [name = '', resultFile] = process.argv.slice(2);
  const run = SCENARIOS[name];
  if (run === undefined || resultFile === undefined)
    throw new Error(`usage: scenario_child.ts <scenario> <result file>`);
  const port = Number(process.env.BENCH_REDIS_PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error('BENCH_REDIS_PORT is not set');
  let result: ScenarioResult | FailedScenario;
  try {
    result = await run(attached(port));
  } catch (error) {
    result = { name, error: error instanceof Error ? error.message : String(error) };
  } finally {
    await stopAllChildren();
  }
  writeFileSync(resultFile, JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
