// Preloaded into sidecars by BENCH_CPU_PROF=<dir> (NODE_OPTIONS=--import ...):
// Node 20 refuses --cpu-prof in NODE_OPTIONS, and the sidecar helper spawns
// `node main.js` with no flags of ours. Same result: a .cpuprofile of the
// main thread, written when the process exits (the sidecar exits on SIGTERM).
// Plain JS: the sidecar runs without a TypeScript loader.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

const dir = process.env.BENCH_CPU_PROF;
if (isMainThread && dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  // An in-thread inspector session answers synchronously, so this works in 'exit'.
  process.once('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      writeFileSync(join(dir, `sidecar-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
