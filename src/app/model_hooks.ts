import type { Health } from '../api/health.js';
import type { NamedTensor } from '../model/pool.js';
import type { Model, ReadyVersion } from '../model/registry.js';
import type { RunQueue } from '../model/run_queue.js';
import { warmUpFeeds } from '../model/warm_up.js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';

/**
 * The warm-up of each version loaded while serving: one run of zeros
 * through the workers, so a version that cannot run never serves. A version
 * with an input of undeclared shape gets none (no input can be built that
 * it is sure to take), which one WARN line per version says: it may fail
 * only once it serves. `runs` is undefined while the sidecar starts (the
 * workers load those versions themselves).
 */
export function warmUpHook(
  runs: () => RunQueue | undefined,
  log: Logger,
): (version: ReadyVersion) => Promise<void> {
  const told = new Set<string>();
  return async (version) => {
    const queue = runs();
    if (queue === undefined) return;
    const feeds = warmUpFeeds(version.signature);
    if (!Array.isArray(feeds)) {
      const id = `${version.name}@${version.version}`;
      if (told.has(id)) return;
      told.add(id);
      log.warn(
        { model: version.name, version: version.version, input: feeds.undeclared },
        'no warm-up run for this version: an input declares no shape; a version that cannot run is found only when it serves',
      );
      return;
    }
    await warmUp(queue, version, feeds);
  };
}

function warmUp(runs: RunQueue, version: ReadyVersion, feeds: NamedTensor[]): Promise<unknown> {
  return runs.run({
    model: version.name,
    path: version.path,
    sessionKey: version.sessionKey,
    feeds,
    outputNames: version.signature.outputs.map((o) => o.name),
    deadline: Date.now() + 60_000,
    signal: AbortSignal.timeout(60_000),
    runtimeChecksInput: false,
  });
}

/** After a model changed: its health, its mismatch gauge and the version counts. */
export function reportModel(
  model: Model,
  all: ReadonlyMap<string, Model>,
  health: Health,
  metrics: Metrics,
): void {
  health.setModel(model.name, model.current !== undefined);
  metrics.model.mismatch.labels(model.name).set(model.mismatch === undefined ? 0 : 1);
  const counts = { ready: 0, failed: 0, unloaded: 0 };
  for (const m of all.values()) for (const v of m.versions) counts[v.state]++;
  for (const [state, n] of Object.entries(counts)) metrics.model.modelsLoaded.labels(state).set(n);
}
