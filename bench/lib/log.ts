import { performance } from 'node:perf_hooks';

const started = performance.now();

/** One progress line on stderr (stdout stays free for anything machine-readable). */
export function progress(message: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${seconds}s] ${message}\n`);
}

export function elapsedSeconds(): number {
  return (performance.now() - started) / 1000;
}
