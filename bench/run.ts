/**
 * `npx tsx bench/run.ts` (after `npm run build`; `npm run bench` does both):
 * runs every scenario against sidecars from dist/, a private redis-server
 * and a bare grpc-js server, then writes bench/results/latest.{json,md} and
 * the README's bench section. Progress goes to stderr.
 *
 *   BENCH_ONLY=zipf,loop_latency   run some scenarios (README left alone)
 *   BENCH_CPU_PROF=<dir>           sidecars write V8 CPU profiles there; their
 *                                  top self-time functions are printed at the end
 *   BENCH_L1_CONCURRENCY=<n>       calls in flight in l1_vs_bare
 *   BENCH_ZIPF_WARMUP=<n>          stream samples replayed before zipf's window (0: cold)
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisServer } from '../test/helpers/redis_server.js';
import { elapsedSeconds, progress } from './lib/log.js';
import { startBenchRedis, stopAllChildren } from './lib/procs.js';
import { profileSummary } from './lib/profile.js';
import {
  type BenchReport,
  type ScenarioResult,
  toMarkdown,
  updateReadme,
  writeResults,
} from './lib/report.js';
import { batchHeavy } from './scenarios/batch_heavy.js';
import { keyHash } from './scenarios/key_hash.js';
import { l1VsBare } from './scenarios/l1_vs_bare.js';
import { loopLatency } from './scenarios/loop_latency.js';
import { zipf } from './scenarios/zipf.js';

const SCENARIOS: Record<string, (redis: RedisServer) => Promise<ScenarioResult>> = {
  l1_vs_bare: l1VsBare,
  batch_heavy: batchHeavy,
  zipf,
  loop_latency: loopLatency,
  key_hash: keyHash,
};
const resultsDir = fileURLToPath(new URL('./results', import.meta.url));
const readme = fileURLToPath(new URL('../README.md', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Which code was measured: the commit, and whether src/ had uncommitted changes. */
function gitState(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', 'src') === '' ? '' : ' + uncommitted src/ changes'}`;
  } catch {
    return 'unknown (no git)';
  }
}

async function main(): Promise<number> {
  const only = process.env.BENCH_ONLY?.split(',').filter((s) => s !== '');
  const unknown = only?.filter((s) => !(s in SCENARIOS)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS)}`);
  const report: BenchReport = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    commit: gitState(),
    loadAvgStart: loadavg(),
    loadAvgEnd: [],
    wallSeconds: 0,
    scenarios: [],
  };
  try {
    const redis = await startBenchRedis();
    for (const [name, run] of Object.entries(SCENARIOS)) {
      if (only !== undefined && !only.includes(name)) continue;
      progress(`scenario ${name}`);
      await redis.flushAll();
      try {
        report.scenarios.push(await run(redis));
      } catch (error) {
        // Keep going: one broken scenario should not throw away the others' minutes.
        const message = error instanceof Error ? error.message : String(error);
        progress(`scenario ${name} FAILED: ${message}`);
        report.scenarios.push({ name, error: message });
      }
    }
  } finally {
    progress('stopping child processes');
    await stopAllChildren();
  }
  report.loadAvgEnd = loadavg();
  report.wallSeconds = elapsedSeconds();
  const markdown = toMarkdown(report);
  writeResults(resultsDir, report, markdown);
  progress(`wrote ${resultsDir}/latest.json and latest.md`);
  if (only === undefined && updateReadme(readme, markdown, `${resultsDir}/README.md.tmp`))
    progress('updated README.md');
  process.stdout.write(`${markdown}\n`);
  printProfiles(process.env.BENCH_CPU_PROF);
  return report.scenarios.some((s) => 'error' in s) ? 1 : 0;
}

/** Profiles are written as the sidecars exit, so by now all of them are there. */
function printProfiles(dir: string | undefined): void {
  if (!dir) return;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    process.stderr.write(`\n=== ${join(dir, file)}\n${profileSummary(join(dir, file))}\n`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
