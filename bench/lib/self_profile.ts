import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { progress } from './log.js';

/**
 * For scenarios whose measured code runs in this process (no sidecar to
 * profile): with BENCH_CPU_PROF=<dir>, runs `work` once more under the V8
 * profiler, after the timed rounds so the timings do not carry its cost,
 * and writes `<name>-<pid>.cpuprofile` there for run.ts to summarise.
 */
export async function profileSelf(name: string, work: () => Promise<unknown>): Promise<void> {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  progress(`  profiling ${name} in this process`);
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    await work();
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(profile));
  } finally {
    session.disconnect();
  }
}
