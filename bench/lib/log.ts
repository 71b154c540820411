import { performance } from 'node:perf_hooks';

// A scenario's own process (bench/scenario_child.ts) keeps the clock of the run that started it.
const started =
  process.env.BENCH_STARTED_AT === undefined
    ? performance.now()
    : performance.now() - (Date.now() - Number(process.env.BENCH_STARTED_AT));

/** When this run started (ms since the epoch), for the processes it starts. */
export function startedAt(): number {
  return Date.now() - (performance.now() - started);
}

/** One progress line on stderr (stdout stays free for anything machine-readable). */
export function progress(message: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${seconds}s] ${message}\n`);
}

export function elapsedSeconds(): number {
  return (performance.now() - started) / 1000;
}
