/**
 * `npx tsx bench/run.ts` (after `npm run build`; `npm run bench` does both):
 * runs every scenario against sidecars from dist/, a private redis-server
 * and a bare grpc-js server, then writes bench/results/latest.{json,md}, the
 * run's SVG charts beside them (bench/lib/charts.ts) and the README's bench
 * section, which embeds them. Each scenario runs in a process of its own
 * (bench/scenario_child.ts) against the run's redis-server. Progress goes to stderr.
 *
 *   BENCH_ONLY=zipf,loop_latency   run some scenarios (README left alone; charts of the
 *                                  scenarios not run are left as they were)
 *   BENCH_REDRAW=1                 run nothing: redraw latest.md, the charts and (when it
 *                                  holds every scenario) the README block from latest.json
 *   BENCH_CPU_PROF=<dir>           sidecars (and the L2 batch scenarios, which measure
 *                                  code in this process, in a pass after their rounds)
 *                                  write V8 CPU profiles there; their top self-time
 *                                  functions are printed at the end
 *   BENCH_SIDECAR_NODE_OPTIONS=<f> Node flags for every sidecar (the bare servers keep
 *                                  Node's defaults), e.g. --max-semi-space-size=64
 *   BENCH_L1_CONCURRENCY=<n>       calls in flight in l1_vs_bare
 *   BENCH_L1_ARENA=<kinds|off>     INFERCACHE_L1_ARENA of loop_latency's sidecar
 *   BENCH_ZIPF_WARMUP=<n>          stream samples replayed before zipf's window (0: cold)
 *   BENCH_L2_ITERATIONS=<n>        timed calls per contender per round in l2_batch*
 *   BENCH_REQUEST_COST_SENDS=<n>   sends of each request in request_cost
 *   BENCH_WARM_ENTITIES=<n>        distinct entities of warm_start's Zipf stream (1M)
 *   BENCH_WARM_LEARN=<n>           lookups the fleet ranking learns from in warm_start
 *   BENCH_WARM_SECONDS=<n>         wall time of the stream measured on each new sidecar in warm_start (10)
 *   BENCH_BATCH_CLIENTS=<n>        clients in micro_batching (64)
 *   BENCH_BATCH_ROUNDS=<n>         rounds in micro_batching (3)
 *   BENCH_BATCH_SWEEP=1            micro_batching also measures other batch bounds and delays
 *   BENCH_GETF_ROUNDS=<n>          rounds in get_features (7)
 *   BENCH_GETF_ITERATIONS=<n>      timed calls per contender per round in get_features (36)
 *   BENCH_LAG_ROUNDS=<n>           rows changed per kind of change in invalidation_lag (200)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCharts, writeCharts } from './lib/charts.js';
import { elapsedSeconds, progress, startedAt } from './lib/log.js';
import { startBenchRedis, stopAllChildren } from './lib/procs.js';
import { profileSummary } from './lib/profile.js';
import {
  type BenchReport,
  type FailedScenario,
  type ScenarioResult,
  toMarkdown,
  updateReadme,
  writeResults,
} from './lib/report.js';
import { SCENARIOS } from './scenarios/index.js';

const resultsDir = fileURLToPath(new URL('./results', import.meta.url));
const readme = fileURLToPath(new URL('../README.md', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const scenarioChild = fileURLToPath(new URL('./scenario_child.ts', import.meta.url));

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
    const out = mkdtempSync(join(tmpdir(), 'infercache-bench-'));
    for (const name of Object.keys(SCENARIOS)) {
      if (only !== undefined && !only.includes(name)) continue;
      progress(`scenario ${name}`);
      await redis.flushAll();
      try {
        const result = await runInChild(name, redis.port, join(out, `${name}.json`));
        if ('error' in result) progress(`scenario ${name} FAILED: ${result.error}`);
        report.scenarios.push(result);
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
  publish(report, only === undefined);
  printProfiles(process.env.BENCH_CPU_PROF);
  return report.scenarios.some((s) => 'error' in s) ? 1 : 0;
}

/**
 * Writes latest.json and latest.md, and for a run of every scenario
 * (`whole`) the charts and the README block, which embeds them: a run of
 * some scenarios draws none, or the README's charts would stop matching
 * its tables.
 */
function publish(report: BenchReport, whole: boolean): void {
  const drawn = runCharts(report);
  const charts = whole ? drawn : { ...drawn, charts: [] };
  if (whole) writeCharts(resultsDir, charts.charts, true);
  for (const [name, why] of Object.entries(charts.skipped)) progress(`scenario ${name}: ${why}`);
  const markdown = toMarkdown(report, { run: charts, path: '' });
  writeResults(resultsDir, report, markdown);
  progress(`wrote ${resultsDir}/latest.json, latest.md and ${charts.charts.length} charts`);
  const readmeMarkdown = toMarkdown(report, { run: charts, path: 'bench/results/' });
  if (whole && updateReadme(readme, readmeMarkdown, `${resultsDir}/README.md.tmp`))
    progress('updated README.md');
  process.stdout.write(`${markdown}\n`);
}

/** BENCH_REDRAW=1: the last run's results drawn again, as if it had just finished, with nothing run. */
function redraw(): number {
  const report = JSON.parse(readFileSync(join(resultsDir, 'latest.json'), 'utf8')) as BenchReport;
  const whole = Object.keys(SCENARIOS).every((name) => report.scenarios.some((s) => s.name === name));
  publish(report, whole);
  return 0;
}

/**
 * Runs one scenario in a process of its own (bench/scenario_child.ts) and
 * reads its result back. Scenarios that time code in the bench process (the
 * L2 batch reads, the in-process feature reader) otherwise inherit the heap
 * and the compiled code the scenarios before them left: l2_batch measured
 * 1.21 of raw ioredis in every round of a full run and 1.12 alone, with
 * nothing changed in between.
 */
function runInChild(
  name: string,
  redisPort: number,
  resultFile: string,
): Promise<ScenarioResult | FailedScenario> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', scenarioChild, name, resultFile], {
      cwd: repoRoot,
      env: { ...process.env, BENCH_REDIS_PORT: String(redisPort), BENCH_STARTED_AT: String(startedAt()) },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      try {
        if (code !== 0) throw new Error(`scenario process exited with ${code ?? signal}`);
        resolve(JSON.parse(readFileSync(resultFile, 'utf8')) as ScenarioResult | FailedScenario);
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** Profiles are written as the sidecars exit, so by now all of them are there. */
function printProfiles(dir: string | undefined): void {
  if (!dir) return;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    process.stderr.write(`\n=== ${join(dir, file)}\n${profileSummary(join(dir, file))}\n`);
  }
}

(process.env.BENCH_REDRAW === '1' ? Promise.resolve(redraw()) : main()).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
