import type { Health } from '../api/health.js';
import type { Model, ReadyVersion } from '../model/registry.js';
import type { RunQueue } from '../model/run_queue.js';
import { warmUpFeeds } from '../model/warm_up.js';
import type { Metrics } from '../ops/metrics.js';

/** One run of zeros through the workers: a version that cannot run never serves. */
export async function warmUp(runs: RunQueue | undefined, version: ReadyVersion): Promise<void> {
  const feeds = warmUpFeeds(version.signature);
  if (runs === undefined || feeds === undefined) return;
  await runs.run({
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
